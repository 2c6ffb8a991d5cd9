// Streams cases from a RAM through ce_ppu at one case per cycle, so Python does not wake per clock.
// On go: $readmemh("ppu_in.hex") (122-bit words: acc|bias|mant|exp|yzp|qmin|qmax), run n cases,
// $writememh("ppu_out.hex") of the int8 results in case order, raise done.
`timescale 1ns/1ps
module ppu_stream #(parameter N = 1 << 20) (input clk, input go, input [31:0] n, output reg done);
    reg [121:0] vin [0:N-1];
    reg [7:0] vout [0:N-1];
    reg [31:0] i, j;
    reg run;
    reg i_valid;
    reg [121:0] v;
    reg [23:0] i_tag;
    wire o_valid;
    wire signed [7:0] o_y;
    wire [23:0] o_tag;
    initial begin done = 0; run = 0; i = 0; j = 0; i_valid = 0; v = 0; i_tag = 0; end
    always @(posedge go) begin
        $readmemh("ppu_in.hex", vin);
        run <= 1;
    end
    always @(posedge clk) begin
        i_valid <= run && i < n;
        if (run && i < n) begin
            v <= vin[i[19:0]];
            i_tag <= i[23:0];
            i <= i + 1;
        end
        if (o_valid) begin
            vout[o_tag[19:0]] <= o_y;
            j <= j + 1;
        end
        if (run && j == n && !done) begin
            $writememh("ppu_out.hex", vout, 0, n - 1);
            done <= 1;
        end
    end
    ce_ppu dut (.clk(clk), .i_valid(i_valid), .i_acc(v[121:90]), .i_bias(v[89:58]), .i_mant(v[57:34]),
                .i_exp(v[33:24]), .i_yzp(v[23:16]), .i_qmin(v[15:8]), .i_qmax(v[7:0]), .i_tag(i_tag),
                .o_valid(o_valid), .o_y(o_y), .o_tag(o_tag));
endmodule
