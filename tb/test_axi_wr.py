"""cocotb bench: ce_axi_wr against cocotbext-axi's AxiRamWrite and tb/axi_models.py.

Every command's AW bursts, W beats (data under the strobe, WSTRB, WLAST), the RAM contents, the
done pulse and the bytes_written delta are checked exactly, for commands one at a time and posted
back to back (each offered as soon as the previous one is accepted). AXI_N commands per run, seed
AXI_SEED.
"""

from __future__ import annotations

import logging
import os
import random
from itertools import accumulate

import cocotb
from cocotb.triggers import Event, ReadOnly, RisingEdge
from cocotbext.axi import AxiWriteBus

from axi_models import bursts, random_commands, write_beats, write_model
from axi_tb import BAD_BASE, BAD_SIZE, FaultyRamWrite, pauses, start_clock_reset

MEM = 1 << 20


def _strb_mask(strb, db):
    return sum(0xFF << (8 * i) for i in range(db) if strb >> i & 1)


class TB:
    def __init__(self, dut, seed):
        self.dut = dut
        self.rng = random.Random(seed)
        self.db = len(dut.m_axi_wdata) // 8
        self.max_burst = int(os.environ.get("AXI_MAX_BURST", "16"))
        dut.rst.value = 1
        self.ram = FaultyRamWrite(AxiWriteBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=MEM)
        self.ram.log.setLevel(logging.ERROR)
        self.mirror = bytearray(self.rng.getrandbits(8) for _ in range(MEM))
        self.ram.write(0, bytes(self.mirror))
        self.aws, self.ws, self.dones, self.valid_p = [], [], 0, 1.0
        self.data, self.idx = b"", 0
        self.ends = []  # where each posted command's bytes end in the stream (a chunk stays within one)
        self.chunks, self.full_p, self.cnt = False, 1.0, 0  # chunk source: its full-chunk chance, size
        self.inflight = self.max_inflight = 0
        self.cycle, self.overhead = 0, []  # overhead: command cycles beyond one per byte
        self.accepts = self.n_posted = 0  # commands accepted, and those accepted while busy
        self.done = Event()

    def set_pauses(self, p):
        for ch in (self.ram.aw_channel, self.ram.w_channel, self.ram.b_channel):
            ch.set_pause_generator(pauses(self.rng, p))

    async def watch(self):
        """Once per clock: AW/W/B monitors, done counter, byte source with random i_valid."""
        d, rng, db = self.dut, self.rng, self.db
        while True:
            await RisingEdge(d.clk)
            self.cycle += 1
            if d.m_axi_awvalid.value and d.m_axi_awready.value:
                self.aws.append((int(d.m_axi_awaddr.value), int(d.m_axi_awlen.value) + 1,
                                 int(d.m_axi_awsize.value), int(d.m_axi_awburst.value), int(d.m_axi_awid.value)))
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
            if d.m_axi_wvalid.value and d.m_axi_wready.value:
                strb = int(d.m_axi_wstrb.value)
                data = int(d.m_axi_wdata.value) & _strb_mask(strb, db)
                self.ws.append((data, strb, int(d.m_axi_wlast.value)))
            if d.m_axi_bvalid.value and d.m_axi_bready.value:
                self.inflight -= 1
            if d.cmd_valid.value and d.cmd_ready.value:
                self.accepts += 1
                self.n_posted += int(d.busy.value)
            if d.done.value:
                self.dones += 1
                self.done.set()
            if d.i_valid.value and d.i_ready.value:
                self.idx += 1
            if d.i_wvalid.value and d.i_wready.value:
                self.idx += self.cnt
            go = self.idx < len(self.data) and (self.valid_p >= 1 or rng.random() < self.valid_p)
            if not self.chunks:
                d.i_valid.value = int(go)
                if go:
                    d.i_data.value = self.data[self.idx]
            elif go:  # a chunk of 1..db bytes (garbage above them), full ones with chance full_p
                end = next((e for e in self.ends if e > self.idx), len(self.data))
                self.cnt = min(db if rng.random() < self.full_p else rng.randint(1, db), end - self.idx)
                chunk = self.data[self.idx:self.idx + self.cnt] + bytes(rng.getrandbits(8) for _ in range(db - self.cnt))
                d.i_wvalid.value, d.i_word.value, d.i_cnt.value = 1, int.from_bytes(chunk, "little"), self.cnt
            else:
                d.i_wvalid.value = 0

    async def command(self, addr, data):
        """Run one command; returns (AWs, Ws, done pulses, bytes_written delta, err)."""
        d = self.dut
        await RisingEdge(d.clk)
        assert d.cmd_ready.value == 1 and d.busy.value == 0
        before = int(d.bytes_written.value)
        self.aws.clear()
        self.ws.clear()
        self.done.clear()
        self.dones = 0
        self.data, self.idx = data, 0
        d.cmd_addr.value, d.cmd_len.value, d.cmd_valid.value = addr, len(data), 1
        await RisingEdge(d.clk)
        d.cmd_valid.value = 0
        t0 = self.cycle
        await self.done.wait()
        self.overhead.append(self.cycle - t0 - len(data))
        for _ in range(3):
            await RisingEdge(d.clk)
        await ReadOnly()
        assert d.busy.value == 0, "busy after done"
        assert self.idx == len(data), f"took {self.idx} of {len(data)} bytes"
        return list(self.aws), list(self.ws), self.dones, (int(d.bytes_written.value) - before) % 2**32, int(d.err.value)


    async def posted(self, cmds):
        """Offer each (addr, data) as soon as the one before is accepted, the bytes as one stream;
        returns (AWs, Ws, done pulses, bytes_written delta, err) once busy has fallen."""
        d = self.dut
        await RisingEdge(d.clk)
        before, self.accepts, self.n_posted, self.dones = int(d.bytes_written.value), 0, 0, 0
        self.aws.clear()
        self.ws.clear()
        self.data, self.idx = b"".join(data for _, data in cmds), 0
        self.ends = list(accumulate(len(data) for _, data in cmds))
        for addr, data in cmds:
            d.cmd_addr.value, d.cmd_len.value, d.cmd_valid.value = addr, len(data), 1
            await RisingEdge(d.clk)
            while not d.cmd_ready.value:
                await RisingEdge(d.clk)
        d.cmd_valid.value = 0
        await RisingEdge(d.clk)
        while d.busy.value:
            await RisingEdge(d.clk)
        for _ in range(3):
            await RisingEdge(d.clk)
        await ReadOnly()
        assert d.busy.value == 0 and self.accepts == len(cmds), (int(d.busy.value), self.accepts, len(cmds))
        assert self.idx == len(self.data), f"took {self.idx} of {len(self.data)} bytes"
        self.ends = []
        return list(self.aws), list(self.ws), self.dones, (int(d.bytes_written.value) - before) % 2**32, int(d.err.value)


async def setup(dut, seed):
    tb = TB(dut, seed)
    d = dut
    await start_clock_reset(d, d.cmd_valid, d.cmd_addr, d.cmd_len, d.i_valid, d.i_data, d.i_wvalid, d.i_word, d.i_cnt)
    cocotb.start_soon(tb.watch())
    return tb


def check(tb, addr, data, res):
    aws, ws, dones, moved, err = res
    cmd = (addr, len(data))
    written, bursts = write_model(tb.mirror, addr, data, tb.db, tb.max_burst)
    assert err == 0, f"err set on command {cmd}"
    assert dones == 1, f"command {cmd}: done pulsed {dones} cycles"
    size = tb.db.bit_length() - 1
    assert aws == [(a, n, size, 1, 0) for a, n in bursts], f"command {cmd}: bursts {aws} != {bursts}"
    want = write_beats(addr, data, tb.db)
    lasts = {sum(n for _, n in bursts[:i + 1]) - 1 for i in range(len(bursts))}
    assert [(w, s) for w, s, _ in ws] == [(w, s) for _, w, s in want], f"command {cmd}: W beats differ"
    assert [i for i, (*_, l) in enumerate(ws) if l] == sorted(lasts), f"command {cmd}: WLAST misplaced"
    assert moved == written, f"command {cmd}: bytes_written moved {moved}, expected {written}"
    assert tb.ram.read(0, MEM) == tb.mirror, f"command {cmd}: RAM contents differ"


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], source=[1.0, 0.6])
async def random_commands_test(dut, pause, source):
    n = int(os.environ.get("AXI_N", "24"))
    seed = int(os.environ.get("AXI_SEED", "2")) + int(10 * pause) + int(100 * source)
    tb = await setup(dut, seed)
    tb.set_pauses(pause)
    tb.valid_p = source
    total = 0
    for addr, length in random_commands(tb.rng, n, MEM - 2 * 4096, tb.db):
        data = bytes(tb.rng.getrandbits(8) for _ in range(length))
        check(tb, addr, data, await tb.command(addr, data))
        total += length
    dut._log.info("%d commands, %d bytes, at most %d bursts in flight", n, total, tb.max_inflight)
    dut._log.info("cycles beyond one per byte: max %d, mean %.1f", max(tb.overhead), sum(tb.overhead) / n)
    if pause == 0 and source == 1:  # an unthrottled bus and stream: one byte per cycle after a fixed latency
        assert max(tb.overhead) <= 24, f"the byte stream was starved: {tb.overhead}"
    assert tb.max_inflight >= 2, "the next AW never went out while a burst awaited its response"


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], full=[1.0, 0.3])
async def chunk_stream_test(dut, pause, full):
    """The chunk side of the stream (i_word, i_cnt bytes): the same beats, strobes, bursts and RAM
    contents as bytes; unthrottled full chunks keep the bus at a beat per cycle."""
    n = int(os.environ.get("AXI_N", "24"))
    tb = await setup(dut, 41 + int(10 * pause) + int(100 * full))
    tb.set_pauses(pause)
    tb.chunks, tb.full_p = True, full
    for addr, length in random_commands(tb.rng, n, MEM - 2 * 4096, tb.db):
        data = bytes(tb.rng.getrandbits(8) for _ in range(length))
        t0 = tb.cycle
        check(tb, addr, data, await tb.command(addr, data))
        if pause == 0 and full == 1:
            bs = bursts(addr, length, tb.db, tb.max_burst)
            beats = sum(n for _, n in bs)
            assert tb.cycle - t0 <= beats + 8 * len(bs) + 16, f"command {(addr, length)}: {tb.cycle - t0} cycles"


@cocotb.test()
async def error_response_test(dut):
    tb = await setup(dut, 6)
    tb.set_pauses(0.2)
    tb.ram.fault = True
    addr, data = BAD_BASE - 21, bytes(range(256)) + bytes(range(50))
    aws, ws, dones, moved, err = await tb.command(addr, data)
    assert err == 1, "SLVERR on B did not set err"
    assert dones == 1 and moved == len(data), "the command did not run to its end after an error"
    await RisingEdge(dut.clk)
    assert dut.err.value == 1, "err is not sticky"
    tb.ram.fault = False
    tb.mirror[:] = tb.ram.read(0, MEM)  # the faulty beats were not written
    addr, data = BAD_BASE + 5, bytes(range(100))
    check(tb, addr, data, await tb.command(addr, data))  # a new command clears err


@cocotb.test()
async def zero_length_test(dut):
    """cmd_len = 0 is accepted, pulses done once and moves nothing; the next command runs normally."""
    tb = await setup(dut, 8)
    aws, ws, dones, moved, err = await tb.command(0x123, b"")
    assert (aws, ws, dones, moved, err) == ([], [], 1, 0, 0), (aws, ws, dones, moved, err)
    addr, data = 0x123, bytes(range(77))
    check(tb, addr, data, await tb.command(addr, data))


@cocotb.test()
@cocotb.parametrize(pause=[0.0, 0.3], chunks=[False, True])
async def posted_commands_test(dut, pause, chunks):
    """Commands back to back: the same bursts, beats and RAM contents as one at a time, in order;
    the next command is taken while bursts of the one before await their B responses; done pulses
    only when busy falls."""
    n = int(os.environ.get("AXI_N", "24"))
    tb = await setup(dut, int(os.environ.get("AXI_SEED", "2")) + 500 + int(10 * pause) + int(chunks))
    tb.set_pauses(pause)
    tb.chunks = chunks
    cmds = [(a, bytes(tb.rng.getrandbits(8) for _ in range(m))) for a, m in random_commands(tb.rng, n, MEM - 2 * 4096, tb.db)]
    cmds += [(tb.rng.randrange(MEM - 64), bytes(tb.rng.getrandbits(8) for _ in range(tb.rng.randint(1, 40))))
             for _ in range(n)]  # short ones, the store's common case
    tb.rng.shuffle(cmds)
    aws, ws, dones, moved, err = await tb.posted(cmds)
    want_aws, want_ws, want_lasts, written = [], [], [], 0
    size = tb.db.bit_length() - 1
    for addr, data in cmds:
        w, bs = write_model(tb.mirror, addr, data, tb.db, tb.max_burst)
        written += w
        want_aws += [(a, m, size, 1, 0) for a, m in bs]
        want_lasts += [len(want_ws) + sum(m for _, m in bs[:i + 1]) - 1 for i in range(len(bs))]
        want_ws += [(w, s) for _, w, s in write_beats(addr, data, tb.db)]
    assert err == 0, "err set"
    assert aws == want_aws, "the bursts differ from the commands' in order"
    assert [(w, s) for w, s, _ in ws] == want_ws, "W beats differ"
    assert [i for i, (*_, last) in enumerate(ws) if last] == want_lasts, "WLAST misplaced"
    assert moved == written, f"bytes_written moved {moved}, expected {written}"
    assert tb.ram.read(0, MEM) == tb.mirror, "RAM contents differ"
    assert 1 <= dones < len(cmds), f"done pulsed {dones} times for {len(cmds)} posted commands"
    assert tb.n_posted >= len(cmds) // 4, f"only {tb.n_posted} of {len(cmds)} commands were taken while busy"
    dut._log.info("%d commands posted, %d taken while busy, %d done pulses", len(cmds), tb.n_posted, dones)


@cocotb.test()
async def posted_error_test(dut):
    """A B error of a posted command stays in err through the commands accepted behind it (while
    busy), and a command accepted once idle clears it."""
    tb = await setup(dut, 9)
    tb.ram.fault = True
    held = [True] * 200  # B responses held back until every command is accepted
    tb.ram.b_channel.set_pause_generator(iter(held + [False] * 100000))
    bad = (BAD_BASE + 3, bytes(range(40)))
    cmds = [bad] + [(0x100 * k + 7, bytes(range(k, k + 30))) for k in range(1, 3)]
    aws, ws, dones, moved, err = await tb.posted(cmds)
    assert tb.n_posted == 2, f"{tb.n_posted} of 2 commands taken while the first awaited its B response"
    assert err == 1 and dones == 1, f"err {err} after the error's command, done pulsed {dones} times"
    tb.ram.fault = False
    tb.mirror[:] = tb.ram.read(0, MEM)
    addr, data = 0x2345, bytes(range(90))
    check(tb, addr, data, await tb.command(addr, data))  # accepted while idle: clears err
