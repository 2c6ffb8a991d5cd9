"""The whole accelerator (controller, DMAs, engine) running compiled networks from DRAM.

Every tensor is read back from DRAM and compared with onnxruntime element by element; the RTL's
per-layer counters are checked against the compiler's estimate where that estimate is exact
(DRAM bytes, MAC steps). Network runs use Verilator and the Verilog DRAM model (fast); the
cocotbext-axi AxiRam run and the Icarus run use a small crop or a single layer.
"""

import copy
import dataclasses
import re

import pytest

from compiler.estimate import estimate
from compiler.program import compile_graph
from golden.capture import capture
from golden.cityscapes import Crop
from golden.intmodel import compare
from golden.qgraph import load_qgraph
from onnx_models import model_path
from hwspec.bus import DMA
from hwspec.config import get_config
from hwspec.checks import refusal
from hwspec.formats import DESCRIPTOR, ERRORS, FLAGS, FUSION_FLAGS, HEADER, STATUS, error_code
from tb import accel_run
from tb import test_accel as accel_test
from tb.accel_host import layout_run, run_failed, status_text
from tb.accel_run import dram_model_words, debug_failure, print_dram, print_table, run_accel
from tb.dram_timing import DramStats

TINY_CROP = Crop("frankfurt_000000_002196", top=400, left=900, height=64, width=128)
SMALL_CROP = Crop("frankfurt_000000_002196", top=400, left=900, height=32, width=64)
HARDNET_CROP = Crop("frankfurt_000000_002196", top=384, left=768, height=128, width=256)


def compiled(model: str, crop: Crop, config: str):
    gold = capture(model_path(model), crop)
    graph = load_qgraph(model_path(model), gold.input_size)
    return compile_graph(graph, get_config(config)), gold


def check(res, prog, gold, config, sim="verilator"):
    """Every layer bit-exact (on failure: first layer, count, coordinates, and an FST of that layer)."""
    print_table(res, estimate(prog, get_config(config)))
    assert not any(run_failed(r) or "dram_out_of_range" in r for r in res.runs), res.runs
    bad = res.first_failure()
    if bad is not None:
        fst = debug_failure(prog, gold, res, config=config, sim=sim)
        pytest.fail(f"first mismatching layer {bad.index} {bad.name}: {bad.comparison}; waveform: {fst}")


def check_counters_against_estimate(res, prog, config):
    est = estimate(prog, get_config(config))
    for layer, e in zip(res.layers, est, strict=True):
        c = layer.counters
        assert (c["bytes_read"], c["bytes_written"]) == (e.bytes_read, e.bytes_written), \
            f"{layer.name}: RTL DRAM bytes {c['bytes_read']}/{c['bytes_written']}, compiler {e.bytes_read}/{e.bytes_written}"
        assert c["mac_steps"] == e.mac_steps, f"{layer.name}: RTL MAC steps {c['mac_steps']}, compiler {e.mac_steps}"
        assert c["cycles"] > 0 and c["cycles"] >= c["engine_cycles"] + c["load_stall"] + c["store_stall"]


# session fixtures: the suite's pytest-xdist workers take tests in any order, a module fixture would be
# made again each time a worker comes back to this module
@pytest.fixture(scope="session")
def tiny_on_tiny():
    return compiled("tiny", TINY_CROP, "tiny")


@pytest.fixture(scope="session")
def tiny_on_tiny_ideal(tiny_on_tiny):
    """The tiny network chained on the ideal DRAM: the baseline of the runs on other DRAMs."""
    prog, gold = tiny_on_tiny
    return run_accel(prog, gold, config="tiny")


@pytest.mark.slow(minutes=1)
def test_tiny_network_chained_bit_exact(tiny_on_tiny, capfd):
    """The tiny model on a 64x128 crop in one start, on the 4x4 config (every conv in row bands), with
    a progress line at every look at the wall clock: each names the layer STATUS reports, the cycles
    grow, and the last is before the run's end."""
    prog, gold = tiny_on_tiny
    res = run_accel(prog, gold, config="tiny", progress_s=1e-9)
    out = capfd.readouterr().out
    check(res, prog, gold, "tiny")
    check_counters_against_estimate(res, prog, "tiny")
    assert any(d.band < d.ho for d in prog.descriptors if d.op == "conv"), "the crop should need row bands"
    lines = re.findall(r"progress: run 1/1, layer (\d+)/(\d+) (\S+), ([\d,]+) cycles, [\d,]+ cycles/s", out)
    total = sum(l.counters["cycles"] for l in res.layers)
    assert len(lines) >= total // accel_test.PROGRESS_SLICE - 1, out[-2000:]
    names = [d.name for d in prog.descriptors]
    seen = [(int(i), int(n), name, int(c.replace(",", ""))) for i, n, name, c in lines]
    assert all(n == len(names) and name == names[i - 1] for i, n, name, _ in seen), seen
    cycles = [c for *_, c in seen]
    assert cycles == sorted(cycles) and len(set(cycles)) == len(cycles) and cycles[-1] < total, cycles
    assert [i for i, *_ in seen] == sorted(i for i, *_ in seen), seen


@pytest.mark.slow(minutes=1)
def test_tiny_network_layers_isolated_bit_exact(tiny_on_tiny):
    prog, gold = tiny_on_tiny
    res = run_accel(prog, gold, config="tiny", isolated=True)
    check(res, prog, gold, "tiny")
    assert len(res.runs) == len(prog.descriptors)


@pytest.mark.slow(minutes=2)
def test_random_dram_latency_and_backpressure_change_nothing(tiny_on_tiny, tiny_on_tiny_ideal, seed):
    prog, gold = tiny_on_tiny
    calm = tiny_on_tiny_ideal
    stalled = run_accel(prog, gold, config="tiny", stall=248, seed=seed)  # 97% of cycles stalled
    check(stalled, prog, gold, "tiny")
    for a, b in zip(calm.layers, stalled.layers, strict=True):
        assert a.comparison.mismatches == b.comparison.mismatches == 0
        assert (a.counters["bytes_read"], a.counters["mac_steps"]) == (b.counters["bytes_read"], b.counters["mac_steps"])
    slower = sum(l.counters["cycles"] for l in stalled.layers) / sum(l.counters["cycles"] for l in calm.layers)
    print(f"DRAM stalls 248/256: {slower:.2f}x the cycles, identical results")
    assert slower > 1.05


@pytest.mark.slow(minutes=2)
def test_tiny_network_on_the_dram_with_timing(tiny_on_tiny, tiny_on_tiny_ideal):
    """The tiny network on the DRAM with DDR4 timing (tb/hdl/dram_timing_model.v): bit-exact, the DRAM
    bytes and MAC steps the compiler's, slower than on the ideal DRAM. The cycle model does not follow
    this DRAM yet: its estimate is printed beside the RTL's cycles, not compared."""
    prog, gold = tiny_on_tiny
    ideal = tiny_on_tiny_ideal
    timed = run_accel(prog, gold, config="tiny", dram="timing")
    check(timed, prog, gold, "tiny")
    check_counters_against_estimate(timed, prog, "tiny")
    cycles = {name: sum(l.counters["cycles"] for l in r.layers) for name, r in (("ideal", ideal), ("timing", timed))}
    est = sum(e.cycles for e in estimate(prog, get_config("tiny")))
    print(f"tiny network, tiny config, {TINY_CROP.height}x{TINY_CROP.width}: RTL cycles on the ideal DRAM "
          f"{cycles['ideal']:,}, on the DDR4 timing DRAM {cycles['timing']:,} "
          f"({cycles['timing'] / cycles['ideal']:.2f}x); cycle model {est:,}")
    assert cycles["timing"] > cycles["ideal"]
    check_dram_counters(timed, prog)


def _beats(nbytes: int) -> int:
    return -(-nbytes // DMA.beat_bytes)


def check_dram_counters(res, prog):
    """The timing DRAM's counters of a chained run: one record per layer, in order; each layer's read
    beats are the bytes its RTL counter says it read (the first's: and the program header's beat);
    the layers' add up to at most the run's."""
    print_dram(res)
    (run,) = res.runs
    layers, total = run["dram"]["layers"], run["dram"]["total"]
    assert [d["layer"] for d in layers] == list(range(len(prog.descriptors)))
    for d, l in zip(layers, res.layers, strict=True):
        st = DramStats(**{k: d[k] for k in DramStats.names()})
        header = _beats(HEADER.used_bytes) * DMA.beat_bytes if l.index == 0 else 0
        assert st.read_beats * DMA.beat_bytes == l.counters["bytes_read"] + header, (l.name, d, l.counters)
        assert st.write_beats * DMA.beat_bytes >= l.counters["bytes_written"], (l.name, d, l.counters)
        assert min(d.values()) >= 0 and st.idle(d["cycles"]) >= 0, (l.name, d)
    for k in total:
        assert sum(d[k] for d in layers) <= total[k], k
    assert total["wait_latency"] > 0 and total["row_hits"] > 0, total


def test_tiny_network_with_more_dram_latency():
    """The same on a 32x64 crop with 100 ns more read round trip (tb.accel_run.dram_t_ctrl): bit-exact,
    and slower than at the DRAM's default latency."""
    prog, gold = compiled("tiny", SMALL_CROP, "tiny")
    runs = {ns: run_accel(prog, gold, config="tiny", dram="timing", dram_latency_ns=ns) for ns in (0, 100)}
    for res in runs.values():
        check(res, prog, gold, "tiny")
        check_counters_against_estimate(res, prog, "tiny")
    cycles = {ns: sum(l.counters["cycles"] for l in r.layers) for ns, r in runs.items()}
    print(f"tiny network, 32x64: {cycles[0]:,} cycles at the timing DRAM's default, {cycles[100]:,} with "
          f"{accel_run.added_round_trip_ns(100)} ns more read round trip")
    assert accel_run.dram_t_ctrl(100) == accel_run.dram_t_ctrl(0) + 25 and cycles[100] > cycles[0]


def test_added_dram_latency_is_refused_on_other_drams(capsys):
    rc = accel_run.main(["--dram", "model", "--dram-latency-ns", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--dram-latency-ns applies to --dram timing, not --dram model" in err


@pytest.mark.slow(minutes=1)
def test_tiny_network_on_cocotbext_axiram():
    """The same network through cocotbext-axi's AxiRam (Python AXI slave), on a 32x64 crop."""
    prog, gold = compiled("tiny", SMALL_CROP, "tiny")
    res = run_accel(prog, gold, config="tiny", dram="axiram")
    check(res, prog, gold, "tiny")


def test_one_layer_on_icarus(tiny_on_tiny):
    """The accelerator top on the second simulator: a small conv and an avgpool, isolated."""
    prog, gold = tiny_on_tiny
    res = run_accel(prog, gold, config="tiny", sim="icarus", isolated=True, layers=["enc2.l1", "enc1.pool"])
    check(res, prog, gold, "tiny", sim="icarus")
    assert [l.name for l in res.layers] == ["enc1.pool", "enc2.l1"]


def test_bad_descriptor_raises_error_and_interrupt(tiny_on_tiny):
    prog, gold = tiny_on_tiny
    bad = compile_graph(prog.graph, get_config("tiny"))
    d = bad.descriptors[3]
    off = HEADER.size + DESCRIPTOR.size * 3
    bad.image[off] = 9  # an op code the controller does not know
    res = run_accel(bad, gold, config="tiny", isolated=True, layers=[d.name])
    status = res.runs[0]["STATUS"]
    assert STATUS.unpack_int(status) == dict(busy=0, done=0, err=1, error=error_code("op"), layer=3), status_text(status)
    assert not res.runs[0].get("timeout"), "the interrupt must fire instead of hanging"


def test_dram_model_holds_a_layout_past_64_mib():
    """FC-HarDNet-70 on a 512x1024 crop, every layer isolated, lays out about 80 MiB of DRAM: past the
    bench's former fixed 64 MiB model (which wrapped the rest onto the program). The model sized for
    it holds every byte of it."""
    graph = load_qgraph(model_path("hardnet70"), (512, 1024))
    size = layout_run(compile_graph(graph, get_config("sim")), isolated=True).size
    assert size > 64 << 20, size
    assert dram_model_words(size) * DMA.beat_bytes >= size


@pytest.mark.slow(minutes=2)
def test_dram_model_is_sized_from_the_layout(tiny_on_tiny, monkeypatch):
    """With no floor on its size, the bench's DRAM model is as small as the tiny network's layout
    allows (a power of two of words): the whole network still runs bit-exact in it."""
    prog, gold = tiny_on_tiny
    monkeypatch.setattr(accel_run, "DRAM_MODEL_MIN_WORDS", 1)
    res = run_accel(prog, gold, config="tiny")
    check(res, prog, gold, "tiny")
    size = layout_run(prog).size
    assert size <= res.dram_bytes < 2 * size, (size, res.dram_bytes)


@pytest.mark.parametrize("access, field, code", [("read", "weight_addr", 6), ("write", "out_addr", 7)])
def test_dram_access_past_the_model_is_an_error_never_a_wrap(tiny_on_tiny, monkeypatch, capsys, access, field,
                                                              code):
    """A descriptor reading its weights, or writing its output, at the first address past the DRAM
    model's end: the model answers SLVERR instead of wrapping to address 0 (the program), the
    controller stops with a DRAM error in that layer, and the bench reports the address."""
    prog, gold = tiny_on_tiny
    monkeypatch.setattr(accel_run, "DRAM_MODEL_MIN_WORDS", 1)  # a model just larger than the run
    bad = compile_graph(prog.graph, get_config("tiny"))
    d = bad.descriptors[0]
    end = dram_model_words(layout_run(bad).size) * DMA.beat_bytes
    off = HEADER.size + DESCRIPTOR.size * d.layer
    bad.image[off:off + DESCRIPTOR.size] = dataclasses.replace(d, **{field: end}).pack()
    res = run_accel(bad, gold, config="tiny")
    print_table(res)
    assert res.dram_bytes == end and not res.ok
    assert len(res.runs) == 1, res.runs
    run = res.runs[0]
    assert run.get("dram_out_of_range") == end, run
    status = run["STATUS"]
    assert STATUS.unpack_int(status) == dict(busy=0, done=0, err=1, error=code, layer=d.layer), status_text(status)
    assert ERRORS[code] == f"DRAM {access} error"
    assert f"DRAM access at 0x{end:x}, past the end of the bench's DRAM model ({end:,} bytes)" in capsys.readouterr().out


def test_accel_run_refuses_a_layout_larger_than_the_dram_model_can_be(monkeypatch, capsys):
    """Refused before anything is built or simulated: one line naming the layout's size and the limit."""
    monkeypatch.setattr(accel_run, "DRAM_MODEL_MAX_BYTES", 1 << 16)  # the tiny network lays out 427 KiB
    monkeypatch.setattr(accel_run, "run_cocotb", lambda **kw: pytest.fail("simulated a refused run"))
    rc = accel_run.main(["--model", str(model_path("tiny")), "--config", "tiny", "--height", "64", "--width", "128"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("error: --model "), err
    assert "the run's DRAM layout needs" in err and "at most 65,536 bytes" in err, err


def test_accel_run_layers_runs_only_those_layers_isolated(capsys):
    """``--layers`` runs the named layers, each alone from golden inputs, and prints only their rows."""
    rc = accel_run.main(["--model", str(model_path("tiny")), "--config", "tiny", "--height", "32", "--width", "64",
                         "--layers", "enc0.trans,argmax", "--progress", "0"])
    out = capsys.readouterr().out
    rows = [l.split()[:4] for l in out.splitlines() if re.match(r"\s*\d+\s+\S+\s+\S+\s+(pass|FAIL)\s", l)]
    print(out)
    assert rc == 0 and [r[1:] for r in rows] == [["enc0.trans", "conv", "pass"], ["argmax", "argmax", "pass"]], rows
    assert "isolated: 2/2 layers bit-exact" in out


def test_accel_run_refuses_an_unknown_layer(monkeypatch, capsys):
    """One line naming the unknown layer and the program's layers, before anything is simulated."""
    monkeypatch.setattr(accel_run, "run_cocotb", lambda **kw: pytest.fail("simulated a refused run"))
    rc = accel_run.main(["--model", str(model_path("tiny")), "--config", "tiny", "--height", "32", "--width", "64",
                         "--layers", "argmax,enc9.l1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith("error: --layers: enc9.l1 not in ") and "its layers: stem0, " in err and "argmax" in err, err


@pytest.mark.slow(minutes=1)
@pytest.mark.parametrize("flag", ["pool", "up"])
def test_fused_pass_with_a_tile_it_cannot_take_is_refused(flag):
    """A conv whose store pools (FLAGS["pool"]) needs bands of an even number of rows, one whose store
    upsamples (FLAGS["up"]) whole rows: a descriptor with an odd band, or with a strip narrower than its
    rows, stops the controller before any tile runs with the fused pass's own error code (a chained
    run: an isolated one clears the fusion flags)."""
    prog, gold = compiled("tiny", Crop("frankfurt_000000_002196", top=400, left=900, height=64, width=256), "tiny")
    bit = FLAGS["pool"] if flag == "pool" else FLAGS["up"]
    d = next(d for d in prog.descriptors if d.flags & bit)
    # smaller tiles than compiled: they fit every buffer, so only the fused pass can refuse them
    bad = dataclasses.replace(d, band=d.band - 1) if flag == "pool" else dataclasses.replace(d, strip=d.wo // 2)
    off = HEADER.size + DESCRIPTOR.size * d.layer
    prog.image[off:off + DESCRIPTOR.size] = bad.pack()
    res = run_accel(prog, gold, config="tiny")
    status = res.runs[0]["STATUS"]
    assert STATUS.unpack_int(status) == dict(busy=0, done=0, err=1, error=error_code(f"fused_{flag}"), layer=d.layer), \
        status_text(status)


@pytest.mark.parametrize("field, value, code", [("strip", 4 * 64, "argmax"), ("factor", 3, "scale")])
def test_argmax_it_cannot_take_is_refused(tiny_on_tiny, field, value, code):
    """The argmax loads every channel's column segment into half the line buffer (19 x 4 words do not
    fit its 64) and repeats labels by a power of two: other descriptors stop it, each with its own code."""
    prog, gold = tiny_on_tiny
    bad = compile_graph(prog.graph, get_config("tiny"))
    d = bad.descriptors[-1]
    assert d.op == "argmax" and (d.cin, d.strip) == (19, 3 * 64)
    off = HEADER.size + DESCRIPTOR.size * d.layer
    bad.image[off:off + DESCRIPTOR.size] = dataclasses.replace(d, **{field: value}).pack()
    res = run_accel(bad, gold, config="tiny", isolated=True, layers=[d.name])
    status = res.runs[0]["STATUS"]
    assert STATUS.unpack_int(status) == dict(busy=0, done=0, err=1, error=error_code(code), layer=d.layer), \
        status_text(status)


# a descriptor of the tiny network on the tiny config, changed to break one limit each
BROKEN = {
    "stem1": (dict(kernel=5), "conv_shape"),
    "stem2": (dict(band=0), "conv_tile"),
    "stem3": (dict(segments=[]), "segments"),
    "enc0.l1": (dict(cin=200), "weight_bank"),  # 200 * 9 weights a channel, 1,856 bytes in words: past 1,024
    "enc1.l1": (dict(factor=2), "stacked"),  # 2 x 8 stacked channels on 4 rows
    "enc0.pool": (dict(w=4096), "pool_row"),  # two 4,096-byte rows in a 4,096-byte half
    "dec0.up": (dict(w=8192), "up_row"),
    "enc1.trans": (dict(cout=68, group=68), "group_banks"),  # 17 tiles of constants in 16
    "dec1.l1": (dict(band=16, strip=32), "band_buffers"),  # the whole 19 x 16 x 32 input in one half
    "dec1.l2": (dict(in_pitch=1 << 24), "plane"),  # input planes 16 MiB apart: past a DMA command's pitch
    "logits": (dict(ho=4096, wo=4096), "plane"),  # an upsample writing a 16 MiB plane in one command
}


def test_each_refused_limit_stops_with_its_own_code(tiny_on_tiny):
    """Eleven descriptors, each breaking one limit (the plane's twice: a conv's input, an upsample's
    output), run alone in one simulation: the controller stops each with that limit's code (hwspec.formats.ERRORS), the code the Python model of its checks
    (hwspec.checks.refusal) predicts, in the descriptor's layer; every other layer still runs."""
    prog, gold = tiny_on_tiny
    bad = compile_graph(prog.graph, get_config("tiny"))
    expected = {}
    for d in bad.descriptors:
        if d.name in BROKEN:
            change, key = BROKEN[d.name]
            broken = dataclasses.replace(d, **change)
            # an isolated run clears the fusion flags, as the model must see it
            assert refusal(dataclasses.replace(broken, flags=broken.flags & ~FUSION_FLAGS), get_config("tiny")) == key
            off = HEADER.size + DESCRIPTOR.size * d.layer
            bad.image[off:off + DESCRIPTOR.size] = broken.pack()
            expected[d.layer] = error_code(key)
    assert len(expected) == len(BROKEN)
    res = run_accel(bad, gold, config="tiny", isolated=True, layers=list(BROKEN))
    got = {STATUS.unpack_int(r["STATUS"])["layer"]: STATUS.unpack_int(r["STATUS"]) for r in res.runs}
    assert len(res.runs) == len(BROKEN) and not any(r.get("timeout") for r in res.runs), res.runs
    assert {layer: s["error"] for layer, s in got.items()} == expected, \
        {layer: status_text(r["STATUS"]) for layer, r in zip(got, res.runs)}
    assert all(s["err"] == 1 and s["busy"] == 0 for s in got.values())


def test_a_bad_program_header_is_refused(tiny_on_tiny, monkeypatch):
    """A header whose magic is not "HDNA" stops the run before any descriptor: error "header"."""
    prog, gold = tiny_on_tiny
    real = accel_run.dram_image

    def corrupt(layout, tensors):
        img = real(layout, tensors)
        img[layout.header_addr(prog.descriptors[0].layer) + HEADER.offset("magic")] ^= 0xFF
        return img

    monkeypatch.setattr(accel_run, "dram_image", corrupt)
    res = run_accel(prog, gold, config="tiny", isolated=True, layers=[prog.descriptors[0].name])
    assert len(res.runs) == 1, res.runs
    status = STATUS.unpack_int(res.runs[0]["STATUS"])
    assert (status["err"], status["error"]) == (1, error_code("header")), status_text(res.runs[0]["STATUS"])
    assert res.runs[0]["FETCH"] == 0 and res.runs[0]["ENGINE"] == 0  # no descriptor was fetched


@pytest.mark.parametrize("where", ["first layer", pytest.param("argmax", marks=pytest.mark.slow(minutes=2))])
def test_reset_in_the_middle_of_a_layer_then_full_run(tiny_on_tiny, where):
    """A reset mid-way through a layer (the first, or the last: the argmax, its compare lanes and
    label writes in flight) leaves the accelerator idle; the next start runs the network bit-exact."""
    prog, gold = tiny_on_tiny
    est = estimate(prog, get_config("tiny"))
    # the argmax starts after every layer before it and their counter records (about 40 cycles each)
    at = 20000 if where == "first layer" else sum(e.cycles + 40 for e in est) - est[-1].cycles // 2
    res = run_accel(prog, gold, config="tiny", reset_after=at)
    first = res.runs[0]
    layer = 0 if where == "first layer" else len(est) - 1
    assert first["busy_before_reset"] == 1 and first["status_after_reset"] & 7 == 0, first
    assert first["status_after_reset"] >> 16 == layer, first  # the layer the reset hit
    check(res, prog, gold, "tiny")


def test_a_mismatch_is_reported_with_coordinates_and_a_waveform(tiny_on_tiny, tmp_path):
    """The failure path: a golden altered at one element must be reported as the first failing layer
    with its count and coordinates, and that layer rerun alone leaves an FST waveform."""
    prog, gold = tiny_on_tiny
    res = run_accel(prog, gold, config="tiny", isolated=True, layers=["enc1.l2"])
    assert res.ok
    altered = gold.tensors["enc1.l2"].data.copy()
    altered[0, 3, 2, 5] ^= 1
    gold_bad = copy.copy(gold)
    gold_bad.tensors = {**gold.tensors, "enc1.l2": dataclasses.replace(gold.tensors["enc1.l2"], data=altered)}
    layer = res.layers[0]
    res.layers[0] = dataclasses.replace(layer, comparison=compare("enc1.l2", altered, layer.actual))
    bad = res.first_failure()
    assert bad is not None and bad.name == "enc1.l2"
    assert bad.comparison.mismatches == 1 and bad.comparison.first == (0, 3, 2, 5)
    fst = debug_failure(prog, gold_bad, res, config="tiny", keep_dir=tmp_path)
    assert fst is not None and fst.exists() and fst.stat().st_size > 1000, fst
    print(f"{bad.comparison}; waveform {fst} ({fst.stat().st_size:,} bytes)")


@pytest.fixture(scope="session")
def hardnet70_on_sim():
    return compiled("hardnet70", HARDNET_CROP, "sim")


@pytest.mark.slow(minutes=7)
def test_hardnet70_chained_bit_exact_on_sim_config(hardnet70_on_sim):
    """FC-HarDNet-70 on a 128x256 crop, input to labels in one start, every tensor compared (the
    logits upsample elided: the on-chip argmax reads the head's output and upsamples its labels)."""
    prog, gold = hardnet70_on_sim
    res = run_accel(prog, gold, config="sim")
    check(res, prog, gold, "sim")
    check_counters_against_estimate(res, prog, "sim")
    assert len(res.layers) == 80 and [l.name for l in res.layers if l.elided] == ["logits"]


def layer_kinds(prog) -> dict[tuple, list[str]]:
    """The program's layers by what the controller does differently for them: op, kernel, stride,
    flags, concatenated input, repeat factor, row bands, column strips (the elided layers left out)."""
    kinds = {}
    for d in prog.descriptors:
        if d.name not in prog.elided:
            kind = (d.op, d.kernel, d.stride, d.flags, len(d.segments) > 1, d.factor > 1, d.band < d.ho_v,
                    d.strip < d.wo)
            kinds.setdefault(kind, []).append(d.name)
    return kinds


@pytest.mark.slow(minutes=2)
def test_hardnet70_each_kind_of_layer_isolated_bit_exact_on_sim_config(hardnet70_on_sim):
    """Isolated runs (each layer alone from onnxruntime's inputs, as `regress` runs them): the cheapest
    layer (cycle model) of each kind. The chained test above computes every layer of this crop."""
    prog, gold = hardnet70_on_sim
    cycles = {e.name: e.cycles for e in estimate(prog, get_config("sim"))}
    kinds = layer_kinds(prog)
    cheapest = {min(names, key=cycles.__getitem__) for names in kinds.values()}
    names = [d.name for d in prog.descriptors if d.name in cheapest]
    print(f"{len(kinds)} kinds of layer in {len(prog.descriptors)}: {', '.join(names)}")
    res = run_accel(prog, gold, config="sim", isolated=True, layers=names)
    check(res, prog, gold, "sim")
    assert [l.name for l in res.layers] == names and len(res.runs) == len(names) == len(kinds)
    ops = {d.name: d.op for d in prog.descriptors}
    assert {ops[n] for n in names} == set(ops.values()) == {"conv", "avgpool", "upsample", "argmax"}


def test_one_by_one_stride_two_conv_bit_exact(tmp_path):
    """A 1x1 conv of stride 2 (the validator accepts it; FC-HarDNet has none): tiny with its stem2,
    a 3x3 stride-2 conv, cut to its kernel's centre tap, on the tiny config, chained and isolated."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(model_path("tiny", "int8")))
    conv = next(n for n in m.graph.node if n.name == "stem2")
    weight = next(i for i in m.graph.initializer if i.name == "stem2.weight_quantized")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight)[:, :, 1:2, 1:2].copy(), weight.name))
    for a in conv.attribute:
        if a.name == "kernel_shape":
            a.ints[:] = [1, 1]
        if a.name == "pads":
            a.ints[:] = [0, 0, 0, 0]
    path = tmp_path / "tiny_1x1s2.onnx"
    onnx.save(m, str(path))
    gold = capture(path, SMALL_CROP)
    prog = compile_graph(load_qgraph(path, gold.input_size), get_config("tiny"))
    assert [(d.name, d.kernel, d.stride) for d in prog.descriptors if d.name == "stem2"] == [("stem2", 1, 2)]
    for isolated in (False, True):
        res = run_accel(prog, gold, config="tiny", isolated=isolated)
        check(res, prog, gold, "tiny")
        assert len(res.layers) == len(prog.descriptors)
