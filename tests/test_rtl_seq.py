"""ce_seq (the layer sequencer, tiny config): MyHDL's simulation equals the converted Verilog, every
output port cycle by cycle, on both simulators (tb/test_pe.py's stream bench). What its steps compute
is checked end to end by the engine and network tests; this holds the conversion.

Stimulus: a reset, then runs: the layer registers written with random small shapes and any zero
points, a start, and time for the run to end (registers are constant while a run goes on: the
engine's contract; MyHDL's ranges raise where the Verilog would wrap on values outside it)."""

from __future__ import annotations

import numpy as np

from hwspec.config import drain_wait, get_config
from hwspec.formats import LAYER_REGS
from rtl.sequencer import sequencer
from tb.runner import generated_dir
from tb.stream_myhdl import myhdl_stream, verilog_ports
from tb.test_pe import stream_through
from tests.test_rtl_pe import mismatch_report

CONFIG = "tiny"
CYCLES = 8000
# register values: small shapes (a run ends in a few hundred cycles); the zero points any int8
SMALL = dict(cin=(1, 4), h=(1, 6), w=(1, 10), cout=(1, 7), ho=(1, 5), wo=(1, 9), k=(1, 4), stride=(1, 3),
             pad=(0, 2), pad_top=(0, 2), pad_left=(0, 2), row_pitch=(1, 64), chan_pitch=(1, 512), k_rows=(1, 4),
             row_stride=(1, 3), chain=(0, 2), act_base=(0, 4096), out_base=(0, 1024))
RUN_WINDOW = 700  # cycles from a start to the next register write: longer than any run above (checked)


def seq_vectors(n, inputs, seed):
    """Registers are written only between runs (the engine's contract); the test checks every run ended
    inside its window."""
    rng = np.random.default_rng(seed)
    v = {p: np.zeros(n, np.int64) for p, _, _ in inputs}
    v["wr_data"] = [0] * n
    v["rst"][:4] = 1
    k, starts = 4, 0
    while k + len(LAYER_REGS) + RUN_WINDOW < n:
        for i, name in enumerate(LAYER_REGS):  # one register a cycle
            lo, hi = SMALL.get(name, (-128, 128))
            v["wr_en"][k], v["wr_addr"][k], v["wr_data"][k] = 1, i, int(rng.integers(lo, hi)) % 2**66
            k += 1
        v["start"][k] = 1
        starts += 1
        k += RUN_WINDOW
    return v, starts


def test_seq_myhdl_equals_verilog(sim, seed):
    cfg = get_config(CONFIG)
    path = generated_dir(CONFIG) / "ce_seq.v"
    inputs, outputs = verilog_ports(path)
    ports = [p for p, *_ in outputs]
    v, starts = seq_vectors(CYCLES, inputs, (seed, 41))
    mh = myhdl_stream(sequencer, inputs, outputs, v, pre=16, rows=cfg.rows, cols=cfg.cols,
                      min_steps=cfg.min_tile_steps, drain_wait=drain_wait(cfg))
    got, _ = stream_through(sim=sim, block="seq", cfg=cfg, dut_module="ce_seq", sources=[path], inputs=inputs,
                            outputs=outputs, vectors=v, depth=1 << 13)
    # the Verilog as the reference: a register it has not yet written reads X (None) on Icarus
    report, bad = mismatch_report(f"MyHDL vs Verilog ce_seq on {sim}", mh, got, ports)
    print(report)
    assert bad == 0, report
    ends = sum(1 for a, b in zip(got["done"], got["done"][1:]) if b == 1 and a != 1)
    assert starts >= 5 and ends == starts, (starts, ends)  # every run ended before the next registers
    assert sum(1 for x in got["w_valid"] if x == 1) > 20 * starts  # steps were issued
