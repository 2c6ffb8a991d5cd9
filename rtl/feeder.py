"""Feeders: the activation buffer with its column feed (top edge) and the row units (left edge:
weights, drain, output).

ce_abuf (the activation buffer, shared by the C columns): written a word of ACT_WORD bytes at a time
(wr_addr a word address, byte i of wr_data at byte address ACT_WORD * wr_addr + i) into
abuf_banks(C) word-interleaved banks. The sequencer issues one step descriptor per cycle (address
and x index of the tile's first output pixel, row in bounds); the buffer reads the window of words
from that address in one cycle, one word per bank, and hands column j the byte at addr + j * stride
(its output pixel's tap), or the input zero point when the tap is in the padding. Data latency 2,
all columns at once; the engine delays column j by j cycles (a triangle of byte registers), the
systolic skew. One buffer serves every column: C times the capacity of a copy per column in the
same SRAM.

The row units are stages of a registered descriptor chain: row unit i sees the step n at cycle
n + i and hands it on one cycle later.

ce_rowu (row unit i): weight bank (output channels co = i mod R, layout [co//R][weight_pitch(Cin*k*k)]:
each channel from a whole word; written a word of ACT_WORD bytes at a time at a word address, read a
byte per step), constant
bank ([co//R] -> bias | mantissa | exponent), output bank ([co//R][Ho*Wo]; ACT_WORD byte lanes:
written a byte at a time by the PPU, read a word at a time, rd_addr a word address). It feeds weights (0 in
bubble steps), latches the tile descriptor at each tile start (current -> draining), numbers the
drained sums of its array row (column 0 first, in column order), hands them with their output
address to the row's PPU and writes the PPU's results.
"""

from myhdl import ConcatSignal, Signal, always, always_comb, block, concat, intbv, modbv

from hwspec.config import ACT_WORD, abuf_banks, weight_pitch

__all__ = ["abuf", "abank", "rowu", "out_lane", "ADDR_BITS", "CONST_BITS", "WR_BITS"]

ADDR_BITS = 24  # signed activation address / unsigned bank addresses
CONST_BITS = 66  # bias 32 | mantissa 24 | exponent 10 (exponent in the low bits)
WR_BITS = max(CONST_BITS, 8 * ACT_WORD)  # the engine's write-data port


@block
def abank(clk, wr_en, wr_addr, wr_data, i_addr, q, *, bank, nbanks, rows):
    """Bank ``bank`` of the activation buffer: the words w with w % nbanks == bank, at row
    w // nbanks. It reads the one word of the window starting at i_addr's word that it holds."""
    LW = ACT_WORD.bit_length() - 1
    NBL = nbanks.bit_length() - 1
    RB = max(rows - 1, 1).bit_length()
    mem = [Signal(intbv(0)[8 * ACT_WORD:]) for _ in range(rows)]
    rrow = Signal(modbv(0)[RB:])

    @always_comb
    def read_row():  # the window's words wa0 .. wa0 + nbanks - 1, wa0 = i_addr // ACT_WORD
        if i_addr[LW + NBL:LW] > bank:
            rrow.next = i_addr[LW + NBL + RB:LW + NBL] + 1
        else:
            rrow.next = i_addr[LW + NBL + RB:LW + NBL]

    @always(clk.posedge)
    def ram():
        if wr_en and wr_addr[NBL:] == bank:
            mem[wr_addr[NBL + RB:NBL]].next = wr_data[8 * ACT_WORD:]
        q.next = mem[rrow]

    return read_row, ram


@block
def abuf(clk, i_first, i_addr, i_iyok, i_ix, a_data, f_data, l_w, l_stride, l_xzp, wr_en, wr_addr, wr_data,
         *, depth, cols):
    """The activation buffer shared by the columns (``depth`` bytes in abuf_banks(cols) banks of
    ACT_WORD-byte words). Per step it reads the window of words from the step's address and hands
    column j the byte at i_addr + j * l_stride, or l_xzp for a padding tap (not i_iyok, or the
    column's x index i_ix + j * l_stride outside 0 .. l_w - 1). Latency 2, every column at once
    (the engine skews column j by j more cycles); l_w and l_stride are taken with the step, l_xzp a
    cycle later (layer registers: constant while the engine runs)."""
    LW = ACT_WORD.bit_length() - 1
    NB = abuf_banks(cols)
    NBL = NB.bit_length() - 1
    rows = depth // (ACT_WORD * NB)
    if rows < 1 or rows & (rows - 1):
        raise ValueError(f"activation buffer of {depth} bytes: {NB} banks of {ACT_WORD}-byte words need a "
                         f"power-of-two depth >= {ACT_WORD * NB}")
    q = [Signal(intbv(0)[8 * ACT_WORD:]) for _ in range(NB)]
    banks = [abank(clk, wr_en, wr_addr, wr_data, i_addr, q[b], bank=b, nbanks=NB, rows=rows) for b in range(NB)]
    window = ConcatSignal(*reversed(q))  # bank b's word from bit 8 * ACT_WORD * b: byte a at a % (ACT_WORD * NB)
    XB = len(i_ix) + 4
    lo1 = Signal(intbv(0)[LW + NBL:])  # the step's address modulo the window, registered with the reads
    ix1 = Signal(intbv(0, min=-(2 ** (XB - 1)), max=2 ** (XB - 1)))
    # the layer's width and stride, registered as signed values: the pad test stays signed in Verilog
    w1 = Signal(intbv(0, min=-(2 ** 16), max=2 ** 16))
    s1 = Signal(intbv(0, min=-4, max=4))
    iy1, f1 = Signal(bool(0)), Signal(bool(0))

    @always(clk.posedge)
    def stage1():
        lo1.next = i_addr[LW + NBL:]
        ix1.next = i_ix
        iy1.next = i_iyok
        f1.next = i_first
        w1.next = l_w
        s1.next = l_stride

    @always(clk.posedge)
    def stage2():
        o = intbv(0)[8 * cols:]
        idx = modbv(0)[LW + NBL:]
        for j in range(cols):
            idx[:] = lo1 + j * s1
            if iy1 and ix1 + j * s1 >= 0 and ix1 + j * s1 < w1:
                for k in range(8):
                    o[8 * j + k] = window[8 * idx + k]
            else:
                for k in range(8):
                    o[8 * j + k] = l_xzp[k]
        a_data.next = o
        if f1:
            f_data.next = (1 << cols) - 1
        else:
            f_data.next = 0

    return banks, stage1, stage2


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
    cnt = Signal(modbv(0)[len(i_ncols):])  # wraps, as the Verilog does, when more sums come than columns

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
            tag = modbv(0)[len(p_tag):]  # the output bank's byte address wraps
            tag[:] = dr_obase + cnt
            p_tag.next = tag

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
