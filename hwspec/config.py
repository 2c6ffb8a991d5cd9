"""Hardware configurations of the accelerator: one frozen, validated dataclass per build, with every
buffer's size and the engine's timing facts that the compiler, the cycle model and the RTL share.

The JSON form is written next to the generated Verilog; ``key`` (a hash of that JSON) names build
directories and results, so a changed parameter never reuses a stale build.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

__all__ = ["EngineConfig", "CONFIGS", "get_config", "ACT_WORD", "weight_pitch", "abuf_banks", "PPU_LATENCY",
           "CHAINED_TAIL", "CLOCK_HZ", "CLOCK_NS", "LINE_DEPTH", "drain_wait", "run_tail"]

ACT_WORD = 64  # bytes per buffer word: one DRAM beat of the 512-bit bus (hwspec.bus.DMA)
PPU_LATENCY = 6  # cycles of the post-processing pipeline (rtl/ppu.py)
# Cycles of a chained run (sequencer register ``chain``) beyond its reduction steps: it is done with
# its last step; its last tile drains under the next run's first tiles (compiler.estimate).
CHAINED_TAIL = 3
CLOCK_HZ = 500_000_000  # the chip's clock (the reference chip's); the benches clock at its period
CLOCK_NS = 10**9 // CLOCK_HZ  # the benches' clock period (whole ns)
assert CLOCK_NS * CLOCK_HZ == 10**9
LINE_DEPTH = 1 << 13  # the controller's line buffer unless a config says otherwise: an avgpool's row pair of 2048


def weight_pitch(k: int) -> int:
    """Bytes one output channel's Cin*k*k = ``k`` weights take in a weight bank and in DRAM: whole
    words, so weights load a DMA beat per cycle (the sequencer and controller compute the same)."""
    return -(-k // ACT_WORD) * ACT_WORD


def abuf_banks(cols: int) -> int:
    """Banks of the shared activation buffer for ``cols`` columns: enough ACT_WORD-byte words, a power of
    two, to hold the bytes the columns read in one step at any start lane and stride <= 3."""
    span = ACT_WORD - 1 + 3 * (cols - 1) + 1
    words = -(-span // ACT_WORD)
    return 1 << (words - 1).bit_length()


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Parameters of one engine build.

    rows x cols PEs; rows hold output channels (one weight/constant/output bank per row), cols hold
    consecutive output pixels of one output row (one activation buffer, shared by the columns).
    """

    name: str
    rows: int
    cols: int
    act_depth: int = 1 << 14  # bytes of the activation buffer (two halves of a tile's input rows)
    wgt_depth: int = 1 << 12  # bytes per weight bank (ceil(Cout/rows) * Cin*k*k)
    const_depth: int = 64  # per-row constant words (ceil(Cout/rows))
    out_depth: int = 1 << 12  # bytes per output bank (ceil(Cout/rows) * Ho*Wo)
    line_depth: int = LINE_DEPTH  # bytes of the controller's line buffer, two halves (pools, upsamples, argmax)
    data_bits: int = field(default=8, init=False)
    acc_bits: int = field(default=32, init=False)

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"EngineConfig name must be an identifier, not {self.name!r}")
        for f in ("rows", "cols"):
            v = getattr(self, f)
            if not isinstance(v, int) or not 1 <= v <= 256:
                raise ValueError(f"EngineConfig {f} must be an integer in 1..256, not {v!r}")
        for f in ("act_depth", "wgt_depth", "const_depth", "out_depth", "line_depth"):
            v = getattr(self, f)
            if not isinstance(v, int) or v < 2 or v & (v - 1):
                raise ValueError(f"EngineConfig {f} must be a power of two >= 2, not {v!r}")
        least = 2 * ACT_WORD * abuf_banks(self.cols)  # a row in each bank, for each half
        if self.act_depth < least:
            raise ValueError(f"EngineConfig act_depth must be at least {least} for {self.cols} columns "
                             f"({abuf_banks(self.cols)} banks of {ACT_WORD}-byte words), not {self.act_depth}")

    @property
    def macs(self) -> int:
        return self.rows * self.cols

    @property
    def min_tile_steps(self) -> int:
        """Shortest tile (reduction steps): a row's drain (two interleaved left-shifting chains,
        rtl/array.py) takes cols + ceil(cols/2) cycles and must finish before the next tile's
        results are captured (see README)."""
        return self.cols + (self.cols + 1) // 2 + 4

    # double buffering: the next tile loads into one half of the activation buffer and the output
    # banks while the engine runs from the other; a line-buffer row loads into one half while the
    # other is written
    @property
    def act_half(self) -> int:
        return self.act_depth // 2

    @property
    def out_half(self) -> int:
        return self.out_depth // 2

    @property
    def line_half(self) -> int:
        return self.line_depth // 2

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @property
    def key(self) -> str:
        """Stable hash of every parameter: the build-cache key."""
        return f"{self.name}-{hashlib.sha256(self.to_json().encode()).hexdigest()[:10]}"


CONFIGS = {
    c.name: c
    for c in (
        EngineConfig(name="tiny", rows=4, cols=4, act_depth=1 << 14, wgt_depth=1 << 10, const_depth=16, out_depth=1 << 10),
        EngineConfig(name="sim", rows=16, cols=16, act_depth=1 << 17, wgt_depth=1 << 12, const_depth=16, out_depth=1 << 13),
        # 32 rows by 8 columns: the tiny network's 6- to 14-channel layers stack 2 to 4 output rows
        # (compiler.program.stack_rows), some with a last stacked row past the layer's, and its
        # 16-channel 1x1 convs can stack 2 (tests)
        EngineConfig(name="tall", rows=32, cols=8, act_depth=1 << 16, wgt_depth=1 << 12, const_depth=16, out_depth=1 << 13),
        # The reference chip's 9216 MACs, not simulated in CI, as 72 rows x 128 columns: FC-HarDNet's
        # rows of 512, 256 and 128 pixels fill 128 columns (96 leave 11-33% of them idle), and 72 rows
        # stack fewer zero kernel taps: 9.10M cycles per frame against 10.40M on 96x96 (perf/sweep.py,
        # perf/losses.py). A 512 KB activation buffer, shared by the columns.
        EngineConfig(name="asic", rows=72, cols=128, act_depth=1 << 19, wgt_depth=1 << 12, const_depth=8, out_depth=1 << 14),
    )
}


def drain_wait(cfg: EngineConfig) -> int:
    """Cycles from the flush step until the last result is written: row skew, feeder latency,
    the drain (C + ceil(C/2) cycles: two interleaved chains), row-unit and PPU pipelines, margin."""
    return cfg.rows + cfg.cols + (cfg.cols + 1) // 2 + PPU_LATENCY + 12


def run_tail(cfg: EngineConfig) -> int:
    """Cycles of an engine run beyond its reduction steps (steps * max(K, min_tile_steps)): the
    drain wait plus 5 for the start, the flush step and done (compiler.estimate, which equals the
    RTL's counters; perf/losses.py and the compiler's tile cost use it too)."""
    return drain_wait(cfg) + 5


def get_config(name: str) -> EngineConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown engine config {name!r}; known: {', '.join(CONFIGS)}") from None
