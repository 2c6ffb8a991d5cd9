"""AXI4 write DMA master: one command (byte address, byte length) and a byte stream in, bursts out.

Bytes are packed into full-width beats (AWSIZE = log2(data_bits/8)) with WSTRB set only on the
command's bytes, so any byte address and any length >= 1 work; bursts are INCR, at most
``max_burst`` beats, never across a 4 KB page, with up to ``outstanding`` bursts awaiting their B
response. AW runs ahead of W (the W beat of a burst may also precede its AW, which AXI4 allows).

Commands are posted: the next command is taken once the previous one's bytes are all in and its
bursts are all issued, while its last bursts still await their B responses, so a stream of short
commands does not pay the write round trip each (the bursts of all commands share ``outstanding``).

Ports (all synchronous to ``clk``, ``rst`` synchronous active high):
  cmd_valid in, cmd_ready out, cmd_addr in [addr_bits], cmd_len in [len_bits]: a command is
      accepted on a cycle with cmd_valid and cmd_ready; cmd_ready is high unless a command is in its
      data phase (from its acceptance until its last byte is taken, its last AW issued and its last
      beat in the W register). cmd_len = 0 is accepted and moves nothing.
  i_valid in, i_ready out, i_data in [8]: the byte stream, a byte moves on a cycle with i_valid and
      i_ready; exactly cmd_len bytes are taken per command (i_ready is low outside a command).
      i_ready depends combinationally on m_axi_wready when a byte completes a beat (the beat goes
      straight into the W register as the previous one leaves, so there is no bubble).
  i_wvalid in, i_wready out, i_word in [data_bits], i_cnt in: the same stream in chunks, the low
      i_cnt (1..data_bits/8) bytes of i_word, which move on a cycle with i_wvalid and i_wready
      (a command takes bytes or chunks, not both). The chunks are packed at the command's byte
      lanes: a chunk that completes a beat goes into the W register with it, so a full chunk per
      cycle keeps the bus busy; a last chunk that spills into a second beat needs one more cycle.
      The bytes of i_word above i_cnt are don't-cares.
  busy out: a command in its data phase, or a burst awaiting its B response.
  done out: a one-cycle pulse in the cycle busy falls (after the last B response of the commands
      accepted back to back), or in the cycle after a zero-length command accepted while not busy.
  err out: sticky from a B response with BRESP != OKAY (or a BID other than 0) until a command is
      accepted while not busy, so an error of a posted command is never cleared by the commands
      behind it; every command still runs to its end.
  bytes_written out [32]: bytes with their strobe set in accepted W beats since reset, wrapping.
  m_axi_aw{id[id_bits],addr,len[8],size[3],burst[2],valid,ready}, m_axi_w{data,strb,last,valid,ready},
  m_axi_b{id[id_bits],resp[2],valid,ready}: the AXI4 write channels; AWID is always 0, BREADY is
      always high.
"""

from __future__ import annotations

from myhdl import Signal, always, always_comb, block, concat, intbv, modbv

from rtl.axi_common import beat_count, burst_len, convert_stable, fit
from hwspec.bus import AxiDmaConfig
from rtl.axi_rd import DEFAULT

__all__ = ["axi_wr", "axi_wr_signals", "build"]


def _u(bits, v=0):
    return Signal(intbv(v)[bits:]) if bits > 1 else Signal(bool(v))


def axi_wr_signals(cfg: AxiDmaConfig = DEFAULT):
    """A fresh set of axi_wr port signals (dict by port name)."""
    A, D, L, I = cfg.addr_bits, cfg.data_bits, cfg.len_bits, cfg.id_bits
    return dict(
        cmd_valid=_u(1), cmd_ready=_u(1), cmd_addr=_u(A), cmd_len=_u(L),
        i_valid=_u(1), i_ready=_u(1), i_data=_u(8), i_wvalid=_u(1), i_wready=_u(1), i_word=_u(D),
        i_cnt=_u((D // 8).bit_length()),
        busy=_u(1), done=_u(1), err=_u(1), bytes_written=_u(32),
        m_axi_awid=_u(I), m_axi_awaddr=_u(A), m_axi_awlen=_u(8), m_axi_awsize=_u(3), m_axi_awburst=_u(2),
        m_axi_awvalid=_u(1), m_axi_awready=_u(1),
        m_axi_wdata=_u(D), m_axi_wstrb=_u(D // 8), m_axi_wlast=_u(1), m_axi_wvalid=_u(1), m_axi_wready=_u(1),
        m_axi_bid=_u(I), m_axi_bresp=_u(2), m_axi_bvalid=_u(1), m_axi_bready=_u(1),
    )


@block
def axi_wr(clk, rst, cmd_valid, cmd_ready, cmd_addr, cmd_len, i_valid, i_ready, i_data,
           i_wvalid, i_wready, i_word, i_cnt, busy, done, err, bytes_written,
           m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst, m_axi_awvalid, m_axi_awready,
           m_axi_wdata, m_axi_wstrb, m_axi_wlast, m_axi_wvalid, m_axi_wready,
           m_axi_bid, m_axi_bresp, m_axi_bvalid, m_axi_bready,
           max_burst=32, outstanding=4):
    A, D, L = len(cmd_addr), len(m_axi_wdata), len(cmd_len)
    DB = D // 8
    S = DB.bit_length() - 1
    PB = 4096 // DB
    LB = max(L + 1, 9)
    LAST_LANE = DB - 1
    OB = outstanding.bit_length() + 1

    data_busy = Signal(bool(0))  # a command in its data phase: cmd_ready is low
    cmd_beats = _u(LB)
    # AW side
    aw_beat = Signal(modbv(0)[A - S:])
    aw_left = _u(LB)
    aw_n = _u(LB)
    aw_n_a = _u(A - S)
    aw_n8 = aw_n(8, 0)
    awvalid = Signal(bool(0))
    out_cnt = _u(OB)  # bursts issued, B not yet received
    # packer: bytes shift in at the top lane; a finished beat is shifted down into place
    ileft = _u(L)  # bytes still to take from the stream
    pk_buf = _u(D - 8)  # the top D-8 bits of the last shifted beat (its bottom byte is shifted out next)
    pk_stb = _u(DB - 1)
    pk_pos = _u(S)  # lane of the next byte
    pk_cnt = _u(S + 1)  # bytes in pk_buf
    nbuf = _u(D)
    nstb = _u(DB)
    shamt = _u(S)  # lanes to shift a finished beat down: DB - 1 - pk_pos
    complete = Signal(bool(0))  # the next byte finishes a beat
    iready = Signal(bool(0))
    # W register and its burst position
    wvalid = Signal(bool(0))
    wbytes = _u(S + 1)
    wbytes32 = _u(32)
    w_beat = Signal(modbv(0)[A - S:])
    w_rem = _u(LB)  # beats not yet loaded into the W register
    w_inb = _u(LB)  # beats left in the current burst (0: the next beat starts a burst)
    w_n = _u(LB)
    count = Signal(modbv(0)[32:])
    # chunk packer: bytes accumulate at their beat lanes in a two-beat register
    cacc = _u(2 * D)
    cstb = _u(2 * DB)
    cpos = _u(S)  # lane of the next byte
    cbeg = _u(S)  # lane of the current beat's first byte (the start address's in the first beat)
    cflush = Signal(bool(0))  # a last chunk spilled into a second beat, still to send
    c_new = _u(2 * D)
    c_stb = _u(2 * DB)
    c_end = _u(S + 2)  # cpos + i_cnt
    c_full = Signal(bool(0))  # this chunk completes a beat (or ends the command)
    c_ones = Signal(intbv(2 ** DB - 1)[DB:])
    c_db = Signal(intbv(DB)[S + 2:])
    c_mask, c_mask2 = _u(DB), _u(2 * DB)
    c_word2 = _u(2 * D)
    # i_word with the bytes above i_cnt shifted out, then back in place
    c_up, c_clean = Signal(modbv(0)[D:]), _u(D)
    cpos_w, cnt_w, cbeg_w, c_sh = _u(S + 2), _u(S + 2), _u(S + 2), _u(S + 2)
    cnt_l = _u(L)
    # bytes past the beat, and a beat's byte counts (their top bits are 0 by construction)
    c_spill_unused_hi, c_bfull_unused_hi, c_bpart_unused_hi = [Signal(modbv(0)[S + 2:]) for _ in range(3)]
    iwready = Signal(bool(0))
    wr_free = Signal(bool(0))  # the W register can take a beat this cycle

    parts = [burst_len(aw_beat, aw_left, aw_n, max_burst, PB), burst_len(w_beat, w_rem, w_n, max_burst, PB),
             beat_count(cmd_addr, cmd_len, cmd_beats, DB), fit(aw_n, aw_n_a), fit(wbytes, wbytes32),
             fit(cpos, cpos_w), fit(i_cnt, cnt_w), fit(cbeg, cbeg_w), fit(i_cnt, cnt_l), fit(c_clean, c_word2),
             fit(c_mask, c_mask2)]

    @always_comb
    def pack_next():
        nbuf.next = concat(i_data, pk_buf)
        nstb.next = concat(True, pk_stb)
        shamt.next = ~pk_pos
        complete.next = pk_pos == LAST_LANE or ileft == 1

    @always_comb
    def chunk_next():
        wr_free.next = not wvalid or m_axi_wready
        c_sh.next = c_db - cnt_w
        c_end.next = cpos_w + cnt_w

    @always_comb
    def chunk_pack():
        c_mask.next = c_ones >> c_sh
        c_up.next = i_word << concat(c_sh, intbv(0)[3:])

    @always_comb
    def chunk_clean():
        c_clean.next = c_up >> concat(c_sh, intbv(0)[3:])

    @always_comb
    def chunk_acc():
        c_new.next = cacc | (c_word2 << concat(cpos, intbv(0)[3:]))
        c_stb.next = cstb | (c_mask2 << cpos)
        c_full.next = c_end >= DB or ileft == cnt_l
        c_spill_unused_hi.next = c_end - c_db
        c_bfull_unused_hi.next = c_db - cbeg_w
        c_bpart_unused_hi.next = c_end - cbeg_w

    @always_comb
    def phase():
        data_busy.next = aw_left != 0 or ileft != 0 or w_rem != 0 or cflush

    @always_comb
    def ready_calc():
        iready.next = ileft != 0 and (not complete or wr_free)
        iwready.next = ileft != 0 and not cflush and (not c_full or wr_free)

    @always_comb
    def outs():
        cmd_ready.next = not data_busy
        busy.next = data_busy or out_cnt != 0
        i_ready.next = iready
        i_wready.next = iwready
        m_axi_awvalid.next = awvalid
        m_axi_awid.next = 0
        m_axi_awsize.next = S
        m_axi_awburst.next = 1
        m_axi_wvalid.next = wvalid
        m_axi_bready.next = 1
        bytes_written.next = count

    @always(clk.posedge)
    def seq():
        if rst:
            awvalid.next = 0
            out_cnt.next = 0
            aw_left.next = 0
            ileft.next = 0
            w_rem.next = 0
            pk_buf.next = 0  # unused lanes of the first beat are then 0, not X
            cflush.next = 0
            wvalid.next = 0
            done.next = 0
            err.next = 0
            count.next = 0
        else:
            bv = m_axi_bvalid
            idle = not data_busy and out_cnt == 0
            last_b = bv and out_cnt == 1 and not data_busy and not awvalid  # busy falls with it
            issue = not awvalid and aw_left != 0 and out_cnt < outstanding
            iv = iready and i_valid
            iw = iwready and i_wvalid
            done.next = 0
            # command
            if cmd_valid and not data_busy:
                done.next = cmd_len == 0 and (idle or last_b)  # a zero-length command moves nothing
                if idle:
                    err.next = 0
                aw_beat.next = cmd_addr[A:S]
                aw_left.next = cmd_beats if cmd_len != 0 else 0
                w_beat.next = cmd_addr[A:S]
                w_rem.next = cmd_beats if cmd_len != 0 else 0
                w_inb.next = 0
                ileft.next = cmd_len
                pk_pos.next = cmd_addr[S:]
                pk_cnt.next = 0
                pk_stb.next = 0
                cacc.next = 0
                cstb.next = 0
                cpos.next = cmd_addr[S:]
                cbeg.next = cmd_addr[S:]
                cflush.next = 0
            elif last_b:
                done.next = 1
            # AW
            if issue:
                awvalid.next = 1
                m_axi_awaddr.next = concat(aw_beat, intbv(0)[S:])
                m_axi_awlen.next = aw_n8 - 1
                aw_beat.next = aw_beat + aw_n_a
                aw_left.next = aw_left - aw_n
            elif awvalid and m_axi_awready:
                awvalid.next = 0
            if issue and not bv:
                out_cnt.next = out_cnt + 1
            elif bv and not issue:
                out_cnt.next = out_cnt - 1
            if bv and (m_axi_bresp != 0 or m_axi_bid != 0):
                err.next = 1
            # packer and W register
            if wvalid and m_axi_wready:
                count.next = count + wbytes32
            w_ld = False  # a beat goes into the W register (from bytes, a chunk or a chunk's spill)
            if iv:
                ileft.next = ileft - 1
                if complete:
                    w_ld = True
                    m_axi_wdata.next = nbuf >> concat(shamt, intbv(0)[3:])
                    m_axi_wstrb.next = nstb >> shamt
                    wbytes.next = pk_cnt + 1
                    pk_pos.next = 0
                    pk_cnt.next = 0
                    pk_stb.next = 0
                else:
                    pk_buf.next = nbuf[D:8]
                    pk_stb.next = nstb[DB:1]
                    pk_pos.next = pk_pos + 1
                    pk_cnt.next = pk_cnt + 1
            # chunk packer: a chunk that completes a beat, or the spilled beat of a last chunk
            if iw:
                ileft.next = ileft - cnt_l
                if c_full:
                    w_ld = True
                    m_axi_wdata.next = c_new[D:]
                    m_axi_wstrb.next = c_stb[DB:]
                    if c_end >= DB:
                        wbytes.next = c_bfull_unused_hi[S + 1:]
                        cacc.next = concat(intbv(0)[D:], c_new[2 * D:D])
                        cstb.next = concat(intbv(0)[DB:], c_stb[2 * DB:DB])
                        cpos.next = c_spill_unused_hi[S:]
                        cflush.next = ileft == cnt_l and c_end > DB
                    else:
                        wbytes.next = c_bpart_unused_hi[S + 1:]
                    cbeg.next = 0
                else:
                    cacc.next = c_new
                    cstb.next = c_stb
                    cpos.next = c_end[S:]
            elif cflush and wr_free:
                w_ld = True
                m_axi_wdata.next = cacc[D:]
                m_axi_wstrb.next = cstb[DB:]
                wbytes.next = concat(False, cpos)
                cflush.next = 0
            if w_ld:
                wvalid.next = 1
                if w_inb == 0:
                    m_axi_wlast.next = w_n == 1
                    w_inb.next = w_n - 1
                else:
                    m_axi_wlast.next = w_inb == 1
                    w_inb.next = w_inb - 1
                w_beat.next = w_beat + 1
                w_rem.next = w_rem - 1
            elif wvalid and m_axi_wready:
                wvalid.next = 0

    return parts, pack_next, chunk_next, chunk_pack, chunk_clean, chunk_acc, phase, ready_calc, outs, seq


def build(cfg: AxiDmaConfig, directory: str, name: str = "ce_axi_wr") -> str:
    """Convert axi_wr for ``cfg`` to ``directory/name.v``."""
    return convert_stable(lambda: axi_wr(_u(1), _u(1), **axi_wr_signals(cfg), max_burst=cfg.max_burst,
                                         outstanding=cfg.outstanding), name, directory)
