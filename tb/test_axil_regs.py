"""cocotb bench: ce_axil_regs against cocotbext-axi's AxiLiteMaster and tb/axi_models.regs_model.

Random writes (full and partial strobes, RW, RO and unmapped addresses), issued several at a time
with random pauses on every channel so AW and W arrive in either order or together; rw_q, wr_pulse
(one cycle per write, counted) and every read checked exactly; every response must be OKAY.
"""

from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.triggers import Combine, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from axi_models import regs_model
from axi_tb import pauses, start_clock_reset


class TB:
    def __init__(self, dut, seed):
        self.dut = dut
        self.rng = random.Random(seed)
        self.n_rw, self.n_ro = int(os.environ["N_RW"]), int(os.environ["N_RO"])
        self.model = regs_model(self.n_rw, self.n_ro)
        self.span = 2 ** len(dut.s_axil_awaddr)
        dut.rst.value = 1
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.axil.write_if.log.setLevel(logging.WARNING)
        self.axil.read_if.log.setLevel(logging.WARNING)
        self.pulses = [0] * self.n_rw

    def set_pauses(self, p):
        w, r = self.axil.write_if, self.axil.read_if
        for ch in (w.aw_channel, w.w_channel, w.b_channel, r.ar_channel, r.r_channel):
            ch.set_pause_generator(pauses(self.rng, p))

    def set_ro(self):
        self.model.ro = [self.rng.getrandbits(32) for _ in range(self.n_ro)]
        self.dut.ro_d.value = sum(v << (32 * j) for j, v in enumerate(self.model.ro))

    async def watch(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            p = int(d.wr_pulse.value)
            for i in range(self.n_rw):
                self.pulses[i] += p >> i & 1

    def rw_q(self):
        q = int(self.dut.rw_q.value)
        return [(q >> (32 * i)) & 0xFFFFFFFF for i in range(self.n_rw)]

    def random_addr(self):
        r = self.rng.random()
        if r < 0.7:
            return 4 * self.rng.randrange(self.n_rw)
        if r < 0.85:
            return 4 * (self.n_rw + self.rng.randrange(self.n_ro))
        return 4 * self.rng.randrange(self.n_rw + self.n_ro, self.span // 4)


async def write_batch(tb, n):
    """n writes in flight together; the model applies them in issue order (AXI-Lite is in order)."""
    events, want_pulses = [], list(tb.pulses)
    for _ in range(n):
        addr = tb.random_addr()
        if tb.rng.random() < 0.6:
            off, length = 0, 4
        else:
            off = tb.rng.randrange(4)
            length = tb.rng.randint(1, 4 - off)
        value = tb.rng.getrandbits(32)
        data = value.to_bytes(4, "little")[off:off + length]
        strb = ((1 << length) - 1) << off
        i = tb.model.write(addr, value, strb)
        if i is not None:
            want_pulses[i] += 1
        events.append(tb.axil.write_if.init_write(addr + off, data))
    await Combine(*(e.wait() for e in events))
    for e in events:
        assert e.data.resp == AxiResp.OKAY, f"write at 0x{e.data.address:x}: {e.data.resp!r}"
    for _ in range(3):
        await RisingEdge(tb.dut.clk)
    assert tb.rw_q() == tb.model.rw, f"rw_q {tb.rw_q()} != {tb.model.rw}"
    assert tb.pulses == want_pulses, f"wr_pulse cycles {tb.pulses} != writes {want_pulses}"


async def read_batch(tb, n):
    addrs = [tb.random_addr() for _ in range(n)]
    events = [tb.axil.read_if.init_read(a, 4) for a in addrs]
    await Combine(*(e.wait() for e in events))
    for a, e in zip(addrs, events):
        assert e.data.resp == AxiResp.OKAY, f"read at 0x{a:x}: {e.data.resp!r}"
        got = int.from_bytes(e.data.data, "little")
        assert got == tb.model.read(a), f"read at 0x{a:x}: 0x{got:08x} != 0x{tb.model.read(a):08x}"


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.4])
async def random_access_test(dut, pause):
    tb = TB(dut, int(os.environ.get("AXI_SEED", "3")) + int(10 * pause))
    await start_clock_reset(dut, dut.ro_d)
    cocotb.start_soon(tb.watch())
    tb.set_pauses(pause)
    tb.set_ro()
    assert tb.rw_q() == [0] * tb.n_rw and tb.pulses == [0] * tb.n_rw
    for _ in range(40):
        await write_batch(tb, tb.rng.randint(1, 6))
        if tb.rng.random() < 0.3:
            tb.set_ro()
        await read_batch(tb, tb.rng.randint(1, 6))
    dut._log.info("wr_pulse cycles per register %s, final rw_q %s", tb.pulses, [hex(v) for v in tb.rw_q()])
    assert min(tb.pulses) > 0
    # every register, then every unmapped word, read back
    for a in range(0, tb.span, 4):
        await read_batch_one(tb, a)


async def read_batch_one(tb, a):
    r = await tb.axil.read_if.read(a, 4)
    assert r.resp == AxiResp.OKAY and int.from_bytes(r.data, "little") == tb.model.read(a), f"read at 0x{a:x}"
