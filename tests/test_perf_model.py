"""The performance model (compiler.estimate) equals the RTL's per-layer counter records exactly:
cycles, engine cycles, MAC steps, load/store/fetch stall cycles, DRAM bytes read and written."""

import time

import pytest

from compiler.estimate import LayerEstimate, _Band, _rd_rows, estimate
from compiler.program import compile_graph
from hwspec.formats import FLAGS
from golden.capture import capture
from golden.cityscapes import Crop
from golden.qgraph import load_qgraph
from onnx_models import model_path
from hwspec.config import get_config
from tb.accel_run import run_accel
from tests.rtl_helpers import assert_model_equals_counters

CASES = {
    # (model, crop, hardware config): whole-row tiles, and column strips (a 512-wide crop on 4x4)
    "tiny-64x128-tiny": ("tiny", Crop(top=400, left=900, height=64, width=128), "tiny"),
    "tiny-64x128-sim": ("tiny", Crop(top=400, left=900, height=64, width=128), "sim"),
    "tiny-32x512-tiny-strips": ("tiny", Crop(top=400, left=900, height=32, width=512), "tiny"),
    # stacked output rows, 3 on 32 and 8 rows: the store skips the rows past the last; a 1x1 conv
    # pinned to 2 stacked rows (the cost picks none on this config)
    "tiny-64x128-tall-stacked": ("tiny", Crop(top=400, left=900, height=64, width=128), "tall",
                                 {"enc0.trans": 2}),
    # fused average pools (compiler.program.pool_fusable): transition convs whose rows are 2 and 1
    # buffer words (the even row's word from the words just tapped), then 4 and 2 (the first from
    # the line buffer)
    "tiny-32x512-sim-pooled": ("tiny", Crop(top=400, left=900, height=32, width=512), "sim"),
    "tiny-16x1024-sim-pooled": ("tiny", Crop(top=400, left=900, height=16, width=1024), "sim"),
    # the hardware-friendly variant of FC-HarDNet-70 (widths rounded to 72s) through the same RTL
    "hardnet70_hw-64x128-sim": ("hardnet70_hw", Crop(top=384, left=768, height=64, width=128), "sim"),
    # the chip's own configuration (72x128, 9216 MACs; ce_row verilated hierarchically: tb/runner.py)
    "tiny-64x128-asic": ("tiny", Crop(top=400, left=900, height=64, width=128), "asic"),
}
POOLED_ROW_WORDS = {"tiny-32x512-sim-pooled": {1, 2}, "tiny-16x1024-sim-pooled": {2, 4}}
# fused upsamples (FLAGS["up"]) each case must hold, as (factor, stacked): at 512 and 1024 wide the
# decoder's convs write theirs by 2, stacked ones included (the logits upsample by 4 is elided: the
# argmax reads the head's output and upsamples its labels)
FUSED_UPS = {"tiny-64x128-tiny": set(), "tiny-64x128-tall-stacked": set(),
             "tiny-32x512-sim-pooled": {(2, False), (2, True)},
             "tiny-16x1024-sim-pooled": {(2, False), (2, True)}}
# the on-chip argmax's column segments (three 64-byte words of each of 19 channels): one where the
# head's rows are 32 to 128 bytes, two at 1024 wide (rows of 256: 192 + 64)
ARGMAX_SEGMENTS = {"tiny-64x128-tiny": 1, "tiny-32x512-sim-pooled": 1, "tiny-16x1024-sim-pooled": 2}


MINUTES = {"tiny-64x128-asic": 8, "hardnet70_hw-64x128-sim": 3, "tiny-16x1024-sim-pooled": 1,
           "tiny-32x512-sim-pooled": 1}  # rough serial times (asic: most of it its Verilator build)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow(minutes=MINUTES.get(c, 2))) for c in CASES])
def test_model_equals_rtl_counters_on_every_layer(case):
    model, crop, config, *pins = CASES[case]
    gold = capture(model_path(model), crop)
    prog = compile_graph(load_qgraph(model_path(model), gold.input_size), get_config(config), stack=pins[0] if pins else None)
    res = run_accel(prog, gold, config=config)
    assert res.ok
    assert_model_equals_counters(res, estimate(prog, get_config(config)), case)
    if "strips" in case:
        assert any(d.strip < d.wo for d in prog.descriptors if d.op == "conv")
    if case in ARGMAX_SEGMENTS:
        am = prog.descriptors[-1]
        assert (am.op, am.factor) == ("argmax", 4) and -(-am.w // am.strip) == ARGMAX_SEGMENTS[case]
        # every row's first segment but row 0's loads while the row before's labels are written: the
        # argmax waits on its loads for less than their cycles in the foreground
        foreground = sum(_rd_rows(am.segments[0].addr + y * am.w + x0, min(am.strip, am.w - x0), am.cin, am.in_pitch)
                         for y in range(am.h) for x0 in range(0, am.w, am.strip))
        assert res.layers[-1].counters["load_stall"] < foreground, (res.layers[-1].counters, foreground)
    if case in FUSED_UPS:
        assert {(d.up_factor, d.stack > 1) for d in prog.descriptors if d.flags & FLAGS["up"]} == FUSED_UPS[case]
    if "pooled" in case:
        fused = [d for d in prog.descriptors if d.flags & FLAGS["pool"]]
        assert {d.wo // 64 for d in fused} == POOLED_ROW_WORDS[case]
        assert sum(1 for d in prog.descriptors if d.flags & FLAGS["fused"] and d.op == "avgpool") == len(fused)
    if "stacked" in case:
        stacked = {(d.kernel, d.stack * d.ho_v > d.ho) for d in prog.descriptors if d.op == "conv" and d.stack > 1}
        assert (1, False) in stacked and (3, True) in stacked, stacked  # a 1x1; a 3x3 with rows past the last


def test_full_frame_model_time():
    """A figure, not a timed assertion: the model on FC-HarDNet-70 at 1024x2048 on the asic config."""
    graph = load_qgraph(model_path("hardnet70"), (1024, 2048))
    t0 = time.time()
    prog = compile_graph(graph, get_config("asic"))
    est = estimate(prog, get_config("asic"))
    dt = time.time() - t0
    cycles = sum(e.cycles for e in est)
    print(f"full frame on asic: {cycles:,} cycles ({500e6 / cycles:.2f} fps at 500 MHz), compile + model {dt:.2f} s")
    assert len(est) == len(prog.descriptors) and cycles > 0


def test_band_engine_ending_in_a_commands_trailing_cycle():
    """The engine's last active cycle falls in the uncharged cycle after the last command: no stall
    (this case once indexed past the command list)."""
    e = LayerEstimate("x")
    band = _Band(e, 0, 10)  # commands at cycles 0-4 and 6-10, each followed by one uncharged cycle
    band.cmds([5, 5], 1, "load")
    assert (e.load_stall, band.t) == (0, 12)
    band = _Band(e, 0, 7)  # the engine ends during the second command: cycles 8-10 stall
    band.cmds([5, 5], 1, "load")
    assert (e.load_stall, band.t) == (3, 12)


def test_perf_report_names_the_configurations_the_model_is_held_to():
    """`nox -s perf` marks a figure for a configuration outside these cases as not simulated."""
    from perf.__main__ import SIMULATED_CONFIGS

    assert {case[2] for case in CASES.values()} == set(SIMULATED_CONFIGS)
