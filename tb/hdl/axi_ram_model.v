// Simulation-only DRAM: an AXI4 slave memory (INCR bursts, full-width beats, byte strobes) that
// runs at simulator speed, for network runs too long for a Python memory model (cocotbext-axi's
// AxiRam stays in the suite for the tiny network). Not synthesizable, not generated: test code.
//
// Backdoor: a rising edge on `load` reads `mem` from the file named by plusarg +DRAM_IN=<path>
// ($readmemh, one DATA_W-bit word per line); a rising edge on `dump` writes it to +DRAM_OUT=<path>
// (words 0 .. +DRAM_WORDS=<n> - 1 when given, the whole memory otherwise).
// Random latency and back-pressure: plusarg +DRAM_STALL=<0..255> is the chance (/256) that a
// ready or valid is held low in a cycle; +DRAM_SEED=<n> seeds the LFSR. 0 (default) never stalls.
// An address past the last of the WORDS words never wraps: its beat is not stored (a write) or
// reads zero, the burst's response is SLVERR, an error line is printed, and `oob` rises and stays
// high with the first such address in `oob_addr` (the bench reports it).
`timescale 1ns/1ps
// verilator tracing_off
module axi_ram_model #(
    parameter DATA_W = 128,
    parameter ADDR_W = 32,
    parameter WORDS = 1 << 16
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  load,
    input  wire                  dump,
    // read address and data
    input  wire [ADDR_W-1:0]     arADDR,
    input  wire [7:0]            arLEN,
    input  wire                  arVALID,
    output reg                   arREADY,
    output reg  [DATA_W-1:0]     rDATA,
    output reg  [1:0]            rRESP,
    output reg                   rLAST,
    output reg                   rVALID,
    input  wire                  rREADY,
    // write address, data and response
    input  wire [ADDR_W-1:0]     awADDR,
    input  wire [7:0]            awLEN,
    input  wire                  awVALID,
    output reg                   awREADY,
    input  wire [DATA_W-1:0]     wDATA,
    input  wire [DATA_W/8-1:0]   wSTRB,
    input  wire                  wLAST,
    input  wire                  wVALID,
    output reg                   wREADY,
    output reg  [1:0]            bRESP,
    output reg                   bVALID,
    input  wire                  bREADY,
    // out-of-range access: sticky, never cleared (not even by rst)
    output reg                   oob,
    output reg  [ADDR_W-1:0]     oob_addr
);
    localparam BYTES = DATA_W / 8;
    localparam SHIFT = $clog2(BYTES);
    localparam INDEX_W = $clog2(WORDS);
    localparam [1:0] OKAY = 2'b00, SLVERR = 2'b10;
    reg [DATA_W-1:0] mem [0:WORDS-1];
    reg [1023:0] path;
    integer stall, i, nwords;
    reg [31:0] lfsr;
    reg load_q, dump_q;

    initial begin
        stall = 0;
        lfsr = 32'h1;
        if ($value$plusargs("DRAM_STALL=%d", stall)) ;
        if ($value$plusargs("DRAM_SEED=%d", lfsr)) ;
        if (lfsr == 0) lfsr = 32'h1;
        for (i = 0; i < WORDS; i = i + 1) mem[i] = {DATA_W{1'b0}};
        oob = 0;
        oob_addr = 0;
    end

    function in_range(input [ADDR_W-1:0] addr);
        in_range = (addr >> SHIFT) < WORDS;
    endfunction

    always @(posedge clk) begin
        load_q <= load;
        dump_q <= dump;
        if (load && !load_q) begin
            if ($value$plusargs("DRAM_IN=%s", path)) $readmemh(path, mem);
        end
        if (dump && !dump_q) begin
            if ($value$plusargs("DRAM_OUT=%s", path)) begin
                if ($value$plusargs("DRAM_WORDS=%d", nwords) && nwords > 0 && nwords <= WORDS)
                    $writememh(path, mem, 0, nwords - 1);
                else
                    $writememh(path, mem);
            end
        end
        lfsr <= {lfsr[30:0], lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0]};
    end

    wire go = (lfsr[7:0] >= stall[7:0]);  // this cycle may make progress

    // reads: one burst at a time
    reg [ADDR_W-1:0] raddr;
    reg [7:0] rleft;
    reg rbusy;
    wire rbeat = rbusy && (!rVALID || rREADY) && !(rVALID && rREADY && rLAST) && go;  // a beat goes out
    always @(posedge clk) begin
        if (rst) begin
            arREADY <= 0; rVALID <= 0; rLAST <= 0; rbusy <= 0; rRESP <= 2'b00;
        end else begin
            arREADY <= !rbusy && go;
            if (arVALID && arREADY) begin
                raddr <= arADDR;
                rleft <= arLEN;
                rbusy <= 1;
                arREADY <= 0;
            end
            if (rVALID && rREADY) begin
                rVALID <= 0;
                if (rLAST) rbusy <= 0;
            end
            if (rbeat) begin
                rDATA <= in_range(raddr) ? mem[raddr[SHIFT +: INDEX_W]] : {DATA_W{1'b0}};
                rRESP <= in_range(raddr) ? OKAY : SLVERR;
                rVALID <= 1;
                rLAST <= (rleft == 0);
                raddr <= raddr + BYTES;
                rleft <= rleft - 1;
            end
        end
    end

    // writes: address first, then the burst's beats, then the response
    reg [ADDR_W-1:0] waddr;
    reg wbusy, werr;  // werr: a beat of this burst was out of range
    integer b;
    always @(posedge clk) begin
        if (rst) begin
            awREADY <= 0; wREADY <= 0; bVALID <= 0; wbusy <= 0; bRESP <= 2'b00;
        end else begin
            awREADY <= !wbusy && !bVALID && go;
            if (awVALID && awREADY) begin
                waddr <= awADDR;
                wbusy <= 1;
                werr <= 0;
                awREADY <= 0;
            end
            wREADY <= wbusy && go && !(wVALID && wREADY && wLAST);
            if (wVALID && wREADY) begin
                if (in_range(waddr)) begin
                    for (b = 0; b < BYTES; b = b + 1)
                        if (wSTRB[b]) mem[waddr[SHIFT +: INDEX_W]][8*b +: 8] <= wDATA[8*b +: 8];
                end else
                    werr <= 1;
                waddr <= waddr + BYTES;
                if (wLAST) begin
                    wbusy <= 0;
                    wREADY <= 0;
                    bVALID <= 1;
                    bRESP <= (werr || !in_range(waddr)) ? SLVERR : OKAY;
                end
            end
            if (bVALID && bREADY) bVALID <= 0;
        end
    end

    // the first out-of-range address, from either channel (a read's wins a tie)
    always @(posedge clk) begin
        if (!oob && rbeat && !in_range(raddr)) begin
            oob <= 1;
            oob_addr <= raddr;
            $display("error: DRAM model: read at 0x%h, past its end (%0d words of %0d bytes)", raddr, WORDS, BYTES);
        end else if (!oob && wVALID && wREADY && !in_range(waddr)) begin
            oob <= 1;
            oob_addr <= waddr;
            $display("error: DRAM model: write at 0x%h, past its end (%0d words of %0d bytes)", waddr, WORDS, BYTES);
        end
    end

endmodule
