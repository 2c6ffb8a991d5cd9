"""Feeders: activation column feeders (top edge) and row units (left edge: weights, drain, output).

Both are stages of a registered descriptor chain: the sequencer issues one step descriptor per cycle
to column 0 and row 0; each stage uses it and hands it on one cycle later, so column j / row i see
step n at cycle n + j / n + i -- the systolic skew, without a triangle of data delay lines.

ce_fcol (column feeder j): holds one copy of the activation buffer (bytes, broadcast-written a word
of ACT_WORD bytes at a time: wr_addr is a word address, byte i of wr_data goes to byte address
ACT_WORD * wr_addr + i), reads x[addr] for its pixel and outputs it, or the input zero point when
the tap is in the padding.
Its successor's descriptor is addr + stride, ix + stride: the next output pixel to the right.
Data latency 2 (registered RAM read, then the pad mux).

ce_rowu (row unit i): weight bank (output channels co = i mod R, layout [co//R][weight_pitch(Cin*k*k)]:
each channel from a whole word; written a word of ACT_WORD bytes at a time at a word address, read a
byte per step), constant
bank ([co//R] -> bias | mantissa | exponent), output bank ([co//R][Ho*Wo]; ACT_WORD byte lanes:
written a byte at a time by the PPU, read a word at a time, rd_addr a word address). It feeds weights (0 in
bubble steps), latches the tile descriptor at each tile start (current -> draining), numbers the
drained sums of its array row (column 0 first, one every 2 cycles), hands them with their output
address to the row's PPU and writes the PPU's results.
"""

from myhdl import ConcatSignal, Signal, always, always_comb, block, concat, intbv

__all__ = ["fcol", "rowu", "out_lane", "weight_pitch", "ADDR_BITS", "CONST_BITS", "ACT_WORD", "WR_BITS"]

ADDR_BITS = 24  # signed activation address / unsigned bank addresses
CONST_BITS = 66  # bias 32 | mantissa 24 | exponent 10 (exponent in the low bits)
ACT_WORD = 16  # bytes per activation-buffer write: one 128-bit DRAM beat
WR_BITS = max(CONST_BITS, 8 * ACT_WORD)  # the engine's write-data port


def weight_pitch(k: int) -> int:
    """Bytes one output channel's Cin*k*k = ``k`` weights take in a weight bank and in DRAM: whole
    words, so weights load a DMA beat per cycle (the sequencer and controller compute the same)."""
    return -(-k // ACT_WORD) * ACT_WORD


@block
def fcol(clk, i_first, i_addr, i_iyok, i_ix, o_first, o_addr, o_iyok, o_ix, a_data, f_data,
         l_w, l_stride, l_xzp, wr_en, wr_addr, wr_data, *, depth):
    LW = ACT_WORD.bit_length() - 1
    mem = [Signal(intbv(0)[8 * ACT_WORD:]) for _ in range(depth // ACT_WORD)]
    ab = (depth - 1).bit_length()
    qw = Signal(intbv(0)[8 * ACT_WORD:])  # the word holding x[addr]
    lane = Signal(intbv(0)[LW:])  # and its byte lane
    qsh = Signal(intbv(0)[8 * ACT_WORD:])
    ok1 = Signal(bool(0))
    f1 = Signal(bool(0))

    @always(clk.posedge)
    def write():
        if wr_en:
            mem[wr_addr[ab - LW:]].next = wr_data[8 * ACT_WORD:]

    @always_comb
    def select():
        qsh.next = qw >> concat(lane, intbv(0)[3:])

    @always(clk.posedge)
    def feed():
        qw.next = mem[i_addr[ab:LW]]
        lane.next = i_addr[LW:]
        ok1.next = i_iyok and i_ix >= 0 and i_ix < l_w
        f1.next = i_first
        if ok1:
            a_data.next = qsh[8:].signed()
        else:
            a_data.next = l_xzp
        f_data.next = f1
        o_first.next = i_first
        o_addr.next = i_addr + l_stride
        o_iyok.next = i_iyok
        o_ix.next = i_ix + l_stride

    return write, select, feed


@block
def out_lane(clk, we, tag, y, rd_addr, q, *, lane, depth):
    """Byte lane ``lane`` of an output bank: byte address tag is lane tag % ACT_WORD, row tag // ACT_WORD."""
    LW = ACT_WORD.bit_length() - 1
    ob = (depth - 1).bit_length()
    mem = [Signal(intbv(0)[8:]) for _ in range(depth // ACT_WORD)]

    @always(clk.posedge)
    def ram():
        if we and tag[LW:] == lane:
            mem[tag[ob:LW]].next = y[8:]
        q.next = mem[rd_addr[ob - LW:]]

    return ram


@block
def rowu(clk, rst, i_valid, i_first, i_waddr, i_ctile, i_obase, i_ncols, i_rows, i_tok,
         o_valid, o_first, o_waddr, o_ctile, o_obase, o_ncols, o_rows, o_tok, w_data, d_in, dv_in,
         p_valid, p_acc, p_bias, p_mant, p_exp, p_tag, q_valid, q_y, q_tag,
         we_w, we_c, wr_addr, wr_data, rd_addr, rd_data, *, wdepth, cdepth, odepth):
    wb, cb, ob = [(d - 1).bit_length() for d in (wdepth, cdepth, odepth)]
    LW = ACT_WORD.bit_length() - 1
    wmem = [Signal(intbv(0)[8 * ACT_WORD:]) for _ in range(wdepth // ACT_WORD)]
    wword = Signal(intbv(0)[8 * ACT_WORD:])  # the word holding the step's weight
    wlane = Signal(intbv(0)[LW:])  # and its byte lane
    wsh = Signal(intbv(0)[8 * ACT_WORD:])
    cmem = [Signal(intbv(0)[66:]) for _ in range(cdepth)]
    oq = [Signal(intbv(0)[8:]) for _ in range(ACT_WORD)]
    lanes = [out_lane(clk, q_valid, q_tag, q_y, rd_addr, oq[j], lane=j, depth=odepth) for j in range(ACT_WORD)]
    oword = ConcatSignal(*reversed(oq))
    wq = Signal(intbv(0, min=-128, max=128))
    wv1 = Signal(bool(0))
    cq = Signal(intbv(0)[66:])
    cur_ok, dr_ok = Signal(bool(0)), Signal(bool(0))
    cur_ctile = Signal(intbv(0)[len(i_ctile):])
    cur_obase, dr_obase = Signal(intbv(0)[len(i_obase):]), Signal(intbv(0)[len(i_obase):])
    cur_ncols, dr_ncols = Signal(intbv(0)[len(i_ncols):]), Signal(intbv(0)[len(i_ncols):])
    dr_const = Signal(intbv(0)[66:])
    cnt = Signal(intbv(0)[len(i_ncols):])

    @always(clk.posedge)
    def mems():
        if we_w:
            wmem[wr_addr[wb - LW:]].next = wr_data[8 * ACT_WORD:]
        if we_c:
            cmem[wr_addr[cb:]].next = wr_data[CONST_BITS:]
        wword.next = wmem[i_waddr[wb:LW]]
        wlane.next = i_waddr[LW:]
        cq.next = cmem[cur_ctile[cb:]]

    @always(clk.posedge)
    def feed():
        wv1.next = i_valid
        if wv1:
            w_data.next = wq
        else:
            w_data.next = 0
        o_valid.next = i_valid
        o_first.next = i_first
        o_waddr.next = i_waddr
        o_ctile.next = i_ctile
        o_obase.next = i_obase
        o_ncols.next = i_ncols
        o_tok.next = i_tok
        if i_rows > 0:
            o_rows.next = i_rows - 1
        else:
            o_rows.next = 0

    @always(clk.posedge)
    def drain():
        if rst:
            cur_ok.next = 0
            dr_ok.next = 0
            cnt.next = 0
            p_valid.next = 0
        else:
            if i_first:  # tile start: the current tile starts draining, the new one is current
                dr_ok.next = cur_ok
                dr_obase.next = cur_obase
                dr_ncols.next = cur_ncols
                dr_const.next = cq
                cur_ok.next = i_tok and i_rows > 0
                cur_obase.next = i_obase
                cur_ncols.next = i_ncols
                cur_ctile.next = i_ctile
                cnt.next = 0
            elif dv_in:
                cnt.next = cnt + 1
            p_valid.next = dv_in and dr_ok and cnt < dr_ncols
            p_acc.next = d_in
            p_bias.next = dr_const[66:34].signed()
            p_mant.next = dr_const[34:10]
            p_exp.next = dr_const[10:].signed()
            p_tag.next = dr_obase + cnt

    @always_comb
    def read_word():
        rd_data.next = oword

    @always_comb
    def weight_lane():
        wsh.next = wword >> concat(wlane, intbv(0)[3:])

    @always_comb
    def weight_byte():
        wq.next = wsh[8:].signed()

    return lanes, mems, read_word, weight_lane, weight_byte, feed, drain
