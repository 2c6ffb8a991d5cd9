"""Plain-Python models of the AXI bus blocks (rtl/axi_rd.py, rtl/axi_wr.py, rtl/axil_regs.py).

The cocotb benches (tb/test_axi_*.py) check the Verilog against these, and tests/test_rtl_axi.py
checks the models' own invariants.
"""

from __future__ import annotations

import random

from hwspec.bus import bursts  # the DMAs' burst rule, shared with the performance model

__all__ = ["bursts", "read_model", "write_beats", "write_model", "regs_model", "random_commands"]


def read_model(mem, addr: int, length: int, beat_bytes: int = 16, max_burst: int = 16, rows: int = 1, pitch: int = 0):
    """(byte stream, bus bytes, bursts) of a read command over ``mem`` (indexable bytes): ``rows``
    rows of ``length`` bytes, row r at ``addr + r * pitch``, each row burst on its own."""
    data, bs = b"", []
    for r in range(max(rows, 1)):
        a = addr + r * pitch
        data += bytes(mem[a:a + length])
        bs += bursts(a, length, beat_bytes, max_burst)
    return data, sum(n for _, n in bs) * beat_bytes, bs


def write_beats(addr: int, data: bytes, beat_bytes: int = 16) -> list[tuple[int, int, int]]:
    """The W beats of a write command: [(beat address, WDATA, WSTRB)], bytes little-endian in lanes."""
    out = []
    b = addr // beat_bytes
    end = addr + len(data)
    while b * beat_bytes < end:
        lo, hi = max(addr, b * beat_bytes), min(end, (b + 1) * beat_bytes)
        word, strb = 0, 0
        for a in range(lo, hi):
            lane = a - b * beat_bytes
            word |= data[a - addr] << (8 * lane)
            strb |= 1 << lane
        out.append((b * beat_bytes, word, strb))
        b += 1
    return out


def write_model(mem: bytearray, addr: int, data: bytes, beat_bytes: int = 16, max_burst: int = 16):
    """Apply a write command to ``mem``; returns (bytes with strobe set, bursts)."""
    mem[addr:addr + len(data)] = data
    return len(data), bursts(addr, len(data), beat_bytes, max_burst)


class regs_model:  # noqa: N801 - a model named after its block
    """axil_regs: n_rw read/write registers then n_ro read-only ones, 32 bits each, word addresses.

    Writes honour WSTRB and are ignored outside the RW registers; reads outside the map return 0;
    every response is OKAY."""

    def __init__(self, n_rw: int, n_ro: int):
        self.n_rw, self.n_ro = n_rw, n_ro
        self.rw = [0] * n_rw
        self.ro = [0] * n_ro

    def write(self, addr: int, value: int, strb: int = 0xF) -> int | None:
        """Returns the index of the RW register written (its wr_pulse bit), or None."""
        i = addr >> 2
        if i >= self.n_rw:
            return None
        mask = sum(0xFF << (8 * k) for k in range(4) if strb >> k & 1)
        self.rw[i] = (self.rw[i] & ~mask) | (value & mask)
        return i

    def read(self, addr: int) -> int:
        i = addr >> 2
        if i < self.n_rw:
            return self.rw[i]
        if i < self.n_rw + self.n_ro:
            return self.ro[i - self.n_rw]
        return 0


def random_commands(rng: random.Random, n: int, mem_size: int, beat_bytes: int = 16) -> list[tuple[int, int]]:
    """(addr, len) commands that exercise the corner cases: 1 byte, within one beat, unaligned
    starts and ends, 4 KB crossings, exact pages, long multi-page runs."""
    out = []
    kinds = ["one", "short", "medium", "cross4k", "page", "long"]
    for i in range(n):
        kind = kinds[i % len(kinds)] if i < 2 * len(kinds) else rng.choice(kinds)
        if kind == "one":
            length = 1
        elif kind == "short":
            length = rng.randint(1, 2 * beat_bytes)
        elif kind == "medium":
            length = rng.randint(2 * beat_bytes, 700)
        elif kind == "cross4k":
            length = rng.randint(2, 600)
        elif kind == "page":
            length = 4096
        else:
            length = rng.randint(4097, 9000)
        if kind == "cross4k":
            page = rng.randrange(1, mem_size // 4096 - 3) * 4096
            addr = page - rng.randint(1, length - 1)
        elif kind == "page" and rng.random() < 0.5:
            addr = rng.randrange(0, mem_size // 4096 - 3) * 4096
        else:
            addr = rng.randrange(0, mem_size - length)
        out.append((addr, length))
    return out
