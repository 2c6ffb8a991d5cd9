"""Per-layer performance model of a compiled program: the controller's counter record, cycle exact.

The model follows the controller FSM (rtl/controller.py) state by state, with the DMA timing of
rtl/axi_rd.py / rtl/axi_wr.py against the Verilog DRAM model without stalls
(tb/hdl/axi_ram_model.v, ``+DRAM_STALL=0``) and the engine's run length (rtl/sequencer.py). Every
counter of the record is reproduced exactly: cycles, engine_cycles, mac_steps, load_stall,
store_stall, fetch, bytes_read, bytes_written (compiler/README.md, "Performance model").

Costs, in cycles (n bytes of a command at byte address a):
- activation, line-buffer and weight load command (A_RX, V_RDCMD + V_RX, W_CMD + W_RX: a DMA beat
  per cycle through the word gearbox):
  ``_rd_words``: 2 + 5 + (beats - 1) + 3 per burst boundary + 1 or 2 for the last word; a 2-D
  command (a segment's channels of a whole-row tile, the rows of a strip, avgpool's two rows,
  ``_rd_rows``) the same over all its rows' beats
  and bursts: the next row's bursts follow like the next burst of a row, and the gearbox empties
  between rows inside the DRAM's 3-cycle turnaround; a conv tile's commands are posted (A_RX
  offers the next while the one before streams in), so they cost as one 2-D command of all their
  rows (``_rd_stream``);
- byte read command (constants, descriptors): 2 + n + 4, plus a bubble of 4 - (16 - a % 16)
  when the first beat is partial with fewer than 4 bytes and alone in a one-beat burst (the last
  beat of a 4 KB page): the DRAM takes 4 cycles to turn the next burst around;
- conv store of one channel, or one row of a strip (SS_CMD, SS_DATA, SS_DONE): chunks of up to a beat
  a cycle into the write DMA; run cycle by cycle against the DMA and DRAM write port
  (``_WritePort``); the commands of a tile are posted (each starts with the write port as the one
  before left it, the last waits in SS_WAIT for the tile's B responses), cached per port state, page
  offset and length;
- avgpool / upsample channel (``_vector_channel``): one write command for the channel's output;
  row by row, the input load (in the background from the second row on), then the row's chunks
  (upsample: up to a beat a cycle; avgpool: a word after four line-buffer reads), run cycle by
  cycle against the write port, cached per channel shape, load timing and page offset;
- a conv with a fused 2x2 average pool (FLAGS["pool"]): each channel's store is followed by a second
  command, its pooled rows from the line buffer, timed as a conv store from a word boundary; the
  pool's own descriptor (FLAGS["fused"]) goes from CHECK to its counter record; a conv with a fused
  upsample (FLAGS["up"]) follows each store command with one of its rows upsampled, whole chunks from the
  same bank bytes, timed likewise;
- the engine: active from the cycle after E_START for steps * max(K, min_steps) + run_tail (rtl.engine).
The tile pipeline (bands of rows by strips of columns) overlaps the engine run of tile n with the
store of tile n-1 and the load of tile n+1, the store (its own state machine, from E_WAIT0's last
cycle) beside the load; the next engine run waits for both. A cycle counts as a stall only when the
engine is idle: a load stall in a load state, else a store stall while the store is busy.
DRAM bytes: reads as whole bus beats moved, writes as bytes written (strobes set).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from compiler.program import Descriptor, Program
from hwspec.bus import DMA, bursts
from hwspec.formats import COUNTER_RECORD, DESCRIPTOR, FLAGS, LAYER_REGS
from hwspec import tiling
from hwspec.config import weight_pitch

__all__ = ["LayerEstimate", "estimate", "BUS_BYTES", "COUNTERS"]

BUS_BYTES = DMA.beat_bytes  # the accelerator's DMA masters (hwspec.bus): 512-bit AXI data bus
PAGE_BEATS = DMA.page_beats
MAX_BURST = DMA.max_burst
DESC_FETCH = DESCRIPTOR.used_bytes  # bytes of a descriptor the controller reads
N_REGS = len(LAYER_REGS)  # engine layer registers written before each run (REGS state)
COUNTERS = COUNTER_RECORD.names


@dataclass
class LayerEstimate:
    name: str
    macs: int = 0  # useful multiply-accumulates
    mac_steps: int = 0  # array steps the engine issues (each R*C MAC slots)
    engine_cycles: int = 0
    cycles: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    load_stall: int = 0
    store_stall: int = 0
    fetch: int = 0

    def counters(self) -> dict[str, int]:
        """The counter record's words, by hwspec.formats.COUNTER_RECORD name."""
        return {k: getattr(self, k) for k in COUNTERS}


def _beats(addr: int, n: int) -> int:
    """Bus beats a command of n >= 1 bytes at addr touches."""
    return (addr + n - 1) // BUS_BYTES - addr // BUS_BYTES + 1


def _beats_bytes(addr: int, n: int) -> int:
    return _beats(addr, n) * BUS_BYTES


def _row_chunks(n: int) -> list[int]:
    """Byte counts of the chunks of an output row of n bytes: whole ones, then the rest."""
    k = -(-n // BUS_BYTES)
    return [BUS_BYTES] * (k - 1) + [n - BUS_BYTES * (k - 1)]


def _rd(addr: int, n: int) -> int:
    """Cycles of a read command in the controller: CMD (2) and RX until the last byte."""
    nb = BUS_BYTES - addr % BUS_BYTES
    bubble = 0
    if nb < 4 and n > nb and (addr // BUS_BYTES) % PAGE_BEATS == PAGE_BEATS - 1:
        bubble = 4 - nb
    return 2 + n + 4 + bubble


def _bursts(addr: int, n: int) -> list[int]:
    """Beats of each burst the DMAs issue for a command (hwspec.bus.bursts)."""
    return [k for _, k in bursts(addr, n, BUS_BYTES, MAX_BURST)]


def _rd_words(addr: int, n: int) -> int:
    return _rd_words_in_page(addr % 4096, n)


@lru_cache(maxsize=1 << 16)
def _rd_words_in_page(addr: int, n: int) -> int:  # the timing repeats every 4 KB page
    """Cycles of an activation or line-buffer load command (A_CMD + A_RX, V_RDCMD + V_RX: the word
    gearbox): the DMA hands over a beat per cycle from the 5th cycle of A_RX, with 3 idle cycles
    between bursts (the DRAM model runs one burst at a time); a buffer word leaves per cycle once
    one is full, and A_RX ends with the command's last word, 1 or 2 cycles after its last beat."""
    bursts = _bursts(addr, n)
    beats = sum(bursts)
    tail = 1
    if beats > 1:
        s_last = (addr + n - 1) % BUS_BYTES + 1
        before = n - s_last  # bytes taken before the last beat
        g = before % BUS_BYTES  # gearbox fill when the last beat arrives
        if bursts[-1] > 1 and before >= BUS_BYTES:  # the beat before came a cycle earlier: its word waits
            g += BUS_BYTES
        rest = g - BUS_BYTES * (g >= BUS_BYTES) + s_last
        tail = 1 if rest <= BUS_BYTES else 2
    return 2 + 5 + (beats - 1) + 3 * (len(bursts) - 1) + tail


def _rd_rows(addr: int, n: int, rows: int, pitch: int) -> int:
    """Cycles of a 2-D load command: ``rows`` rows of ``n`` bytes, row r at ``addr + r * pitch``."""
    return _rd_stream([(addr + r * pitch, n) for r in range(rows)])


def _rd_stream(rows: list[tuple[int, int]]) -> int:
    """Cycles of load commands posted back to back, (address, bytes) of each row of each in order:
    the next command's bursts follow the one before's like the next row's of a 2-D command."""
    last_addr, last_n = rows[-1]
    return _rd_words(last_addr, last_n) + sum(_row_beats_bursts(a % 4096, n) for a, n in rows[:-1])


@lru_cache(maxsize=1 << 16)
def _row_beats_bursts(addr: int, n: int) -> int:
    """A row's beats plus 3 cycles per burst: its share of a 2-D command before the last row."""
    bs = _bursts(addr, n)
    return sum(bs) + 3 * len(bs)


class _Band:
    """Timeline of the main state machine after an engine start: segments in order, each charged to
    load or store only for the cycles after the engine has finished. ``win``: the cycles the store
    state machine is busy beside it (a store stall unless the engine runs or a load is charged)."""

    def __init__(self, e: LayerEstimate, t: int, eng_end: int):
        self.e, self.t, self.end = e, t, eng_end  # eng_end: last engine-active cycle
        self.win, self.win_load = (0, 0), 0  # the store's busy cycles [a, b), load stalls within them

    def _charge(self, a: int, b: int, kind: str):
        a = max(a, self.end + 1)
        if b > a:
            if kind == "load":
                self.e.load_stall += b - a
                self.win_load += max(0, min(b, self.win[1]) - max(a, self.win[0]))
            else:
                self.e.store_stall += b - a

    def store_beside(self, a: int, b: int):
        """The store state machine is busy in cycles [a, b) while the main one goes on."""
        self.win, self.win_load = (a, b), 0

    def store_done(self):
        """Charge the side store's busy cycles after the engine, less those a load took."""
        a, b = self.win
        self.e.store_stall += max(0, b - max(a, self.end + 1)) - self.win_load
        self.win, self.win_load = (0, 0), 0

    def seg(self, dur: int, kind: str | None):
        if kind is not None:
            self._charge(self.t, self.t + dur, kind)
        self.t += dur

    def cmds(self, durs: list[int], after, kind: str):
        """Commands of ``durs`` cycles charged to ``kind``, each followed by ``after`` uncharged cycles
        (a number, or one per command)."""
        afters = after if isinstance(after, list) else [after] * len(durs)
        total = sum(durs) + sum(afters)
        a, b = self.win
        if self.t + total > self.end + 1 and b > max(a, self.end + 1, self.t) and a < self.t + total:
            for d, af in zip(durs, afters):  # charged cycles meet the side store's: command by command
                self._charge(self.t, self.t + d, kind)
                self.t += d + af
        elif self.t > self.end:  # the engine is done: every command cycle is a stall
            self.seg(total - sum(afters), kind)
            self.t += sum(afters)
        elif self.t + total <= self.end + 1:  # all within the engine run
            self.t += total
        else:  # the engine ends during command k: part of it and all after it are stalls
            e = self.end + 1
            starts = list(accumulate((d + a for d, a in zip(durs, afters)), initial=self.t))
            ends = [st + d for st, d in zip(starts, durs)]  # increasing
            k = bisect_right(ends, e)  # len(ends): the engine ends in the last command's after cycles
            idle = ends[k] - max(starts[k], e) + sum(durs[k + 1:]) if k < len(ends) else 0
            if kind == "load":
                self.e.load_stall += idle
            else:
                self.e.store_stall += idle
            self.t = starts[-1]


def _conv(d: Descriptor, e: LayerEstimate, t: int, hw, tail: int) -> int:
    from hwspec.config import CHAINED_TAIL, drain_wait

    R, C, min_steps = hw.rows, hw.cols, hw.min_tile_steps
    dwait = drain_wait(hw)
    k, g = d.kernel, d.stack  # stacked output rows (compiler.program.stack_rows)
    K = d.cin * d.k_rows * k
    Kp = weight_pitch(K)
    P = max(K, min_steps)
    howo = d.ho * d.wo
    e.macs = d.cout // g * d.cin * k * k * howo  # the useful ones
    chans = [seg.addr + ch * d.in_pitch for seg in d.segments for ch in range(seg.channels)]
    walk = tiling.tiles(d)  # the controller's order
    E = _Band(e, 0, -1)

    def load(tile):  # B_START, B_ROWS, B_PITCH, B_CHK; A_RX, the tile's commands posted; A_SEG
        win = tiling.window(d, tile)
        lo, rows_in, left, cols_in = win.row0, win.rows, win.col0, win.cols
        E.seg(4, None)
        if cols_in == d.w:  # whole rows: one 2-D command per segment, a channel's rows a row, planes apart
            rows = [(a + lo * d.w, rows_in * d.w) for a in chans]
        else:  # a strip: one 2-D command per channel, rows_in rows of cols_in bytes
            rows = [(a + (lo + r) * d.w + left, cols_in) for a in chans for r in range(rows_in)]
        E.cmds([_rd_stream(rows)], 1, "load")
        E.e.bytes_read += sum(_beats_bytes(a, n) for a, n in rows)

    def store_cmds(co0, gc, tile) -> list[int]:  # per channel (per row of a strip): SS_CMD, bytes, SS_DONE; SS_WAIT
        writes = tiling.store_writes(d, co0, gc, tile, R)
        E.e.bytes_written += sum(n for _, _, n in writes)
        return _conv_stores(writes)

    for co0, gc in tiling.groups(d.cout, d.group):
        ntile = -(-gc // R)
        E.t, E.end = t, -1  # the engine is idle: loads until its first start are all stalls
        E.seg(2, None)  # G_START, G_CHK
        E.seg(_rd_words(d.weight_addr + co0 * Kp, gc * Kp), "load")  # W_CMD + W_RX: the gearbox
        E.seg(_rd(d.const_addr + co0 * 8, gc * 8), "load")
        e.bytes_read += _beats_bytes(d.weight_addr + co0 * Kp, gc * Kp) + _beats_bytes(d.const_addr + co0 * 8, gc * 8)
        load(walk[0])
        for b, tile in enumerate(walk):
            bo, sw = tile.rows, tile.cols
            steps = ntile * bo * -(-sw // C)
            # a run followed by another of the group is chained: done with its last step, its last
            # tile drains under the next run (rtl/sequencer.py register chain)
            run = steps * P + (tail if b + 1 == len(walk) else CHAINED_TAIL)
            e.mac_steps += steps * K
            e.engine_cycles += run
            E.seg(N_REGS, None)
            start = E.t  # E_START: the engine is active from the next cycle, `run` cycles
            E.end = start + run  # its last active cycle (done seen, eng_active falls after it)
            E.seg(4, None)  # E_START, E_WAIT0 (3); its last cycle starts the store of tile b-1
            stored = 0  # the first cycle the store state machine is idle again
            if b > 0:  # tile b-1 (the store's start cycle; SS_DRAIN while its last tile drains, drain_wait cycles;
                # then its commands) beside B_NEXT and the load of tile b+1
                stored = E.t + 1 + dwait + sum(store_cmds(co0, gc, walk[b - 1]))
                E.store_beside(E.t + 1, stored)
            E.seg(1, None)  # B_NEXT
            if b + 1 < len(walk):
                load(walk[b + 1])  # tile b+1 into the other half
            # E_WAIT: leaves on the first cycle the engine is done and the store idle
            E.t = max(E.t, E.end + 1, stored) + 1
            E.store_done()
        # the last tile, nothing to overlap: G_NEXT waits while the store starts and its commands run
        E.seg(1, None)
        E.cmds(store_cmds(co0, gc, walk[-1]), 0, "store")
        E.seg(1, None)  # G_NEXT leaves
        t = E.t
    return t


class _WritePort:
    """The write DMA (rtl/axi_wr.py) taking chunks of up to a beat, and the DRAM model's write port
    (tb/hdl/axi_ram_model.v), edge by edge: ``ready(cnt)`` is i_wready in this cycle for a chunk of
    ``cnt`` bytes, ``edge(taken, cnt, take)`` advances one clock, accepting the command ``take``
    (addr, length) on it. Commands are posted: the next is taken once ``data_busy`` falls (the RTL's
    cmd_ready), while the bursts before it may still await B; ``busy`` until the last B."""

    _FIELDS = ("bursts", "awready", "wbusy", "wready", "bvalid", "awvalid", "aw_next", "out_cnt",
               "w_next", "w_inb", "wvalid", "wlast", "ileft", "cpos", "cflush", "done")
    __slots__ = _FIELDS

    def __init__(self, key: tuple | None = None):
        for f, v in zip(self._FIELDS, key or ((), 1) + (0,) * (len(self._FIELDS) - 2)):
            setattr(self, f, v)

    @classmethod
    def started(cls, addr: int, total: int) -> "_WritePort":
        """A port in the cycle after it accepted a command while idle."""
        port = cls()
        port._take(addr, total)
        return port

    def key(self) -> tuple:
        """The state, with a finished command's bursts dropped (they no longer matter)."""
        if self.data_busy:
            return tuple(getattr(self, f) for f in self._FIELDS)
        idle = dict(bursts=(), aw_next=0, w_next=0, cpos=0)
        return tuple(idle.get(f, getattr(self, f)) for f in self._FIELDS)

    def _take(self, addr: int, total: int):
        self.bursts = tuple(_bursts(addr, total))
        self.aw_next = self.w_next = self.w_inb = 0
        self.ileft, self.cpos, self.cflush = total, addr % BUS_BYTES, 0

    @property
    def data_busy(self) -> bool:
        return bool(self.aw_next < len(self.bursts) or self.w_next < len(self.bursts) or self.w_inb
                    or self.ileft or self.cflush)

    @property
    def busy(self) -> bool:
        return self.data_busy or self.out_cnt != 0

    def ready(self, cnt: int) -> bool:
        c_full = self.cpos + cnt >= BUS_BYTES or self.ileft == cnt
        return bool(self.ileft != 0 and not self.cflush and (not c_full or not self.wvalid or self.wready))

    def edge(self, taken: bool, cnt: int, take: tuple | None = None):
        w_free = not self.wvalid or self.wready
        # DRAM
        awready = not self.wbusy and not self.bvalid
        wbusy, bvalid = self.wbusy, self.bvalid
        wready = self.wbusy and not (self.wvalid and self.wready and self.wlast)
        if self.awvalid and self.awready:
            wbusy, awready = 1, 0
        if self.wvalid and self.wready and self.wlast:
            wbusy, wready, bvalid = 0, 0, 1
        if self.bvalid:
            bvalid = 0
        # DMA: bursts, B responses, done
        bv = self.bvalid
        aw_left = self.aw_next < len(self.bursts)
        issue = not self.awvalid and aw_left and self.out_cnt < 4
        done = int(take is None and bv and self.out_cnt == 1 and not self.data_busy and not self.awvalid)
        awvalid, aw_next = self.awvalid, self.aw_next
        if issue:
            awvalid, aw_next = 1, self.aw_next + 1
        elif self.awvalid and self.awready:
            awvalid = 0
        out_cnt = self.out_cnt + (1 if issue and not bv else -1 if bv and not issue else 0)
        # chunk packer and W register
        w_ld = False
        ileft, cpos, cflush = self.ileft, self.cpos, self.cflush
        if taken:
            ileft = self.ileft - cnt
            end = self.cpos + cnt
            if end >= BUS_BYTES or self.ileft == cnt:
                w_ld = True
                if end >= BUS_BYTES:
                    cpos, cflush = end - BUS_BYTES, int(self.ileft == cnt and end > BUS_BYTES)
            else:
                cpos = end
        elif self.cflush and w_free:
            w_ld, cflush = True, 0
        wvalid, wlast, w_inb, w_next = self.wvalid, self.wlast, self.w_inb, self.w_next
        if w_ld:  # w_inb: beats left in the current burst (0: this beat opens the next one)
            wvalid = 1
            if self.w_inb == 0:
                wn, w_next = self.bursts[self.w_next], self.w_next + 1
                wlast, w_inb = int(wn == 1), wn - 1
            else:
                wlast, w_inb = int(self.w_inb == 1), self.w_inb - 1
        elif self.wvalid and self.wready:
            wvalid = 0
        self.awready, self.wbusy, self.wready, self.bvalid = awready, wbusy, wready, bvalid
        self.done, self.awvalid, self.aw_next = done, awvalid, aw_next
        self.out_cnt, self.ileft, self.cpos, self.cflush = out_cnt, ileft, cpos, cflush
        self.wvalid, self.wlast, self.w_inb, self.w_next = wvalid, wlast, w_inb, w_next
        if take is not None:
            self._take(*take)


@lru_cache(maxsize=1 << 12)
def _vector_channel(op: str, f: int, wo: int, loads: tuple, addr: int, total: int) -> tuple[int, int, int]:
    """(cycles, load stall, store stall) of one channel of an avgpool (op "avgpool": output rows of
    ``wo`` bytes) or upsample (``f`` output rows of ``wo`` bytes per input row), V_ROW of its first
    row to V_NEXT of its last, cycle by cycle against the write port. ``loads[y]``: the cycles of
    row y's input load as a foreground command (V_RDCMD + V_RX); row 0 loads in front, every later
    row in the background from the V_WRCMD before it, and V_LDWAIT waits for what is left. The
    channel is one write command of ``total`` bytes at ``addr`` (% 4096), issued in row 0's V_WRCMD;
    each row's chunks follow (upsample: V_ADDR, then up to a word a cycle, the line buffer read a
    word ahead; avgpool: four line-buffer reads (P_RD), then the chunk in P_OUT once the one before is
    taken), and V_DONE ends a row once its last chunk is taken (going on to the next row's load wait
    or V_WRCMD), the last row once the command is done. Argmax (op "argmax", ``f`` the labels'
    upsampling): every row starts with V_ROW and its segments, ``loads[y]`` = (the first segment's
    load cycles, the other segments' load cycles, the compare passes' cycles), then its labels go out
    as an upsample's row; the first segment of every row but row 0 loads in the background from the
    V_WRCMD before, and V_LDWAIT (at least a cycle) waits for what is left."""
    cnts = _row_chunks(wo)
    rows = len(loads)
    cyc = load = store = 0
    port = None
    issued = 0  # the cycle the background load of the next row started (its V_WRCMD)

    def tick(n: int):
        for _ in range(n):
            if port is not None:
                port.edge(False, 0)

    for y in range(rows):
        last = y == rows - 1
        if op == "argmax":  # V_ROW, then M_RDCMD, M_RX (load) and M_CMP (store) for each segment; on
            # every row but row 0 the first segment loads in the background from the V_WRCMD before
            # and V_LDWAIT waits for what is left
            first, rest, cmp = loads[y]
            wait = first if y == 0 else max(1, issued + first + 1 - (cyc + 1))
            tick(1 + wait + rest + cmp)
            cyc, load, store = cyc + 1 + wait + rest + cmp, load + wait + rest, store + cmp
            issued = cyc
        else:
            if y == 0:
                tick(1)  # V_ROW (a later row follows its previous row's V_DONE at once)
                cyc += 1
            wait = loads[0] if y == 0 else max(0, issued + loads[y] + 1 - cyc)  # V_RDCMD + V_RX, or V_LDWAIT
            tick(wait)
            cyc, load = cyc + wait, load + wait
            issued = cyc
        n = 2 if y == 0 or not last else 1  # V_WRCMD: the write command (row 0) and/or the next row's read
        tick(n)
        cyc, store = cyc + n, store + n
        if port is None:
            port = _WritePort.started(addr, total)
        wvalid = wcnt = 0
        if op == "avgpool":
            state, step, k = "rd", 0, 0
        else:
            state, k, rr = "addr", 0, 0
        while True:  # the row's data, then V_DONE
            if state == "done" and last and port.done:
                cyc, store = cyc + 1, store + 1
                break
            cyc, store = cyc + 1, store + 1
            taken = bool(wvalid) and port.ready(wcnt)
            port.edge(taken, wcnt)
            if state == "done":
                if taken:
                    wvalid = 0
                if not last and (not wvalid or taken):
                    break
                continue
            if op == "avgpool":
                present = state == "out" and (not wvalid or taken)
                if present:
                    wvalid, wcnt = 1, cnts[k]
                elif taken:
                    wvalid = 0
                if state == "rd":
                    step += 1
                    if step == 4:
                        state, step = "out", 0
                elif present:
                    if k == len(cnts) - 1:
                        state = "done"
                    else:
                        k, state = k + 1, "rd"
            elif state == "addr":
                state = "data"
            else:  # upsample data: a chunk is offered from the cycle after V_ADDR
                if not wvalid:
                    wvalid, wcnt = 1, cnts[k]
                elif taken:
                    if k == len(cnts) - 1:
                        wvalid, k = 0, 0
                        if rr == f - 1:
                            state = "done"
                        else:
                            rr, state = rr + 1, "addr"
                    else:  # the next chunk at once: the line buffer is read a word ahead
                        k += 1
                        wcnt = cnts[k]
    tick(1)  # V_NEXT, after the last row
    cyc += 1
    return cyc, load, store


def _conv_stores(cmds: list[tuple[int, int, int]]) -> list[int]:
    """Cycles of each conv store command of a tile, (DRAM addr, output-bank byte addr, bytes) in the
    store machine's order, SS_CMD to SS_DONE, the last with SS_WAIT for the tile's B responses: the
    commands are posted, so each starts with the write port as the one before left it."""
    key, out = _WritePort().key(), []
    for i, (addr, src, n) in enumerate(cmds):
        cycles, key = _conv_store(key, addr % 4096, src % BUS_BYTES, n, i + 1 == len(cmds))
        out.append(cycles)
    return out


@lru_cache(maxsize=1 << 16)
def _conv_store(key: tuple, addr: int, src: int, n: int, last: bool) -> tuple[int, tuple]:
    """(cycles, write port state after) of a conv store command (SS_CMD to SS_DONE, and SS_WAIT if
    ``last``) from write port state ``key``: ``n`` bytes from output-bank byte address ``src`` (only
    src % 16 matters) to DRAM ``addr`` (% 4096): SS_CMD offers the command from its second cycle
    until the DMA takes it; bank words read back to back (data two cycles after the address) into a
    3-entry chunk queue whose head is the write DMA's chunk input, a read issued only when the queue
    has room for it and for those in flight (rtl/controller.py); one SS_DONE cycle."""
    port = _WritePort(key)
    port.edge(False, 0)  # SS_CMD's first cycle
    cycles = 1
    while True:  # SS_CMD: the command is offered
        cycles += 1
        if not port.data_busy:
            port.edge(False, 0, (addr, n))
            break
        port.edge(False, 0)
    off = src % BUS_BYTES
    words = _beats(off, n)
    cnts = [min(BUS_BYTES - off, n)] + [BUS_BYTES] * (words - 2)
    if words > 1:
        cnts.append((off + n - 1) % BUS_BYTES + 1)
    ip = popped = 0
    sq1 = sq2 = None  # reads in flight: their chunk index (sq2 the older, its data now on the read port)
    queue: list[int] = []  # chunk counts, the head first
    while popped < words:  # SS_DATA
        cycles += 1
        head = queue[0] if queue else 0
        pop = bool(queue) and port.ready(head)
        keep = len(queue) - pop
        issue = ip < words and keep + (sq2 is not None) + (sq1 is not None) < 3
        port.edge(pop, head)
        if pop:
            queue.pop(0)
            popped += 1
        if sq2 is not None:
            queue.append(cnts[sq2])
        sq2, sq1 = sq1, (ip if issue else None)
        if issue:
            ip += 1
    cycles += 1  # SS_DONE
    port.edge(False, 0)
    while last:  # SS_WAIT: leaves in the first cycle the DMA is not busy
        cycles += 1
        if not port.busy:
            break
        port.edge(False, 0)
    return cycles, port.key()


def _vector(d: Descriptor, e: LayerEstimate, t: int) -> int:
    """Avgpool / upsample, channel by channel (``_vector_channel``): each output row from its input
    row(s) in the line buffer, the channel's output as one write command."""
    howo, pitch = d.ho * d.wo, d.in_pitch
    out = d.out_addr
    if d.flags & FLAGS["fused"]:  # the convs before it wrote the output: CHECK goes on to K_START
        return t
    if d.op == "argmax":  # one pass over the rows, every channel of a row's column segment at a time
        base = d.segments[0].addr
        loads = []
        for y in range(d.h):
            lds, cmp = [], 0
            for x0 in range(0, d.w, d.strip):
                n = min(d.strip, d.w - x0)
                lds.append(_rd_rows(base + y * d.w + x0, n, d.cin, pitch))
                cmp += -(-n // BUS_BYTES) * d.cin + 2  # a word read per cycle, the lanes two cycles behind
                e.bytes_read += sum(_beats_bytes(base + c * pitch + y * d.w + x0, n) for c in range(d.cin))
            loads.append((lds[0], sum(lds[1:]), cmp))
        cycles, load, store = _vector_channel("argmax", d.factor, d.wo, tuple(loads), out % 4096, howo)
        e.load_stall += load
        e.store_stall += store
        e.bytes_written += howo
        return t + cycles
    for seg in d.segments:
        for ch in range(seg.channels):
            base = seg.addr + ch * pitch
            if d.op == "avgpool":  # two input rows per output row, one 2-D command
                loads = tuple(_rd_rows(base + 2 * y * d.w, d.w, 2, d.w) for y in range(d.ho))
                e.bytes_read += sum(_beats_bytes(base + r * d.w, d.w) for r in range(2 * d.ho))
            else:
                loads = tuple(_rd_words(base + y * d.w, d.w) for y in range(d.h))
                e.bytes_read += sum(_beats_bytes(base + y * d.w, d.w) for y in range(d.h))
            cycles, load, store = _vector_channel(d.op, d.factor, d.wo, loads, out % 4096, howo)
            e.load_stall += load
            e.store_stall += store
            e.bytes_written += howo
            t += cycles
            out += d.out_pitch
    return t


def estimate(program: Program, hw) -> list[LayerEstimate]:
    """One estimate per descriptor for hardware configuration ``hw`` (hwspec.config.EngineConfig)."""
    from hwspec.config import run_tail

    table_addr = int.from_bytes(program.image[12:16], "little")
    tail = run_tail(hw)
    out = []
    for d in program.descriptors:
        e = LayerEstimate(d.name)
        da = table_addr + 128 * d.layer
        e.bytes_read += _beats_bytes(da, DESC_FETCH)
        rx = _rd(da, DESC_FETCH) - 2
        e.fetch = 1 + rx + 2  # DESC_CMD's last cycle, DESC_RX, DECODE, CHECK
        t = 2 + rx + 2  # cycles from DESC_CMD's first cycle to the op's first state
        if d.op == "conv":
            t = _conv(d, e, t, hw, tail)
        else:
            t = _vector(d, e, t)
        e.cycles = t  # the record holds the cycles up to K_START
        out.append(e)
    return out
