"""Project sessions. `nox -s rtl_tests` is the test command CI runs; `nox -l` lists the rest."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["rtl_tests"]

PYTHON = None  # the interpreter nox runs under


def _install(session):
    session.install("-e", ".")


@nox.session(python=PYTHON)
def rtl_tests(session):
    """The whole test suite: golden contract, golden capture, RTL blocks on Verilator and Icarus, one
    pytest-xdist worker per core (a worker that is free takes the next test, the long ones first:
    tests/conftest.py; `-- -n 0` runs them serially)."""
    _install(session)
    session.run("pytest", "-n", "auto", "--dist", "load", "--maxschedchunk", "1", *session.posargs)


@nox.session(python=PYTHON)
def models(session):
    """Rebuild the ONNX models (float and int8 QDQ, full and tiny) reproducibly into onnx_models/."""
    _install(session)
    session.run("python", "-m", "onnx_models.build", *session.posargs)


@nox.session(python=PYTHON)
def golden(session):
    """Capture the per-layer int8 golden of a model on a Cityscapes crop and print its layer table."""
    _install(session)
    session.run("python", "-m", "golden.capture", *session.posargs)


@nox.session(python=PYTHON)
def layers(session):
    """Print the layer table (name, op, shapes, kernel, stride, params, MACs) for any input size."""
    _install(session)
    session.run("python", "-m", "golden.layers", *session.posargs)


@nox.session(python=PYTHON)
def verilog(session):
    """Regenerate rtl/generated/<config>/ from the MyHDL sources (--check: fail on any difference)."""
    _install(session)
    session.run("python", "-m", "rtl.generate", *session.posargs)



@nox.session(python=PYTHON)
def lint(session):
    """Verilator -Wall on the generated Verilog of every configuration: the chip with rtl/lint.vlt's
    waivers (fails on a warning), and each module's warnings without them, counted by rule."""
    _install(session)
    session.run("python", "-m", "tb.lint", *session.posargs)


@nox.session(python=PYTHON)
def accel(session):
    """Run a crop through the whole network on the RTL: per-layer verdicts, cycles and DRAM bytes
    (`nox -s accel -- --help` for model, crop, hardware config, simulator, isolated layers)."""
    _install(session)
    session.run("python", "-m", "tb.accel_run", *session.posargs)


@nox.session(python=PYTHON)
def dram_latency(session):
    """DRAM latency benchmark (prints, not a test): the tiny network through the RTL on the ideal DRAM
    and on the DDR4 timing DRAM with 0, 50, 100 and 150 ns more read round trip (`-- --help`)."""
    _install(session)
    session.run("python", "-m", "tb.dram_latency", *session.posargs)


@nox.session(python=PYTHON)
def bench_engine(session):
    """Engine benchmark (prints, not a test): simulated cycles/s on Verilator and Icarus (sim config),
    cycles vs ideal MACs/(R*C) and utilization of the three real FC-HarDNet-70 layers."""
    session.install("-e", ".")
    session.run("python", "-m", "tb.bench", *session.posargs)


@nox.session(python=PYTHON)
def regress(session):
    """Main job: run FC-HarDNet-70 on the RTL for a Cityscapes crop, compare every layer, record the run
    and regenerate the dashboard (`-- --help` for model, crop, config, simulator and workers)."""
    _install(session)
    session.run("python", "-m", "regress", *session.posargs)


@nox.session(python=PYTHON)
def soak(session):
    """Constrained-random networks through the RTL on new seeds, each recorded in the results store
    (`-- --runs N`, `--seed S` to replay, `--help`)."""
    _install(session)
    session.run("python", "-m", "regress.soak", *session.posargs)


@nox.session(python=PYTHON)
def perf(session):
    """Full-frame performance report: our design on `asic` (cycle model), SCALE-Sim on the same layers
    (own venv under build/perf/, cached), the reference chip, a design-space sweep, Yosys gate counts
    and an onnxruntime benchmark; plots under build/perf/ (`nox -s perf -- --help`)."""
    _install(session)
    session.install("matplotlib")
    session.run("python", "-m", "perf", *session.posargs)
