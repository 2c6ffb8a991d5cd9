"""Layer sequencer: layer registers, the tile/step loops, and the counters.

Loops (outer to inner): output-channel tile (R channels), output row oy, pixel tile (C consecutive
ox), then the reduction steps ci, dy, dx (k*k*Cin of them), padded with bubble steps (weight 0) up
to ``min_steps`` so a tile is never shorter than the array's drain. After the last tile one flush
step (tile-start flag, no tile) pushes the last sums into the drain; ``done`` rises once drained.
A chained run (register ``chain``) skips both: ``done`` rises with its last step, and the next run's
first tile start pushes its last sums into the drain (rtl/README.md, "Chained runs").

Each cycle it issues one step descriptor to column feeder 0 (activation address of output pixel
ox0, row in bounds, x index) and row unit 0 (weight address, tile-start flag, output-channel tile,
output address of pixel ox0, valid columns and rows of the tile).

Registers (written with wr_en, index wr_addr, value wr_data): hwspec.formats.LAYER_REGS, described below. Counters: cycles from
start to done, busy = reduction steps issued (each one is R*C MAC slots).
"""

from myhdl import Signal, always, block, enum, intbv

from hwspec.config import ACT_WORD
from hwspec.formats import reg_indices

LW = ACT_WORD.bit_length() - 1

__all__ = ["sequencer"]

# pad is the horizontal padding and the bottom one (rows past h read as padding); pad_top is the
# vertical padding above row 0 of the loaded rows: 0 for a band of rows that does not start at the
# image's top (its halo row is loaded instead), pad for a whole layer or the first band.
# act_base / out_base: where in the activation buffer and output banks this run reads and writes
# (the controller double-buffers: it loads the next band into the other half while this one runs).
# pad_left is to columns what pad_top is to rows: 0 for a strip of columns that does not start at the
# image's left edge (its halo column is loaded instead).
# row_pitch / chan_pitch: activation-buffer bytes from one loaded row / channel to the next (w and h*w
# when packed; the controller pads rows or channels to whole buffer words, rtl/README.md).
# k_rows / row_stride: the kernel's rows and the input rows from one output row to the next; k and
# stride unless output rows are stacked on the array rows (compiler.program.stack_rows: G output rows
# as one of k + (G-1)*stride kernel rows, G*stride apart).
# chain: another run of the same weight group follows; this run ends with its last step (done at once,
# no flush step and no drain wait): the next run's first tile start pushes this run's last sums into the
# drain, as a flush step would, and they drain under the next run (the controller waits before storing).


@block
def sequencer(clk, rst, start, done, cycles, busy, wr_en, wr_addr, wr_data,
              a_first, a_addr, a_iyok, a_ix,
              w_valid, w_first, w_waddr, w_ctile, w_obase, w_ncols, w_rows, w_tok,
              l_w, l_stride, l_xzp, l_yzp, l_qmin, l_qmax, *, rows, cols, min_steps, drain_wait):
    R, C = rows, cols
    (REG_CIN, REG_H, REG_W, REG_COUT, REG_HO, REG_WO, REG_K, REG_STRIDE, REG_PAD, REG_X_ZP, REG_Y_ZP, REG_QMIN,
     REG_QMAX, REG_PAD_TOP, REG_ACT_BASE, REG_OUT_BASE, REG_PAD_LEFT, REG_ROW_PITCH, REG_CHAN_PITCH, REG_K_ROWS,
     REG_ROW_STRIDE, REG_CHAIN) = reg_indices(
        "cin", "h", "w", "cout", "ho", "wo", "k", "stride", "pad", "x_zp", "y_zp", "qmin", "qmax", "pad_top",
        "act_base", "out_base", "pad_left", "row_pitch", "chan_pitch", "k_rows", "row_stride", "chain")
    S = lambda: Signal(intbv(0, min=-(2**23), max=2**23))  # noqa: E731  signed 24-bit
    U = lambda: Signal(intbv(0)[24:])  # noqa: E731
    cin, cout, ho, wo, ksz, pad = [U() for _ in range(6)]
    K, P, Kp = U(), U(), U()  # reduction steps, steps per tile, weight-bank bytes per output channel
    st = enum("IDLE", "SETUP", "RUN", "FLUSH", "WAIT")
    state = Signal(st.IDLE)
    kcnt, ci, dy, dx, oy, ox0, cot, wbase, obase_row = [U() for _ in range(9)]
    cout_left = S()
    iy0, rowb, ix0, chan_b, dyW = [S() for _ in range(5)]
    wcnt = U()
    hs = S()  # H (register 1), signed: compared with a signed row index
    ptop = S()  # vertical padding above the loaded rows (register 13)
    abase = S()  # first activation-buffer address of this run (register 14)
    obuf = U()  # first output-bank address of this run (register 15)
    pleft = S()  # horizontal padding left of the loaded columns (register 16)
    rp = S()  # row pitch (register 17), signed: -rp must not zero-extend in Verilog
    cp = U()  # channel pitch (register 18)
    kh = U()  # kernel rows (register 19)
    sy = U()  # row stride (register 20)
    rstep = S()  # activation-buffer bytes from one output row's input rows to the next: sy * rp
    chain = Signal(bool(0))  # register 21: no flush or drain wait at the end of this run

    @always(clk.posedge)
    def regs():
        if wr_en:
            if wr_addr == REG_CIN:
                cin.next = wr_data[24:]
            elif wr_addr == REG_H:
                hs.next = wr_data[16:]
            elif wr_addr == REG_W:
                l_w.next = wr_data[16:]
            elif wr_addr == REG_COUT:
                cout.next = wr_data[24:]
            elif wr_addr == REG_HO:
                ho.next = wr_data[24:]
            elif wr_addr == REG_WO:
                wo.next = wr_data[24:]
            elif wr_addr == REG_K:
                ksz.next = wr_data[24:]
            elif wr_addr == REG_STRIDE:
                l_stride.next = wr_data[2:]
            elif wr_addr == REG_PAD:
                pad.next = wr_data[24:]
            elif wr_addr == REG_X_ZP:
                l_xzp.next = wr_data[8:].signed()
            elif wr_addr == REG_Y_ZP:
                l_yzp.next = wr_data[8:].signed()
            elif wr_addr == REG_QMIN:
                l_qmin.next = wr_data[8:].signed()
            elif wr_addr == REG_QMAX:
                l_qmax.next = wr_data[8:].signed()
            elif wr_addr == REG_PAD_TOP:
                ptop.next = wr_data[2:]
            elif wr_addr == REG_ACT_BASE:
                abase.next = wr_data[23:]
            elif wr_addr == REG_OUT_BASE:
                obuf.next = wr_data[24:]
            elif wr_addr == REG_PAD_LEFT:
                pleft.next = wr_data[2:]
            elif wr_addr == REG_ROW_PITCH:
                rp.next = wr_data[16:]
            elif wr_addr == REG_CHAN_PITCH:
                cp.next = wr_data[24:]
            elif wr_addr == REG_K_ROWS:
                kh.next = wr_data[24:]
            elif wr_addr == REG_ROW_STRIDE:
                sy.next = wr_data[24:]
            elif wr_addr == REG_CHAIN:
                chain.next = wr_data[0]

    @always(clk.posedge)
    def run():
        a_first.next = 0
        w_first.next = 0
        w_valid.next = 0
        w_tok.next = 0
        if rst:
            state.next = st.IDLE
            done.next = 0
        elif state == st.IDLE:
            if start:
                state.next = st.SETUP
                done.next = 0
                cycles.next = 0
                busy.next = 0
                K.next = cin * kh * ksz
        elif state == st.SETUP:
            if K < min_steps:
                P.next = min_steps
            else:
                P.next = K
            Kp.next = ((K + ACT_WORD - 1) >> LW) << LW  # hwspec.config.weight_pitch
            rstep.next = sy * rp
            kcnt.next = 0
            ci.next = 0
            dy.next = 0
            dx.next = 0
            chan_b.next = abase
            dyW.next = 0
            oy.next = 0
            ox0.next = 0
            cot.next = 0
            wbase.next = 0
            obase_row.next = obuf
            cout_left.next = cout
            iy0.next = -ptop
            ix0.next = -pleft
            if ptop != 0:
                rowb.next = -rp
            else:
                rowb.next = 0
            cycles.next = cycles + 1
            state.next = st.RUN
        elif state == st.RUN:
            cycles.next = cycles + 1
            # issue step kcnt of the current tile
            a_first.next = kcnt == 0
            a_addr.next = chan_b + rowb + dyW + ix0 + dx
            iy = intbv(0, min=-(2**23), max=2**23)
            iy[:] = iy0 + dy
            a_iyok.next = iy >= 0 and iy < hs
            a_ix.next = ix0 + dx
            w_first.next = kcnt == 0
            w_valid.next = kcnt < K
            w_waddr.next = wbase + kcnt
            w_ctile.next = cot
            w_obase.next = obase_row + ox0
            if wo - ox0 < C:
                w_ncols.next = wo - ox0
            else:
                w_ncols.next = C
            if cout_left < R:
                w_rows.next = cout_left
            else:
                w_rows.next = R
            w_tok.next = 1
            if kcnt < K:
                busy.next = busy + 1
                if dx == ksz - 1:
                    dx.next = 0
                    if dy == kh - 1:
                        dy.next = 0
                        dyW.next = 0
                        ci.next = ci + 1
                        chan_b.next = chan_b + cp
                    else:
                        dy.next = dy + 1
                        dyW.next = dyW + rp
                else:
                    dx.next = dx + 1
            if kcnt == P - 1:  # next tile
                kcnt.next = 0
                ci.next = 0
                dy.next = 0
                dx.next = 0
                chan_b.next = abase
                dyW.next = 0
                if ox0 + C >= wo:
                    ox0.next = 0
                    ix0.next = -pleft
                    obase_row.next = obase_row + wo
                    if oy == ho - 1:
                        oy.next = 0
                        iy0.next = -ptop
                        if ptop != 0:
                            rowb.next = -rp
                        else:
                            rowb.next = 0
                        cot.next = cot + 1
                        wbase.next = wbase + Kp
                        cout_left.next = cout_left - R
                        if cout_left <= R and chain:  # the next run's first tile flushes this one
                            done.next = 1
                            state.next = st.IDLE
                        elif cout_left <= R:
                            state.next = st.FLUSH
                    else:
                        oy.next = oy + 1
                        iy0.next = iy0 + sy
                        rowb.next = rowb + rstep
                else:
                    ox0.next = ox0 + C
                    if l_stride == 2:
                        ix0.next = ix0 + 2 * C
                    else:
                        ix0.next = ix0 + C
            else:
                kcnt.next = kcnt + 1
        elif state == st.FLUSH:
            cycles.next = cycles + 1
            a_first.next = 1
            w_first.next = 1
            wcnt.next = 0
            state.next = st.WAIT
        elif state == st.WAIT:
            cycles.next = cycles + 1
            wcnt.next = wcnt + 1
            if wcnt == drain_wait:
                done.next = 1
                state.next = st.IDLE

    return regs, run
