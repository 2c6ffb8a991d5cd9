"""Run the PE and PPU in MyHDL's own simulator on given vectors (for MyHDL-vs-Verilog checks)."""

from __future__ import annotations

from myhdl import Signal, block, delay, instance

from rtl.pe import pe, pe_signals
from hwspec.config import PPU_LATENCY
from rtl.ppu import ppu, ppu_signals

__all__ = ["sim_pe", "sim_ppu"]


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


def sim_pe(a, w, f):
    """Per-cycle (d_out, dv_out, a_out, w_out) of one PE with its drain input tied off."""
    clk, s = Signal(bool(0)), pe_signals()
    res = []

    @block
    def bench():
        dut = pe(clk, **s)

        @instance
        def drive():
            for ai, wi, fi in zip(a, w, f):
                s["a_in"].next, s["w_in"].next, s["f_in"].next = int(ai), int(wi), bool(fi)
                clk.next = 1
                yield delay(1)
                clk.next = 0
                yield delay(1)
                res.append((int(s["d_out"]), int(s["dv_out"]), int(s["a_out"]), int(s["w_out"])))

        return dut, drive

    _run(bench())
    return res
