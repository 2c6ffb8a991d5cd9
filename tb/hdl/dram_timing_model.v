// Simulation-only DRAM with real timing: an AXI4 slave memory with the ports, backdoor and
// out-of-range behaviour of tb/hdl/axi_ram_model.v (the ideal model), whose bursts take the time a
// DDR4 channel takes. Not synthesizable, not generated: test code.
//
// Timing (every parameter in accelerator clock cycles of 2 ns, 500 MHz), from the datasheet of
// Micron MT40A512M16 (8 Gb, x16) DDR4-3200AA, speed grade -062E (22-22-22), "Micron 8Gb DDR4 SDRAM
// data sheet, MT40A2G4/MT40A1G8/MT40A512M16", a 64-bit rank of four parts; tCK = 0.625 ns; each
// interval rounded up to whole cycles (never shorter than the datasheet's):
//   CL    = 22 nCK = 13.75 ns ->  7      CWL  = 16 nCK = 10 ns  ->  5
//   TRCD  = tRCD 13.75 ns     ->  7      TRP  = tRP 13.75 ns    ->  7
//   TWTR  = tWTR_L 7.5 ns     ->  4      TRTW = 2 nCK data-bus gap read to write (RL + BL/2 - WL + 2) = 1.25 ns -> 1
//   TREFI = tREFI 7.8 us      -> 3900    TRFC = tRFC (8 Gb) 350 ns -> 175
//   BANK_BITS = 3: 8 banks (2 bank groups x 4); COL_BITS = 13: an 8 KB row of the rank (2 KB page x 4)
//   T_CTRL = 10: controller, PHY and interconnect, 20 ns each way (an assumption, not the datasheet's);
//     the plusarg +DRAM_T_CTRL=<cycles> replaces it at run time
//   DEPTH  = 8 requests outstanding per direction
// tb/dram_timing.py holds these numbers (DramTiming.from_part: the defaults below are checked
// against it) and the rules, which this model follows cycle for cycle (tb/test_dram_timing.py):
//  1. Reads and writes each queue up to DEPTH requests in order; AR (AW) is ready from cycle 1 while
//     fewer than DEPTH are outstanding (a read until its last R beat, a write until its B handshake).
//  2. One data path, one beat (DATA_W bits) per cycle, one burst at a time. When it is free, the
//     older of the oldest queued read and write is scheduled (a tie: the read; a write once every
//     beat of it is in the write buffer). W beats go into a write buffer (WREADY while it has
//     room, from cycle 1; DEPTH * 256 beats), read beats into a read buffer for the master: a
//     burst's beats take their slots on the data path whatever the master does.
//  3. Byte address = row | bank (BANK_BITS) | column (COL_BITS).
//  4. Open-row banks. A burst accepted at cycle a starts its access at s = max(a + T_CTRL, end of
//     the last refresh, and on a row conflict: the bank's last beat + 1); its first beat is
//     d = max(s + latency, previous last beat + 1 + turnaround, scheduling cycle + 1), latency =
//     {hit 0 | closed TRCD | conflict TRP + TRCD} + {read CL + T_CTRL | write CWL}, turnaround =
//     {write->read TWTR + CL | read->write TRTW | else 0}; its beats follow one a cycle.
//  5. Refresh k is due at cycle k * TREFI (from reset). When a due refresh falls at or before a
//     burst's last beat, it goes first: from max(due, previous last beat + 1), TRP + TRFC cycles,
//     closing every row; the burst is then scheduled again.
//  6. A write's B response is ready T_CTRL cycles after its last beat.
// Where the data path's cycles go: the integers read_bursts .. wait_refresh below, counted as each
// burst is scheduled, are tb/dram_timing.py's DramStats (same names, same rules); `now` is the
// cycle count. The bench reads them through VPI (tb/test_accel.py).
// The data path is 64 bytes per 2 ns (32 GB/s); a 64-bit DDR4-3200 channel moves 25.6 GB/s.
//
// Backdoor and errors as in axi_ram_model.v: a rising edge on `load` reads `mem` from
// +DRAM_IN=<path> ($readmemh), one on `dump` writes +DRAM_OUT=<path> (words 0 .. +DRAM_WORDS - 1
// when given). An address past the last of the WORDS words never wraps: its beat is not stored
// (write) or reads zero, its response is SLVERR, an error line is printed and `oob` rises and stays
// high with the first such address in `oob_addr`. +DRAM_STALL is not read: the timing is the model's.
// A write burst takes the next AWLEN + 1 beats of W (WLAST is not checked).
`timescale 1ns/1ps
// verilator tracing_off
// verilator lint_off BLKSEQ
// (the clocked block updates its private state with blocking assignments: a behavioural model)
module dram_timing_model #(
    parameter DATA_W = 128,
    parameter ADDR_W = 32,
    parameter WORDS = 1 << 16,
    parameter CL = 7,
    parameter CWL = 5,
    parameter TRCD = 7,
    parameter TRP = 7,
    parameter TWTR = 4,
    parameter TRTW = 1,
    parameter TREFI = 3900,
    parameter TRFC = 175,
    parameter T_CTRL = 10,
    parameter BANK_BITS = 3,
    parameter COL_BITS = 13,
    parameter DEPTH = 8
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
    localparam BANKS = 1 << BANK_BITS;
    localparam [1:0] OKAY = 2'b00, SLVERR = 2'b10;
    reg [DATA_W-1:0] mem [0:WORDS-1];
    reg [1023:0] path;
    integer i, nwords;
    integer t_ctrl;  // T_CTRL, or +DRAM_T_CTRL=<cycles> at run time: one build serves every latency
    reg load_q, dump_q;

    initial begin
        if (!$value$plusargs("DRAM_T_CTRL=%d", t_ctrl)) t_ctrl = T_CTRL;
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
    end

    // State private to the model's clocked block (blocking assignments); the ports are registers
    // it sets for the next cycle (nonblocking). Cycle numbers count edges from 0 out of reset.
    integer now;
    // queued (accepted, not scheduled) requests per direction, in order, with their accept cycle
    reg [ADDR_W-1:0] rq_addr [0:DEPTH-1];
    reg [ADDR_W-1:0] wq_addr [0:DEPTH-1];
    reg [7:0] rq_len [0:DEPTH-1];
    reg [7:0] wq_len [0:DEPTH-1];
    integer rq_acc [0:DEPTH-1];
    integer wq_acc [0:DEPTH-1];
    integer rq_head, rq_n, wq_head, wq_n, r_occ, w_occ;
    // write responses: ready cycle and code
    integer b_time [0:DEPTH-1];
    reg [1:0] b_code [0:DEPTH-1];
    integer b_head, b_n;
    // the burst on the data path
    reg busy, s_write, s_err;
    reg [ADDR_W-1:0] s_addr;
    integer s_left, nb, s_bank;
    // read beats that took their slot, waiting for the master, and write beats waiting for their
    // slot (each buffer: every beat of DEPTH bursts)
    localparam RF = DEPTH * 256;
    reg [DATA_W-1:0] wb_data [0:RF-1];
    reg [DATA_W/8-1:0] wb_strb [0:RF-1];
    integer wb_head, wb_n;
    reg [DATA_W-1:0] rf_data [0:RF-1];
    reg [1:0] rf_resp [0:RF-1];
    reg rf_last [0:RF-1];
    integer rf_head, rf_n;
    // banks, turnaround, refresh
    reg row_open [0:BANKS-1];
    reg [ADDR_W-1:0] row_of [0:BANKS-1];
    integer bank_end [0:BANKS-1];
    integer prev_end, next_ref, ref_end;
    reg have_prev, prev_write;
    // where the data path's cycles went (tb/dram_timing.py DramStats): read by the bench
    integer read_bursts, write_bursts, read_beats, write_beats, row_hits, row_misses, row_conflicts, refreshes;
    integer wait_latency, wait_row, wait_turnaround, wait_refresh;
    integer d1, d2, d3;

    // rule 4 and 5 for one burst: its first beat's cycle
    integer sa, lat, st, turn, d, k, acc;
    reg pick_w, w_ok, hit, conflict, again;
    reg [ADDR_W-1:0] row;
    integer bk;

    always @(posedge clk) begin
        if (rst) begin
            now = 0;
            rq_head = 0; rq_n = 0; wq_head = 0; wq_n = 0; r_occ = 0; w_occ = 0; b_head = 0; b_n = 0; rf_head = 0; rf_n = 0; wb_head = 0; wb_n = 0;
            busy = 0; s_write = 0; s_err = 0; s_addr = 0; s_left = 0; nb = 0; s_bank = 0;
            for (k = 0; k < BANKS; k = k + 1) begin row_open[k] = 0; row_of[k] = 0; bank_end[k] = -1; end
            prev_end = -1; have_prev = 0; prev_write = 0; next_ref = TREFI; ref_end = 0;
            read_bursts = 0; write_bursts = 0; read_beats = 0; write_beats = 0; row_hits = 0; row_misses = 0;
            row_conflicts = 0; refreshes = 0; wait_latency = 0; wait_row = 0; wait_turnaround = 0; wait_refresh = 0;
            arREADY <= 0; awREADY <= 0; rVALID <= 0; rLAST <= 0; rRESP <= OKAY; wREADY <= 0;
            bVALID <= 0; bRESP <= OKAY;
        end else begin
            // 1. addresses
            if (arVALID && arREADY) begin
                k = (rq_head + rq_n) % DEPTH;
                rq_addr[k] = arADDR; rq_len[k] = arLEN; rq_acc[k] = now;
                rq_n = rq_n + 1; r_occ = r_occ + 1;
            end
            if (awVALID && awREADY) begin
                k = (wq_head + wq_n) % DEPTH;
                wq_addr[k] = awADDR; wq_len[k] = awLEN; wq_acc[k] = now;
                wq_n = wq_n + 1; w_occ = w_occ + 1;
            end
            // 2. a data beat
            // (a beat takes its slot whatever the master does: a read's waits in the read buffer,
            // filled one edge ahead in step 5; a write's came from the write buffer)
            if (wVALID && wREADY) begin
                k = (wb_head + wb_n) % RF;
                wb_data[k] = wDATA; wb_strb[k] = wSTRB;
                wb_n = wb_n + 1;
            end
            if (rVALID && rREADY) begin
                if (rf_last[rf_head]) r_occ = r_occ - 1;
                rf_head = (rf_head + 1) % RF; rf_n = rf_n - 1;
            end
            if (busy && now >= nb) begin
                if (!in_range(s_addr)) begin
                    s_err = 1;
                    if (!oob) begin
                        oob <= 1;
                        oob_addr <= s_addr;
                        $display("error: DRAM timing model: %s at 0x%h, past its end (%0d words of %0d bytes)",
                                 s_write ? "write" : "read", s_addr, WORDS, BYTES);
                    end
                end else if (s_write) begin
                    for (k = 0; k < BYTES; k = k + 1)
                        if (wb_strb[wb_head][k]) mem[s_addr[SHIFT +: INDEX_W]][8*k +: 8] = wb_data[wb_head][8*k +: 8];
                end
                if (s_write) begin
                    wb_head = (wb_head + 1) % RF; wb_n = wb_n - 1;
                end
                s_addr = s_addr + BYTES;
                nb = now + 1;
                s_left = s_left - 1;
                if (s_left == 0) begin
                    busy = 0;
                    prev_end = now; have_prev = 1; prev_write = s_write; bank_end[s_bank] = now;
                    if (s_write) begin
                        k = (b_head + b_n) % DEPTH;
                        b_time[k] = now + t_ctrl; b_code[k] = s_err ? SLVERR : OKAY;
                        b_n = b_n + 1;
                    end
                end
            end
            // 3. a write response
            if (bVALID && bREADY) begin
                b_head = (b_head + 1) % DEPTH; b_n = b_n - 1; w_occ = w_occ - 1;
            end
            // 4. schedule the older head
            w_ok = wq_n > 0 && wb_n > {24'd0, wq_len[wq_head]};  // every beat of the write buffered
            if (!busy && (rq_n > 0 || w_ok)) begin
                pick_w = w_ok && (rq_n == 0 || wq_acc[wq_head] < rq_acc[rq_head]);
                if (pick_w) begin
                    s_addr = wq_addr[wq_head]; s_left = {24'd0, wq_len[wq_head]} + 1; acc = wq_acc[wq_head];
                    wq_head = (wq_head + 1) % DEPTH; wq_n = wq_n - 1;
                end else begin
                    s_addr = rq_addr[rq_head]; s_left = {24'd0, rq_len[rq_head]} + 1; acc = rq_acc[rq_head];
                    rq_head = (rq_head + 1) % DEPTH; rq_n = rq_n - 1;
                end
                s_write = pick_w; s_err = 0;
                bk = (s_addr >> COL_BITS) % BANKS;
                row = s_addr >> (COL_BITS + BANK_BITS);
                again = 1;
                while (again) begin
                    hit = row_open[bk] && row_of[bk] == row;
                    conflict = row_open[bk] && !hit;
                    lat = (hit ? 0 : conflict ? TRP + TRCD : TRCD) + (pick_w ? CWL : CL + t_ctrl);
                    st = acc + t_ctrl;
                    if (ref_end > st) st = ref_end;
                    if (conflict && bank_end[bk] + 1 > st) st = bank_end[bk] + 1;
                    turn = (!have_prev || prev_write == pick_w) ? 0 : pick_w ? TRTW : TWTR + CL;
                    d = st + lat;
                    if (have_prev && prev_end + 1 + turn > d) d = prev_end + 1 + turn;
                    if (now + 1 > d) d = now + 1;
                    again = next_ref <= d + s_left - 1;
                    if (again) begin
                        sa = prev_end + 1 > next_ref ? prev_end + 1 : next_ref;
                        ref_end = sa + TRP + TRFC;
                        for (k = 0; k < BANKS; k = k + 1) row_open[k] = 0;
                        next_ref = next_ref + TREFI;
                        refreshes = refreshes + 1;
                    end
                end
                // the counters: the first beat's wait split by the term of rule 4 that set it
                if (pick_w) begin write_bursts = write_bursts + 1; write_beats = write_beats + s_left; end
                else begin read_bursts = read_bursts + 1; read_beats = read_beats + s_left; end
                if (hit) row_hits = row_hits + 1;
                else if (conflict) row_conflicts = row_conflicts + 1;
                else row_misses = row_misses + 1;
                d1 = acc + t_ctrl + (pick_w ? CWL : CL + t_ctrl);
                if (now + 1 > d1) d1 = now + 1;
                d2 = acc + t_ctrl;
                if (conflict && bank_end[bk] + 1 > d2) d2 = bank_end[bk] + 1;
                d2 = d2 + lat;
                if (d1 > d2) d2 = d1;
                d3 = (have_prev && prev_end + 1 + turn > d2) ? prev_end + 1 + turn : d2;
                wait_latency = wait_latency + d1 - now - 1;
                wait_row = wait_row + d2 - d1;
                wait_turnaround = wait_turnaround + d3 - d2;
                wait_refresh = wait_refresh + d - d3;
                row_open[bk] = 1; row_of[bk] = row;
                busy = 1; nb = d; s_bank = bk;
            end
            // 5. the ports for the next cycle
            if (busy && !s_write && now + 1 >= nb) begin  // the read beat of the next slot
                k = (rf_head + rf_n) % RF;
                rf_data[k] = in_range(s_addr) ? mem[s_addr[SHIFT +: INDEX_W]] : {DATA_W{1'b0}};
                rf_resp[k] = in_range(s_addr) ? OKAY : SLVERR;
                rf_last[k] = s_left == 1;
                rf_n = rf_n + 1;
            end
            rVALID <= rf_n > 0;
            rDATA <= rf_data[rf_head];
            rRESP <= rf_resp[rf_head];
            rLAST <= rf_last[rf_head];
            wREADY <= wb_n < RF;
            bVALID <= b_n > 0 && b_time[b_head] <= now + 1;
            bRESP <= b_code[b_head];
            arREADY <= r_occ < DEPTH;
            awREADY <= w_occ < DEPTH;
            now = now + 1;
        end
    end

endmodule
