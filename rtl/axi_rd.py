"""AXI4 read DMA master: one command (byte address, byte length, rows, row pitch) in, a byte stream out.

A command moves ``cmd_rows`` rows (0 counts as 1) of ``cmd_len`` bytes, row r from byte address
``cmd_addr + r * cmd_pitch`` (a 2-D command: the rows of a strip of columns). Any byte address and
any length >= 1 work: each row is split into INCR bursts of full-width beats (ARSIZE =
log2(data_bits/8)) of at most ``max_burst`` beats that never cross a 4 KB page; bytes before the
row's start address in its first beat and after its end in its last beat are dropped, so no beat
holds bytes of two rows. Up to ``outstanding`` bursts are in flight (AR issued, RLAST not yet seen),
so the next AR goes out, for the next row too, while the previous burst's data is still arriving.
Commands are posted: the next one is taken once the AR side has requested all of the previous
one's bursts, while its data still arrives, so its first AR follows the previous one's last with
no gap (two commands in flight at most: one receiving, one requesting).

Ports (all synchronous to ``clk``, ``rst`` synchronous active high):
  cmd_valid in, cmd_ready out, cmd_addr in [addr_bits], cmd_len in [len_bits] (>= 1),
      cmd_rows in [16], cmd_pitch in [len_bits]: a command is accepted on a cycle with cmd_valid
      and cmd_ready (cmd_len = 0 is accepted and does nothing: no burst, no byte, no o_last).
      cmd_ready is high once the previous command's ARs are all requested and the R side has
      taken it (a cycle after its acceptance if the R side was free, else when the command
      before it has received its last beat).
  o_valid out, o_ready in, o_data out [8], o_last out: the byte stream, a byte moves on a cycle
      with o_valid and o_ready; o_last marks the command's last byte (of its last row). o_valid/o_data/o_last are
      registers; m_axi_rready depends combinationally on o_ready (the beat register refills in
      the cycle its last byte leaves, so there is no bubble between beats).
  o_take in, o_word out [data_bits], o_cnt out, o_tail out: the same stream a beat at a time. o_word
      holds the o_cnt (0..data_bits/8) bytes of the beat register, the next byte in the low lane;
      o_take takes all of them in one cycle (never together with o_ready), and the next beat
      refills the register in that cycle. o_tail: these are a row's last bytes. A beat-wide
      consumer gets each row's bytes in chunks: the first beat's from the row's start address on,
      then whole beats, then the last beat's up to the row's end.
  busy out: from an accepted command until the last byte of every accepted command has left.
  err out: sticky from an R beat with RRESP != OKAY (or an RID other than 0) until a command is
      accepted while not busy, so a posted command does not clear the error of the one before
      (the command still runs to its end; the bytes of an erroneous beat are passed on as received).
  bytes_read out [32]: bytes moved on the bus since reset (accepted R beats x data_bits/8),
      wrapping; sample it before and after a command for the DRAM traffic.
  m_axi_ar{id[id_bits],addr,len[8],size[3],burst[2],valid,ready},
  m_axi_r{id[id_bits],data,resp[2],last,valid,ready}: the AXI4 read channels; ARID is always 0
      (bursts complete in order), ARBURST INCR; lock/cache/prot/qos are left to the interconnect's
      defaults (tie them at the parent if the fabric needs them).

"""

from __future__ import annotations


from myhdl import Signal, always, always_comb, block, concat, intbv, modbv

from hwspec.bus import CMD_ROWS_BITS, AxiDmaConfig
from rtl.axi_common import beat_count, burst_len, convert_stable, fit

__all__ = ["AxiDmaConfig", "axi_rd", "axi_rd_signals", "build", "DEFAULT"]


DEFAULT = AxiDmaConfig()


def _u(bits, v=0):
    return Signal(intbv(v)[bits:]) if bits > 1 else Signal(bool(v))


ROWS_BITS = CMD_ROWS_BITS


def axi_rd_signals(cfg: AxiDmaConfig = DEFAULT):
    """A fresh set of axi_rd port signals (dict by port name)."""
    A, D, L = cfg.addr_bits, cfg.data_bits, cfg.len_bits
    return dict(
        cmd_valid=_u(1), cmd_ready=_u(1), cmd_addr=_u(A), cmd_len=_u(L), cmd_rows=_u(ROWS_BITS), cmd_pitch=_u(L),
        o_valid=_u(1), o_ready=_u(1), o_data=_u(8), o_last=_u(1),
        o_take=_u(1), o_word=_u(D), o_cnt=_u((D // 8).bit_length()), o_tail=_u(1),
        busy=_u(1), err=_u(1), bytes_read=_u(32),
        m_axi_arid=_u(cfg.id_bits), m_axi_araddr=_u(A), m_axi_arlen=_u(8), m_axi_arsize=_u(3),
        m_axi_arburst=_u(2), m_axi_arvalid=_u(1), m_axi_arready=_u(1),
        m_axi_rid=_u(cfg.id_bits), m_axi_rdata=_u(D), m_axi_rresp=_u(2), m_axi_rlast=_u(1), m_axi_rvalid=_u(1),
        m_axi_rready=_u(1),
    )


@block
def axi_rd(clk, rst, cmd_valid, cmd_ready, cmd_addr, cmd_len, cmd_rows, cmd_pitch, o_valid, o_ready, o_data, o_last,
           o_take, o_word, o_cnt, o_tail, busy, err, bytes_read,
           m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize, m_axi_arburst, m_axi_arvalid, m_axi_arready,
           m_axi_rid, m_axi_rdata, m_axi_rresp, m_axi_rlast, m_axi_rvalid, m_axi_rready,
           max_burst=32, outstanding=4):
    A, D, L = len(cmd_addr), len(m_axi_rdata), len(cmd_len)
    DB = D // 8
    S = DB.bit_length() - 1
    PB = 4096 // DB
    LB = max(L + 1, 9)  # command beats fit in len_bits + 1 bits (len <= 2**L - 1, plus a partial beat)
    OB = outstanding.bit_length() + 1

    # The AR side and the R side each run a command: the AR side takes the next one once it has
    # requested all of its own (the R side may still be receiving the one before); the command's
    # parameters wait in cmd_* (``pend``) until the R side, done with its own, takes them.
    pend = Signal(bool(0))  # cmd_* hold a command the R side has not taken yet
    p_addr = Signal(modbv(0)[A:])  # the last accepted command (the AR side's)
    p_len, p_pitch, p_rows = _u(L), _u(L), _u(ROWS_BITS)
    pitch_a = _u(A)
    ar_row = Signal(modbv(0)[A:])  # byte address of the row the AR side is on
    ar_nrow = Signal(modbv(0)[A:])  # ... and of the next row
    ar_rows = _u(ROWS_BITS)  # rows after it still to request
    nrow_beats = _u(LB)  # beats of the next row
    ar_idle = Signal(bool(0))
    r_len, r_pitch = _u(L), _u(L)  # the R side's command: row length and pitch
    r_pitch_a = _u(A)
    r_row = Signal(modbv(0)[A:])  # byte address of the row the R side is on
    r_nrow = Signal(modbv(0)[A:])
    r_rows = _u(ROWS_BITS)  # rows after it still to receive
    r_load = Signal(bool(0))  # the R side takes the pending command
    tail = Signal(bool(0))  # the beat register holds a row's last bytes
    ctail = Signal(bool(0))  # ... the command's last bytes
    ar_beat = Signal(modbv(0)[A - S:])  # beat address of the next burst
    ar_left = _u(LB)  # beats not yet requested
    ar_n = _u(LB)  # next burst's beats
    ar_n_a = _u(A - S)
    out_cnt = _u(OB)  # bursts requested, RLAST not yet seen
    arvalid = Signal(bool(0))
    cmd_beats = _u(LB)
    accept = Signal(bool(0))
    busy_i = Signal(bool(0))
    first = Signal(bool(0))  # the next R beat is a row's first
    off = _u(S)  # first beat's byte offset
    off_l = _u(L)
    lleft = _u(L)  # bytes of the R side's row not yet loaded into the beat register
    room = _u(L)  # useful bytes of the next beat from its start offset
    nb = _u(L)  # bytes the next beat contributes
    sh = _u(S)  # its start offset
    sreg = _u(D)  # beat register, next byte at the bottom
    bcnt = _u(S + 1)  # bytes left in sreg
    rready = Signal(bool(0))
    rv = Signal(bool(0))
    count = Signal(modbv(0)[32:])

    blen = burst_len(ar_beat, ar_left, ar_n, max_burst, PB)
    fits = [fit(ar_n, ar_n_a), fit(off, off_l), beat_count(cmd_addr, cmd_len, cmd_beats, DB), fit(p_pitch, pitch_a),
            fit(r_pitch, r_pitch_a), beat_count(ar_nrow, p_len, nrow_beats, DB)]
    ar_n8 = ar_n(8, 0)
    nb_s = nb(S + 1, 0)

    @always_comb
    def next_rows():
        ar_nrow.next = ar_row + pitch_a
        r_nrow.next = r_row + r_pitch_a

    @always_comb
    def beat_math():
        if first:
            sh.next = off
            room.next = DB - off_l
        else:
            sh.next = 0
            room.next = DB

    @always_comb
    def beat_math2():
        if lleft < room:
            nb.next = lleft
        else:
            nb.next = room

    @always_comb
    def sides():  # the AR side has requested all its bursts; the R side can take a beat
        ar_idle.next = ar_left == 0 and ar_rows == 0
        rready.next = lleft != 0 and (bcnt == 0 or (bcnt == 1 and o_ready) or o_take)

    @always_comb
    def handshakes():
        accept.next = cmd_valid and ar_idle and not pend
        busy_i.next = not ar_idle or pend or lleft != 0 or bcnt != 0
        rv.next = rready and m_axi_rvalid

    @always_comb
    def next_command():  # the R side takes the pending command when free, or with its own command's last beat
        r_load.next = pend and (lleft == 0 or (rv and lleft == nb and r_rows == 0))

    @always_comb
    def outs():
        cmd_ready.next = ar_idle and not pend
        busy.next = busy_i
        m_axi_rready.next = rready
        m_axi_arvalid.next = arvalid
        m_axi_arid.next = 0
        m_axi_arsize.next = S
        m_axi_arburst.next = 1
        o_valid.next = bcnt != 0
        o_data.next = sreg[8:]
        o_last.next = bcnt == 1 and ctail
        o_word.next = sreg
        o_cnt.next = bcnt
        o_tail.next = tail
        bytes_read.next = count

    @always(clk.posedge)
    def ar_side():  # commands in, AR bursts out, a row after another
        if rst:
            pend.next = 0
            arvalid.next = 0
            out_cnt.next = 0
            ar_left.next = 0
            ar_rows.next = 0
        else:
            issue = not arvalid and ar_left != 0 and out_cnt < outstanding
            if accept:
                pend.next = cmd_len != 0  # a zero-length command is taken and does nothing
                p_addr.next = cmd_addr
                p_len.next = cmd_len
                p_pitch.next = cmd_pitch
                ar_beat.next = cmd_addr[A:S]
                ar_row.next = cmd_addr
                if cmd_len == 0:
                    ar_left.next = 0
                    ar_rows.next = 0
                else:
                    ar_left.next = cmd_beats
                    if cmd_rows == 0:
                        ar_rows.next = 0
                        p_rows.next = 0
                    else:
                        ar_rows.next = cmd_rows - 1
                        p_rows.next = cmd_rows - 1
            elif r_load:
                pend.next = 0
            if issue:
                arvalid.next = 1
                m_axi_araddr.next = concat(ar_beat, intbv(0)[S:])
                m_axi_arlen.next = ar_n8 - 1
                ar_beat.next = ar_beat + ar_n_a
                ar_left.next = ar_left - ar_n
            elif arvalid and m_axi_arready:
                arvalid.next = 0
            if ar_left == 0 and ar_rows != 0:  # the row's bursts are out: the next row
                ar_row.next = ar_nrow
                ar_beat.next = ar_nrow[A:S]
                ar_left.next = nrow_beats
                ar_rows.next = ar_rows - 1
            if issue and not (rv and m_axi_rlast):
                out_cnt.next = out_cnt + 1
            elif rv and m_axi_rlast and not issue:
                out_cnt.next = out_cnt - 1

    @always(clk.posedge)
    def r_side():  # R beats into the beat register, bytes (or the whole beat) out of it
        if rst:
            lleft.next = 0
            bcnt.next = 0
            err.next = 0
            count.next = 0
            first.next = 0
            tail.next = 0
            ctail.next = 0
            r_rows.next = 0
        else:
            if accept and not busy_i:
                err.next = 0
            if rv:
                sreg.next = m_axi_rdata >> concat(sh, intbv(0)[3:])
                bcnt.next = nb_s
                first.next = 0
                ctail.next = lleft == nb and r_rows == 0
                if lleft == nb:  # the row's last beat
                    tail.next = 1
                    if r_rows != 0:  # the next beat is the next row's first
                        lleft.next = r_len
                        first.next = 1
                        off.next = r_nrow[S:]
                        r_row.next = r_nrow
                        r_rows.next = r_rows - 1
                    else:
                        lleft.next = 0
                else:
                    tail.next = 0
                    lleft.next = lleft - nb
                count.next = count + DB
                if m_axi_rresp != 0 or m_axi_rid != 0:
                    err.next = 1
            elif bcnt != 0 and o_ready:
                sreg.next = concat(intbv(0)[8:], sreg[D:8])
                bcnt.next = bcnt - 1
            elif o_take:
                bcnt.next = 0
            if r_load:  # the next command's first row, here or with the last beat of the one before
                # (after the beat's own updates, which it overrides)
                lleft.next = p_len
                r_len.next = p_len
                r_pitch.next = p_pitch
                r_row.next = p_addr
                r_rows.next = p_rows
                off.next = p_addr[S:]
                first.next = 1

    return blen, fits, next_rows, beat_math, beat_math2, sides, handshakes, next_command, outs, ar_side, r_side


def build(cfg: AxiDmaConfig, directory: str, name: str = "ce_axi_rd") -> str:
    """Convert axi_rd for ``cfg`` to ``directory/name.v``."""
    return convert_stable(lambda: axi_rd(_u(1), _u(1), **axi_rd_signals(cfg), max_burst=cfg.max_burst,
                                         outstanding=cfg.outstanding), name, directory)
