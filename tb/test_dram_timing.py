"""cocotb bench of tb/hdl/dram_timing_model.v: the cycle of every handshake and the counters of where
the data path's cycles went against tb/dram_timing.py, every read beat against a reference memory.

Driven by environment variables (set by tests/test_rtl_dram_timing.py):
  DRAM_TIMING  JSON of the DramTiming the model was built with
  DRAM_SEED    seed of the random sequences (printed)
  DRAM_IN      the backdoor image (also the +DRAM_IN plusarg), DRAM_OUT the dump (+DRAM_OUT)
Inputs are set and outputs sampled at the falling edge before each rising edge (every output of the
model is a register), so cycle t below is the model's rising edge t, counted from 0 out of reset.
"""

from __future__ import annotations

import json
import os
import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge

from tb.accel_host import read_hex
from hwspec.config import CLOCK_NS
from tb.dram_timing import DramStats, DramTiming, Request, simulate

OKAY, SLVERR = 0, 2
BURST = 16  # beats: hwspec.bus.DMA's bursts


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.t = DramTiming(**json.loads(os.environ["DRAM_TIMING"]))
        self.seed = int(os.environ["DRAM_SEED"])
        self.bytes = len(dut.wSTRB)
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())

    def load_reference(self) -> bytearray:
        return read_hex(os.environ["DRAM_IN"], 1 << 40, self.bytes)

    async def reset(self):
        """Reset with a backdoor load; returns the reference memory (the loaded image)."""
        d = self.dut
        for s in ("arVALID", "awVALID", "wVALID", "rREADY", "bREADY", "dump", "load", "arADDR", "arLEN", "awADDR",
                  "awLEN", "wDATA", "wSTRB", "wLAST"):
            getattr(d, s).value = 0
        d.rst.value = 1
        await ClockCycles(d.clk, 2)  # load_q known low before the load's rising edge
        d.load.value = 1
        await ClockCycles(d.clk, 3)
        d.load.value = 0
        await ClockCycles(d.clk, 2)
        await FallingEdge(d.clk)
        d.rst.value = 0  # the next rising edge is the model's cycle 0
        return self.load_reference()

    async def run(self, reqs: list[Request], *, rready=lambda t: True, wvalid=lambda t: True,
                  rng: random.Random, limit: int = 100000):
        """Drive ``reqs`` (the bench is at the falling edge before cycle 0); return every request's
        (accept, first beat, last beat, B) cycles, the B codes and every beat's data (check_data)."""
        d = self.dut
        reads = deque(i for i, r in enumerate(reqs) if not r.write)
        writes = deque(i for i, r in enumerate(reqs) if r.write)
        r_order, w_order, b_order = list(reads), deque(writes), deque(writes)
        nw = len(writes)
        wdata = {i: [(rng.getrandbits(8 * self.bytes),
                      (1 << self.bytes) - 1 if rng.random() < 0.7 else rng.getrandbits(self.bytes))
                     for _ in range(reqs[i].beats)] for i in writes}
        accept, first, last, resp, code = {}, {}, {}, {}, {}
        ar_from = aw_from = 0
        r_at = (0, 0)  # (position in r_order, beat)
        w_at = 0  # beat of w_order[0]
        nbeats = 0
        beats = []  # (request, beat, data, WSTRB or RRESP) in handshake order
        t = 0
        while len(last) + len(resp) < len(reqs) + nw:
            if t > limit:
                raise AssertionError(f"not served by cycle {limit}: {len(reqs) - len(last)} bursts left")
            ar_ready, aw_ready = bool(d.arREADY.value), bool(d.awREADY.value)
            r_valid, w_ready, b_valid = bool(d.rVALID.value), bool(d.wREADY.value), bool(d.bVALID.value)
            # addresses
            i = reads[0] if reads and reqs[reads[0]].valid <= t and ar_from <= t else None
            d.arVALID.value = i is not None
            if i is not None:
                d.arADDR.value, d.arLEN.value = reqs[i].addr, reqs[i].beats - 1
                if ar_ready:
                    accept[i], ar_from = t, t + 1
                    reads.popleft()
            i = writes[0] if writes and reqs[writes[0]].valid <= t and aw_from <= t else None
            d.awVALID.value = i is not None
            if i is not None:
                d.awADDR.value, d.awLEN.value = reqs[i].addr, reqs[i].beats - 1
                if aw_ready:
                    accept[i], aw_from = t, t + 1
                    writes.popleft()
            # write data, in AW order, offered from its address's cycle
            i = w_order[0] if w_order and reqs[w_order[0]].valid <= t and wvalid(t) else None
            d.wVALID.value = i is not None
            if i is not None:
                data, strb = wdata[i][w_at]
                d.wDATA.value, d.wSTRB.value, d.wLAST.value = data, strb, w_at == reqs[i].beats - 1
                if w_ready:
                    first.setdefault(i, t)
                    beats.append((i, w_at, data, strb))
                    nbeats += 1
                    w_at += 1
                    if w_at == reqs[i].beats:
                        last[i], w_at = t, 0
                        w_order.popleft()
            # read data
            take = rready(t)
            d.rREADY.value = take
            if r_valid and take:
                pos, k = r_at
                assert pos < len(r_order), f"cycle {t}: an R beat with no read outstanding"
                i = r_order[pos]
                beats.append((i, k, int(d.rDATA.value), int(d.rRESP.value)))
                assert bool(d.rLAST.value) == (k == reqs[i].beats - 1), f"cycle {t}: read {i} beat {k} RLAST"
                first.setdefault(i, t)
                nbeats += 1
                r_at = (pos, k + 1)
                if k + 1 == reqs[i].beats:
                    last[i], r_at = t, (pos + 1, 0)
            # write responses
            d.bREADY.value = 1
            if b_valid:
                assert b_order, f"cycle {t}: a B response with no write outstanding"
                i = b_order.popleft()
                resp[i], code[i] = t, int(d.bRESP.value)
            await FallingEdge(d.clk)
            t += 1
        assert nbeats == len(beats) == sum(r.beats for r in reqs)
        return [(accept[i], first[i], last[i], resp.get(i)) for i in range(len(reqs))], code, beats

    def check_data(self, reqs, beats, ref: bytearray, slot):
        """Replay every beat on ``ref`` in data-path order (``slot[i]``: request i's first slot):
        write beats update it, read beats (data, RRESP) must match it; returns ``ref``."""
        order = sorted(beats, key=lambda b: slot[b[0]] + b[1])
        assert len({slot[b[0]] + b[1] for b in order}) == len(order), "two beats in one slot"
        for i, k, data, x in order:
            a = reqs[i].addr + k * self.bytes
            inside = a + self.bytes <= len(ref)
            if reqs[i].write:
                for j in range(self.bytes):
                    if inside and x >> j & 1:
                        ref[a + j] = data >> (8 * j) & 0xFF
            else:
                want = int.from_bytes(ref[a:a + self.bytes], "little") if inside else 0
                assert data == want, f"read {i} beat {k} at 0x{a:x}: {data:#x}, reference {want:#x}"
                assert x == (OKAY if inside else SLVERR), f"read {i} beat {k} at 0x{a:x}: RRESP {x}"
        return ref

    def stats(self) -> DramStats:
        """The model's counters (integers of the Verilog, read through VPI)."""
        return DramStats(**{k: int(getattr(self.dut, k).value) for k in DramStats.names()})

    async def check(self, reqs, name, *, expect_slverr=()):
        """Run ``reqs`` from reset; every handshake at the Python model's cycle, the counters equal to
        its (``self.last_stats``)."""
        ref = await self.reset()
        rng = random.Random(f"{self.seed}-{name}")
        got, code, beats = await self.run(reqs, rng=rng)
        self.last_stats = DramStats()
        model = simulate(self.t, reqs, stats=self.last_stats)
        want = [(s.accept, s.first, s.last, s.response) for s in model]
        assert len(got) == len(want) == len(reqs)
        for i, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{name}: request {i} {reqs[i]}: (accept, first, last, B) {g}, model {w}"
        got_stats = self.stats()
        assert got_stats == self.last_stats, f"{name}: counters {got_stats}, model {self.last_stats}"
        assert got_stats.read_bursts + got_stats.write_bursts == len(reqs)
        assert got_stats.beats == sum(r.beats for r in reqs)
        self.check_data(reqs, beats, ref, [s.slot for s in model])
        for i, c in code.items():
            assert c == (SLVERR if i in expect_slverr else OKAY), f"{name}: write {i} BRESP {c}"
        self.dut._log.info(f"{name}: {len(reqs)} bursts at the model's cycles, last beat at {max(w[2] for w in want)}")
        return want

    def addr(self, bank, row, col=0):
        return (row << (self.t.col_bits + self.t.bank_bits)) | (bank << self.t.col_bits) | col


def rd(a, n=BURST, v=0):
    return Request(False, a, n, v)


def wr(a, n=BURST, v=0):
    return Request(True, a, n, v)


@cocotb.test()
async def row_hits_stream(dut):
    tb = TB(dut)
    want = await tb.check([rd(tb.addr(0, 1, k * BURST * tb.bytes)) for k in range(6)], "row hits")
    assert all(b[1] == a[2] + 1 for a, b in zip(want, want[1:])), "hits back to back should stream"
    st = tb.last_stats
    assert (st.row_misses, st.row_hits, st.row_conflicts) == (1, 5, 0), st
    assert (st.wait_row, st.wait_turnaround, st.wait_refresh) == (tb.t.trcd, 0, 0), st


@cocotb.test()
async def misses_and_conflicts_across_banks(dut):
    tb = TB(dut)
    a = tb.addr
    reqs = [rd(a(0, 1)), rd(a(1, 1)), rd(a(0, 2)), rd(a(1, 1, 1024)), rd(a(0, 1)), rd(a(2, 3), 4, 300),
            rd(a(2, 4), 4, 400), rd(a(2, 4, 512), 4, 500)]
    await tb.check(reqs, "misses and conflicts")
    assert tb.last_stats.row_conflicts >= 3 and tb.last_stats.wait_row > 0, tb.last_stats


@cocotb.test()
async def read_write_turnaround(dut):
    tb = TB(dut)
    a = tb.addr
    reqs = [wr(a(3, 1)), rd(a(3, 1)), wr(a(3, 1, 1024), 8), rd(a(4, 2), 8), rd(a(3, 1, 1024), 8), wr(a(5, 0), 1),
            rd(a(5, 0), 1)]
    await tb.check(reqs, "read/write turnaround")
    assert tb.last_stats.wait_turnaround > 0, tb.last_stats


@cocotb.test()
async def refresh_windows(dut):
    tb = TB(dut)
    a = tb.addr
    reqs = [(wr if k % 3 == 0 else rd)(a(k % 2, 1 + k % 5, 2048), BURST, k * 297) for k in range(28)]
    want = await tb.check(reqs, "refresh windows")
    no_refresh = DramTiming(**{**tb.t.__dict__, "trefi": 1 << 30})
    assert want[-1][2] > 2 * tb.t.trefi, "the sequence must span two refreshes"
    assert tb.last_stats.refreshes == 2 and tb.last_stats.wait_refresh > 0, tb.last_stats
    assert [(s.accept, s.first, s.last, s.response) for s in simulate(no_refresh, reqs)] != want, \
        "the sequence should be changed by the refreshes"


@cocotb.test()
async def many_outstanding(dut):
    tb = TB(dut)
    a = tb.addr
    n = 2 * tb.t.depth + 3
    reqs = [rd(a(k % 4, k % 3, 64 * k)) for k in range(n)] + [wr(a(k % 8, 5, 1024 * (k % 4))) for k in range(n)]
    want = await tb.check(reqs, "many outstanding")
    assert want[tb.t.depth][0] > want[tb.t.depth - 1][0] + 1, "the read queue should have filled"


@cocotb.test()
async def random_sequences(dut):
    tb = TB(dut)
    rng = random.Random(tb.seed)
    dut._log.info(f"random sequences: seed {tb.seed} (pytest --seed {tb.seed} replays)")
    rows, banks = 4, 1 << tb.t.bank_bits
    for rep in range(3):
        v, reqs = 0, []
        for _ in range(40):
            v += rng.choice((0, 0, 1, 5, 30, 120))
            n = rng.choice((1, 2, 7, 16, 16, 16))
            col = rng.randrange(0, (1 << tb.t.col_bits) // tb.bytes - n + 1) * tb.bytes
            col -= col % 4096 if col % 4096 + n * tb.bytes > 4096 else 0  # AXI: not across 4 KB
            reqs.append(Request(rng.random() < 0.45, tb.addr(rng.randrange(banks), rng.randrange(rows), col), n, v))
        await tb.check(reqs, f"random {rep}")


@cocotb.test()
async def out_of_range_is_an_error(dut):
    tb = TB(dut)
    end = len(tb.load_reference())
    reqs = [rd(end - 2 * tb.bytes, 4), wr(end - tb.bytes, 2), rd(0, 2), wr(0, 2)]
    await tb.check(reqs, "out of range", expect_slverr={1})
    assert dut.oob.value == 1 and int(dut.oob_addr.value) == end, (dut.oob.value, dut.oob_addr.value)


@cocotb.test()
async def backpressure_keeps_data(dut):
    """RREADY and WVALID low at random: the data and the beat count still right (timing not checked)."""
    tb = TB(dut)
    ref = await tb.reset()
    rng = random.Random(f"{tb.seed}-backpressure")
    a = tb.addr
    # reads in rows 0..2, writes in rows 3..5: their order is not the model's business here
    reqs = [Request(w, a(rng.randrange(4), rng.randrange(3) + 3 * w, 1024 * rng.randrange(8)), 16, rng.randrange(200))
            for w in (rng.random() < 0.5 for _ in range(30))]
    reqs.sort(key=lambda r: r.valid)
    got, code, beats = await tb.run(reqs, rng=rng, rready=lambda t: rng.random() < 0.6,
                                    wvalid=lambda t: rng.random() < 0.6)
    assert len(got) == len(reqs) and all(c == OKAY for c in code.values())
    tb.check_data(reqs, beats, ref, {i: 1000 * n for n, i in enumerate(i for i, *_ in beats)})
    # the dump writes what the reference holds
    dut.dump.value = 1
    await ClockCycles(dut.clk, 2)
    dut.dump.value = 0
    await ClockCycles(dut.clk, 2)
    out = read_hex(os.environ["DRAM_OUT"], 2 * len(ref), tb.bytes)
    assert len(out) == len(ref) and out == ref
