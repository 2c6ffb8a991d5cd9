"""Processing element: int8 x int8 MAC into an int32 accumulator, output-stationary.

Activations and the tile-start flag flow down, weights flow right, one register per PE. When the
flag arrives, the finished sum moves into the drain register and the accumulator restarts with this
cycle's product, so the next tile starts without a bubble. Drain registers form a chain to the left
(``d_in`` from the right neighbour, ``d_out`` to the left one), which empties while the next tile
accumulates (README: "Drain").

Ports: clk; a_in/a_out int8; w_in/w_out int8; f_in/f_out tile-start flag;
d_in/d_out int32 drain chain with valid dv_in/dv_out.
"""

from myhdl import Signal, always, block, intbv, modbv

__all__ = ["pe", "pe_signals"]


def pe_signals():
    """A fresh set of PE port signals (dict by port name)."""
    return dict(
        a_in=Signal(intbv(0, min=-128, max=128)), w_in=Signal(intbv(0, min=-128, max=128)),
        f_in=Signal(bool(0)), d_in=Signal(intbv(0, min=-(2**31), max=2**31)), dv_in=Signal(bool(0)),
        a_out=Signal(intbv(0, min=-128, max=128)), w_out=Signal(intbv(0, min=-128, max=128)),
        f_out=Signal(bool(0)), d_out=Signal(intbv(0, min=-(2**31), max=2**31)), dv_out=Signal(bool(0)),
    )


@block
def pe(clk, a_in, w_in, f_in, d_in, dv_in, a_out, w_out, f_out, d_out, dv_out):
    acc = Signal(modbv(0, min=-(2**31), max=2**31))

    @always(clk.posedge)
    def mac():
        a_out.next = a_in
        w_out.next = w_in
        f_out.next = f_in
        if f_in:
            acc.next = a_in * w_in
            d_out.next = acc
            dv_out.next = 1
        else:
            acc.next = acc + a_in * w_in
            d_out.next = d_in
            dv_out.next = dv_in

    return mac
