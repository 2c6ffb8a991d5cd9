"""The R x C array: ``ce_row`` (C PEs side by side) and ``ce_array`` (R rows stacked).

Structural modules (MyHDL blocks carrying user-defined Verilog, see hdl.py). Systolic skew is not a
delay-line triangle here: the feeders issue column j's and row i's streams j and i cycles late
(each feeder is one stage of a registered address chain, see feeder.py), so operands meet in
PE(i, j) at step + i + j. Activations and the tile-start flag move down one row per cycle, weights
move right one column per cycle, finished sums drain left (pe.py) in two interleaved chains: PE j
takes PE j+2's drain register, so even columns leave at column 0 and odd ones at column 1. Column
m's sum enters its drain register m cycles after column 0's (the skew) and needs ceil(m/2) hops,
so the sums leave in column order, 1, 2, 1, 2, ... cycles apart, never two in one cycle: a row
drains in C + ceil(C/2) cycles (one chain: 2C), which sets the minimum tile (hwspec/config.py).

ce_row ports: clk; a_in/a_out C*8 (column j in bits [8j+7:8j]), f_in/f_out C bits, w_in 8;
d_out 32 / dv_out: the row's drain output: column 0's drain register when it is valid, else
column 1's.
ce_array ports: clk; a_top C*8, f_top C, w_left R*8 (row i in [8i+7:8i]); d_left R*32, dv_left R.
"""

from myhdl import always, block

from rtl.hdl import attach_verilog, mark_ports

__all__ = ["row", "array", "row_verilog", "array_verilog"]


@block
def row(clk, a_in, f_in, w_in, a_out, f_out, d_out, dv_out, *, cols):
    mark_ports([clk, a_in, f_in, w_in], [a_out, f_out, d_out, dv_out])

    @always(clk.posedge)
    def body():  # placeholder: names the ports; the Verilog is user code
        pass

    return body


def row_verilog(cols):
    C = cols
    t = [f"wire [7:0] w_{j};\nwire [31:0] d_{j};\nwire dv_{j};" for j in range(C + 2)]
    t.append("assign w_0 = w_in;\nassign d_" + f"{C} = 32'd0;\nassign dv_{C} = 1'b0;\n"
             f"assign d_{C + 1} = 32'd0;\nassign dv_{C + 1} = 1'b0;")
    if C == 1:
        t.append("assign d_out = d_0;\nassign dv_out = dv_0;\nwire d_1_unused = dv_1 ^ (^d_1);")
    else:  # the even chain leaves at column 0, the odd one at column 1
        t.append("assign d_out = dv_0 ? d_0 : d_1;\nassign dv_out = dv_0 | dv_1;")
    t.append(f"wire [7:0] w_last_unused = w_{C};  // the last weight leaves the array")
    for j in range(C):
        t.append(
            f"ce_pe pe{j} (.clk(clk), .a_in(a_in[{8*j+7}:{8*j}]), .w_in(w_{j}), .f_in(f_in[{j}]), "
            f".d_in(d_{j+2}), .dv_in(dv_{j+2}), .a_out(a_out[{8*j+7}:{8*j}]), .w_out(w_{j+1}), "
            f".f_out(f_out[{j}]), .d_out(d_{j}), .dv_out(dv_{j}));"
        )
    return "\n".join(t)


@block
def array(clk, a_top, f_top, w_left, d_left, dv_left, *, rows, cols):
    mark_ports([clk, a_top, f_top, w_left], [d_left, dv_left])

    @always(clk.posedge)
    def body():  # placeholder: names the ports; the Verilog is user code
        pass

    return body


def array_verilog(rows, cols):
    R, C = rows, cols
    t = [f"wire [{8*C-1}:0] a_{i};\nwire [{C-1}:0] f_{i};" for i in range(R + 1)]
    t.append("assign a_0 = a_top;\nassign f_0 = f_top;")
    t.append(f"wire [{8*C-1}:0] a_bottom_unused = a_{R};  // activations leave the array\n"
             f"wire [{C-1}:0] f_bottom_unused = f_{R};")
    for i in range(R):
        t.append(
            f"ce_row row{i} (.clk(clk), .a_in(a_{i}), .f_in(f_{i}), .w_in(w_left[{8*i+7}:{8*i}]), "
            f".a_out(a_{i+1}), .f_out(f_{i+1}), .d_out(d_left[{32*i+31}:{32*i}]), .dv_out(dv_left[{i}]));"
        )
    return "\n".join(t)
