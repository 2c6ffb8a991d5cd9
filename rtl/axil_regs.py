"""AXI4-Lite slave register file: ``n_rw`` control registers software writes, ``n_ro`` status registers
it reads, 32 bits each.

Address map (byte addresses, word aligned; the two low address bits are ignored): RW register i at
4*i, RO register j at 4*(n_rw + j). Writes honour WSTRB; writes to RO or unmapped addresses are
ignored; reads of unmapped addresses return 0. Every response is OKAY (no SLVERR), so software
probing the map never faults.

Ports (all synchronous to ``clk``, ``rst`` synchronous active high; RW registers reset to 0):
  s_axil_aw{addr[addr_bits],valid,ready}, s_axil_w{data[32],strb[4],valid,ready},
  s_axil_b{resp[2],valid,ready}, s_axil_ar{addr[addr_bits],valid,ready},
  s_axil_r{data[32],resp[2],valid,ready}: the AXI4-Lite slave. AW and W are taken independently
      (either first, or together) into holding registers; the write happens when both are held and
      the B channel is free, BVALID rises the next cycle. One read is in flight at a time: ARREADY is
      high while RVALID is low; RDATA is sampled from the registers at the AR handshake.
  rw_q out [32*n_rw]: register i in bits [32*i+31 : 32*i].
  wr_pulse out [n_rw]: bit i is high for one cycle when register i was written (the first cycle
      rw_q shows the new value), so a START bit can be edge-triggered from it.
  ro_d in [32*n_ro]: RO register j in bits [32*j+31 : 32*j].
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from myhdl import ConcatSignal, Signal, always, always_comb, block, concat, intbv

from rtl.axi_common import convert_stable, register_helper_block

__all__ = ["AxilRegsConfig", "axil_regs", "axil_regs_signals", "build"]


@dataclass(frozen=True, kw_only=True)
class AxilRegsConfig:
    name: str = "regs"
    n_rw: int = 8
    n_ro: int = 8
    addr_bits: int = 8

    def __post_init__(self):
        for f in ("n_rw", "n_ro"):
            v = getattr(self, f)
            if not isinstance(v, int) or not 1 <= v <= 1024:
                raise ValueError(f"AxilRegsConfig {f} must be an integer in 1..1024, not {v!r}")
        if not isinstance(self.addr_bits, int) or not 8 <= self.addr_bits <= 32:
            raise ValueError(f"AxilRegsConfig addr_bits must be an integer in 8..32, not {self.addr_bits!r}")
        if 4 * (self.n_rw + self.n_ro) > 2**self.addr_bits:
            raise ValueError(f"AxilRegsConfig: {self.n_rw} + {self.n_ro} registers need "
                             f"{4 * (self.n_rw + self.n_ro)} bytes, more than addr_bits={self.addr_bits} maps")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @property
    def key(self) -> str:
        return f"{self.name}-{hashlib.sha256(self.to_json().encode()).hexdigest()[:10]}"


def _u(bits, v=0):
    return Signal(intbv(v)[bits:]) if bits > 1 else Signal(bool(v))


def axil_regs_signals(cfg: AxilRegsConfig):
    """A fresh set of axil_regs port signals (dict by port name)."""
    A = cfg.addr_bits
    return dict(
        s_axil_awaddr=_u(A), s_axil_awvalid=_u(1), s_axil_awready=_u(1),
        s_axil_wdata=_u(32), s_axil_wstrb=_u(4), s_axil_wvalid=_u(1), s_axil_wready=_u(1),
        s_axil_bresp=_u(2), s_axil_bvalid=_u(1), s_axil_bready=_u(1),
        s_axil_araddr=_u(A), s_axil_arvalid=_u(1), s_axil_arready=_u(1),
        s_axil_rdata=_u(32), s_axil_rresp=_u(2), s_axil_rvalid=_u(1), s_axil_rready=_u(1),
        rw_q=_u(32 * cfg.n_rw), wr_pulse=_u(cfg.n_rw), ro_d=_u(32 * cfg.n_ro),
    )


@register_helper_block
@block
def _rw_reg(clk, rst, we, idx, data, strb, q, pulse, index):
    """RW register ``index``: byte-masked write when ``we`` and ``idx == index``."""

    @always(clk.posedge)
    def reg():
        if rst:
            q.next = 0
            pulse.next = 0
        elif we and idx == index:
            q.next = concat(data[32:24] if strb[3] else q[32:24], data[24:16] if strb[2] else q[24:16],
                            data[16:8] if strb[1] else q[16:8], data[8:0] if strb[0] else q[8:0])
            pulse.next = 1
        else:
            pulse.next = 0

    return reg


@block
def axil_regs(clk, rst, s_axil_awaddr, s_axil_awvalid, s_axil_awready,
              s_axil_wdata, s_axil_wstrb, s_axil_wvalid, s_axil_wready,
              s_axil_bresp, s_axil_bvalid, s_axil_bready,
              s_axil_araddr, s_axil_arvalid, s_axil_arready,
              s_axil_rdata, s_axil_rresp, s_axil_rvalid, s_axil_rready,
              rw_q, wr_pulse, ro_d):
    A = len(s_axil_awaddr)
    N, M = len(rw_q) // 32, len(ro_d) // 32
    NT = N + M
    IB = A - 2

    aw_word_unused_lo = _u(A)  # the port's low two bits are ignored by design (word registers)
    ar_word_unused_lo = _u(A)
    aw_held, w_held, bvalid, rvalid = (Signal(bool(0)) for _ in range(4))
    aw_idx = _u(IB)
    w_data = _u(32)
    w_strb = _u(4)
    we = Signal(bool(0))
    all_regs = _u(32 * NT)
    rd_shift_unused_hi = _u(32 * NT)  # all registers shifted to the addressed one; only 32 bits are read
    rdata = _u(32)

    sigs = {"q": [_u(32) for _ in range(N)], "p": [Signal(bool(0)) for _ in range(N)]}
    regs = [_rw_reg(clk, rst, we, aw_idx, w_data, w_strb, sigs["q"][i], sigs["p"][i], i) for i in range(N)]
    if N > 1:
        q_cat, p_cat = ConcatSignal(*reversed(sigs["q"])), ConcatSignal(*reversed(sigs["p"]))
    else:
        q_cat, p_cat = sigs["q"][0], sigs["p"][0]

    @always_comb
    def rw_out():
        rw_q.next = q_cat
        wr_pulse.next = p_cat

    @always_comb
    def addr_words():
        aw_word_unused_lo.next = s_axil_awaddr
        ar_word_unused_lo.next = s_axil_araddr

    @always_comb
    def gather():
        all_regs.next = concat(ro_d, rw_q)

    @always_comb
    def rd_select():
        rd_shift_unused_hi.next = all_regs >> concat(ar_word_unused_lo[A:2], intbv(0)[5:])

    @always_comb
    def outs():
        s_axil_awready.next = not aw_held
        s_axil_wready.next = not w_held
        s_axil_bvalid.next = bvalid
        s_axil_bresp.next = 0
        s_axil_arready.next = not rvalid
        s_axil_rvalid.next = rvalid
        s_axil_rdata.next = rdata
        s_axil_rresp.next = 0
        we.next = aw_held and w_held and (not bvalid or s_axil_bready)

    @always(clk.posedge)
    def seq():
        if rst:
            aw_held.next = 0
            w_held.next = 0
            bvalid.next = 0
            rvalid.next = 0
        else:
            # write: hold AW and W, write when both are here and B is free
            if we:
                aw_held.next = 0
                w_held.next = 0
                bvalid.next = 1
            else:
                if s_axil_awvalid and not aw_held:
                    aw_held.next = 1
                    aw_idx.next = aw_word_unused_lo[A:2]
                if s_axil_wvalid and not w_held:
                    w_held.next = 1
                    w_data.next = s_axil_wdata
                    w_strb.next = s_axil_wstrb
                if bvalid and s_axil_bready:
                    bvalid.next = 0
            # read
            if s_axil_arvalid and not rvalid:
                rvalid.next = 1
                if ar_word_unused_lo[A:2] < NT:
                    rdata.next = rd_shift_unused_hi[32:]
                else:
                    rdata.next = 0
            elif rvalid and s_axil_rready:
                rvalid.next = 0

    return regs, rw_out, addr_words, gather, rd_select, outs, seq


def build(cfg: AxilRegsConfig, directory: str, name: str = "ce_axil_regs") -> str:
    """Convert axil_regs for ``cfg`` to ``directory/name.v``."""
    return convert_stable(lambda: axil_regs(_u(1), _u(1), **axil_regs_signals(cfg)), name, directory)
