"""Accelerator top: controller, conv engine, AXI4 read/write DMA masters, AXI4-Lite registers, IRQ.

ce_accel: ce_ctrl (rtl.controller) with its counters unit ce_counters (rtl.counters), the conv engine,
the DMAs and the registers. Ports: clk, rst, irq; m_axi_* (AXI4 master to DRAM, hwspec.bus.DMA's width: 512-bit data, ID 0, INCR bursts);
s_axil_* (AXI4-Lite slave, 8-bit address). Register map (byte offsets; tb/accel_host.py REGS):

  0x00 CTRL      RW  bit 0 start (a write with bit 0 set starts a run), bit 1 interrupt enable
  0x04 PROG_BASE RW  DRAM address of the program header
  0x08 CNT_BASE  RW  DRAM address of the per-layer counter records (32 bytes per layer)
  0x0C IRQ_ACK   RW  any write clears the interrupt
  0x10 STATUS    RO  bit 0 busy, bit 1 done, bit 2 error, bits 15:8 error code, bits 31:16 layer
  0x14 CYCLES, 0x18 ENGINE (cycles the engine ran), 0x1C STEPS (MAC steps), 0x20 LOAD, 0x24 STORE,
  0x28 FETCH (stall cycles by cause), 0x2C BYTES_RD, 0x30 BYTES_WR (DRAM bytes since reset),
  0x34 HWCONFIG (rows << 8 | cols)                                                        all RO
"""

from __future__ import annotations

import os

from myhdl import Signal, always, block, intbv

from hwspec.bus import CMD_ROWS_BITS, DMA
from hwspec.config import ACT_WORD, EngineConfig
from hwspec.formats import ACTIVITY_BITS, COUNTER_RECORD, HOST_REGS, STATUS, TOTALS
from rtl.bus import REGS, build_bus
from rtl.controller import controller, controller_signals
from rtl.counters import build as build_counters
from rtl.feeder import ADDR_BITS, WR_BITS
from rtl.hdl import attach_verilog, convert, mark_ports

__all__ = ["build_accel", "ACCEL_MODULES"]

ACCEL_MODULES = ("ce_counters", "ce_ctrl", "ce_accel")


def _u(bits):
    return Signal(intbv(0)[bits:]) if bits > 1 else Signal(bool(0))


def _ctrl(cfg: EngineConfig):
    s = controller_signals(cfg.rows)
    return controller(_u(1), _u(1), *s.values(), cfg=cfg)


_AXI = [("m_axi_arid", 4, 0), ("m_axi_araddr", 32, 0), ("m_axi_arlen", 8, 0), ("m_axi_arsize", 3, 0),
        ("m_axi_arburst", 2, 0), ("m_axi_arvalid", 1, 0), ("m_axi_arready", 1, 1), ("m_axi_rid", 4, 1),
        ("m_axi_rdata", DMA.data_bits, 1), ("m_axi_rresp", 2, 1), ("m_axi_rlast", 1, 1), ("m_axi_rvalid", 1, 1),
        ("m_axi_rready", 1, 0), ("m_axi_awid", 4, 0), ("m_axi_awaddr", 32, 0), ("m_axi_awlen", 8, 0),
        ("m_axi_awsize", 3, 0), ("m_axi_awburst", 2, 0), ("m_axi_awvalid", 1, 0), ("m_axi_awready", 1, 1),
        ("m_axi_wdata", DMA.data_bits, 0), ("m_axi_wstrb", DMA.beat_bytes, 0), ("m_axi_wlast", 1, 0), ("m_axi_wvalid", 1, 0),
        ("m_axi_wready", 1, 1), ("m_axi_bid", 4, 1), ("m_axi_bresp", 2, 1), ("m_axi_bvalid", 1, 1),
        ("m_axi_bready", 1, 0),
        ("s_axil_awaddr", 8, 1), ("s_axil_awvalid", 1, 1), ("s_axil_awready", 1, 0), ("s_axil_wdata", 32, 1),
        ("s_axil_wstrb", 4, 1), ("s_axil_wvalid", 1, 1), ("s_axil_wready", 1, 0), ("s_axil_bresp", 2, 0),
        ("s_axil_bvalid", 1, 0), ("s_axil_bready", 1, 1), ("s_axil_araddr", 8, 1), ("s_axil_arvalid", 1, 1),
        ("s_axil_arready", 1, 0), ("s_axil_rdata", 32, 0), ("s_axil_rresp", 2, 0), ("s_axil_rvalid", 1, 0),
        ("s_axil_rready", 1, 1)]
_RD = [p for p, _, _ in _AXI if p.startswith(("m_axi_ar", "m_axi_r"))]
_WR = [p for p, _, _ in _AXI if p.startswith(("m_axi_aw", "m_axi_w", "m_axi_b"))]
_AXIL = [p for p, _, _ in _AXI if p.startswith("s_axil")]


def accel_ports():
    return dict(clk=_u(1), rst=_u(1), irq=_u(1), **{p: _u(w) for p, w, _ in _AXI})


@block
def accel(clk, rst, irq, m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize, m_axi_arburst, m_axi_arvalid,
           m_axi_arready, m_axi_rid, m_axi_rdata, m_axi_rresp, m_axi_rlast, m_axi_rvalid, m_axi_rready,
           m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst, m_axi_awvalid, m_axi_awready,
           m_axi_wdata, m_axi_wstrb, m_axi_wlast, m_axi_wvalid, m_axi_wready, m_axi_bid, m_axi_bresp,
           m_axi_bvalid, m_axi_bready, s_axil_awaddr, s_axil_awvalid, s_axil_awready, s_axil_wdata,
           s_axil_wstrb, s_axil_wvalid, s_axil_wready, s_axil_bresp, s_axil_bvalid, s_axil_bready,
           s_axil_araddr, s_axil_arvalid, s_axil_arready, s_axil_rdata, s_axil_rresp, s_axil_rvalid,
           s_axil_rready):
    axi = {p: v for p, v in locals().items() if p.startswith(("m_axi", "s_axil"))}
    mark_ports([clk, rst] + [axi[p] for p, _, d in _AXI if d], [irq] + [axi[p] for p, _, d in _AXI if not d])

    @always(clk.posedge)
    def body():  # placeholder: names the ports; the Verilog is user code
        pass

    return body


def _concat(parts: list[tuple[int, int, str]], bits: int) -> str:
    """Verilog {...} of (lo, width, expression) parts, zeros in the gaps, ``bits`` wide."""
    out, at = [], bits
    for lo, width, expr in sorted(parts, reverse=True):
        if lo + width < at:
            out.append(f"{at - lo - width}'d0")
        out.append(expr)
        at = lo
    return "{" + ", ".join(out + ([f"{at}'d0"] if at else [])) + "}"


def _read_only(cfg: EngineConfig) -> str:
    """The read-only registers (hwspec.formats.HOST_REGS from STATUS on) as one concatenation, the
    STATUS word's fields where hwspec.formats.STATUS puts them."""
    status = dict(busy="busy", done="done", err="err", error="err_code", layer="cur_layer")
    word = {"STATUS": _concat([(f.lo, f.bits, status[f.name]) for f in STATUS.fields.values()], 32),
            "CYCLES": "t_cycles", "ENGINE": "t_engine", "STEPS": "t_steps", "LOAD": "t_load", "STORE": "t_store",
            "FETCH": "t_fetch", "BYTES_RD": "bytes_rd", "BYTES_WR": "bytes_wr",
            "HWCONFIG": f"{{16'd{cfg.rows}, 16'd{cfg.cols}}}"}
    first = HOST_REGS["STATUS"]
    regs = [(8 * (off - first), 32, word[name]) for name, off in HOST_REGS.items() if off >= first]
    return _concat(regs, 32 * REGS.n_ro)


def accel_verilog(cfg: EngineConfig) -> str:
    R = cfg.rows
    assert DMA.beat_bytes == ACT_WORD, "activation loads move one DMA beat into one buffer word"
    nro = REGS.n_ro
    t = [
        "wire start, irq_en, irq_ack, busy, done, err;",
        "wire [7:0] err_code;\nwire [15:0] cur_layer;",
        f"wire [31:0] {', '.join(TOTALS)}, bytes_rd, bytes_wr;",
        f"wire c_run_clear, c_layer_clear, c_steps_valid, c_rec_latch;\nwire [{ACTIVITY_BITS - 1}:0] c_activity;",
        f"wire [{COUNTER_RECORD.size_bits - 1}:0] c_record;",
        f"wire [{32 * REGS.n_rw - 1}:0] rw_q;\nwire [{REGS.n_rw - 1}:0] wr_pulse;\nwire [{32 * nro - 1}:0] ro_d;",
        "wire rd_cmd_valid, rd_cmd_ready, rd_valid, rd_ready, rd_last, rd_err, rd_busy_unused, rd_take, rd_tail;",
        f"wire [{8 * ACT_WORD - 1}:0] rd_word;\nwire [{ACT_WORD.bit_length() - 1}:0] rd_cnt;",
        f"wire [{DMA.addr_bits - 1}:0] rd_cmd_addr, wr_cmd_addr;\nwire [{DMA.len_bits - 1}:0] rd_cmd_len, wr_cmd_len, "
        f"rd_cmd_pitch;\nwire [{CMD_ROWS_BITS - 1}:0] rd_cmd_rows;",
        "wire [7:0] rd_data, wr_data;",
        "wire wr_cmd_valid, wr_cmd_ready, wr_valid, wr_ready, wr_done, wr_err, wr_busy, wr_wvalid, wr_wready;",
        f"wire [{8 * ACT_WORD - 1}:0] wr_word;\nwire [{ACT_WORD.bit_length() - 1}:0] wr_cnt;",
        "wire e_start, e_done, e_wr_en;\nwire [31:0] e_cycles, e_busy;\nwire [1:0] e_wr_sel;\nwire [7:0] e_wr_bank;",
        f"wire [{ADDR_BITS - 1}:0] e_wr_addr, e_rd_addr;\nwire [{WR_BITS - 1}:0] e_wr_data;\nwire [{8 * ACT_WORD * R - 1}:0] e_rd_data;",
        "assign start = wr_pulse[0] & rw_q[0];\nassign irq_en = rw_q[1];\nassign irq_ack = wr_pulse[3];",
        f"assign ro_d = {_read_only(cfg)};",
        "wire [31:0] rw_unused = rw_q[127:96] ^ {rw_q[31:2], 2'b00};  // IRQ_ACK's and CTRL's upper bits: write-only",
        "ce_axil_regs regs (.clk(clk), .rst(rst), " + ", ".join(f".{p}({p})" for p in _AXIL)
        + ", .rw_q(rw_q), .wr_pulse(wr_pulse), .ro_d(ro_d));",
        "ce_axi_rd rd (.clk(clk), .rst(rst), .cmd_valid(rd_cmd_valid), .cmd_ready(rd_cmd_ready), .cmd_addr(rd_cmd_addr),"
        " .cmd_len(rd_cmd_len), .cmd_rows(rd_cmd_rows), .cmd_pitch(rd_cmd_pitch), .o_valid(rd_valid), .o_ready(rd_ready), .o_data(rd_data), .o_last(rd_last),"
        " .o_take(rd_take), .o_word(rd_word), .o_cnt(rd_cnt), .o_tail(rd_tail), .busy(rd_busy_unused), .err(rd_err), .bytes_read(bytes_rd), " + ", ".join(f".{p}({p})" for p in _RD) + ");",
        "ce_axi_wr wr (.clk(clk), .rst(rst), .cmd_valid(wr_cmd_valid), .cmd_ready(wr_cmd_ready), .cmd_addr(wr_cmd_addr),"
        " .cmd_len(wr_cmd_len), .i_valid(wr_valid), .i_ready(wr_ready), .i_data(wr_data), .i_wvalid(wr_wvalid),"
        " .i_wready(wr_wready), .i_word(wr_word), .i_cnt(wr_cnt), .busy(wr_busy),"
        " .done(wr_done), .err(wr_err), .bytes_written(bytes_wr), " + ", ".join(f".{p}({p})" for p in _WR) + ");",
        "ce_engine eng (.clk(clk), .rst(rst), .start(e_start), .done(e_done), .cycles(e_cycles), .busy(e_busy),"
        " .wr_en(e_wr_en), .wr_sel(e_wr_sel), .wr_bank(e_wr_bank), .wr_addr(e_wr_addr), .wr_data(e_wr_data),"
        " .rd_addr(e_rd_addr), .rd_data(e_rd_data));",
        "ce_ctrl ctrl (.clk(clk), .rst(rst), .start(start), .prog_base(rw_q[63:32]), .cnt_base(rw_q[95:64]),"
        " .irq_en(irq_en), .irq_ack(irq_ack), .irq(irq), .busy(busy), .done(done), .err(err), .err_code(err_code),"
        " .cur_layer(cur_layer), .c_activity(c_activity), .c_run_clear(c_run_clear), .c_layer_clear(c_layer_clear),"
        " .c_steps_valid(c_steps_valid), .c_rec_latch(c_rec_latch), .c_record(c_record),"
        " .rd_cmd_valid(rd_cmd_valid), .rd_cmd_ready(rd_cmd_ready), .rd_cmd_addr(rd_cmd_addr), .rd_cmd_len(rd_cmd_len),"
        " .rd_cmd_rows(rd_cmd_rows), .rd_cmd_pitch(rd_cmd_pitch), .rd_valid(rd_valid), .rd_ready(rd_ready), .rd_data(rd_data), .rd_last(rd_last), .rd_take(rd_take),"
        " .rd_word(rd_word), .rd_cnt(rd_cnt), .rd_tail(rd_tail), .rd_err(rd_err),"
        " .wr_cmd_valid(wr_cmd_valid), .wr_cmd_ready(wr_cmd_ready), .wr_cmd_addr(wr_cmd_addr),"
        " .wr_cmd_len(wr_cmd_len), .wr_valid(wr_valid), .wr_ready(wr_ready), .wr_data(wr_data), .wr_wvalid(wr_wvalid),"
        " .wr_wready(wr_wready), .wr_word(wr_word), .wr_cnt(wr_cnt), .wr_done(wr_done), .wr_busy(wr_busy),"
        " .wr_err(wr_err), .e_start(e_start), .e_done(e_done), .e_cycles(e_cycles),"
        " .e_wr_en(e_wr_en), .e_wr_sel(e_wr_sel), .e_wr_bank(e_wr_bank), .e_wr_addr(e_wr_addr),"
        " .e_wr_data(e_wr_data), .e_rd_addr(e_rd_addr), .e_rd_data(e_rd_data));",
        "ce_counters cnt (.clk(clk), .rst(rst), .busy(busy), .activity(c_activity), .run_clear(c_run_clear),"
        " .layer_clear(c_layer_clear), .steps_valid(c_steps_valid), .steps(e_busy), .rd_bytes(bytes_rd),"
        " .wr_bytes(bytes_wr), .rec_latch(c_rec_latch), " + ", ".join(f".{t}({t})" for t in TOTALS)
        + ", .record(c_record));",
    ]
    return "\n".join(t)


def build_accel(cfg: EngineConfig, directory: str) -> list[str]:
    """Counters, controller and top for ``cfg`` (the engine and bus blocks are built by rtl.engine / rtl.bus)."""
    files = [build_counters(directory), convert(_ctrl(cfg), "ce_ctrl", directory)]
    top = accel(**accel_ports())
    files.append(convert(attach_verilog(top, accel_verilog(cfg)), "ce_accel", directory))
    return files
