"""Run the PPU in MyHDL's own simulator on given cases (the streamed blocks: tb/stream_myhdl.py)."""

from __future__ import annotations

from myhdl import Signal, block, delay, instance

from hwspec.config import PPU_LATENCY
from rtl.ppu import ppu, ppu_signals

__all__ = ["sim_ppu"]


def _run(top):
    top.run_sim(quiet=1)
    top.quit_sim()


def sim_ppu(cases, tag_bits=16):
    """Feeds one case per clock; returns the list of o_y (one per case)."""
    clk, s = Signal(bool(0)), ppu_signals(tag_bits)
    n = len(cases["acc"])
    out = []

    @block
    def bench():
        dut = ppu(clk, **s)

        @instance
        def drive():
            for i in range(n + PPU_LATENCY + 1):
                if i < n:
                    s["i_valid"].next = 1
                    for k in ("acc", "bias", "mant", "exp", "yzp", "qmin", "qmax"):
                        s["i_" + k].next = int(cases[k][i])
                    s["i_tag"].next = i % (1 << tag_bits)
                else:
                    s["i_valid"].next = 0
                clk.next = 1
                yield delay(1)
                clk.next = 0
                yield delay(1)
                if s["o_valid"]:
                    out.append(int(s["o_y"]))

        return dut, drive

    _run(bench())
    return out
