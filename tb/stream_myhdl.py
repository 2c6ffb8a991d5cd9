"""MyHDL's own simulation of a block on the stream bench's vectors (tb/test_pe.py), before conversion:
the same port specs, the same timing and the same output shape as ``stream_through``, so a test
compares MyHDL, the converted Verilog and the block's model on one set of vectors."""

from __future__ import annotations

import re

from myhdl import Signal, block, delay, instance, intbv

from tb.test_pe import lanes_of

__all__ = ["myhdl_stream", "verilog_ports"]


def _signal(width, signed):
    if width == 1 and not signed:
        return Signal(bool(0))
    if signed:
        return Signal(intbv(0, min=-(1 << (width - 1)), max=1 << (width - 1)))
    return Signal(intbv(0)[width:])


def myhdl_stream(top, inputs, outputs, vectors, *, pre=0, **params):
    """Simulate ``top(clk, **ports, **params)`` in MyHDL: ``pre`` idle cycles of zero inputs, then
    vector k applied (and settled) before edge k, outputs read after it. Ports are made from the specs: a signed
    port of one lane is a signed intbv, a port of several lanes (each signed or not) an unsigned
    one, as the blocks declare them. Returns port -> list of int (or of lane values)."""
    n = len(vectors[inputs[0][0]])
    clk = Signal(bool(0))
    ins = {p: _signal(w, s) for p, w, s in inputs}
    specs = [lanes_of(o) for o in outputs]
    outs = {p: _signal(lw * k, s and k == 1) for p, lw, k, s in specs}
    res = {p: [] for p, *_ in specs}

    def lane_values(p, lw, k, s):
        x = int(outs[p]) & ((1 << lw * k) - 1)
        vals = [(x >> (lw * q)) & ((1 << lw) - 1) for q in range(k)]
        vals = [v - (1 << lw) if s and v >> (lw - 1) else v for v in vals]
        return vals if k > 1 else vals[0]

    @block
    def bench():
        dut = top(clk, **ins, **outs, **params)

        @instance
        def drive():
            for k in range(pre + n):
                for p, _, _ in inputs:
                    ins[p].next = int(vectors[p][k - pre]) if k >= pre else 0
                yield delay(1)  # combinational paths from the inputs settle before the edge
                clk.next = 1
                yield delay(1)
                clk.next = 0
                yield delay(1)
                if k >= pre:
                    for spec in specs:
                        res[spec[0]].append(lane_values(*spec))

        return dut, drive

    sim = bench()
    sim.run_sim(quiet=1)
    sim.quit_sim()
    return res


def verilog_ports(path) -> tuple[list, list]:
    """The stream bench's (inputs, outputs) port specs of a generated module, read from its Verilog
    port declarations (``input [23:0] x;``, ``output signed [7:0] y;``); the clock is left out."""
    ins, outs = [], []
    for kind, sgn, hi, name in re.findall(r"^(input|output)\s+(signed\s+)?(?:\[(\d+):0\]\s+)?(\w+);",
                                          open(path).read(), re.M):
        if name != "clk":
            (ins if kind == "input" else outs).append((name, int(hi) + 1 if hi else 1, bool(sgn)))
    if not outs:
        raise ValueError(f"{path}: no output port declarations found")
    return ins, outs
