// Simulation top for network runs: the accelerator with its AXI master on a Verilog DRAM model,
// the ideal one (tb/hdl/axi_ram_model.v, the default) or, with TIMING_DRAM = 1, the one with real
// DDR4 timing (tb/hdl/dram_timing_model.v, its default timing). cocotb drives clk, rst, the AXI-Lite
// port and the DRAM backdoor (load, dump) and waits on irq; dram_oob reports an access past the DRAM
// model's end. The model's size, MEM_WORDS (512-bit words), is set by tb.accel_run.run_accel from
// the run's layout. Test code, not generated.
`timescale 1ns/1ps
module accel_tb_top #(
    parameter MEM_WORDS = 1 << 20,
    parameter TIMING_DRAM = 0  // the timing DRAM's controller latency: plusarg +DRAM_T_CTRL (tb.accel_run)
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        load,
    input  wire        dump,
    output wire        irq,
    output wire        dram_oob,
    output wire [31:0] dram_oob_addr,
    input  wire [7:0]  s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [1:0]  s_axil_bresp,
    output wire        s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [7:0]  s_axil_araddr,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output wire [31:0] s_axil_rdata,
    output wire [1:0]  s_axil_rresp,
    output wire        s_axil_rvalid,
    input  wire        s_axil_rready
);
    wire [3:0] arid, awid;
    wire [31:0] araddr, awaddr;
    wire [7:0] arlen, awlen;
    wire [2:0] arsize, awsize;
    wire [1:0] arburst, awburst, rresp, bresp;
    wire arvalid, arready, rlast, rvalid, rready, awvalid, awready, wlast, wvalid, wready, bvalid, bready;
    wire [511:0] rdata, wdata;  // hwspec.bus.DMA's data width (tb.accel_run checks)
    wire [63:0] wstrb;

    ce_accel dut (
        .clk(clk), .rst(rst), .irq(irq),
        .m_axi_arid(arid), .m_axi_araddr(araddr), .m_axi_arlen(arlen), .m_axi_arsize(arsize),
        .m_axi_arburst(arburst), .m_axi_arvalid(arvalid), .m_axi_arready(arready),
        .m_axi_rid(4'd0), .m_axi_rdata(rdata), .m_axi_rresp(rresp), .m_axi_rlast(rlast),
        .m_axi_rvalid(rvalid), .m_axi_rready(rready),
        .m_axi_awid(awid), .m_axi_awaddr(awaddr), .m_axi_awlen(awlen), .m_axi_awsize(awsize),
        .m_axi_awburst(awburst), .m_axi_awvalid(awvalid), .m_axi_awready(awready),
        .m_axi_wdata(wdata), .m_axi_wstrb(wstrb), .m_axi_wlast(wlast), .m_axi_wvalid(wvalid),
        .m_axi_wready(wready), .m_axi_bid(4'd0), .m_axi_bresp(bresp), .m_axi_bvalid(bvalid),
        .m_axi_bready(bready),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready)
    );

    // both DRAM models have the same ports
`define ACCEL_TB_DRAM_PORTS \
            .clk(clk), .rst(rst), .load(load), .dump(dump), \
            .arADDR(araddr), .arLEN(arlen), .arVALID(arvalid), .arREADY(arready), \
            .rDATA(rdata), .rRESP(rresp), .rLAST(rlast), .rVALID(rvalid), .rREADY(rready), \
            .awADDR(awaddr), .awLEN(awlen), .awVALID(awvalid), .awREADY(awready), \
            .wDATA(wdata), .wSTRB(wstrb), .wLAST(wlast), .wVALID(wvalid), .wREADY(wready), \
            .bRESP(bresp), .bVALID(bvalid), .bREADY(bready), .oob(dram_oob), .oob_addr(dram_oob_addr)
    generate if (TIMING_DRAM) begin : timing
        dram_timing_model #(.DATA_W(512), .ADDR_W(32), .WORDS(MEM_WORDS)) dram (
            `ACCEL_TB_DRAM_PORTS
        );
    end else begin : ideal
        axi_ram_model #(.DATA_W(512), .ADDR_W(32), .WORDS(MEM_WORDS)) dram (
            `ACCEL_TB_DRAM_PORTS
        );
    end endgenerate
`undef ACCEL_TB_DRAM_PORTS
endmodule
