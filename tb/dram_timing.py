"""Timing of the bench's DRAM with real timing (tb/hdl/dram_timing_model.v), in plain Python.

One home for every number: ``DDR4_3200`` holds the datasheet's figures, ``DramTiming.from_part``
converts them to accelerator cycles (the Verilog model's parameters; a test checks its defaults
against ``DEFAULT``), and ``simulate`` predicts, for a sequence of requests offered by a master that
is always ready (RREADY, BREADY high; W beats offered in AW order, one a cycle, each write's from
its address's first cycle on), the cycle of every address handshake, first and last R or W beat
handshake and write response.

The rules (cycles are the model's clock edges, counted from 0 at the first edge out of reset;
"accepted at a" means the address handshake is at edge a):

1. Queues. Reads and writes each have an in-order queue of ``depth`` requests: AR (AW) is ready
   in a cycle after 0 (not in reset) when fewer than ``depth`` reads (writes) were outstanding after
   the previous edge. A
   read is outstanding from its AR handshake to its last R beat, a write from its AW handshake to
   its B handshake. Both addresses may be accepted at the same edge.
2. One data path. One burst at a time moves data, one 64-byte beat per cycle (R or W). When the
   path is free (at the edge of the previous burst's last slot, or later), the older of the oldest
   queued read and the oldest queued write is scheduled (accepted at the same edge: the read; a
   write once every beat of it is in the write buffer). W beats go into a write buffer (WREADY
   from cycle 1 while it holds fewer than depth * 256 beats; a write's slot takes them out), read
   beats into a read buffer that the master empties: a burst takes its slots whatever the master
   does, so a master holding R or W never blocks the other direction. With the master always
   ready, a read's R beats are its slots.
3. Address map: byte address = row | bank | column, the column the low ``col_bits`` bits (one row
   of the rank), the bank the next ``bank_bits``. AXI bursts never cross 4 KB, so never a row.
4. Banks keep their row open. A burst to bank b, row r, accepted at a, is a hit (b has r open),
   a miss (b closed) or a conflict (b has another row open). Its access starts at
   s = max(a + t_ctrl, end of the last refresh, and for a conflict: the last beat on bank b + 1),
   and its first beat is d = max(s + latency, previous burst's last beat + 1 + turnaround,
   scheduling edge + 1), with
       latency = {hit: 0, miss: tRCD, conflict: tRP + tRCD} + (read: CL + t_ctrl | write: CWL)
       turnaround = write then read: tWTR + CL; read then write: tRTW; same direction: 0.
   Its slots are d, d+1, ..., and it leaves bank b with row r open.
5. Refresh k (k = 1, 2, ...) is due at edge k * tREFI. When a burst is scheduled and a due
   refresh's edge is at or before the burst's last beat, the refresh goes first: it starts at
   max(its due edge, previous burst's last slot + 1), precharges every bank (tRP) and refreshes
   (tRFC), closing every row; the burst is then scheduled again (rule 4), against any next refresh.
6. A write's B response is ready t_ctrl cycles after its last slot.
("Last beat" in rule 4 and the refresh rule means the burst's last slot.)

Where the data path's cycles go (``DramStats``, counted when a burst is scheduled; the Verilog
model keeps the same counters under the same names): a burst scheduled at edge e with first beat d
leaves the path waiting on edges e+1 .. d-1, split by the term of rule 4 that pushed d out, taken
in this order: ``wait_latency`` (request path, CAS and response path: a hit's first beat after
max(e + 1, a + t_ctrl + CL + t_ctrl | CWL)), ``wait_row`` (activate, and precharge after the bank's
last beat on a conflict), ``wait_turnaround`` (the bus turned from write to read or back),
``wait_refresh`` (a refresh ran first). Every other edge moves a beat or is idle: no burst could
be scheduled (none queued, or a write's beats not all buffered).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, fields
from fractions import Fraction

from hwspec.config import CLOCK_NS

__all__ = ["DramPart", "DDR4_3200", "DramTiming", "DEFAULT", "Request", "Served", "DramStats", "simulate"]



@dataclass(frozen=True)
class DramPart:
    """A DRAM part's timing as its datasheet gives it (ns, or clocks nCK of ``tck_ns``)."""

    name: str
    datasheet: str
    tck_ns: str  # strings: exact decimal values, converted with Fraction
    cl_nck: int  # CAS (read) latency
    cwl_nck: int  # CAS write latency
    trcd_ns: str  # ACTIVATE to READ/WRITE
    trp_ns: str  # PRECHARGE period
    twtr_ns: str  # end of write data to READ command (tWTR_L, same bank group: the longer)
    rtw_nck: int  # data-bus gap from read data to write data (read-to-write: RL + BL/2 - WL + 2 nCK)
    trefi_ns: str  # average refresh interval (0..85 C)
    trfc_ns: str  # refresh cycle time (8 Gb die)
    banks: int  # per device (bank groups x banks per group)
    row_bytes: int  # one row across the rank (page size x devices)


DDR4_3200 = DramPart(
    name="Micron MT40A512M16 (8 Gb, x16) DDR4-3200AA, speed grade -062E (22-22-22), a 64-bit rank of four",
    datasheet="Micron 8Gb DDR4 SDRAM data sheet, MT40A2G4/MT40A1G8/MT40A512M16 (Rev. J)",
    tck_ns="0.625", cl_nck=22, cwl_nck=16, trcd_ns="13.75", trp_ns="13.75", twtr_ns="7.5", rtw_nck=2,
    trefi_ns="7800", trfc_ns="350", banks=8, row_bytes=4 * 2048,
)


def _cycles(ns: Fraction, clock_ns) -> int:
    """ns to clock cycles, rounded up: no interval is shorter than the datasheet's."""
    return math.ceil(ns / Fraction(clock_ns))


@dataclass(frozen=True)
class DramTiming:
    """The model's timing in accelerator cycles: its Verilog parameters (same names, upper case)."""

    cl: int
    cwl: int
    trcd: int
    trp: int
    twtr: int
    trtw: int
    trefi: int
    trfc: int
    t_ctrl: int  # controller + interconnect latency, each way
    bank_bits: int
    col_bits: int
    depth: int  # outstanding requests per direction

    def __post_init__(self):
        for k, v in asdict(self).items():
            lo = 1 if k in ("t_ctrl", "depth", "trefi", "col_bits") else 0
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"DramTiming {k} must be an integer >= {lo}, not {v!r}")
        if self.trefi <= self.trp + self.trfc:
            raise ValueError(f"DramTiming trefi must exceed trp + trfc ({self.trp + self.trfc}), not {self.trefi}")

    @classmethod
    def from_part(cls, part: DramPart, *, clock_ns=CLOCK_NS, t_ctrl_ns=20, depth=8) -> "DramTiming":
        tck = Fraction(part.tck_ns)
        c = lambda ns: _cycles(Fraction(ns), clock_ns)  # noqa: E731
        return cls(cl=c(part.cl_nck * tck), cwl=c(part.cwl_nck * tck), trcd=c(part.trcd_ns), trp=c(part.trp_ns),
                   twtr=c(part.twtr_ns), trtw=c(part.rtw_nck * tck), trefi=c(part.trefi_ns),
                   trfc=c(part.trfc_ns), t_ctrl=c(t_ctrl_ns), bank_bits=part.banks.bit_length() - 1,
                   col_bits=part.row_bytes.bit_length() - 1, depth=depth)

    def verilog_parameters(self) -> dict[str, int]:
        return {k.upper(): v for k, v in asdict(self).items()}


# 20 ns each way for the controller, PHY and interconnect: an assumption, not the datasheet's
DEFAULT = DramTiming.from_part(DDR4_3200)


@dataclass(frozen=True)
class Request:
    write: bool
    addr: int  # byte address of the first beat
    beats: int  # 1..256 (AxLEN + 1)
    valid: int = 0  # first cycle its address is offered (after the previous one's handshake on its channel)


@dataclass(frozen=True)
class Served:
    accept: int  # address handshake
    first: int  # first data beat
    last: int  # last data beat
    response: int | None = None  # B handshake (writes)
    slot: int = 0  # first data-path slot (a read's: its first R beat)


@dataclass
class DramStats:
    """Where a DRAM's data path cycles went (module docstring): the Verilog model's counters, by name."""

    read_bursts: int = 0
    write_bursts: int = 0
    read_beats: int = 0
    write_beats: int = 0
    row_hits: int = 0
    row_misses: int = 0  # the bank was closed (after reset or a refresh)
    row_conflicts: int = 0  # the bank had another row open
    refreshes: int = 0
    wait_latency: int = 0
    wait_row: int = 0
    wait_turnaround: int = 0
    wait_refresh: int = 0

    WAITS = ("wait_latency", "wait_row", "wait_turnaround", "wait_refresh")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def __sub__(self, other: "DramStats") -> "DramStats":
        return DramStats(**{k: getattr(self, k) - getattr(other, k) for k in self.names()})

    def __add__(self, other: "DramStats") -> "DramStats":
        return DramStats(**{k: getattr(self, k) + getattr(other, k) for k in self.names()})

    @property
    def beats(self) -> int:
        return self.read_beats + self.write_beats

    @property
    def waits(self) -> int:
        return sum(getattr(self, k) for k in self.WAITS)

    def idle(self, cycles: int) -> int:
        """Edges of ``cycles`` that neither moved a beat nor waited for a scheduled burst's first."""
        return cycles - self.beats - self.waits


def simulate(t: DramTiming, requests: list[Request], *, limit: int = 10 ** 8,
             stats: DramStats | None = None) -> list[Served]:
    """Cycle of every handshake of ``requests`` (reads in order on AR, writes in order on AW), per the
    module docstring's rules, the master always ready; ``stats``, if given, counts where the data
    path's cycles went."""
    chans = {w: deque(i for i, r in enumerate(requests) if r.write == w) for w in (False, True)}
    queued = {False: deque(), True: deque()}  # accepted, not scheduled: (index, accept)
    occ = {False: 0, True: 0}
    offer_from = {False: 0, True: 0}
    accept: dict[int, int] = {}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    resp: dict[int, int] = {}
    slot: dict[int, int] = {}
    banks = 1 << t.bank_bits
    open_row: list[int | None] = [None] * banks
    bank_end = [-1] * banks
    prev_end, prev_write, have_prev = -1, False, False
    next_ref, ref_end = t.trefi, 0
    serving = None  # [index, next slot, slots left]
    w_beats = deque(i for i, r in enumerate(requests) if r.write for _ in range(r.beats))  # W, in AW order
    w_from, w_buf, w_cap = 0, 0, t.depth * 256
    bq: deque = deque()  # (B cycle, index)
    done, cyc = 0, 0
    while done < len(requests):
        if cyc > limit:
            raise RuntimeError(f"DRAM timing model: {len(requests) - done} requests not served by cycle {limit}")
        room = {w: cyc > 0 and occ[w] < t.depth for w in (False, True)}  # as after the previous edge
        for w in (False, True):  # 1. addresses
            ch = chans[w]
            if ch and requests[ch[0]].valid <= cyc and offer_from[w] <= cyc and room[w]:
                i = ch.popleft()
                accept[i] = cyc
                queued[w].append((i, cyc))
                occ[w] += 1
                offer_from[w] = cyc + 1
        if w_beats and requests[w_beats[0]].valid <= cyc and w_from <= cyc and cyc > 0 and w_buf < w_cap:
            i = w_beats.popleft()  # 2. a W beat into the write buffer
            first.setdefault(i, cyc)
            last[i], w_buf, w_from = cyc, w_buf + 1, cyc + 1
        if serving is not None and cyc >= serving[1]:  # a slot
            i = serving[0]
            r = requests[i]
            slot.setdefault(i, cyc)
            if r.write:
                w_buf -= 1
            else:
                first.setdefault(i, cyc)
            serving[1], serving[2] = cyc + 1, serving[2] - 1
            if serving[2] == 0:
                serving = None
                if not r.write:
                    last[i] = cyc
                prev_end, prev_write, have_prev = cyc, r.write, True
                bank_end[(r.addr >> t.col_bits) % banks] = cyc
                if r.write:
                    bq.append((cyc + t.t_ctrl, i))
                else:
                    occ[False] -= 1
                    done += 1
        if bq and bq[0][0] <= cyc:  # 3. a write response
            resp[bq.popleft()[1]] = cyc
            occ[True] -= 1
            done += 1
        w_ok = bool(queued[True]) and w_buf >= requests[queued[True][0][0]].beats
        if serving is None and (queued[False] or w_ok):  # 4. schedule the older head
            w = w_ok and (not queued[False] or queued[True][0][1] < queued[False][0][1])
            i, a = queued[w].popleft()
            r = requests[i]
            b, row = (r.addr >> t.col_bits) % banks, r.addr >> (t.col_bits + t.bank_bits)
            while True:
                hit, conflict = open_row[b] == row, open_row[b] not in (None, row)
                lat = (0 if hit else t.trp + t.trcd if conflict else t.trcd) + (t.cwl if w else t.cl + t.t_ctrl)
                s = max(a + t.t_ctrl, ref_end, bank_end[b] + 1 if conflict else 0)
                turn = 0 if not have_prev or prev_write == w else t.trtw if w else t.twtr + t.cl
                d = max(s + lat, prev_end + 1 + turn if have_prev else 0, cyc + 1)
                if next_ref > d + r.beats - 1:
                    break
                ref_end = max(next_ref, prev_end + 1) + t.trp + t.trfc
                open_row = [None] * banks
                next_ref += t.trefi
                if stats is not None:
                    stats.refreshes += 1
            if stats is not None:
                _count(stats, t, w, r.beats, hit, conflict, cyc, a, lat, bank_end[b], prev_end + 1 + turn if have_prev else 0, d)
            open_row[b] = row
            serving = [i, d, r.beats]
        cyc += 1
    return [Served(accept[i], first[i], last[i], resp.get(i), slot[i]) for i in range(len(requests))]


def _count(stats: DramStats, t: DramTiming, write: bool, beats: int, hit: bool, conflict: bool, edge: int,
           accepted: int, lat: int, bank_end: int, turned: int, d: int):
    """Count a burst scheduled at ``edge`` with first beat ``d`` (rule 4's terms, the last round's)."""
    if write:
        stats.write_bursts, stats.write_beats = stats.write_bursts + 1, stats.write_beats + beats
    else:
        stats.read_bursts, stats.read_beats = stats.read_bursts + 1, stats.read_beats + beats
    stats.row_hits += hit
    stats.row_conflicts += conflict
    stats.row_misses += not hit and not conflict
    d1 = max(edge + 1, accepted + t.t_ctrl + (t.cwl if write else t.cl + t.t_ctrl))
    d2 = max(d1, max(accepted + t.t_ctrl, bank_end + 1 if conflict else 0) + lat)
    d3 = max(d2, turned)
    stats.wait_latency += d1 - edge - 1
    stats.wait_row += d2 - d1
    stats.wait_turnaround += d3 - d2
    stats.wait_refresh += d - d3
