"""Engine top: sequencer, the shared activation buffer and its column skew, R row units with their
PPUs, the array, buffer ports.

``build(cfg, directory)`` converts every module of a configuration into ``directory`` and returns
the file list (leaf modules from MyHDL, structural ones as MyHDL user-defined Verilog).

ce_engine ports: clk, rst, start, done, cycles (32), busy (32);
write port wr_en, wr_sel (0 activations, 1 weights, 2 constants, 3 layer register), wr_bank (row
unit for weights/constants), wr_addr, wr_data (WR_BITS = 512: activations are written ACT_WORD = 64
bytes at a word address, byte i at byte address 64*wr_addr + i, and so are weights, each output channel's
from a whole word (hwspec.config.weight_pitch); constants are bias<<34 | mant<<10 | exp&0x3ff);
read port rd_addr (a word address) -> rd_data (R words of ACT_WORD bytes, word i from output bank i,
one cycle later).
"""

from __future__ import annotations

import os

from myhdl import Signal, always, block, intbv

from rtl.array import array, array_verilog, row, row_verilog
from hwspec.config import CHAINED_TAIL, EngineConfig, drain_wait, run_tail
from rtl.axi_common import convert_stable
from hwspec.config import ACT_WORD
from rtl.feeder import ADDR_BITS, CONST_BITS, WR_BITS, abank, abuf, out_lane, rowu
from rtl.hdl import attach_verilog, convert, mark_ports
from rtl.pe import pe, pe_signals
from rtl.ppu import ppu, ppu_signals
from rtl.sequencer import sequencer

__all__ = ["build", "MODULES"]

MODULES = ("ce_pe", "ce_row", "ce_array", "ce_ppu", "ce_abuf", "ce_rowu", "ce_seq", "ce_engine")


def _u(bits):
    return Signal(intbv(0)[bits:]) if bits > 1 else Signal(bool(0))


def _s(bits):
    return Signal(intbv(0, min=-(2 ** (bits - 1)), max=2 ** (bits - 1)))


def _cbits(cfg):
    return cfg.cols.bit_length() + 1  # ncols / rows counters: 0..C and 0..R


def _a_desc():
    return dict(first=_u(1), addr=_s(ADDR_BITS), iyok=_u(1), ix=_s(ADDR_BITS))


def _w_desc(cfg):
    nb = max(cfg.cols, cfg.rows).bit_length() + 1
    return dict(valid=_u(1), first=_u(1), waddr=_u(ADDR_BITS), ctile=_u(ADDR_BITS), obase=_u(ADDR_BITS),
                ncols=_u(nb), rows=_u(nb), tok=_u(1))


def _layer():
    return dict(l_w=_u(16), l_stride=_u(2), l_xzp=_s(8), l_yzp=_s(8), l_qmin=_s(8), l_qmax=_s(8))


def _abuf(cfg):
    i, L = _a_desc(), _layer()
    return abuf(_u(1), *(i[k] for k in i), _u(8 * cfg.cols), _u(cfg.cols), L["l_w"], L["l_stride"], L["l_xzp"],
                _u(1), _u(ADDR_BITS), _u(8 * ACT_WORD), depth=cfg.act_depth, cols=cfg.cols)


def _rowu(cfg):
    i, o = _w_desc(cfg), _w_desc(cfg)
    p = ppu_signals(ADDR_BITS)
    return rowu(_u(1), _u(1), *(i[k] for k in i), *(o[k] for k in o), _s(8), _s(32), _u(1),
                p["i_valid"], p["i_acc"], p["i_bias"], p["i_mant"], p["i_exp"], p["i_tag"],
                p["o_valid"], p["o_y"], p["o_tag"], _u(1), _u(1), _u(ADDR_BITS), _u(WR_BITS),
                _u(ADDR_BITS), _u(8 * ACT_WORD), wdepth=cfg.wgt_depth, cdepth=cfg.const_depth, odepth=cfg.out_depth)


def _seq(cfg):
    a, w, L = _a_desc(), _w_desc(cfg), _layer()
    return sequencer(_u(1), _u(1), _u(1), _u(1), _u(32), _u(32), _u(1), _u(ADDR_BITS), _u(CONST_BITS),
                     *(a[k] for k in a), *(w[k] for k in w), *(L[k] for k in L),
                     rows=cfg.rows, cols=cfg.cols, min_steps=cfg.min_tile_steps, drain_wait=drain_wait(cfg))


@block
def engine(clk, rst, start, done, cycles, busy, wr_en, wr_sel, wr_bank, wr_addr, wr_data, rd_addr, rd_data):
    mark_ports([clk, rst, start, wr_en, wr_sel, wr_bank, wr_addr, wr_data, rd_addr], [done, cycles, busy, rd_data])

    @always(clk.posedge)
    def body():  # placeholder: names the ports; the Verilog is user code
        pass

    return body


def engine_verilog(cfg: EngineConfig) -> str:
    R, C = cfg.rows, cfg.cols
    W = 8 * ACT_WORD  # bits of an output-bank read word
    A, nb = ADDR_BITS, max(cfg.cols, cfg.rows).bit_length() + 1
    t = ["// layer registers broadcast to the feeders and row units",
         "wire [15:0] l_w;\nwire [1:0] l_stride;\nwire signed [7:0] l_xzp, l_yzp, l_qmin, l_qmax;",
         "wire we_act = wr_en & (wr_sel == 2'd0);\nwire we_reg = wr_en & (wr_sel == 2'd3);",
         f"wire [{8*C-1}:0] a_top;\nwire [{C-1}:0] f_top;\nwire [{8*R-1}:0] w_left;",
         f"wire [{32*R-1}:0] d_left;\nwire [{R-1}:0] dv_left;"]
    t.append(f"wire af_0, aok_0;\nwire signed [{A-1}:0] aaddr_0, aix_0;\nwire [{8*C-1}:0] a_col;\nwire [{C-1}:0] f_col;")
    for i in range(R + 1):
        t.append(f"wire wv_{i}, wf_{i}, wt_{i};\nwire [{A-1}:0] wa_{i}, wc_{i}, wo_{i};\nwire [{nb-1}:0] wn_{i}, wr_{i};")
    t.append(f"wire wr_{R}_unused = wv_{R} ^ wf_{R} ^ wt_{R} ^ (^wa_{R}) ^ (^wc_{R}) ^ (^wo_{R}) ^ (^wn_{R}) ^ (^wr_{R});")
    t.append(
        "ce_seq seq (.clk(clk), .rst(rst), .start(start), .done(done), .cycles(cycles), .busy(busy),"
        f" .wr_en(we_reg), .wr_addr(wr_addr), .wr_data(wr_data[{CONST_BITS - 1}:0]),"
        " .a_first(af_0), .a_addr(aaddr_0), .a_iyok(aok_0), .a_ix(aix_0),"
        " .w_valid(wv_0), .w_first(wf_0), .w_waddr(wa_0), .w_ctile(wc_0), .w_obase(wo_0), .w_ncols(wn_0),"
        " .w_rows(wr_0), .w_tok(wt_0), .l_w(l_w), .l_stride(l_stride), .l_xzp(l_xzp), .l_yzp(l_yzp),"
        " .l_qmin(l_qmin), .l_qmax(l_qmax));")
    t.append(
        "ce_abuf abuf (.clk(clk), .i_first(af_0), .i_addr(aaddr_0), .i_iyok(aok_0), .i_ix(aix_0), .a_data(a_col),"
        " .f_data(f_col), .l_w(l_w), .l_stride(l_stride), .l_xzp(l_xzp), .wr_en(we_act), .wr_addr(wr_addr),"
        f" .wr_data(wr_data[{8 * ACT_WORD - 1}:0]));")
    # the systolic skew: column j's byte and tile-start flag j cycles later than column 0's
    t.append("assign a_top[7:0] = a_col[7:0];\nassign f_top[0] = f_col[0];")
    for j in range(1, C):
        a_in, f_in = f"a_col[{8*j+7}:{8*j}]", f"f_col[{j}]"
        t.append(f"reg [{8*j-1}:0] ask_{j};\nreg [{j-1}:0] fsk_{j};")
        if j == 1:
            t.append(f"always @(posedge clk) begin ask_1 <= {a_in}; fsk_1 <= {f_in}; end")
        else:
            t.append(f"always @(posedge clk) begin ask_{j} <= {{ask_{j}[{8*j-9}:0], {a_in}}};"
                     f" fsk_{j} <= {{fsk_{j}[{j-2}:0], {f_in}}}; end")
        t.append(f"assign a_top[{8*j+7}:{8*j}] = ask_{j}[{8*j-1}:{8*j-8}];\nassign f_top[{j}] = fsk_{j}[{j-1}];")
    for i in range(R):
        t.append(
            f"wire pv_{i}, qv_{i};\nwire signed [31:0] pacc_{i}, pbias_{i};\nwire [23:0] pm_{i};\n"
            f"wire signed [9:0] pe_{i};\nwire [{A-1}:0] pt_{i}, qt_{i};\nwire signed [7:0] qy_{i};\n"
            f"wire wew_{i} = wr_en & (wr_sel == 2'd1) & (wr_bank == 8'd{i});\n"
            f"wire wec_{i} = wr_en & (wr_sel == 2'd2) & (wr_bank == 8'd{i});\n"
            f"ce_rowu ru{i} (.clk(clk), .rst(rst), .i_valid(wv_{i}), .i_first(wf_{i}), .i_waddr(wa_{i}),"
            f" .i_ctile(wc_{i}), .i_obase(wo_{i}), .i_ncols(wn_{i}), .i_rows(wr_{i}), .i_tok(wt_{i}),"
            f" .o_valid(wv_{i+1}), .o_first(wf_{i+1}), .o_waddr(wa_{i+1}), .o_ctile(wc_{i+1}), .o_obase(wo_{i+1}),"
            f" .o_ncols(wn_{i+1}), .o_rows(wr_{i+1}), .o_tok(wt_{i+1}), .w_data(w_left[{8*i+7}:{8*i}]),"
            f" .d_in(d_left[{32*i+31}:{32*i}]), .dv_in(dv_left[{i}]), .p_valid(pv_{i}), .p_acc(pacc_{i}),"
            f" .p_bias(pbias_{i}), .p_mant(pm_{i}), .p_exp(pe_{i}), .p_tag(pt_{i}), .q_valid(qv_{i}), .q_y(qy_{i}),"
            f" .q_tag(qt_{i}), .we_w(wew_{i}), .we_c(wec_{i}), .wr_addr(wr_addr), .wr_data(wr_data),"
            f" .rd_addr(rd_addr), .rd_data(rd_data[{W*i+W-1}:{W*i}]));\n"
            f"ce_ppu ppu{i} (.clk(clk), .i_valid(pv_{i}), .i_acc(pacc_{i}), .i_bias(pbias_{i}), .i_mant(pm_{i}),"
            f" .i_exp(pe_{i}), .i_yzp(l_yzp), .i_qmin(l_qmin), .i_qmax(l_qmax), .i_tag(pt_{i}),"
            f" .o_valid(qv_{i}), .o_y(qy_{i}), .o_tag(qt_{i}));")
    t.append("ce_array arr (.clk(clk), .a_top(a_top), .f_top(f_top), .w_left(w_left), .d_left(d_left), .dv_left(dv_left));")
    return "\n".join(t)


def build(cfg: EngineConfig, directory: str) -> list[str]:
    R, C = cfg.rows, cfg.cols
    files = [convert(pe(_u(1), **pe_signals()), "ce_pe", directory)]
    r = row(_u(1), _u(8 * C), _u(C), _u(8), _u(8 * C), _u(C), _u(32), _u(1), cols=C)
    files.append(convert(attach_verilog(r, row_verilog(C)), "ce_row", directory))
    a = array(_u(1), _u(8 * C), _u(C), _u(8 * R), _u(32 * R), _u(R), rows=R, cols=C)
    files.append(convert(attach_verilog(a, array_verilog(R, C)), "ce_array", directory))
    files.append(convert(ppu(_u(1), **ppu_signals(ADDR_BITS)), "ce_ppu", directory))
    files.append(convert_stable(lambda: _abuf(cfg), "ce_abuf", directory, blocks=(abank,)))
    files.append(convert_stable(lambda: _rowu(cfg), "ce_rowu", directory, blocks=(out_lane,)))
    files.append(convert(_seq(cfg), "ce_seq", directory))
    e = engine(_u(1), _u(1), _u(1), _u(1), _u(32), _u(32), _u(1), _u(2), _u(8), _u(ADDR_BITS), _u(WR_BITS),
               _u(ADDR_BITS), _u(8 * ACT_WORD * R))
    files.append(convert(attach_verilog(e, engine_verilog(cfg)), "ce_engine", directory))
    with open(os.path.join(directory, "config.json"), "w") as f:
        f.write(cfg.to_json())
    return files
