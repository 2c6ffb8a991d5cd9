"""The perf report's frame figures on the tiny model (seconds, not a full frame)."""

from pathlib import Path

from compiler.estimate import estimate
from compiler.program import compile_graph
from golden.qgraph import load_qgraph
from perf.model import DEFAULT_MODEL, frame_estimate
from hwspec.config import EngineConfig, get_config

TINY = Path(__file__).resolve().parent.parent / "onnx_models" / "tiny_int8.onnx"


def test_frame_totals_are_the_compiled_programs():
    """The frame's totals against what they stand for, each computed another way: the compiled
    program's estimate (cycles, DRAM bytes), the ONNX graph's convolutions (MACs, weights read at
    least once), and the clock (frames per second scale with it, cycles do not)."""
    hw = get_config("tiny")
    f = frame_estimate(hw, (32, 64), TINY)
    assert f.compiled_as_is and not f.refused
    graph = load_qgraph(str(TINY), (32, 64))
    est = estimate(compile_graph(graph, hw), hw)
    assert len(f.layers) == len(est)
    assert f.cycles == sum(e.cycles for e in est) > 0
    assert f.macs == sum(c.macs for c in graph.convs) > 0
    assert 0 < f.utilization <= 1 and all(l.utilization(f.pes) <= 1 for l in f.layers)
    assert f.engine_cycles <= f.cycles
    assert f.bandwidth_at(60) == 60 * sum(e.bytes_read + e.bytes_written for e in est)
    assert f.bytes_read >= sum(c.weight.size for c in graph.convs)
    half = frame_estimate(hw, (32, 64), TINY, clock_hz=f.clock_hz / 2)
    assert half.cycles == f.cycles and half.fps == f.fps / 2


def test_stacked_layers_report_their_own_channels():
    """A conv with stacked output rows runs as factor times its channels; the report (and the
    SCALE-Sim layers built from it) keeps the layer's own channel count and MACs."""
    f = frame_estimate(get_config("tall"), (64, 128), TINY)
    convs = {l.name: l for l in f.layers if l.op == "conv"}
    assert convs["stem1"].cout == 8 and convs["dec1.l1"].cout == 6
    for l in convs.values():
        assert l.macs == l.cout * l.cin * l.kernel ** 2 * l.ho * l.wo


def test_layers_a_config_refuses_are_tiled_for_a_larger_buffer():
    """A config whose activation buffer cannot hold one output pixel of some layers still gets a
    frame figure: those layers are tiled for the smallest power-of-two buffer that holds them."""
    hw = EngineConfig(name="small", rows=4, cols=4, act_depth=1 << 13, wgt_depth=1 << 12, const_depth=16,
                      out_depth=1 << 10)
    f = frame_estimate(hw, (64, 128))
    assert not f.compiled_as_is and f.refused
    assert all("even one output pixel needs" in m and "half activation buffer 4096" in m for m in f.refused)
    fallback = [l for l in f.layers if l.fallback]
    assert len(fallback) == len(f.refused)
    for l in fallback:  # "needs act_depth N KB (config has 8 KB)", N a larger power of two
        need = int(l.fallback.split()[2])
        assert l.fallback == f"needs act_depth {need} KB (config has 8 KB)" and need > 8 and need & (need - 1) == 0
    assert f.cycles > 0 and f.macs == sum(c.macs for c in load_qgraph(str(DEFAULT_MODEL), (64, 128)).convs)


def test_engine_loss_causes_add_up_to_the_engine_cycles():
    """perf/losses.py splits every conv's engine cycles (x rows*cols MAC slots) by cause: the causes
    add up to compiler.estimate's engine cycles and the useful slots to the layer's MACs, on the
    full asic frame and on stacked layers with rows past the last (tall)."""
    from perf.losses import CAUSES

    for hw, size, model in ((get_config("asic"), (1024, 2048), None), (get_config("tall"), (64, 128), TINY)):
        f = frame_estimate(hw, size, model) if model else frame_estimate(hw, size)
        convs = [l for l in f.layers if l.op == "conv"]
        for l in convs:
            assert set(l.losses) <= set(CAUSES) and min(l.losses.values()) >= 0, l.name
            assert sum(l.losses.values()) == l.engine_cycles * f.pes, l.name
            assert l.losses["useful"] == l.macs, l.name
        assert sum(f.losses.values()) == f.engine_cycles * f.pes and f.losses["useful"] == f.macs
        if hw.name == "tall":
            assert f.losses["past_rows"] > 0 and f.losses["zero_taps"] > 0


def test_hardware_friendly_variant_fills_the_rows_and_runs_faster():
    """The variant (onnx_models/hardnet.py, granule 72): every conv but the head has a width that
    divides 72 or is a multiple of it, so on asic its output channels fill the array's rows (alone or
    stacked) and the frame is faster than the published network's, with fewer rows idle."""
    from perf.model import DEFAULT_MODEL, VARIANT_MODEL

    hw = get_config("asic")
    pub, var = frame_estimate(hw), frame_estimate(hw, model=VARIANT_MODEL)
    widths = {l.name: l.cout for l in var.layers if l.op == "conv"}
    assert widths.pop("head") == 19 and len(widths) == 69
    assert all(72 % c == 0 or c % 72 == 0 for c in widths.values()), widths
    assert [l.name for l in var.layers] == [l.name for l in pub.layers]  # the same network, other widths
    assert var.losses["empty_rows"] < pub.losses["empty_rows"] / 4
    assert var.cycles < pub.cycles and var.params < pub.params
    print(f"published {pub.fps:.1f} fps ({pub.params:,} weights), variant {var.fps:.1f} fps ({var.params:,})")
    assert str(DEFAULT_MODEL) != str(VARIANT_MODEL)
