"""cocotb driver for ce_engine: write port, read port, run one layer without per-clock Python."""

from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from hwspec.config import ACT_WORD

__all__ = ["EngineTB"]

SEL_ACT, SEL_WGT, SEL_CONST, SEL_REG = range(4)


class EngineTB:
    def __init__(self, dut):
        self.dut = dut
        self.rows = len(dut.rd_data) // (8 * ACT_WORD)
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())

    async def reset(self):
        d = self.dut
        await FallingEdge(d.clk)
        d.rst.value, d.start.value, d.wr_en.value, d.rd_addr.value = 1, 0, 0, 0
        await ClockCycles(d.clk, 3)
        d.rst.value = 0
        await RisingEdge(d.clk)

    async def write(self, sel, bank, addr, data):
        d = self.dut
        d.wr_en.value, d.wr_sel.value, d.wr_bank.value, d.wr_addr.value, d.wr_data.value = 1, sel, bank, addr, data
        await RisingEdge(d.clk)

    async def load(self, prog):
        for a, v in prog["regs"].items():
            await self.write(SEL_REG, 0, a, v)
        act = bytes(prog["act"].tobytes())
        for a in range(0, len(act), ACT_WORD):  # whole words: byte i of a word at byte address a + i
            await self.write(SEL_ACT, 0, a // ACT_WORD, int.from_bytes(act[a:a + ACT_WORD], "little"))
        for bank, a, v in prog["wgt"]:
            await self.write(SEL_WGT, bank, a, v)  # a word of ACT_WORD weights
        for bank, a, v in prog["const"]:
            await self.write(SEL_CONST, bank, a, v)
        self.dut.wr_en.value = 0

    async def run(self):
        """Pulse start, wait for done (the engine runs alone); returns (cycles, busy)."""
        d = self.dut
        d.start.value = 1
        await RisingEdge(d.clk)
        d.start.value = 0
        await RisingEdge(d.clk)
        await RisingEdge(d.done)
        await ReadOnly()
        return int(d.cycles.value), int(d.busy.value)

    async def read(self, n):
        """Output-bank bytes 0..n-1 as n ints of R bytes (byte i from bank i), read a word address per
        cycle (rd_data registers each bank's word at rd_addr at each edge: R words of ACT_WORD bytes)."""
        d = self.dut
        out = []
        for a in range(-(-n // ACT_WORD)):
            await FallingEdge(d.clk)
            d.rd_addr.value = a
            await RisingEdge(d.clk)
            await ReadOnly()
            # banks of channels past Cout are never written: X in Icarus, read as 0 (and discarded)
            bits = int(str(d.rd_data.value).lower().replace("x", "0").replace("z", "0"), 2)
            for lane in range(ACT_WORD):
                out.append(sum(((bits >> (8 * (ACT_WORD * i + lane))) & 0xFF) << (8 * i) for i in range(self.rows)))
        return out[:n]
