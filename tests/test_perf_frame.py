"""The perf report's frame figures on the tiny model (seconds, not a full frame)."""

from pathlib import Path

from perf.model import frame_estimate
from rtl.config import get_config

TINY = Path(__file__).resolve().parent.parent / "onnx_models" / "tiny_int8.onnx"


def test_frame_totals_are_layer_sums():
    hw = get_config("tiny")
    f = frame_estimate(hw, (32, 64), TINY)
    assert f.compiled_as_is and not f.refused
    assert f.cycles == sum(l.cycles for l in f.layers) > 0
    assert f.macs == sum(l.macs for l in f.layers) > 0
    assert 0 < f.utilization <= 1 and all(l.utilization(f.pes) <= 1 for l in f.layers)
    assert f.engine_cycles <= f.cycles
    assert f.bandwidth_at(60) == 60 * (f.bytes_read + f.bytes_written)
    assert f.fps == 500e6 / f.cycles
