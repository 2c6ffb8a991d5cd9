"""Design-space sweep with the cycle model only: array shapes x buffer sizes, one full frame each."""

from __future__ import annotations

from dataclasses import dataclass

from hwspec.config import EngineConfig
from perf.model import DEFAULT_MODEL, frame_estimate

__all__ = ["SHAPES", "BUFFERS", "SweepPoint", "sweep_configs", "run_sweep", "smallest"]

SHAPES = [(16, 16), (32, 32), (48, 48), (64, 64), (96, 96), (72, 128), (128, 72), (128, 128),
          (16, 64), (64, 16), (32, 64), (64, 32), (48, 96), (96, 48), (64, 128), (128, 64), (96, 192), (192, 192), (256, 256),
          # between asic's 9216 MACs and 128x128: 10368 to 13824
          (72, 144), (144, 72), (96, 128), (128, 96), (72, 192), (96, 144)]
# (label, act_depth, wgt_depth, out_depth): bytes of the activation buffer, per weight bank, per output bank
BUFFERS = [("asic", 1 << 19, 1 << 12, 1 << 14), ("2x", 1 << 20, 1 << 13, 1 << 15), ("4x", 1 << 21, 1 << 14, 1 << 16)]


def _pow2_at_least(n: int) -> int:
    p = 2
    while p < n:
        p *= 2
    return p


def sweep_configs(shapes=SHAPES, buffers=BUFFERS):
    for rows, cols in shapes:
        for label, act, wgt, out in buffers:
            # constant words per row: enough for the output channels a 96-row array holds with 8
            const = max(8, _pow2_at_least(-(-768 // rows)))
            yield label, EngineConfig(name=f"r{rows}c{cols}_{label}", rows=rows, cols=cols, act_depth=act,
                                      wgt_depth=wgt, const_depth=const, out_depth=out)


@dataclass
class SweepPoint:
    rows: int
    cols: int
    buffers: str
    act_kb: int
    cycles: int
    engine_cycles: int
    utilization: float
    refused: int  # layers the config's buffers cannot tile (estimated with a larger activation buffer)

    @property
    def macs(self) -> int:
        return self.rows * self.cols

    def fps(self, clock_hz=500e6) -> float:
        return clock_hz / self.cycles

    def engine_fps(self, clock_hz=500e6) -> float:
        return clock_hz / self.engine_cycles


def run_sweep(size=(1024, 2048), shapes=SHAPES, buffers=BUFFERS, log=None, model=DEFAULT_MODEL) -> list[SweepPoint]:
    points = []
    for label, hw in sweep_configs(shapes, buffers):
        f = frame_estimate(hw, size, model)
        points.append(SweepPoint(hw.rows, hw.cols, label, hw.act_depth // 1024, f.cycles, f.engine_cycles,
                                 f.utilization, len(f.refused)))
        if log:
            p = points[-1]
            log(f"    {hw.rows:4d}x{hw.cols:<4d} {label:5s} {p.cycles / 1e6:9.2f}M cycles {p.fps():7.2f} fps"
                f"   engine only {p.engine_cycles / 1e6:7.2f}M {p.engine_fps():7.1f} fps"
                + (f"   ({p.refused} layers need a larger activation buffer)" if p.refused else ""))
    return points


def smallest(points, fps=60.0, clock_hz=500e6, engine_only=False, compiles=True):
    """The sweep point with the fewest MACs reaching ``fps`` (ties: fewer buffer bytes), or None."""
    ok = [p for p in points if (p.engine_fps(clock_hz) if engine_only else p.fps(clock_hz)) >= fps
          and (p.refused == 0 or not compiles)]
    return min(ok, key=lambda p: (p.macs, p.act_kb)) if ok else None
