"""Helpers shared by the AXI bus blocks: width-exact resizing, burst and beat arithmetic, and a
conversion whose output does not depend on what the process converted before.
"""

from __future__ import annotations


import myhdl._block
from myhdl import Signal, always_comb, block, concat, intbv

from rtl.hdl import convert

__all__ = ["fit", "burst_len", "beat_count", "convert_stable"]


def _u(bits, v=0):
    return Signal(intbv(v)[bits:]) if bits > 1 else Signal(bool(v))


@block
def fit(a, b):
    """b = a zero-extended or truncated to len(b), sized so the Verilog is WIDTH-clean."""
    k = len(b) - len(a)
    if k == 0:
        @always_comb
        def widen():
            b.next = a
    elif k < 0:
        @always_comb
        def widen():
            b.next = a[len(b):]
    else:
        @always_comb
        def widen():
            b.next = concat(intbv(0)[k:], a)

    return widen


@block
def burst_len(beat, left, n, max_burst, page_beats):
    """n = min(max_burst, beats to the end of beat's 4 KB page, left): the next burst's beats.
    ``left`` and ``n`` have the same width."""
    PS = page_beats.bit_length() - 1
    W = len(left)
    if W < PS + 1 or len(n) != W:
        raise ValueError(f"burst_len: left ({W} bits) and n ({len(n)} bits) must be equal and >= {PS + 1} bits")
    pg = Signal(intbv(0)[W:])
    to_page = Signal(intbv(0)[W:])  # 1..page_beats
    lim = Signal(intbv(0)[W:])
    ext = fit(beat(PS, 0), pg)

    @always_comb
    def page_rest():
        to_page.next = page_beats - pg

    @always_comb
    def cap():
        if to_page < max_burst:
            lim.next = to_page
        else:
            lim.next = max_burst

    @always_comb
    def pick():
        if left < lim:
            n.next = left
        else:
            n.next = lim

    return ext, page_rest, cap, pick


@block
def beat_count(cmd_addr, cmd_len, beats, beat_bytes):
    """beats = ceil((cmd_addr % beat_bytes + cmd_len) / beat_bytes): the full-width beats a command
    touches (combinational)."""
    L = len(cmd_len)
    S = beat_bytes.bit_length() - 1
    c_off = _u(L + 1)
    c_len = _u(L + 1)
    beat_sum_unused_lo = _u(L + 1)  # offset + len + beat_bytes - 1; its low S bits are dropped by design
    fits = [fit(cmd_addr(S, 0), c_off), fit(cmd_len, c_len), fit(beat_sum_unused_lo(L + 1, S), beats)]

    @always_comb
    def total():
        beat_sum_unused_lo.next = c_off + c_len + (beat_bytes - 1)

    return fits, total


def convert_stable(make, name: str, directory: str, blocks=None) -> str:
    """Convert ``make()`` (a block instance) to ``directory/name.v`` so the text is the same in every
    process: MyHDL numbers sub-block instances with process-global counters and orders combinational
    sensitivity lists by set iteration; reset the counters of the helper blocks first and sort the
    lists after (their order has no meaning)."""
    for b in blocks or (fit, burst_len, beat_count) + _extra_blocks:
        b.calls = 0
        myhdl._block._name_set.difference_update({n for n in myhdl._block._name_set if n.startswith(b.func.__name__)})
    return convert(make(), name, directory)


_extra_blocks: tuple = ()


def register_helper_block(b):
    """Add a module's own sub-block to the ones convert_stable renumbers."""
    global _extra_blocks
    _extra_blocks = _extra_blocks + (b,)
    return b
