"""Controller: runs a compiled program from DRAM through the conv engine, one descriptor at a time.

For each 128-byte descriptor (compiler/README.md) it
- conv: for each output-channel group (``group`` channels, what the weight and constant banks
  hold) loads the group's weights and constants into the engine's row banks; for each band of
  ``band`` output rows loads the input rows the band needs (with the 3x3 halo, all input segments:
  a concat is read from its producers' buffers, never copied; one 2-D command a segment for whole
  rows, its channels' rows a plane apart, one a channel for a strip), writes the layer registers, runs
  the engine, and stores the band's output rows channel plane by channel plane. Activation buffer
  and output banks are double-buffered: while the engine computes band n from one half, the
  controller stores band n-1 and loads band n+1 through the other;
- avgpool 2x2 / upsample nearest: streams each channel row by row through a line buffer, its output
  as one write command per channel;
- then writes the layer's counter record (8 x u32) to ``cnt_base + 32 * layer index``: the counters
  unit (rtl.counters, ce_counters beside this block in ce_accel) keeps every count; this block tells
  it, each cycle, what the cycle is charged to (``c_activity``) and when a run, a layer or a tile
  starts or ends (``c_run_clear``, ``c_layer_clear``, ``c_steps_valid``, ``c_rec_latch``), and
  writes the record it returns (``c_record``).
The header at ``prog_base`` gives the descriptor count and the (absolute) descriptor table address,
so a host can run any contiguous run of descriptors, one layer alone included.
Argmax runs on the host.

DRAM traffic goes through the read and write DMAs a bus beat (ACT_WORD = 64 bytes) per cycle: activation and
line-buffer loads and weights (each output channel's in whole words, hwspec.config.weight_pitch)
through a word gearbox, conv stores and vector-op outputs as chunks of up to a beat; constants and
descriptors a byte per cycle. Loads and stores overlap the engine and each other: a conv tile's store
runs in a clocked process of its own (``store``, state ``sst``) beside the next tile's load
(rtl/README.md, "Controller"), with its own registers and its own write-DMA and line-buffer ports,
its write commands posted (the next goes out while the bursts before await B; SS_WAIT waits for the
tile's last B responses once).

Error codes (``err_code``; ``err`` rises, the controller stops and waits for the next start): one per
refused limit, hwspec.formats.ERRORS. The counter record: hwspec.formats.COUNTER_RECORD.
"""

from __future__ import annotations

from dataclasses import dataclass

from myhdl import Signal, always, always_comb, block, concat, enum, intbv

from hwspec.bus import CMD_ROWS_BITS, DMA
from hwspec.config import ACT_WORD, EngineConfig, drain_wait
from hwspec.formats import (ACTIVITY, ACTIVITY_BITS, COUNTER_RECORD, DESCRIPTOR, HEADER, LAYER_REGS, MAGIC, MAX_SEGMENTS, SEGMENT,
                            error_code, flag_bit, reg_indices)
from rtl.feeder import ADDR_BITS, WR_BITS

__all__ = ["controller", "controller_signals"]

DESC_BYTES = DESCRIPTOR.used_bytes  # what the controller reads of a descriptor
HDR_BYTES = HEADER.used_bytes
N_REGS = len(LAYER_REGS)  # engine layer registers written before each run


def _u(bits, v=0):
    return Signal(intbv(v)[bits:])


def _s(bits, v=0):
    return Signal(intbv(v, min=-(2 ** (bits - 1)), max=2 ** (bits - 1)))


def controller_signals(rows: int):
    """Port signals of the controller, by name."""
    b = lambda: Signal(bool(0))  # noqa: E731
    return dict(
        start=b(), prog_base=_u(32), cnt_base=_u(32), irq_en=b(), irq_ack=b(), irq=b(), busy=b(), done=b(),
        err=b(), err_code=_u(8),
        cur_layer=_u(16), c_activity=_u(ACTIVITY_BITS), c_run_clear=b(), c_layer_clear=b(),
        c_steps_valid=b(), c_rec_latch=b(), c_record=_u(COUNTER_RECORD.size_bits),
        rd_cmd_valid=b(), rd_cmd_ready=b(), rd_cmd_addr=_u(DMA.addr_bits), rd_cmd_len=_u(DMA.len_bits),
        rd_cmd_rows=_u(CMD_ROWS_BITS), rd_cmd_pitch=_u(DMA.len_bits), rd_valid=b(), rd_ready=b(),
        rd_data=_u(8), rd_last=b(), rd_take=b(), rd_word=_u(8 * ACT_WORD), rd_cnt=_u(ACT_WORD.bit_length()),
        rd_tail=b(), rd_err=b(),
        wr_cmd_valid=b(), wr_cmd_ready=b(), wr_cmd_addr=_u(DMA.addr_bits), wr_cmd_len=_u(DMA.len_bits), wr_valid=b(), wr_ready=b(),
        wr_data=_u(8), wr_wvalid=b(), wr_wready=b(), wr_word=_u(8 * ACT_WORD), wr_cnt=_u(ACT_WORD.bit_length()),
        wr_done=b(), wr_err=b(), wr_busy=b(),
        e_start=b(), e_done=b(), e_cycles=_u(32), e_wr_en=b(), e_wr_sel=_u(2), e_wr_bank=_u(8),
        e_wr_addr=_u(ADDR_BITS), e_wr_data=_u(WR_BITS), e_rd_addr=_u(ADDR_BITS), e_rd_data=_u(8 * ACT_WORD * rows),
    )


def _tile_count_constants(rows: int):
    """ceil(n / rows) as (n + rows - 1) * MUL >> SHIFT, exact for every n < 2**16 (checked)."""
    shift = 32
    mul = -(-(1 << shift) // rows)
    for n in range(0, 1 << 16):
        assert ((n + rows - 1) * mul) >> shift == -(-n // rows)
    return mul, shift


@block
def controller(clk, rst, start, prog_base, cnt_base, irq_en, irq_ack, irq, busy, done, err, err_code, cur_layer,
               c_activity, c_run_clear, c_layer_clear, c_steps_valid, c_rec_latch, c_record,
               rd_cmd_valid, rd_cmd_ready, rd_cmd_addr, rd_cmd_len, rd_cmd_rows, rd_cmd_pitch, rd_valid, rd_ready,
               rd_data, rd_last, rd_take,
               rd_word, rd_cnt, rd_tail, rd_err,
               wr_cmd_valid, wr_cmd_ready, wr_cmd_addr, wr_cmd_len, wr_valid, wr_ready, wr_data, wr_wvalid,
               wr_wready, wr_word, wr_cnt, wr_done, wr_err, wr_busy,
               e_start, e_done, e_cycles, e_wr_en, e_wr_sel, e_wr_bank, e_wr_addr, e_wr_data, e_rd_addr,
               e_rd_data, *, cfg: EngineConfig):
    # the header's and the descriptor's fields as they arrive (hwspec.formats): (hi, lo) of hdr[hi:lo]
    # and desc[hi:lo]
    MAGIC_WORD = int.from_bytes(MAGIC, "little")
    (HMG_H, HMG_L), (HNL_H, HNL_L), (HDS_H, HDS_L), (HTB_H, HTB_L) = (
        HEADER.bits(f) for f in ("magic", "layers", "descriptor_size", "table"))
    (OP_H, OP_L), (KS_H, KS_L), (ST_H, ST_L), (CI_H, CI_L), (CO_H, CO_L), (HH_H, HH_L), (WW_H, WW_L) = (
        DESCRIPTOR.bits(f) for f in ("op", "kernel", "stride", "cin", "cout", "h", "w"))
    (HO_H, HO_L), (WO_H, WO_L), (XZ_H, XZ_L), (YZ_H, YZ_L), (QN_H, QN_L), (QX_H, QX_L), (FA_H, FA_L) = (
        DESCRIPTOR.bits(f) for f in ("ho", "wo", "x_zp", "y_zp", "qmin", "qmax", "factor"))
    (NS_H, NS_L), (LY_H, LY_L), (GR_H, GR_L), (BA_H, BA_L), (SP_H, SP_L), (HV_H, HV_L) = (
        DESCRIPTOR.bits(f) for f in ("n_segments", "layer", "group", "band", "strip", "ho_v"))
    (WA_H, WA_L), (CA_H, CA_L), (OA_H, OA_L), (AX_H, AX_L), (PZ_H, PZ_L), (UF_H, UF_L) = (
        DESCRIPTOR.bits(f) for f in ("weight_addr", "const_addr", "out_addr", "aux_addr", "pool_zp", "up_factor"))
    (IPT_H, IPT_L), (OPT_H, OPT_L), (APT_H, APT_L) = (
        DESCRIPTOR.bits(f) for f in ("in_pitch", "out_pitch", "aux_pitch"))
    SEGS_H, SEGS_L = DESCRIPTOR.span("segments")
    F_POOL, F_FUSED, F_UP = flag_bit("pool"), flag_bit("fused"), flag_bit("up")
    # segment 0 of segs (element 0 in the low bits): address, channels
    (SA_H, SA_L), (SC_H, SC_L) = SEGMENT.bits("addr"), SEGMENT.bits("channels")
    (E_HEADER, E_OP, E_CONV_SHAPE, E_CONV_TILE, E_SEGMENTS, E_DRAM_READ, E_DRAM_WRITE, E_WEIGHT_BANK, E_STACKED,
     E_FUSED_POOL, E_FUSED_UP, E_POOL_ROW, E_UP_ROW, E_SCALE, E_ARGMAX, E_GROUP_BANKS, E_BAND_BUFFERS, E_PLANE) = (
        error_code(e) for e in ("header", "op", "conv_shape", "conv_tile", "segments", "dram_read", "dram_write",
                                "weight_bank", "stacked", "fused_pool", "fused_up", "pool_row", "up_row", "scale",
                                "argmax", "group_banks", "band_buffers", "plane"))
    DMA_MAX = (1 << len(rd_cmd_pitch)) - 1  # a DMA command's length and row pitch
    assert len(rd_cmd_pitch) == len(rd_cmd_len) == DMA.len_bits
    PAD_H, PAD_L = KS_L + 3, KS_L + 1  # the kernel's bits 2..1: k // 2 (k is 1 or 3)
    # segment 1 of segw (its addr and channels); segw then shifts by a segment's SEG_BITS
    SEG_BITS, SEGS_BITS = SEGMENT.size_bits, SEGS_H - SEGS_L
    (S1A_H, S1A_L), (S1C_H, S1C_L) = ((h + SEG_BITS, l + SEG_BITS) for h, l in (SEGMENT.bits("addr"),
                                                                              SEGMENT.bits("channels")))
    (REG_CIN, REG_H, REG_W, REG_COUT, REG_HO, REG_WO, REG_K, REG_STRIDE, REG_PAD, REG_X_ZP, REG_Y_ZP, REG_QMIN,
     REG_QMAX, REG_PAD_TOP, REG_ACT_BASE, REG_OUT_BASE, REG_PAD_LEFT, REG_ROW_PITCH, REG_CHAN_PITCH, REG_K_ROWS,
     REG_ROW_STRIDE, REG_CHAIN) = reg_indices(
        "cin", "h", "w", "cout", "ho", "wo", "k", "stride", "pad", "x_zp", "y_zp", "qmin", "qmax", "pad_top",
        "act_base", "out_base", "pad_left", "row_pitch", "chan_pitch", "k_rows", "row_stride", "chain")
    # descriptors and counter records are a power of two apart: their addresses are the index shifted
    DESC_SHIFT, REC_SHIFT = DESCRIPTOR.size.bit_length() - 1, COUNTER_RECORD.size.bit_length() - 1
    REC_BYTES, REC_BITS, REC_LAST = COUNTER_RECORD.size, COUNTER_RECORD.size_bits, COUNTER_RECORD.size - 1
    assert 1 << DESC_SHIFT == DESCRIPTOR.size and 1 << REC_SHIFT == REC_BYTES
    R, wgt_depth, const_depth, line_depth = cfg.rows, cfg.wgt_depth, cfg.const_depth, cfg.line_depth
    DRAIN_WAIT = drain_wait(cfg)
    A_OTHER, A_ENGINE, A_FETCH, A_LOAD, A_STORE = (ACTIVITY.index(k) for k in ("other", "engine", "fetch", "load", "store"))
    LINE_HALF, LINE_HALF_WORDS = cfg.line_half, cfg.line_half // ACT_WORD
    LWB = ACT_WORD.bit_length() - 1  # log2 of the buffer word's bytes
    TMUL, TSHIFT = _tile_count_constants(R)
    ACT_HALF, OUT_HALF = cfg.act_half, cfg.out_half  # double buffering: one half loads, one runs
    st = enum("IDLE", "HDR_CMD", "HDR_RX", "HDR_CHK", "DESC_CMD", "DESC_RX", "DECODE", "CHECK",
              "G_START", "G_CHK", "W_CMD", "W_RX", "C_CMD", "C_RX",
              "B_START", "B_ROWS", "B_PITCH", "B_CHK", "A_RX", "A_SEG", "REGS", "E_START", "E_WAIT0", "E_WAIT",
              "B_NEXT", "G_NEXT",
              "V_ROW", "V_LDWAIT", "V_RDCMD", "V_RX", "V_WRCMD", "V_ADDR", "V_DATA", "P_RD", "P_OUT", "V_DONE", "V_NEXT",
              "M_RDCMD", "M_RX", "M_CMP",
              "K_START", "K_PACK", "K_CMD", "K_DATA", "K_DONE", "L_NEXT", "FAIL")
    state = Signal(st.IDLE)
    # the conv store runs beside the main state machine: tile n-1's store overlaps tile n+1's load
    # (the read and write DMAs are independent), both under the engine's run of tile n
    ss = enum("SS_IDLE", "SS_DRAIN", "SS_CMD", "SS_DATA", "SS_DONE", "SS_WAIT")
    sst = Signal(ss.SS_IDLE)
    # the main state machine starts the store (store_go: a cycle's pulse, the store's first cycle); the
    # store is idle once it is neither started nor running; a write error in its states fails the run
    store_go, store_idle, store_werr = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    s_bank, s_tbase, s_p = _u(8), _u(24), _u(24)  # the store's output bank, tile base and chunk count
    # the write DMA's command and chunk ports and the line buffer's ports: the main state machine's
    # (m_*, vector ops and counter records) and the store's (s_*); the store's while it runs
    m_wr_cmd_valid, s_wr_cmd_valid = Signal(bool(0)), Signal(bool(0))
    m_wr_cmd_addr, s_wr_cmd_addr = _u(len(wr_cmd_addr)), _u(len(wr_cmd_addr))
    m_wr_cmd_len, s_wr_cmd_len = _u(len(wr_cmd_len)), _u(len(wr_cmd_len))
    m_wr_word, s_wr_word = _u(len(wr_word)), _u(len(wr_word))
    m_wr_cnt, s_wr_cnt = _u(len(wr_cnt)), _u(len(wr_cnt))
    m_wr_wvalid, s_wr_wvalid = Signal(bool(0)), Signal(bool(0))

    hdr = _u(8 * HDR_BYTES)
    desc = _u(8 * DESC_BYTES)
    nlayers, layer = _u(16), _u(16)
    desc_table = _u(32)
    rxcnt = _u(8)
    # decoded descriptor fields
    op, ksz, stride, factor, nseg = _u(8), _u(8), _u(8), _u(8), _u(8)
    cin, cout, h, w, ho, wo, group, band = [_u(16) for _ in range(8)]
    xzp, yzp, qmin, qmax = [_s(8) for _ in range(4)]
    w_addr, c_addr, o_addr = _u(32), _u(32), _u(32)
    segs, segw = _u(SEGS_BITS), _u(SEGS_BITS)  # the descriptor's segments; the band's walk through them
    seg_ch = _u(16)
    K, HoWo = _u(20), _u(32)  # HoWo: an output plane's bytes
    # bytes from a channel plane to the next in DRAM: input (every segment's), output, pooled or upsampled
    ipitch, opitch, apitch = _u(32), _u(32), _u(32)
    Kw = _u(20)  # buffer words of one output channel's weights (hwspec.config.weight_pitch)
    # stacked output rows (compiler.program.stack_rows; factor G > 1 on a conv): the engine's layer
    # has G * Cout channels (channel c * G + g: channel c's output row G * r + g at its row r), hov
    # rows, a kernel of kh rows and a row stride of sy; the store writes row r of stacked channel
    # (c, g) to output row G * r + g, s_rp = G * wo bytes after row r - 1, and skips rows past ho
    stk = Signal(bool(0))
    hov, kh, sy, s_rp = _u(16), _u(16), _u(16), _u(32)
    sg = _u(8)  # g of the channel being stored
    s_row0, s_rr = _u(16), _u(16)  # output row of the tile's first row (g = 0), of the row being stored
    cbase = _u(32)  # DRAM address of channel c's row s_row0 (+ prev_ox0)
    s_nv = _u(16)  # the stacked channel stored after this one (rows of a g past ho are skipped)
    s_adv = Signal(bool(0))  # ... which is g + 1 of the same channel
    s_ch, s_r = _u(16), _u(16)  # the store's channel and row (the loads walk ch and r meanwhile)
    s_chan, s_row = _u(32), _u(32)  # DRAM addresses of the stored channel and of its current row
    s_obase, s_ubase = _u(32), _u(32)  # the stored channel's output plane; its upsampled plane (fused up)
    # fused 2x2 average pool (FLAG_POOL on a conv, compiler.program.pool_fusable): as a channel's band
    # streams out (whole rows of wpr words), its even rows' words go to the line buffer's upper half
    # (word x of the last even row; the two last words tapped, th1 and th2, stand in for it when a row
    # is one or two words: the line buffer would not have it yet) and each odd-row word, with the
    # even row's word above it, gives ACT_WORD/2 pooled bytes (avgpool_word), packed into the lower
    # half (ph: halves so far, pb_lo: a word's pending lower half); then a second command (s_pool)
    # writes the pooled bytes from the line buffer to the pool's channel at s_pchan. pi_*: the same
    # walk at read issue, two cycles ahead of the taps (pt_*), to read the even word in time.
    fpool, fused = Signal(bool(0)), Signal(bool(0))  # FLAG_POOL (conv), FLAG_FUSED (avgpool, upsample)
    aux, s_pchan = _u(32), _u(32)
    pzp = _s(8)
    wpr, pi_x, pt_x, ph = _u(16), _u(16), _u(16), _u(16)
    pi_odd, pt_odd, s_pool = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    pb_lo = _u(4 * ACT_WORD)
    th1, th2 = _u(8 * ACT_WORD), _u(8 * ACT_WORD)
    # avgpool_word's operands: row 0's words 2m, 2m+1 and row 1's, the input and output zero points
    pa0, pa1, pc0, pc1 = [_u(8 * ACT_WORD) for _ in range(4)]
    pxz, pyz = _s(8), _s(8)
    # fused upsample by 2**ulf (FLAG_UP on a conv): after each store command (a run of whole rows from
    # bank byte rbase), a second one (s_up) writes those rows upsampled to u_dst: chunk k of an output
    # row is the ACT_WORD >> ulf source bytes from u_src, each repeated 2**ulf times (store_up_word);
    # u_c counts the row's chunks (u_cpr), u_rep the repeats of a source row (u_last = factor - 1)
    fup, s_up = Signal(bool(0)), Signal(bool(0))
    ulf, u_last, u_f2 = _u(3), _u(3), _u(5)
    u_src, u_row = _u(24), _u(24)
    u_c, u_cpr, u_cb = _u(16), _u(16), _u(LWB + 1)
    u_rep = _u(3)
    u_dst = _u(32)
    uo1, uo2 = _u(LWB), _u(LWB)  # the chunk's byte offset in its bank word, at issue and two cycles on
    s_upw = _u(8 * ACT_WORD)
    pad = _u(2)
    # argmax over channels (op 4): input row y's column segments (from byte m_x0, m_len bytes, m_nw
    # words; ``strip`` bytes but the row's last) load as one 2-D command, channel c's words at line-buffer
    # word c * m_nw of the lower half; word x of channels 0..cin-1 in turn (m_x, m_c, read address m_a)
    # passes the compare lanes two cycles later (tags m_v2, m_c2, m_x2: the registered read), which keep
    # each byte's running maximum and its channel (am_v, am_i; the first maximum on ties); after the
    # last channel the label word goes to the upper half at the segment's word m_xw + x. Once the row's
    # labels are in, the upsample path writes them (V_WRCMD, V_ADDR, V_DATA: factor rows, each label
    # repeated factor times).
    m_x0, m_len, m_nw, m_xw = _u(16), _u(16), _u(16), _u(16)
    m_c, m_x, m_a, m_rc = _u(16), _u(16), _u(16), _u(16)
    m_iss, m_v1, m_v2 = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    m_c1, m_c2, m_x1, m_x2 = _u(16), _u(16), _u(16), _u(16)
    am_v, am_i, am_nv, am_ni = [_u(8 * ACT_WORD) for _ in range(4)]
    # loop state
    co0, gc, oy0, bo = _u(16), _u(16), _u(16), _u(16)
    ntile = _u(16)
    # ceil(channels / R) of the group G_START starts: (n + R - 1) * TMUL >> TSHIFT, the product in a
    # signal of its own width (an expression of the Verilog's 32-bit constant would truncate it)
    g_rows = _u(17)
    t_prod = _u(max(17 + TMUL.bit_length(), TSHIFT + 16))
    iy_lo, rows_in = _u(16), _u(16)
    pad_top = Signal(bool(0))
    ch, y = _u(16), _u(16)
    chan_addr, ochan = _u(32), _u(32)
    wi, bank, tbase = _u(20), _u(8), _u(24)
    apos = _u(24)
    cbuf = _u(64)
    cb = _u(4)
    ridx = _u(5)
    p, plen = _u(24), _u(24)
    # conv store stream of chunks (output-bank words): reads issued (ip, up to s_lastw), in flight (sq1,
    # sq2 with their byte counts sc1, sc2 and whether it is the first, shifted by s_off: sf1, sf2),
    # queue fill (scnt) and the entries behind the head (sk1, sk2 and their counts)
    CW = ACT_WORD.bit_length()
    ip, s_lastw = _u(24), _u(24)  # reads issued; index of the command's last bank word
    sq1, sq2, sf1, sf2 = [Signal(bool(0)) for _ in range(4)]
    sc1, sc2, s_c = _u(CW), _u(CW), _u(CW)
    s_first, s_lastc = _u(CW), _u(CW)  # bytes of the first and of the last chunk
    s_off = _u(LWB)
    scnt = _u(2)
    sk1, sk2 = _u(8 * ACT_WORD), _u(8 * ACT_WORD)
    sk1c, sk2c = _u(CW), _u(CW)
    s_pop, s_issue = Signal(bool(0)), Signal(bool(0))
    s_keep = _u(2)  # entries that stay in the queue this cycle (scnt minus a pop)
    s_in = _u(8 * ACT_WORD)  # the chunk arriving from the read port
    rr = _u(5)
    lx = _u(16)
    pstep = _u(2)
    prow = Signal(bool(0))  # avgpool: the second input row is loading
    # the line buffer's two halves: the output phase reads half lbh while the next row's input loads
    # into the other one in the background (bg), issued in the row's V_WRCMD (pf: it was)
    lbh, bg, pf = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    lbw = _u(16)  # the word a load writes next
    # a vector op's input read: output row y's (V_RDCMD) or row y + 1's (the background load, issued
    # in V_WRCMD): one input row, or avgpool's two as a 2-D command; v_more: row y is not the last
    v_ry = _u(16)
    v_raddr = _u(32)
    v_rrows = _u(2)
    v_more = Signal(bool(0))
    lb_base = _u(16)  # byte address of half lbh
    lbw_cur, lbw_oth = _u(16), _u(16)  # word addresses of half lbh and of the other half
    lb_row1 = _u(16)  # avgpool: line-buffer word of the second row (the first one's words, rounded up)
    pw00, pw01, pw10 = [_u(8 * ACT_WORD) for _ in range(3)]  # row 0 words 2m, 2m+1; row 1 word 2m
    pool_word = _u(8 * ACT_WORD)
    ewait = _u(2)
    # double-buffered bands: the band being loaded (oy0, bo, rows_in, pad_top into half ld_half),
    # the one the engine runs (cur_*), the one being stored (prev_*)
    ld_half, cur_half, prev_half = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    nxt, have_prev = Signal(bool(0)), Signal(bool(0))
    cur_oy0, cur_bo, cur_rows, prev_oy0, prev_bo = [_u(16) for _ in range(5)]
    cur_ptop = Signal(bool(0))
    # chained runs (sequencer register ``chain``): a run followed by another of the same weight group ends
    # with its last step; its last tile drains under the next run, so the store of a chained tile waits
    # in SS_DRAIN until drain_wait cycles after the next run's first tile start (s_dw counts them down)
    more = Signal(bool(0))  # the tile the engine runs (cur_*) is not its group's last
    prev_chn = Signal(bool(0))  # the tile to store ran chained
    s_dw = _u(16)
    # column strips (a row too wide for the buffers is computed in strips of ``strip`` columns)
    strip, ox0, sw, ix_lo, cols_in = [_u(16) for _ in range(5)]
    cur_ox0, cur_sw, cur_cols, prev_ox0, prev_sw = [_u(16) for _ in range(5)]
    pad_left, cur_pleft = Signal(bool(0)), Signal(bool(0))
    # activation-buffer pitches of the tile being loaded and of the one the engine runs: every DMA
    # command (a channel's rows, or one row of a strip) starts at a whole buffer word
    rpitch, cpitch, cur_rp, cur_cp = _u(16), _u(32), _u(16), _u(32)
    # word gearbox of activation loads: DMA chunks (a beat's bytes) in, ACT_WORD-byte words out
    gb = _u(16 * ACT_WORD)  # bytes not yet written, the next at the bottom; zero above gfill
    gfill = _u(LWB + 2)
    gdone = Signal(bool(0))  # the command's last chunk is in gb
    g_emit, g_last = Signal(bool(0)), Signal(bool(0))
    g_rem = _u(LWB + 1)  # bytes left in gb after this cycle's word
    g_next = _u(16 * ACT_WORD)
    r = _u(16)
    lu = _u(16)  # a strip's load: channels whose rows are all in
    iss_more = Signal(bool(0))  # a tile's load: a command still to offer
    row_addr = _u(32)
    rbase = _u(24)
    eng_active, eng_low = Signal(bool(0)), Signal(bool(0))
    # line buffer: a RAM of ACT_WORD-byte words (write port + registered read), written a word at a
    # time by the load gearbox; read at a byte address (lb_raddr): lb_q is its word
    LBW = (line_depth // ACT_WORD - 1).bit_length()
    lb = [Signal(intbv(0)[8 * ACT_WORD:]) for _ in range(line_depth // ACT_WORD)]
    lb_we = Signal(bool(0))
    lb_waddr, lb_raddr = _u(16), _u(16)
    m_lb_we, s_lb_we = Signal(bool(0)), Signal(bool(0))
    m_lb_waddr, m_lb_raddr, s_lb_waddr, s_lb_raddr = _u(16), _u(16), _u(16), _u(16)
    m_lb_wdata, s_lb_wdata = _u(8 * ACT_WORD), _u(8 * ACT_WORD)
    lb_wdata, lb_q = _u(8 * ACT_WORD), _u(8 * ACT_WORD)
    # vector-op output chunks: v_k is the chunk presented next (lx, or lx + 1 when an upsample chunk
    # is taken now), v_cnt its bytes; upsample chunk k is the bytes from byte (16 * k) >> lf of the
    # line buffer on, each repeated factor = 2**lf times
    lf = _u(3)
    v_k = _u(16)
    up_off = _u(20)
    up_sh = _u(8 * ACT_WORD)
    up_word = _u(8 * ACT_WORD)
    # upsample source words: up_cur holds the word of the chunk presented now; lb_q is read one word
    # ahead (lb_raddr), so the chunk after a word boundary comes from lb_q with no bubble
    up_cur = _u(8 * ACT_WORD)
    up_next = Signal(bool(0))  # the chunk presented next starts a word: it comes from lb_q
    v_nk, v_last = _u(16), _u(LWB + 1)  # chunks of an output row, bytes of its last one
    v_cnt = _u(LWB + 1)
    # the counter record being written (from the counters unit, rtl.counters, at K_PACK)
    krec = _u(REC_BITS)
    retire = Signal(bool(0))  # E_WAIT: the engine's tile is done and the previous tile stored

    bank_out = _u(8 * ACT_WORD * R)  # the word of the bank being stored, in the low bits

    @always_comb
    def more_tiles():
        more.next = cur_ox0 + cur_sw < wo or cur_oy0 + cur_bo < hov

    @always_comb
    def select_bank():
        bank_out.next = e_rd_data >> concat(s_bank, intbv(0)[LWB + 3:])

    @always_comb
    def gearbox():
        # a word leaves when gb holds one, or the rest once the command's last chunk is in
        g_emit.next = gfill >= ACT_WORD or (gdone and gfill != 0)
        g_last.next = gdone and gfill != 0 and gfill <= ACT_WORD
        if gfill >= ACT_WORD:
            g_rem.next = gfill - ACT_WORD
        elif gdone:
            g_rem.next = 0
        else:
            g_rem.next = gfill
        rd_take.next = ((state == st.A_RX or state == st.V_RX or state == st.W_RX or state == st.M_RX or bg)
                        and rd_cnt != 0 and not gdone)

    @always(clk.posedge)
    def gearbox_regs():  # emptied before a load (B_CHK, V_RDCMD, ...), filled by its chunks
        if (state == st.B_CHK or state == st.V_RDCMD or state == st.W_CMD or state == st.V_WRCMD
                or state == st.M_RDCMD):
            gb.next = 0
            gfill.next = 0
            gdone.next = 0
        elif state == st.A_RX or state == st.V_RX or state == st.W_RX or state == st.M_RX or bg:
            if rd_take:
                gb.next = g_next
                gfill.next = g_rem + rd_cnt
                gdone.next = rd_tail
            elif g_last:  # a row's last word leaves: empty for the next row of a 2-D command
                gb.next = 0
                gfill.next = 0
                gdone.next = 0
            elif g_emit:
                gb.next = gb >> 8 * ACT_WORD
                gfill.next = g_rem

    @always_comb
    def gearbox_data():
        if gfill >= ACT_WORD:
            g_next.next = (gb >> 8 * ACT_WORD) | (rd_word << concat(g_rem, intbv(0)[3:]))
        else:
            g_next.next = gb | (rd_word << concat(g_rem, intbv(0)[3:]))

    @always_comb
    def store_stream():
        s_pop.next = wr_wvalid and wr_wready
        if wr_wvalid and wr_wready:
            s_keep.next = scnt - 1
        else:
            s_keep.next = scnt
        # room for the read: what stays, what arrives now, what is in flight, and this read
        s_issue.next = sst == ss.SS_DATA and ip <= s_lastw and s_keep + sq2 + sq1 < 3
        # this read's byte count: the first chunk from s_off, whole words, the last up to the end
        # (separate ifs: MyHDL turns an if/elif chain on ip into a case statement with a wrong label)
        s_c.next = ACT_WORD
        if ip == s_lastw:
            s_c.next = s_lastc
        if ip == 0:
            s_c.next = s_first

    @always_comb
    def store_chunk():
        if s_pool:  # the pooled bytes, from the line buffer
            s_in.next = lb_q
        elif s_up:
            s_in.next = s_upw
        elif sf2:
            s_in.next = bank_out[8 * ACT_WORD:] >> concat(s_off, intbv(0)[3:])
        else:
            s_in.next = bank_out[8 * ACT_WORD:]

    @always(clk.posedge)
    def line_buffer():
        if lb_we:
            lb[lb_waddr[LBW:]].next = lb_wdata
        lb_q.next = lb[lb_raddr[LBW + LWB:LWB]]

    @always_comb
    def stacked_next():
        s_adv.next = sg + 1 < factor and s_row0 + sg + 1 < ho
        if sg + 1 < factor and s_row0 + sg + 1 < ho:
            s_nv.next = s_ch + 1
        else:
            s_nv.next = s_ch + factor - sg

    @always_comb
    def vector_read_row():
        if state == st.V_WRCMD:
            v_ry.next = y + 1
        else:
            v_ry.next = y
        v_more.next = (op == 2 and y + 1 < ho) or ((op == 3 or op == 4) and y + 1 < h)

    @always_comb
    def vector_read():
        if op == 2:  # two input rows per output row, each from a whole word
            v_raddr.next = chan_addr + concat(v_ry, intbv(0)[1:]) * w
            v_rrows.next = 2
        else:
            v_raddr.next = chan_addr + v_ry * w
            v_rrows.next = 1

    @always_comb
    def line_halves():
        if lbh:
            lb_base.next = LINE_HALF
            lbw_cur.next = LINE_HALF_WORDS
            lbw_oth.next = 0
        else:
            lb_base.next = 0
            lbw_cur.next = 0
            lbw_oth.next = LINE_HALF_WORDS

    @always_comb
    def next_chunk():
        if state == st.V_DATA and wr_wvalid and wr_wready:
            v_k.next = lx + 1
        else:
            v_k.next = lx

    @always_comb
    def chunk_offset():
        up_off.next = concat(v_k, intbv(0)[LWB:]) >> lf
        if v_k == v_nk - 1:
            v_cnt.next = v_last
        else:
            v_cnt.next = ACT_WORD

    @always_comb
    def upsample_source():
        up_next.next = state == st.V_DATA and (not wr_wvalid or (wr_wready and ((lx + 1) & (factor - 1)) == 0))

    @always_comb
    def upsample_shift():
        if up_next:
            up_sh.next = lb_q >> concat(up_off[LWB:], intbv(0)[3:])
        else:
            up_sh.next = up_cur >> concat(up_off[LWB:], intbv(0)[3:])

    @always_comb
    def store_up_word():
        sh = intbv(0)[8 * ACT_WORD:]
        sh[:] = bank_out[8 * ACT_WORD:] >> concat(uo2, intbv(0)[3:])
        o = intbv(0)[8 * ACT_WORD:]
        for i in range(8 * ACT_WORD):
            o[i] = sh[((i >> (3 + ulf)) << 3) | (i & 7)]
        s_upw.next = o

    @always_comb
    def pool_operands():
        if op == 1:  # a conv's fused pool: the even row's word above (pool_fusable) and the odd row's
            pa0.next = lb_q
            if wpr == 1:
                pa0.next = th1
            if wpr == 2:
                pa0.next = th2
            pc0.next = s_in
            pxz.next = yzp
            pyz.next = pzp
        else:
            pa0.next = pw00
            pc0.next = pw10
            pxz.next = xzp
            pyz.next = yzp
        pa1.next = pw01
        pc1.next = lb_q

    @always_comb
    def avgpool_word():
        # output byte j of chunk m: round_half_even((x[2j] + x[2j+1] + x'[2j] + x'[2j+1]
        # + 4*(y_zp - x_zp)) / 4), saturated (golden.contract), from row 0's words 2m, 2m+1 (pw00,
        # pw01) and row 1's (pw10, and lb_q, the last one read): pa0, pa1, pc0, pc1 (pool_operands);
        # a conv's fused pool uses the low half
        o = intbv(0)[8 * ACT_WORD:]
        a = intbv(0, min=-128, max=128)
        b = intbv(0, min=-128, max=128)
        c = intbv(0, min=-128, max=128)
        d = intbv(0, min=-128, max=128)
        v = intbv(0, min=-4096, max=4096)
        q = intbv(0, min=-1024, max=1024)
        e = intbv(0)[8:]
        for j in range(ACT_WORD):
            for i in range(8):
                if j < ACT_WORD // 2:
                    a[i] = pa0[16 * j + i]
                    b[i] = pa0[16 * j + 8 + i]
                    c[i] = pc0[16 * j + i]
                    d[i] = pc0[16 * j + 8 + i]
                else:
                    a[i] = pa1[16 * j - 8 * ACT_WORD + i]
                    b[i] = pa1[16 * j - 8 * ACT_WORD + 8 + i]
                    c[i] = pc1[16 * j - 8 * ACT_WORD + i]
                    d[i] = pc1[16 * j - 8 * ACT_WORD + 8 + i]
            v[:] = a + b + c + d + 4 * pyz - 4 * pxz
            q[:] = v >> 2
            if v[2:] == 3 or (v[2:] == 2 and q[0] == 1):
                q[:] = q + 1
            if q > 127:
                e[:] = 127
            elif q < -128:
                e[:] = 128
            else:
                e[:] = q[8:]
            for i in range(8):
                o[8 * j + i] = e[i]
        pool_word.next = o

    @always_comb
    def argmax_segment():
        if w - m_x0 > strip:
            m_len.next = strip
            m_nw.next = strip >> LWB
        else:
            m_len.next = w - m_x0
            m_nw.next = (w - m_x0 + ACT_WORD - 1) >> LWB

    @always_comb
    def argmax_lanes():
        # byte j of the word read (channel m_c2) against the running maximum: a greater one (or
        # channel 0's) takes its place and its channel index
        nv = intbv(0)[8 * ACT_WORD:]
        ni = intbv(0)[8 * ACT_WORD:]
        a = intbv(0, min=-128, max=128)
        b = intbv(0, min=-128, max=128)
        for j in range(ACT_WORD):
            for i in range(8):
                a[i] = lb_q[8 * j + i]
                b[i] = am_v[8 * j + i]
            if m_c2 == 0 or a > b:
                for i in range(8):
                    nv[8 * j + i] = lb_q[8 * j + i]
                    ni[8 * j + i] = m_c2[i]
            else:
                for i in range(8):
                    nv[8 * j + i] = am_v[8 * j + i]
                    ni[8 * j + i] = am_i[8 * j + i]
        am_nv.next = nv
        am_ni.next = ni

    @always_comb
    def upsample_word():
        o = intbv(0)[8 * ACT_WORD:]
        for i in range(8 * ACT_WORD):
            o[i] = up_sh[((i >> (3 + lf)) << 3) | (i & 7)]
        up_word.next = o

    was_busy = Signal(bool(0))

    @always(clk.posedge)
    def interrupt():  # rises when a run ends (done or error) if enabled; cleared by ack or start
        was_busy.next = busy
        if rst or start or irq_ack:
            irq.next = 0
        elif was_busy and not busy and irq_en:
            irq.next = 1


    @always_comb
    def group_rows():
        if cout - co0 < group:
            g_rows.next = cout - co0 + R - 1
        else:
            g_rows.next = group + R - 1

    @always_comb
    def tile_count():
        t_prod.next = g_rows * TMUL

    @always_comb
    def tile_retire():
        retire.next = state == st.E_WAIT and e_done and not eng_active and store_idle

    @always_comb
    def store_status():
        store_idle.next = sst == ss.SS_IDLE and not store_go
        store_werr.next = wr_err and state != st.FAIL and (sst == ss.SS_CMD or sst == ss.SS_DATA
                                                           or sst == ss.SS_DONE or sst == ss.SS_WAIT)

    @always_comb
    def write_ports():  # the store's while it runs, else the main state machine's
        if sst == ss.SS_IDLE:
            wr_cmd_valid.next = m_wr_cmd_valid
            wr_cmd_addr.next = m_wr_cmd_addr
            wr_cmd_len.next = m_wr_cmd_len
            wr_word.next = m_wr_word
            wr_cnt.next = m_wr_cnt
            wr_wvalid.next = m_wr_wvalid
        else:
            wr_cmd_valid.next = s_wr_cmd_valid
            wr_cmd_addr.next = s_wr_cmd_addr
            wr_cmd_len.next = s_wr_cmd_len
            wr_word.next = s_wr_word
            wr_cnt.next = s_wr_cnt
            wr_wvalid.next = s_wr_wvalid

    @always_comb
    def line_buffer_ports():  # likewise (the store uses it for a fused pool)
        if sst == ss.SS_IDLE:
            lb_we.next = m_lb_we
            lb_waddr.next = m_lb_waddr
            lb_raddr.next = m_lb_raddr
            lb_wdata.next = m_lb_wdata
        else:
            lb_we.next = s_lb_we
            lb_waddr.next = s_lb_waddr
            lb_raddr.next = s_lb_raddr
            lb_wdata.next = s_lb_wdata

    @always_comb
    def activity():
        """What this cycle is charged to (rtl.counters): engine cycles while the engine runs; while it is
        idle, a stall charged to what the controller waits on (fetching, loading, storing)."""
        if eng_active:
            c_activity.next = A_ENGINE
        elif state == st.DESC_CMD or state == st.DESC_RX or state == st.DECODE or state == st.CHECK:
            c_activity.next = A_FETCH
        elif (state == st.W_CMD or state == st.W_RX or state == st.C_CMD or state == st.C_RX
              or state == st.A_RX or state == st.V_RDCMD or state == st.V_RX
              or state == st.V_LDWAIT or state == st.M_RDCMD or state == st.M_RX):
            c_activity.next = A_LOAD
        elif (sst == ss.SS_DRAIN or sst == ss.SS_CMD or sst == ss.SS_DATA or sst == ss.SS_DONE or sst == ss.SS_WAIT
              or state == st.V_WRCMD or state == st.V_ADDR or state == st.V_DATA or state == st.P_RD
              or state == st.P_OUT or state == st.V_DONE or state == st.M_CMP):
            c_activity.next = A_STORE
        else:
            c_activity.next = A_OTHER

    @always_comb
    def counter_strobes():
        c_run_clear.next = state == st.IDLE and start
        c_layer_clear.next = state == st.DESC_CMD
        c_steps_valid.next = retire
        c_rec_latch.next = state == st.K_START

    @always(clk.posedge)
    def fsm():
        rd_cmd_valid.next = 0
        m_wr_cmd_valid.next = 0
        e_wr_en.next = 0
        e_start.next = 0
        m_lb_we.next = 0
        store_go.next = 0
        if rst:
            state.next = st.IDLE
            busy.next = 0
            done.next = 0
            err.next = 0
            err_code.next = 0
            rd_ready.next = 0
            wr_valid.next = 0
            m_wr_wvalid.next = 0
            prow.next = 0
            bg.next = 0
            pf.next = 0
            lbh.next = 0
            m_iss.next = 0  # no argmax read or compare in flight
            m_v1.next = 0
            m_v2.next = 0
        else:
            if eng_active and not e_done:
                eng_low.next = 1
            if eng_active and eng_low and e_done:
                eng_active.next = 0

            if bg or state == st.V_RX or state == st.M_RX:  # a line-buffer load (background: the other half)
                if g_emit:
                    m_lb_we.next = 1
                    m_lb_waddr.next = lbw
                    m_lb_wdata.next = gb[8 * ACT_WORD:]
                    lbw.next = lbw + 1
                if g_last:
                    if op == 2 and not prow:  # avgpool's second row follows in the same command
                        prow.next = 1
                    elif bg and op == 4 and m_rc != cin - 1:  # argmax: the next channel's segment
                        m_rc.next = m_rc + 1
                    else:
                        prow.next = 0
                        bg.next = 0

            if state == st.IDLE:
                rd_ready.next = 0
                wr_valid.next = 0
                m_wr_wvalid.next = 0
                if start:
                    busy.next = 1
                    done.next = 0
                    err.next = 0
                    err_code.next = 0
                    state.next = st.HDR_CMD

            # ---- program header: magic "HDNA", layer count, descriptor desc_table address
            elif state == st.HDR_CMD:
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = prog_base
                rd_cmd_len.next = HDR_BYTES
                rd_cmd_rows.next = 1
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    rd_ready.next = 1
                    state.next = st.HDR_RX
            elif state == st.HDR_RX:
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif rd_valid:
                    hdr.next = concat(rd_data, hdr[8 * HDR_BYTES:8])
                    if rd_last:
                        rd_ready.next = 0
                        state.next = st.HDR_CHK
            elif state == st.HDR_CHK:
                nlayers.next = hdr[HNL_H:HNL_L]
                desc_table.next = hdr[HTB_H:HTB_L]
                layer.next = 0
                if hdr[HMG_H:HMG_L] != MAGIC_WORD or hdr[HDS_H:HDS_L] != DESCRIPTOR.size:
                    err_code.next = E_HEADER
                    state.next = st.FAIL
                elif hdr[HNL_H:HNL_L] == 0:
                    state.next = st.IDLE
                    busy.next = 0
                    done.next = 1
                else:
                    state.next = st.DESC_CMD

            # ---- descriptor fetch and decode
            elif state == st.DESC_CMD:
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = desc_table + concat(layer, intbv(0)[DESC_SHIFT:])
                rd_cmd_len.next = DESC_BYTES
                rd_cmd_rows.next = 1
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    rd_ready.next = 1
                    state.next = st.DESC_RX
            elif state == st.DESC_RX:
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif rd_valid:
                    desc.next = concat(rd_data, desc[8 * DESC_BYTES:8])
                    if rd_last:
                        rd_ready.next = 0
                        state.next = st.DECODE
            elif state == st.DECODE:
                op.next = desc[OP_H:OP_L]
                ksz.next = desc[KS_H:KS_L]
                stride.next = desc[ST_H:ST_L]
                cin.next = desc[CI_H:CI_L]
                cout.next = desc[CO_H:CO_L]
                h.next = desc[HH_H:HH_L]
                w.next = desc[WW_H:WW_L]
                ho.next = desc[HO_H:HO_L]
                wo.next = desc[WO_H:WO_L]
                xzp.next = desc[XZ_H:XZ_L].signed()
                yzp.next = desc[YZ_H:YZ_L].signed()
                qmin.next = desc[QN_H:QN_L].signed()
                qmax.next = desc[QX_H:QX_L].signed()
                factor.next = desc[FA_H:FA_L]
                if desc[FA_H:FA_L] == 16:
                    lf.next = 4
                elif desc[FA_H:FA_L] == 8:
                    lf.next = 3
                elif desc[FA_H:FA_L] == 4:
                    lf.next = 2
                elif desc[FA_H:FA_L] == 2:
                    lf.next = 1
                else:
                    lf.next = 0
                nseg.next = desc[NS_H:NS_L]
                cur_layer.next = desc[LY_H:LY_L]  # the layer's index in the program: names its counter record
                group.next = desc[GR_H:GR_L]
                band.next = desc[BA_H:BA_L]
                strip.next = desc[SP_H:SP_L]
                fpool.next = desc[F_POOL]
                fused.next = desc[F_FUSED]
                aux.next = desc[AX_H:AX_L]
                pzp.next = desc[PZ_H:PZ_L].signed()
                fup.next = desc[F_UP]
                u_last.next = desc[UF_H:UF_L] - 1
                u_f2.next = desc[UF_H:UF_L] * desc[UF_H:UF_L]
                if desc[UF_H:UF_L] == 4:
                    ulf.next = 2
                elif desc[UF_H:UF_L] == 2:
                    ulf.next = 1
                else:
                    ulf.next = 0
                w_addr.next = desc[WA_H:WA_L]
                c_addr.next = desc[CA_H:CA_L]
                o_addr.next = desc[OA_H:OA_L]
                segs.next = desc[SEGS_H:SEGS_L]
                khv = intbv(0)[16:]  # the kernel's rows: k + (G - 1) * stride (stacked rows, G = factor)
                khv[:] = desc[KS_H:KS_L] + (desc[FA_H:FA_L] - 1) * desc[ST_H:ST_L]
                K.next = desc[CI_H:CI_L] * khv * desc[KS_H:KS_L]
                kh.next = khv
                sy.next = desc[FA_H:FA_L] * desc[ST_H:ST_L]
                hov.next = desc[HV_H:HV_L]
                HoWo.next = desc[HO_H:HO_L] * desc[WO_H:WO_L]
                ipitch.next = desc[IPT_H:IPT_L]
                opitch.next = desc[OPT_H:OPT_L]
                apitch.next = desc[APT_H:APT_L]
                pad.next = desc[PAD_H:PAD_L]
                state.next = st.CHECK
            elif state == st.CHECK:
                Kw.next = (K + ACT_WORD - 1) >> LWB
                wpr.next = wo >> LWB
                u_cpr.next = (wo << ulf) >> LWB
                u_cb.next = ACT_WORD >> ulf
                stk.next = op == 1 and factor > 1
                s_rp.next = factor * wo
                if op != 1 and op != 2 and op != 3 and op != 4:
                    err_code.next = E_OP
                    state.next = st.FAIL
                elif op == 1 and ((ksz != 1 and ksz != 3) or (stride != 1 and stride != 2) or factor == 0):
                    err_code.next = E_CONV_SHAPE
                    state.next = st.FAIL
                elif op == 3 and factor != 2 and factor != 4 and factor != 8 and factor != 16:
                    err_code.next = E_SCALE
                    state.next = st.FAIL
                elif nseg == 0 or nseg > MAX_SEGMENTS:
                    err_code.next = E_SEGMENTS
                    state.next = st.FAIL
                elif ipitch > DMA_MAX or HoWo > DMA_MAX:  # a 2-D load's pitch, a vector op's write
                    err_code.next = E_PLANE
                    state.next = st.FAIL
                elif op == 1 and (group == 0 or band == 0 or strip == 0):
                    err_code.next = E_CONV_TILE
                    state.next = st.FAIL
                elif op == 1 and ((K + ACT_WORD - 1) >> LWB) << LWB > wgt_depth:
                    err_code.next = E_WEIGHT_BANK
                    state.next = st.FAIL
                elif op == 1 and factor > 1 and (cout > R or group != cout):  # stacked: one tile
                    err_code.next = E_STACKED
                    state.next = st.FAIL
                elif op == 1 and fpool and (factor != 1 or strip != wo or wo[LWB:] != 0 or ho[0] or band[0]
                                            or 2 * wo > line_depth or band * wo > 2 * line_depth):
                    err_code.next = E_FUSED_POOL  # whole rows of words, even bands, the line buffer
                    state.next = st.FAIL
                elif op == 1 and fup and (strip != wo or ulf == 0 or fpool or ((wo << ulf) & (ACT_WORD - 1)) != 0):
                    err_code.next = E_FUSED_UP  # whole rows of whole chunks
                    state.next = st.FAIL
                elif (op == 2 or op == 3) and fused:  # computed by convs before it: only the counter record
                    state.next = st.K_START
                elif op == 2 and 4 * w > line_depth:  # two rows in each half
                    err_code.next = E_POOL_ROW
                    state.next = st.FAIL
                elif op == 3 and 2 * w > line_depth:
                    err_code.next = E_UP_ROW
                    state.next = st.FAIL
                elif op == 4 and (factor != 1 and factor != 2 and factor != 4 and factor != 8 and factor != 16):
                    err_code.next = E_SCALE
                    state.next = st.FAIL
                elif op == 4 and (nseg != 1 or cin < 2 or strip == 0 or strip[LWB:] != 0
                                  or cin * strip > LINE_HALF or 2 * w > line_depth):
                    err_code.next = E_ARGMAX  # one tensor, every channel's segment and the labels in a half
                    state.next = st.FAIL
                elif op == 1:
                    co0.next = 0
                    state.next = st.G_START
                else:
                    ch.next = 0
                    y.next = 0
                    ridx.next = 0
                    prow.next = 0
                    segw.next = segs
                    seg_ch.next = segs[SC_H:SC_L]
                    chan_addr.next = segs[SA_H:SA_L]
                    ochan.next = o_addr
                    state.next = st.V_ROW

            # ---- conv: output-channel groups
            elif state == st.G_START:
                if cout - co0 < group:
                    gc.next = cout - co0
                else:
                    gc.next = group
                ntile.next = t_prod[TSHIFT + 16:TSHIFT]
                state.next = st.G_CHK
            elif state == st.G_CHK:
                if ntile * (Kw << LWB) > wgt_depth or ntile > const_depth:
                    err_code.next = E_GROUP_BANKS
                    state.next = st.FAIL
                else:
                    wi.next = 0
                    bank.next = 0
                    tbase.next = 0
                    state.next = st.W_CMD
            elif state == st.W_CMD:  # the group's weights, each channel's in whole words, a beat per cycle
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = w_addr + concat(co0 * Kw, intbv(0)[LWB:])
                rd_cmd_len.next = concat(gc * Kw, intbv(0)[LWB:])
                rd_cmd_rows.next = 1
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    state.next = st.W_RX
            elif state == st.W_RX:  # word i of channel co0 + t*R + bank -> bank, word t*Kw + i (gearbox)
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                else:
                    if g_emit:
                        e_wr_en.next = 1
                        e_wr_sel.next = 1
                        e_wr_bank.next = bank
                        e_wr_addr.next = tbase + wi
                        e_wr_data.next = gb[8 * ACT_WORD:]
                        if wi == Kw - 1:
                            wi.next = 0
                            if bank == R - 1:
                                bank.next = 0
                                tbase.next = tbase + Kw
                            else:
                                bank.next = bank + 1
                        else:
                            wi.next = wi + 1
                    if g_last:
                        bank.next = 0
                        tbase.next = 0
                        cb.next = 0
                        state.next = st.C_CMD
            elif state == st.C_CMD:
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = c_addr + concat(co0, intbv(0)[3:])
                rd_cmd_len.next = concat(gc, intbv(0)[3:])
                rd_cmd_rows.next = 1
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    rd_ready.next = 1
                    state.next = st.C_RX
            elif state == st.C_RX:  # 8 bytes: bias i32, mantissa u24, exponent i8 -> one 66-bit word
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif rd_valid:
                    cbuf.next = concat(rd_data, cbuf[64:8])
                    if cb == 7:
                        cb.next = 0
                        e_wr_en.next = 1
                        e_wr_sel.next = 2
                        e_wr_bank.next = bank
                        e_wr_addr.next = tbase
                        e_wr_data.next = concat(cbuf[40:8], cbuf[64:40], rd_data[7], rd_data[7], rd_data)
                        if bank == R - 1:
                            bank.next = 0
                            tbase.next = tbase + 1
                        else:
                            bank.next = bank + 1
                    else:
                        cb.next = cb + 1
                    if rd_last:
                        rd_ready.next = 0
                        oy0.next = 0
                        ox0.next = 0
                        ld_half.next = 0
                        have_prev.next = 0
                        nxt.next = 0
                        state.next = st.B_START

            # ---- conv: bands of output rows, double-buffered. The engine computes band n from one
            # half of the activation buffer and output banks while the controller stores band n-1
            # and loads band n+1 into the other halves.
            elif state == st.B_START:  # the next tile: bo output rows from oy0, sw columns from ox0
                if hov - oy0 < band:
                    bo.next = hov - oy0
                else:
                    bo.next = band
                if wo - ox0 < strip:
                    sw.next = wo - ox0
                else:
                    sw.next = strip
                state.next = st.B_ROWS
            elif state == st.B_ROWS:
                # input rows [oy0*s - pad, (oy0+bo-1)*s - pad + k) and columns likewise, clipped
                if oy0 * sy < pad:
                    iy_lo.next = 0
                    pad_top.next = 1
                    if (oy0 + bo - 1) * sy - pad + kh > h:
                        rows_in.next = h
                    else:
                        rows_in.next = (oy0 + bo - 1) * sy - pad + kh
                else:
                    iy_lo.next = oy0 * sy - pad
                    pad_top.next = 0
                    if (oy0 + bo - 1) * sy - pad + kh > h:
                        rows_in.next = h - (oy0 * sy - pad)
                    else:
                        rows_in.next = (bo - 1) * sy + kh
                if ox0 * stride < pad:
                    ix_lo.next = 0
                    pad_left.next = 1
                    if (ox0 + sw - 1) * stride - pad + ksz > w:
                        cols_in.next = w
                    else:
                        cols_in.next = (ox0 + sw - 1) * stride - pad + ksz
                else:
                    ix_lo.next = ox0 * stride - pad
                    pad_left.next = 0
                    if (ox0 + sw - 1) * stride - pad + ksz > w:
                        cols_in.next = w - (ox0 * stride - pad)
                    else:
                        cols_in.next = (sw - 1) * stride + ksz
                state.next = st.B_PITCH
            elif state == st.B_PITCH:  # whole rows: one 2-D command a segment; a strip: one a channel
                if cols_in == w:
                    rpitch.next = w
                    cpitch.next = ((rows_in * w + ACT_WORD - 1) >> LWB) << LWB
                else:
                    rpitch.next = ((cols_in + ACT_WORD - 1) >> LWB) << LWB
                    cpitch.next = rows_in * (((cols_in + ACT_WORD - 1) >> LWB) << LWB)
                state.next = st.B_CHK
            elif state == st.B_CHK:
                if cin * cpitch > ACT_HALF or ntile * bo * sw > OUT_HALF:
                    err_code.next = E_BAND_BUFFERS
                    state.next = st.FAIL
                else:
                    apos.next = ld_half * (ACT_HALF // ACT_WORD)  # a word address
                    ridx.next = 0
                    segw.next = segs
                    seg_ch.next = segs[SC_H:SC_L]
                    chan_addr.next = segs[SA_H:SA_L] + iy_lo * w + ix_lo
                    row_addr.next = segs[SA_H:SA_L] + iy_lo * w + ix_lo
                    r.next = 0
                    lu.next = 0
                    ch.next = 0
                    iss_more.next = 1
                    state.next = st.A_RX
            elif state == st.A_RX:  # the tile's load commands offered back to back (ce_axi_rd takes the
                # next while the one before still streams in), their rows received a buffer word a cycle
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                else:
                    # the tile's rows of a segment's channels (whole rows: one 2-D command, a channel's
                    # rows_in * w bytes a row, ipitch apart) or of one channel (a strip)
                    if rd_cmd_valid and rd_cmd_ready:
                        rd_cmd_valid.next = 0
                        if cols_in != w and ch + 1 < seg_ch:  # the next channel of a strip
                            ch.next = ch + 1
                            chan_addr.next = chan_addr + ipitch
                            row_addr.next = chan_addr + ipitch
                        elif ridx + 1 < nseg:  # the next segment
                            ridx.next = ridx + 1
                            ch.next = 0
                            seg_ch.next = segw[S1C_H:S1C_L]
                            chan_addr.next = segw[S1A_H:S1A_L] + iy_lo * w + ix_lo
                            row_addr.next = segw[S1A_H:S1A_L] + iy_lo * w + ix_lo
                            segw.next = concat(intbv(0)[SEG_BITS:], segw[SEGS_BITS:SEG_BITS])
                        else:
                            iss_more.next = 0
                    elif iss_more and not rd_cmd_valid:
                        rd_cmd_valid.next = 1
                        rd_cmd_addr.next = row_addr
                        if cols_in == w:
                            rd_cmd_len.next = rows_in * w
                            rd_cmd_rows.next = seg_ch
                            rd_cmd_pitch.next = ipitch[DMA.len_bits:]  # a plane past the command pitch: refused (hwspec.checks)
                        else:
                            rd_cmd_pitch.next = w
                            rd_cmd_len.next = cols_in
                            rd_cmd_rows.next = rows_in
                    if g_emit:
                        e_wr_en.next = 1
                        e_wr_sel.next = 0
                        e_wr_addr.next = apos
                        e_wr_data.next = gb[8 * ACT_WORD:]
                        apos.next = apos + 1
                    # a row in (the gearbox starts the next on a new word): whole rows, cin rows in all
                    # (r); a strip, rows_in rows (r) of each of cin channels (lu)
                    if g_last:
                        if cols_in != w and r + 1 == rows_in and lu + 1 != cin:
                            r.next = 0
                            lu.next = lu + 1
                        elif (cols_in == w and r + 1 == cin) or (cols_in != w and r + 1 == rows_in):
                            state.next = st.A_SEG
                        else:
                            r.next = r + 1
            elif state == st.A_SEG:  # the tile is loaded
                if nxt:
                    state.next = st.E_WAIT  # the next tile is in: wait for the engine's current one
                else:
                    cur_oy0.next = oy0
                    cur_bo.next = bo
                    cur_rows.next = rows_in
                    cur_ptop.next = pad_top
                    cur_ox0.next = ox0
                    cur_sw.next = sw
                    cur_cols.next = cols_in
                    cur_pleft.next = pad_left
                    cur_rp.next = rpitch
                    cur_cp.next = cpitch
                    cur_half.next = ld_half
                    ridx.next = 0
                    state.next = st.REGS
            elif state == st.REGS:  # engine layer registers, one per cycle (hwspec.formats.LAYER_REGS)
                e_wr_en.next = 1
                e_wr_sel.next = 3
                e_wr_addr.next = ridx
                if ridx == REG_CIN:
                    e_wr_data.next = cin
                elif ridx == REG_H:
                    e_wr_data.next = cur_rows
                elif ridx == REG_W:
                    e_wr_data.next = cur_cols
                elif ridx == REG_COUT:
                    e_wr_data.next = gc
                elif ridx == REG_HO:
                    e_wr_data.next = cur_bo
                elif ridx == REG_WO:
                    e_wr_data.next = cur_sw
                elif ridx == REG_K:
                    e_wr_data.next = ksz
                elif ridx == REG_STRIDE:
                    e_wr_data.next = stride
                elif ridx == REG_PAD:
                    e_wr_data.next = pad
                elif ridx == REG_X_ZP:
                    e_wr_data.next = xzp[8:]
                elif ridx == REG_Y_ZP:
                    e_wr_data.next = yzp[8:]
                elif ridx == REG_QMIN:
                    e_wr_data.next = qmin[8:]
                elif ridx == REG_QMAX:
                    e_wr_data.next = qmax[8:]
                elif ridx == REG_PAD_TOP:
                    e_wr_data.next = cur_ptop
                elif ridx == REG_ACT_BASE:
                    e_wr_data.next = cur_half * ACT_HALF
                elif ridx == REG_OUT_BASE:
                    e_wr_data.next = cur_half * OUT_HALF
                elif ridx == REG_PAD_LEFT:
                    e_wr_data.next = cur_pleft
                elif ridx == REG_ROW_PITCH:
                    e_wr_data.next = cur_rp
                elif ridx == REG_CHAN_PITCH:
                    e_wr_data.next = cur_cp
                elif ridx == REG_K_ROWS:
                    e_wr_data.next = kh
                elif ridx == REG_ROW_STRIDE:
                    e_wr_data.next = sy
                else:
                    e_wr_data.next = more  # chain: the group's next run follows
                if ridx == N_REGS - 1:
                    ridx.next = 0
                    state.next = st.E_START
                else:
                    ridx.next = ridx + 1
            elif state == st.E_START:
                e_start.next = 1
                eng_active.next = 1
                eng_low.next = 0
                ewait.next = 0
                state.next = st.E_WAIT0
            elif state == st.E_WAIT0:  # the engine clears done one cycle after start
                ewait.next = ewait + 1
                if ewait == 2:
                    if have_prev:
                        store_go.next = 1  # store the previous tile while this one loads the next
                    state.next = st.B_NEXT
            elif state == st.B_NEXT:  # load the next tile (into the other half) while the engine runs
                if cur_ox0 + cur_sw < wo:
                    oy0.next = cur_oy0
                    ox0.next = cur_ox0 + cur_sw
                    ld_half.next = not cur_half
                    nxt.next = 1
                    state.next = st.B_START
                elif cur_oy0 + cur_bo < hov:
                    oy0.next = cur_oy0 + cur_bo
                    ox0.next = 0
                    ld_half.next = not cur_half
                    nxt.next = 1
                    state.next = st.B_START
                else:
                    state.next = st.E_WAIT
            elif state == st.E_WAIT:  # the engine's tile done and the previous tile stored
                if retire:
                    prev_oy0.next = cur_oy0
                    prev_bo.next = cur_bo
                    prev_ox0.next = cur_ox0
                    prev_sw.next = cur_sw
                    prev_half.next = cur_half
                    prev_chn.next = more
                    have_prev.next = 1
                    if nxt:  # the next tile was loaded: run it, store this one meanwhile
                        nxt.next = 0
                        cur_oy0.next = oy0
                        cur_bo.next = bo
                        cur_rows.next = rows_in
                        cur_ptop.next = pad_top
                        cur_ox0.next = ox0
                        cur_sw.next = sw
                        cur_cols.next = cols_in
                        cur_pleft.next = pad_left
                        cur_rp.next = rpitch
                        cur_cp.next = cpitch
                        cur_half.next = ld_half
                        ridx.next = 0
                        state.next = st.REGS
                    else:  # last tile of the group: store it with nothing to overlap
                        store_go.next = 1
                        state.next = st.G_NEXT
            elif state == st.G_NEXT:  # once the group's last tile is stored
                if store_idle:
                    if co0 + gc >= cout:
                        state.next = st.K_START
                    else:
                        co0.next = co0 + gc
                        state.next = st.G_START

            # ---- avgpool 2x2 / upsample nearest, row by row through the line buffer
            elif state == st.V_ROW:  # this row's input: loaded in the background, or load it now
                if op == 4:  # argmax: the row's segments, its labels into the upper half; on every row
                    lbh.next = 1  # but the first, the first segment was loaded in the background (pf)
                    m_x0.next = 0
                    m_xw.next = 0
                    if pf:
                        pf.next = 0
                        state.next = st.V_LDWAIT
                    else:
                        state.next = st.M_RDCMD
                elif pf:
                    pf.next = 0
                    lbh.next = not lbh
                    if bg:
                        state.next = st.V_LDWAIT
                    else:
                        state.next = st.V_WRCMD
                else:
                    state.next = st.V_RDCMD
            elif state == st.V_LDWAIT:  # the background load is still running
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif not bg and op == 4:  # argmax: the first segment's compare pass
                    m_c.next = 0
                    m_x.next = 0
                    m_a.next = 0
                    m_iss.next = 1
                    state.next = st.M_CMP
                elif not bg:
                    state.next = st.V_WRCMD
            elif state == st.V_RDCMD:  # the input row(s) into the line buffer, a beat per cycle
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = v_raddr
                rd_cmd_rows.next = v_rrows
                rd_cmd_pitch.next = w
                rd_cmd_len.next = w
                lbw.next = lbw_cur
                lb_row1.next = (w + ACT_WORD - 1) >> LWB
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    state.next = st.V_RX
            elif state == st.V_RX:  # the word gearbox, as in A_RX, into the line buffer (above)
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif g_last and (op != 2 or prow):  # the last row is in (avgpool's second)
                    state.next = st.V_WRCMD
            elif state == st.V_WRCMD:
                # one write command per channel (its output rows are contiguous in DRAM), issued
                # with its first row; later rows only issue the background load of the row after
                if y == 0:
                    m_wr_cmd_valid.next = 1
                    m_wr_cmd_addr.next = ochan
                    m_wr_cmd_len.next = HoWo
                lx.next = 0
                rr.next = 0
                pstep.next = 0
                v_nk.next = (wo + ACT_WORD - 1) >> LWB  # chunks of an output row (also avgpool's)
                v_last.next = wo - (((wo + ACT_WORD - 1) >> LWB) - 1) * ACT_WORD
                # the next row of the channel loads into the other half while this one is written:
                # its command goes out here (the read DMA is idle: V_LDWAIT waited for the last load);
                # an argmax's next row's first segment, every channel's, into the lower half
                if v_more:
                    rd_cmd_valid.next = 1
                    rd_cmd_addr.next = v_raddr
                    if op == 4:
                        rd_cmd_rows.next = cin
                        rd_cmd_pitch.next = ipitch
                        rd_cmd_len.next = m_len
                        lbw.next = 0
                        m_rc.next = 0
                    else:
                        rd_cmd_rows.next = v_rrows
                        rd_cmd_pitch.next = w
                        rd_cmd_len.next = w
                        lbw.next = lbw_oth
                    if rd_cmd_valid and rd_cmd_ready:
                        rd_cmd_valid.next = 0
                        bg.next = 1
                        pf.next = 1
                if (y == 0 and m_wr_cmd_valid and wr_cmd_ready) or (
                        y != 0 and (not v_more or (rd_cmd_valid and rd_cmd_ready))):
                    m_wr_cmd_valid.next = 0
                    m_lb_raddr.next = lb_base
                    if op == 2:
                        state.next = st.P_RD
                    else:
                        state.next = st.V_ADDR
            elif state == st.V_ADDR:  # the row's word 0 is read; then word 1, ahead
                m_lb_raddr.next = lb_base + ACT_WORD
                state.next = st.V_DATA
            elif state == st.V_DATA:  # upsample: chunk lx of output row rr, up to a word a cycle
                if up_next:  # a word starts: it moves from lb_q to up_cur, the one after it is read
                    up_cur.next = lb_q
                if wr_err:
                    err_code.next = E_DRAM_WRITE
                    state.next = st.FAIL
                elif not m_wr_wvalid:
                    m_wr_wvalid.next = 1
                    m_wr_word.next = up_word
                    m_wr_cnt.next = v_cnt
                elif wr_wready:
                    if lx == v_nk - 1:  # the row is out
                        m_wr_wvalid.next = 0
                        lx.next = 0
                        m_lb_raddr.next = lb_base
                        if rr == factor - 1:
                            state.next = st.V_DONE
                        else:
                            rr.next = rr + 1
                            state.next = st.V_ADDR
                    else:  # the next chunk at once (from lb_q when it starts a word)
                        lx.next = lx + 1
                        m_wr_word.next = up_word
                        m_wr_cnt.next = v_cnt
                        if ((lx + 1) & (factor - 1)) == 0:
                            m_lb_raddr.next = m_lb_raddr + ACT_WORD
            elif state == st.P_RD:  # avgpool chunk lx: read row 0's words 2lx, 2lx+1, row 1's likewise
                if m_wr_wvalid and wr_wready:  # the chunk before is taken meanwhile
                    m_wr_wvalid.next = 0
                pstep.next = pstep + 1
                if pstep == 0:
                    m_lb_raddr.next = lb_base + ((2 * lx + 1) << LWB)
                elif pstep == 1:
                    m_lb_raddr.next = lb_base + ((lb_row1 + 2 * lx) << LWB)
                    pw00.next = lb_q
                elif pstep == 2:
                    m_lb_raddr.next = lb_base + ((lb_row1 + 2 * lx + 1) << LWB)
                    pw01.next = lb_q
                else:
                    pw10.next = lb_q
                    state.next = st.P_OUT
            elif state == st.P_OUT:  # the chunk (lb_q holds the 4th word) once the one before is taken;
                # the next chunk's reads start at once
                if wr_err:
                    err_code.next = E_DRAM_WRITE
                    state.next = st.FAIL
                elif not m_wr_wvalid or wr_wready:
                    m_wr_wvalid.next = 1
                    m_wr_word.next = pool_word
                    m_wr_cnt.next = v_cnt
                    if lx == v_nk - 1:
                        state.next = st.V_DONE
                    else:
                        lx.next = lx + 1
                        m_lb_raddr.next = lb_base + ((lx + 1) << (1 + LWB))
                        pstep.next = 0
                        state.next = st.P_RD
            elif state == st.V_DONE:
                if m_wr_wvalid and wr_wready:  # avgpool's last chunk
                    m_wr_wvalid.next = 0
                if wr_err:
                    err_code.next = E_DRAM_WRITE
                    state.next = st.FAIL
                elif v_more:  # the channel's command goes on: once the row's last chunk is taken,
                    if (not m_wr_wvalid or wr_wready) and op == 4:  # argmax: the next row's segments
                        y.next = y + 1
                        state.next = st.V_ROW
                    elif not m_wr_wvalid or wr_wready:  # the next row (what V_NEXT and V_ROW would do)
                        y.next = y + 1
                        pf.next = 0
                        lbh.next = not lbh  # its input is in the other half (loaded in the background)
                        if bg:
                            state.next = st.V_LDWAIT
                        else:
                            state.next = st.V_WRCMD
                elif wr_done:
                    state.next = st.V_NEXT
            elif state == st.V_NEXT:
                if not v_more:
                    y.next = 0
                    ochan.next = ochan + opitch
                    if op == 4:  # argmax: its one output channel is written
                        state.next = st.K_START
                    elif ch + 1 < seg_ch:
                        ch.next = ch + 1
                        chan_addr.next = chan_addr + ipitch
                        state.next = st.V_ROW
                    elif ridx + 1 < nseg:
                        ridx.next = ridx + 1
                        ch.next = 0
                        seg_ch.next = segw[S1C_H:S1C_L]
                        chan_addr.next = segw[S1A_H:S1A_L]
                        segw.next = concat(intbv(0)[SEG_BITS:], segw[SEGS_BITS:SEG_BITS])
                        state.next = st.V_ROW
                    else:
                        state.next = st.K_START
                else:
                    y.next = y + 1
                    state.next = st.V_ROW

            # ---- argmax: row y's segments through the compare lanes, its labels into the upper half
            elif state == st.M_RDCMD:  # every channel's segment, one 2-D command, a beat per cycle
                rd_cmd_valid.next = 1
                rd_cmd_addr.next = chan_addr + y * w + m_x0
                rd_cmd_rows.next = cin
                rd_cmd_pitch.next = ipitch
                rd_cmd_len.next = m_len
                lbw.next = 0
                m_rc.next = 0
                if rd_cmd_valid and rd_cmd_ready:
                    rd_cmd_valid.next = 0
                    state.next = st.M_RX
            elif state == st.M_RX:  # the word gearbox, as in V_RX, until the last channel's row is in
                if rd_err:
                    err_code.next = E_DRAM_READ
                    state.next = st.FAIL
                elif g_last:
                    m_rc.next = m_rc + 1
                    if m_rc == cin - 1:
                        m_c.next = 0
                        m_x.next = 0
                        m_a.next = 0
                        m_iss.next = 1
                        state.next = st.M_CMP
            elif state == st.M_CMP:  # a word read per cycle; the lanes take it two cycles later
                m_v1.next = m_iss
                m_v2.next = m_v1
                m_c1.next = m_c
                m_c2.next = m_c1
                m_x1.next = m_x
                m_x2.next = m_x1
                if m_iss:
                    m_lb_raddr.next = concat(m_a[16 - LWB:], intbv(0)[LWB:])
                    if m_c == cin - 1:
                        m_c.next = 0
                        m_a.next = m_x + 1
                        m_x.next = m_x + 1
                        if m_x == m_nw - 1:
                            m_iss.next = 0
                    else:
                        m_c.next = m_c + 1
                        m_a.next = m_a + m_nw
                if m_v2:
                    am_v.next = am_nv
                    am_i.next = am_ni
                    if m_c2 == cin - 1:  # word x's labels
                        m_lb_we.next = 1
                        m_lb_waddr.next = LINE_HALF_WORDS + m_xw + m_x2
                        m_lb_wdata.next = am_ni
                        if m_x2 == m_nw - 1:  # the segment's last word: the next segment, or the row is done
                            if m_x0 + m_len < w:
                                m_x0.next = m_x0 + m_len
                                m_xw.next = m_xw + m_nw
                                state.next = st.M_RDCMD
                            else:  # the labels go out (the next row's first segment from x 0)
                                m_x0.next = 0
                                state.next = st.V_WRCMD

            # ---- per-layer counter record, then the next descriptor
            elif state == st.K_START:  # the counters unit latches the layer's bytes (c_rec_latch)
                state.next = st.K_PACK
            elif state == st.K_PACK:
                krec.next = c_record
                state.next = st.K_CMD
            elif state == st.K_CMD:
                m_wr_cmd_valid.next = 1
                m_wr_cmd_addr.next = cnt_base + concat(cur_layer, intbv(0)[REC_SHIFT:])
                m_wr_cmd_len.next = REC_BYTES
                p.next = 0
                if m_wr_cmd_valid and wr_cmd_ready:
                    m_wr_cmd_valid.next = 0
                    wr_valid.next = 1
                    wr_data.next = krec[8:0]
                    state.next = st.K_DATA
            elif state == st.K_DATA:
                if wr_ready:
                    krec.next = concat(intbv(0)[8:], krec[REC_BITS:8])
                    wr_data.next = krec[16:8]
                    if p == REC_LAST:
                        wr_valid.next = 0
                        state.next = st.K_DONE
                    else:
                        p.next = p + 1
            elif state == st.K_DONE:
                if wr_err:
                    err_code.next = E_DRAM_WRITE
                    state.next = st.FAIL
                elif wr_done:
                    state.next = st.L_NEXT
            elif state == st.L_NEXT:
                if layer + 1 == nlayers:
                    busy.next = 0
                    done.next = 1
                    state.next = st.IDLE
                else:
                    layer.next = layer + 1
                    state.next = st.DESC_CMD
            elif state == st.FAIL:
                rd_ready.next = 0
                wr_valid.next = 0
                m_wr_wvalid.next = 0
                busy.next = 0
                err.next = 1
                state.next = st.IDLE
            else:  # unreachable encodings of the state register
                state.next = st.IDLE
            if store_werr:  # the store saw a write error (its states leave it to this one)
                err_code.next = E_DRAM_WRITE
                state.next = st.FAIL

    @always(clk.posedge)
    def store():
        """The conv store of tile prev, beside the main state machine (store_go from E_WAIT0 or E_WAIT):
        each channel's rows (one command, or one per row of a strip), from output bank c % R at
        half + (c // R)*bo*sw. A write error holds it where it is; the main state machine fails
        (store_werr) and its FAIL state makes it idle."""
        s_wr_cmd_valid.next = 0
        s_lb_we.next = 0
        if rst or state == st.FAIL:
            sst.next = ss.SS_IDLE
            s_wr_wvalid.next = 0
        elif store_go:
            s_ch.next = 0
            s_bank.next = 0
            s_r.next = 0
            s_tbase.next = prev_half * OUT_HALF
            rbase.next = prev_half * OUT_HALF
            s_chan.next = o_addr + co0 * opitch + prev_oy0 * factor * wo + prev_ox0
            s_row.next = o_addr + co0 * opitch + prev_oy0 * factor * wo + prev_ox0
            cbase.next = o_addr + co0 * opitch + prev_oy0 * factor * wo + prev_ox0
            s_obase.next = o_addr + co0 * opitch
            s_ubase.next = aux + co0 * apitch
            s_row0.next = prev_oy0 * factor
            s_rr.next = prev_oy0 * factor
            sg.next = 0
            s_pool.next = 0
            s_up.next = 0
            s_pchan.next = aux + co0 * apitch + (prev_oy0 >> 1) * (wo >> 1)
            s_dw.next = DRAIN_WAIT - 1
            if prev_chn:  # its last tile is still draining under the run that follows it
                sst.next = ss.SS_DRAIN
            else:
                sst.next = ss.SS_CMD
        elif sst == ss.SS_DRAIN:
            if s_dw == 0:
                sst.next = ss.SS_CMD
            else:
                s_dw.next = s_dw - 1
        elif sst == ss.SS_CMD and not wr_err:  # taken on the 2nd cycle at the soonest: plen is set
            s_wr_cmd_valid.next = 1
            s_wr_cmd_addr.next = s_row
            s_p.next = 0
            ip.next = 0
            sq1.next = 0
            sq2.next = 0
            scnt.next = 0
            if s_pool:  # the fused pool's bytes of this channel
                s_wr_cmd_addr.next = s_pchan
                s_wr_cmd_len.next = (prev_bo * wo) >> 2
                plen.next = (prev_bo * wo) >> 2
            elif s_up:  # the rows just stored, upsampled (plen set as the last command ended)
                s_wr_cmd_addr.next = u_dst
                s_wr_cmd_len.next = plen
            elif prev_sw == wo and not stk:
                s_wr_cmd_len.next = prev_bo * wo
                plen.next = prev_bo * wo
                pi_x.next = 0
                pi_odd.next = 0
                pt_x.next = 0
                pt_odd.next = 0
                ph.next = 0
            else:
                s_wr_cmd_len.next = prev_sw
                plen.next = prev_sw
            # chunks: the bank words from rbase to rbase + plen - 1
            s_off.next = rbase[LWB:]
            s_lastw.next = (rbase[LWB:] + plen - 1) >> LWB
            if ACT_WORD - rbase[LWB:] < plen:
                s_first.next = ACT_WORD - rbase[LWB:]
            else:
                s_first.next = plen
            s_lastc.next = ((rbase + plen - 1) & (ACT_WORD - 1)) + 1
            if s_up:  # whole chunks
                s_off.next = 0
                s_lastw.next = (plen - 1) >> LWB
                s_first.next = ACT_WORD
                s_lastc.next = ACT_WORD
            if s_wr_cmd_valid and wr_cmd_ready:
                s_wr_cmd_valid.next = 0
                sst.next = ss.SS_DATA
        elif sst == ss.SS_DATA:
            # A chunk (up to a word) per cycle: bank words are read back to back (data 2 cycles
            # after the address; sq1/sq2 track them) into a 3-entry queue whose head is
            # s_wr_word/s_wr_cnt/s_wr_wvalid; a read is issued only if the queue has room for it and
            # for those in flight.
            if not wr_err:
                sq1.next = s_issue
                sq2.next = sq1
                sf1.next = ip == 0
                sf2.next = sf1
                sc1.next = s_c
                sc2.next = sc1
                uo2.next = uo1
                if s_issue:
                    e_rd_addr.next = (rbase >> LWB) + ip
                    ip.next = ip + 1
                    uo1.next = u_src[LWB:]
                    if s_up:  # the bank word of this chunk's source bytes; then the next chunk's
                        e_rd_addr.next = u_src >> LWB
                        if u_c == u_cpr - 1:
                            u_c.next = 0
                            if u_rep == u_last:
                                u_rep.next = 0
                                u_row.next = u_row + wo
                                u_src.next = u_row + wo
                            else:
                                u_rep.next = u_rep + 1
                                u_src.next = u_row
                        else:
                            u_c.next = u_c + 1
                            u_src.next = u_src + u_cb
                    if s_pool:
                        s_lb_raddr.next = concat(ip[16 - LWB:], intbv(0)[LWB:])
                    elif fpool:  # an odd row's word: read the even row's word above it
                        if pi_odd:
                            s_lb_raddr.next = LINE_HALF + concat(pi_x[16 - LWB:], intbv(0)[LWB:])
                        if pi_x == wpr - 1:
                            pi_x.next = 0
                            pi_odd.next = not pi_odd
                        else:
                            pi_x.next = pi_x + 1
                if sq2 and fpool and not s_pool:  # the word tapped for the fused pool
                    th1.next = s_in
                    th2.next = th1
                    s_lb_we.next = 1
                    if not pt_odd:
                        s_lb_waddr.next = LINE_HALF_WORDS + pt_x
                        s_lb_wdata.next = s_in
                    else:
                        s_lb_waddr.next = ph >> 1
                        if ph[0]:
                            s_lb_wdata.next = concat(pool_word[4 * ACT_WORD:], pb_lo)
                        else:
                            s_lb_wdata.next = pool_word
                            pb_lo.next = pool_word[4 * ACT_WORD:]
                        ph.next = ph + 1
                    if pt_x == wpr - 1:
                        pt_x.next = 0
                        pt_odd.next = not pt_odd
                    else:
                        pt_x.next = pt_x + 1
                if s_pop:
                    s_wr_word.next = sk1
                    s_wr_cnt.next = sk1c
                    sk1.next = sk2
                    sk1c.next = sk2c
                if sq2:  # the word read two cycles ago joins the queue behind what stays
                    if s_keep == 0:
                        s_wr_word.next = s_in
                        s_wr_cnt.next = sc2
                    elif s_keep == 1:
                        sk1.next = s_in
                        sk1c.next = sc2
                    else:
                        sk2.next = s_in
                        sk2c.next = sc2
                scnt.next = s_keep + sq2
                s_wr_wvalid.next = s_keep + sq2 != 0
                if s_pop:
                    s_p.next = s_p + 1
                    if s_p == s_lastw:
                        sst.next = ss.SS_DONE
        elif sst == ss.SS_DONE:
            if not wr_err:  # posted: the next command goes out while this one's bursts await B
                if fpool and not s_pool:  # the channel's band is out: now its pooled bytes
                    s_pool.next = 1
                    rbase.next = 0
                    sst.next = ss.SS_CMD
                elif fup and not s_up:  # the rows just stored, now upsampled from the same bytes
                    s_up.next = 1
                    u_src.next = rbase
                    u_row.next = rbase
                    u_c.next = 0
                    u_rep.next = 0
                    u_dst.next = s_ubase + (s_row - s_obase) * u_f2
                    plen.next = plen * u_f2
                    sst.next = ss.SS_CMD
                else:
                    s_pool.next = 0
                    s_up.next = 0
                    if (prev_sw != wo or stk) and s_r + 1 < prev_bo and (not stk or s_rr + factor < ho):
                        s_r.next = s_r + 1  # the strip's (or stacked channel's) next row
                        s_row.next = s_row + s_rp
                        s_rr.next = s_rr + factor
                        rbase.next = rbase + prev_sw
                        sst.next = ss.SS_CMD
                    elif (stk and s_nv >= gc) or (not stk and s_ch + 1 == gc):
                        sst.next = ss.SS_WAIT
                    elif stk:  # one tile: stacked channel ch is in bank ch
                        s_r.next = 0
                        s_ch.next = s_nv
                        s_bank.next = s_nv
                        rbase.next = s_tbase
                        if s_adv:
                            sg.next = sg + 1
                            s_rr.next = s_row0 + sg + 1
                            s_chan.next = s_chan + wo
                            s_row.next = s_chan + wo
                        else:
                            sg.next = 0
                            s_rr.next = s_row0
                            cbase.next = cbase + opitch
                            s_chan.next = cbase + opitch
                            s_row.next = cbase + opitch
                            s_obase.next = s_obase + opitch
                            s_ubase.next = s_ubase + apitch
                        sst.next = ss.SS_CMD
                    else:
                        s_r.next = 0
                        s_ch.next = s_ch + 1
                        s_pchan.next = s_pchan + apitch
                        s_chan.next = s_chan + opitch
                        s_row.next = s_chan + opitch
                        s_obase.next = s_obase + opitch
                        s_ubase.next = s_ubase + apitch
                        if s_bank == R - 1:
                            s_bank.next = 0
                            s_tbase.next = s_tbase + prev_bo * prev_sw
                            rbase.next = s_tbase + prev_bo * prev_sw
                        else:
                            s_bank.next = s_bank + 1
                            rbase.next = s_tbase
                        sst.next = ss.SS_CMD
        elif sst == ss.SS_WAIT:  # the tile's last B responses
            if not wr_err and not wr_busy:
                sst.next = ss.SS_IDLE  # the tile is stored (E_WAIT and G_NEXT wait for this)

    return (tile_retire, activity, counter_strobes, more_tiles, select_bank, gearbox, gearbox_regs, gearbox_data,
            store_stream, store_chunk, line_buffer, stacked_next, vector_read_row, vector_read, line_halves, next_chunk,
            chunk_offset, upsample_source, upsample_shift, upsample_word, argmax_segment, argmax_lanes, store_up_word,
            pool_operands, avgpool_word, interrupt, group_rows, tile_count, store_status, write_ports,
            line_buffer_ports, fsm, store)
