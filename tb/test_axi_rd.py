"""cocotb bench: ce_axi_rd against cocotbext-axi's AxiRamRead and tb/axi_models.py.

Every command's byte stream, o_last position (o_tail positions on the beat-wide side), AR bursts
(address, length, size, burst, 4 KB) and bytes_read delta are checked exactly, for 1-D commands and
2-D ones (rows at a pitch), one at a time and posted back to back. AXI_N commands per run, seed AXI_SEED, burst AXI_MAX_BURST.
"""

from __future__ import annotations

import logging
import os
import random

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge
from cocotbext.axi import AxiReadBus

from axi_models import bursts, random_commands, read_model
from axi_tb import BAD_BASE, BAD_SIZE, FaultyRamRead, pauses, start_clock_reset

MEM = 1 << 20


class TB:
    def __init__(self, dut, seed):
        self.dut = dut
        self.rng = random.Random(seed)
        self.db = len(dut.m_axi_rdata) // 8
        self.max_burst = int(os.environ.get("AXI_MAX_BURST", "16"))
        dut.rst.value = 1
        self.ram = FaultyRamRead(AxiReadBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=MEM)
        self.ram.log.setLevel(logging.ERROR)
        self.ram.write(0, bytes(self.rng.getrandbits(8) for _ in range(MEM)))
        self.ars, self.got, self.ready_p, self.take_p = [], [], 1.0, 0.0
        self.inflight = self.max_inflight = 0
        self.cycle, self.overhead = 0, []  # overhead: command cycles beyond one per byte
        self.chunks = 0  # o_take transfers
        self.rows, self.tails = 1, 0  # the command's rows; o_tail chunks seen (one per row)
        self.accepts = self.n_posted = 0  # commands accepted; of them, accepted while busy
        self.last = Event()

    def set_pauses(self, p):
        self.ram.ar_channel.set_pause_generator(pauses(self.rng, p))
        self.ram.r_channel.set_pause_generator(pauses(self.rng, p))

    async def watch(self):
        """Once per clock: AR monitor, R burst tracking, stream sink with random o_ready, or o_take
        (the whole beat register at once) with probability take_p."""
        d, rng = self.dut, self.rng
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if d.cmd_valid.value and d.cmd_ready.value:
                self.accepts += 1
                self.n_posted += int(d.busy.value)
            if d.m_axi_arvalid.value and d.m_axi_arready.value:
                self.ars.append((int(d.m_axi_araddr.value), int(d.m_axi_arlen.value) + 1,
                                 int(d.m_axi_arsize.value), int(d.m_axi_arburst.value), int(d.m_axi_arid.value)))
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
            if d.m_axi_rvalid.value and d.m_axi_rready.value and d.m_axi_rlast.value:
                self.inflight -= 1
            if d.o_take.value and int(d.o_cnt.value):
                n, word, tail = int(d.o_cnt.value), int(d.o_word.value), int(d.o_tail.value)
                self.got.extend(((word >> (8 * i)) & 0xFF, int(tail and i == n - 1)) for i in range(n))
                self.chunks += 1
                self.tails += tail
                if tail and self.tails == self.rows:
                    self.last.set()
            elif d.o_valid.value and d.o_ready.value:
                last = int(d.o_last.value)
                self.got.append((int(d.o_data.value), last))
                if last:
                    self.last.set()
            take = self.take_p > 0 and rng.random() < self.take_p
            d.o_take.value = int(take)
            d.o_ready.value = 0 if take else 1 if self.ready_p >= 1 else int(rng.random() < self.ready_p)

    async def command(self, addr, length, rows=1, pitch=0):
        """Run one command; returns (bytes, o_last / o_tail positions, ARs, bytes_read delta, err)."""
        d = self.dut
        await RisingEdge(d.clk)
        assert d.cmd_ready.value == 1 and d.busy.value == 0
        before = int(d.bytes_read.value)
        self.got.clear()
        self.ars.clear()
        self.last.clear()
        self.rows, self.tails = max(rows, 1), 0
        d.cmd_addr.value, d.cmd_len.value, d.cmd_valid.value = addr, length, 1
        d.cmd_rows.value, d.cmd_pitch.value = rows, pitch
        await RisingEdge(d.clk)
        d.cmd_valid.value = 0
        t0 = self.cycle
        await self.last.wait()
        self.overhead.append(self.cycle - t0 - length * self.rows)
        await RisingEdge(d.clk)
        await ReadOnly()
        assert d.busy.value == 0, "busy after the last byte"
        data = bytes(b for b, _ in self.got)
        lasts = [i for i, (_, l) in enumerate(self.got) if l]
        return data, lasts, list(self.ars), (int(d.bytes_read.value) - before) % 2**32, int(d.err.value)

    async def posted(self, cmds):
        """Offer each (addr, len, rows, pitch) as soon as the one before is accepted; returns
        (bytes, o_last / o_tail positions, ARs, bytes_read delta, err, cycles from the first
        acceptance until busy fell) once busy has fallen."""
        d = self.dut
        await RisingEdge(d.clk)
        assert d.cmd_ready.value == 1 and d.busy.value == 0
        before, self.accepts, self.n_posted = int(d.bytes_read.value), 0, 0
        self.got.clear()
        self.ars.clear()
        self.rows = 0  # no o_tail count sets the event: busy is what ends the run
        t0 = None
        for addr, length, rows, pitch in cmds:
            d.cmd_addr.value, d.cmd_len.value, d.cmd_valid.value = addr, length, 1
            d.cmd_rows.value, d.cmd_pitch.value = rows, pitch
            await RisingEdge(d.clk)
            while not d.cmd_ready.value:
                await RisingEdge(d.clk)
            t0 = self.cycle if t0 is None else t0
        d.cmd_valid.value = 0
        await RisingEdge(d.clk)
        while d.busy.value:
            await RisingEdge(d.clk)
        cycles = self.cycle - t0
        for _ in range(3):
            await RisingEdge(d.clk)
        await ReadOnly()
        assert d.busy.value == 0 and self.accepts == len(cmds), (int(d.busy.value), self.accepts, len(cmds))
        data = bytes(b for b, _ in self.got)
        lasts = [i for i, (_, l) in enumerate(self.got) if l]
        return data, lasts, list(self.ars), (int(d.bytes_read.value) - before) % 2**32, int(d.err.value), cycles


def strip_command(rng, mem_size, db, rows=None):
    """A 2-D command: ``rows`` (else 2 to 7) rows of up to 400 bytes at a pitch of up to 3000 bytes
    past a row."""
    length = rng.choice([1, rng.randint(1, 2 * db), rng.randint(2 * db, 400)])
    rows = rng.randint(2, 7) if rows is None else rows
    pitch = length + rng.randint(0, 3000)
    return rng.randrange(0, mem_size - 7 * pitch - length), length, rows, pitch


async def setup(dut, seed):
    tb = TB(dut, seed)
    d = dut
    await start_clock_reset(d, d.cmd_valid, d.cmd_addr, d.cmd_len, d.o_ready, d.o_take)
    cocotb.start_soon(tb.watch())
    return tb


def check(tb, cmd, res, tails=False):
    """``tails``: the stream went a beat at a time (o_take), flagged at every row's end (o_tail)."""
    addr, length, rows, pitch = (*cmd, 1, 0)[:4]
    data, lasts, ars, moved, err = res
    want, traffic, bursts = read_model(tb.ram.mem, addr, length, tb.db, tb.max_burst, rows, pitch)
    n = len(want)
    assert err == 0, f"err set on command {cmd}"
    first_bad = next((i for i in range(min(len(data), n)) if data[i] != want[i]), min(len(data), n))
    assert len(data) == n and data == want, f"command {cmd}: byte stream differs from byte {first_bad}"
    want_lasts = [(r + 1) * length - 1 for r in range(max(rows, 1))] if tails else [n - 1]
    assert lasts == want_lasts, f"command {cmd}: o_last/o_tail at {lasts}, expected {want_lasts}"
    size = tb.db.bit_length() - 1
    assert ars == [(a, n, size, 1, 0) for a, n in bursts], f"command {cmd}: bursts {ars} != {bursts}"
    assert all((a & 0xFFF) + n * tb.db <= 4096 for a, n, *_ in ars)
    assert moved == traffic, f"command {cmd}: bytes_read moved {moved}, expected {traffic}"


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], backpressure=[1.0, 0.6])
async def random_commands_test(dut, pause, backpressure):
    n = int(os.environ.get("AXI_N", "24"))
    seed = int(os.environ.get("AXI_SEED", "1")) + int(10 * pause) + int(100 * backpressure)
    tb = await setup(dut, seed)
    tb.set_pauses(pause)
    tb.ready_p = backpressure
    cmds = random_commands(tb.rng, n, MEM - 2 * 4096, tb.db)
    total = 0
    for cmd in cmds:
        check(tb, cmd, await tb.command(*cmd))
        total += cmd[1]
    dut._log.info("%d commands, %d bytes, at most %d bursts in flight", n, total, tb.max_inflight)
    dut._log.info("cycles beyond one per byte: max %d, mean %.1f", max(tb.overhead), sum(tb.overhead) / n)
    if pause == 0 and backpressure == 1:  # an unthrottled bus and stream: one byte per cycle after a fixed latency
        assert max(tb.overhead) <= 24, f"the byte stream was starved: {tb.overhead}"
    assert tb.max_inflight >= 2, "the next AR never went out while a burst was in flight"


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], take=[1.0, 0.5])
async def beat_stream_test(dut, pause, take):
    """The beat-wide side of the stream (o_take), alone or mixed with single bytes: the same bytes,
    o_tail on the last chunk; unthrottled, a beat per cycle after a fixed latency."""
    n = int(os.environ.get("AXI_N", "24"))
    tb = await setup(dut, 31 + int(10 * pause) + int(100 * take))
    tb.set_pauses(pause)
    tb.take_p = take
    cmds = random_commands(tb.rng, n, MEM - 2 * 4096, tb.db)
    for cmd in cmds:
        t0 = tb.cycle
        check(tb, cmd, await tb.command(*cmd))
        beats = sum(n for _, n in bursts(*cmd, tb.db, tb.max_burst))
        if pause == 0 and take == 1:
            assert tb.cycle - t0 <= beats + 24, f"command {cmd}: {tb.cycle - t0} cycles for {beats} beats"
    assert tb.chunks > 0


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], take=[1.0, 0.0])
async def rows_test(dut, pause, take):
    """2-D commands (a strip's rows at a pitch, unaligned, across 4 KB pages, 0 rows = 1): each row
    its own bursts and chunks, o_tail at every row's end beat-wide, o_last at the very end byte-wide;
    unthrottled, the rows' bursts follow each other with no per-row latency."""
    n = int(os.environ.get("AXI_N", "24"))
    tb = await setup(dut, 57 + int(10 * pause) + int(100 * take))
    tb.set_pauses(pause)
    tb.take_p = take
    for i in range(n):
        cmd = addr, length, rows, pitch = strip_command(tb.rng, MEM - 2 * 4096, tb.db, i % 2 if i < 2 else None)
        t0 = tb.cycle
        check(tb, cmd, await tb.command(*cmd), tails=take == 1)
        beats = sum(k for _, k in read_model(tb.ram.mem, *cmd[:2], tb.db, tb.max_burst, rows, pitch)[2])
        if pause == 0 and take == 1:
            assert tb.cycle - t0 <= beats + 24, f"command {cmd}: {tb.cycle - t0} cycles for {beats} beats"


@cocotb.test()
async def error_response_test(dut):
    tb = await setup(dut, 5)
    tb.set_pauses(0.2)
    tb.ram.fault = True
    cmd = (BAD_BASE - 37, BAD_SIZE + 300)
    data, lasts, ars, moved, err = await tb.command(*cmd)
    assert err == 1, "SLVERR on R did not set err"
    assert len(data) == cmd[1] and lasts == [cmd[1] - 1], "the command did not run to its end after an error"
    await RisingEdge(dut.clk)
    assert dut.err.value == 1, "err is not sticky"
    tb.ram.fault = False
    cmd = (BAD_BASE + 3, 100)
    check(tb, cmd, await tb.command(*cmd))  # a new command clears err


@cocotb.test()
async def zero_length_test(dut):
    """cmd_len = 0 is accepted and does nothing; the next command runs normally."""
    tb = await setup(dut, 7)
    d = dut
    await RisingEdge(d.clk)
    d.cmd_addr.value, d.cmd_len.value, d.cmd_valid.value = 0x123, 0, 1
    await RisingEdge(d.clk)
    d.cmd_valid.value = 0
    for _ in range(20):
        await RisingEdge(d.clk)
        assert d.busy.value == 0 and not tb.ars and not tb.got, "a zero-length command moved something"
    cmd = (0x123, 77)
    check(tb, cmd, await tb.command(*cmd))


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], take=[1.0, 0.0])
async def posted_commands_test(dut, pause, take):
    """Commands back to back (1-D, 2-D and short ones, the load's common cases): the same bytes,
    bursts and o_last / o_tail positions as one at a time, in order; the next command is taken
    while the one before still receives, so unthrottled its bursts follow the previous ones with
    no latency of its own: at most a third of what the same commands cost one at a time beyond
    their beats."""
    n = int(os.environ.get("AXI_N", "24"))
    tb = await setup(dut, int(os.environ.get("AXI_SEED", "1")) + 700 + int(10 * pause) + int(100 * take))
    tb.set_pauses(pause)
    tb.take_p = take
    cmds = [(a, m, 1, 0) for a, m in random_commands(tb.rng, n, MEM - 2 * 4096, tb.db)]
    cmds += [strip_command(tb.rng, MEM - 2 * 4096, tb.db) for _ in range(n)]
    cmds += [(tb.rng.randrange(MEM - 256), tb.rng.randint(1, 200), 1, 0) for _ in range(n)]
    tb.rng.shuffle(cmds)
    data, lasts, ars, moved, err, cycles = await tb.posted(cmds)
    want, want_lasts, want_ars, traffic = b"", [], [], 0
    size = tb.db.bit_length() - 1
    for addr, length, rows, pitch in cmds:
        w, t, bs = read_model(tb.ram.mem, addr, length, tb.db, tb.max_burst, rows, pitch)
        want_lasts += ([len(want) + (r + 1) * length - 1 for r in range(rows)] if take == 1
                       else [len(want) + len(w) - 1])
        want += w
        want_ars += [(a, k, size, 1, 0) for a, k in bs]
        traffic += t
    assert err == 0, "err set"
    first_bad = next((i for i in range(min(len(data), len(want))) if data[i] != want[i]), min(len(data), len(want)))
    assert len(data) == len(want) and data == want, f"byte stream differs from byte {first_bad} of {len(want)}"
    assert lasts == want_lasts, f"o_last/o_tail at {lasts[:8]}..., expected {want_lasts[:8]}..."
    assert ars == want_ars, "the bursts differ from the commands' in order"
    assert moved == traffic, f"bytes_read moved {moved}, expected {traffic}"
    assert tb.n_posted >= len(cmds) // 2, f"only {tb.n_posted} of {len(cmds)} commands were taken while busy"
    beats = sum(k for _, k, *_ in want_ars)
    dut._log.info("%d commands posted, %d taken while busy, %d beats in %d cycles", len(cmds), tb.n_posted, beats, cycles)
    if pause == 0 and take == 1:  # unthrottled: posting hides most of what one command at a time costs beyond its beats
        t0 = tb.cycle
        for cmd in cmds:
            await tb.command(*cmd)
        serial = tb.cycle - t0
        dut._log.info("the same commands one at a time: %d cycles", serial)
        assert cycles - beats <= (serial - beats) // 3, f"posted: {cycles} cycles, one at a time: {serial}, for {beats} beats"


@cocotb.test()
async def posted_error_test(dut):
    """An R error of a command stays in err through the command posted behind it (accepted while
    busy), and a command accepted once idle clears it."""
    tb = await setup(dut, 9)
    tb.ram.fault = True
    cmds = [(BAD_BASE - 37, BAD_SIZE + 300, 1, 0), (0x1234, 500, 3, 700)]
    data, lasts, ars, moved, err, _ = await tb.posted(cmds)
    assert tb.n_posted == 1, f"{tb.n_posted} of 1 command taken while the first was still receiving"
    assert err == 1, "the error of the first command did not survive the command posted behind it"
    assert len(data) == BAD_SIZE + 300 + 3 * 500, "the commands did not run to their ends after an error"
    tb.ram.fault = False
    cmd = (BAD_BASE + 3, 100)
    check(tb, cmd, await tb.command(*cmd))  # accepted while idle: clears err
