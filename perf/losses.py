"""Where a conv layer's engine cycles go: every cycle of every engine run is R*C MAC slots, and each
slot is useful or lost to one cause. The split follows the controller's tiling and the sequencer's
loops (rtl/sequencer.py: channel tile, output row, pixel tile, then max(K, min_tile_steps)
reduction steps) and compiler.estimate's engine runs, so the causes add up to the model's
engine cycles exactly and the useful slots to the layer's MACs (tests/test_perf_frame.py).
"""

from __future__ import annotations

from collections import Counter

from hwspec import tiling
from hwspec.config import CHAINED_TAIL

__all__ = ["CAUSES", "conv_losses"]

# in the order the report lists them
CAUSES = {
    "useful": "useful MACs",
    "zero_taps": "stacked kernels' zero taps",
    "past_rows": "stacked rows past the layer's last",
    "empty_rows": "array rows without an output channel",
    "empty_cols": "array columns without an output pixel",
    "min_tile": "reductions padded to the minimum tile",
    "drain": "drain and start of each engine run",
}


def conv_losses(d, hw, tail: int) -> Counter:
    """MAC slots of conv descriptor ``d`` (compiled for ``hw``; ``tail`` = hwspec.config.run_tail(hw))
    by cause (keys of CAUSES); their sum is the layer's engine cycles times rows * cols."""
    R, C = hw.rows, hw.cols
    g, k = d.stack, d.kernel
    K = d.cin * d.k_rows * k  # reduction steps as run (a stacked kernel is k_rows tall)
    K0 = d.cin * k * k  # the ones a valid output needs
    P = max(K, hw.min_tile_steps)
    out = Counter()
    walk = tiling.tiles(d)
    for co0, gc in tiling.groups(d.cout, d.group):
        for i, t in enumerate(walk):
            tiles = 0
            for ct in range(0, gc, R):
                rows = min(R, gc - ct)
                for y in range(t.rows):
                    # stacked channel v = c * g + r holds output row g * (oy0 + y) + r
                    past = sum(1 for v in range(co0 + ct, co0 + ct + rows) if g * (t.oy0 + y) + v % g >= d.ho)
                    for px0 in range(0, t.cols, C):
                        cols = min(C, t.cols - px0)
                        tiles += 1
                        out["empty_rows"] += (R - rows) * C * K
                        out["empty_cols"] += rows * (C - cols) * K
                        out["past_rows"] += past * cols * K
                        out["zero_taps"] += (rows - past) * cols * (K - K0)
                        out["useful"] += (rows - past) * cols * K0
            out["min_tile"] += tiles * (P - K) * R * C
            # compiler.estimate: a run is steps * P + tail, or + CHAINED_TAIL when another run of the
            # group follows (its last tile drains under that run)
            out["drain"] += (tail if i + 1 == len(walk) else CHAINED_TAIL) * R * C
    return out
