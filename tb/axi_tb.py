"""cocotb helpers shared by the AXI DMA benches: clock/reset, pause generators, faulty RAMs."""

from __future__ import annotations

import itertools

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiRamRead, AxiRamWrite

__all__ = ["start_clock_reset", "pauses", "FaultyRamRead", "FaultyRamWrite", "BAD_BASE", "BAD_SIZE"]

BAD_BASE, BAD_SIZE = 0x8000, 0x100  # accesses touching this range get SLVERR from the faulty RAMs


async def start_clock_reset(dut, *inputs_low):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await FallingEdge(dut.clk)
    dut.rst.value = 1
    for s in inputs_low:
        s.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def pauses(rng, p):
    """A pause generator for cocotbext-axi's set_pause_generator: pause with probability p."""
    if p <= 0:
        return itertools.repeat(False)
    return (rng.random() < p for _ in itertools.count())


class _Faulty:
    """Raise (the model answers SLVERR) for accesses touching [BAD_BASE, BAD_BASE + BAD_SIZE)
    while ``fault`` is set."""

    fault = False

    def _bad(self, address, length):
        return self.fault and address < BAD_BASE + BAD_SIZE and address + length > BAD_BASE


class FaultyRamRead(_Faulty, AxiRamRead):
    async def _read(self, address, length):
        if self._bad(address, length):
            raise OSError(f"injected read error at 0x{address:x}")
        return await super()._read(address, length)


class FaultyRamWrite(_Faulty, AxiRamWrite):
    async def _write(self, address, data):
        if self._bad(address, len(data)):
            raise OSError(f"injected write error at 0x{address:x}")
        return await super()._write(address, data)
