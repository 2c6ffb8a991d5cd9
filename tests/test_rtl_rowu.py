"""ce_rowu (the row unit, tiny config) against rtl.models.rowu_model on constrained-random streams,
on both simulators (tb/test_pe.py's stream bench, cocotb module tb/test_rowu.py).

Stimulus, after a reset: the weight bank, the constant bank and the output bank written whole
(full 66-bit words, so the weight write keeps only wr_data[7:0]; addresses with random high bits
alias), then tiles of random lengths (back-to-back starts included) whose descriptors carry random
constant tiles (some with high bits), output bases (some just below 2**24, so p_tag wraps), valid
columns 0..15 and rows 0..15 (0 = an unused row), i_tok; i_valid bubbles, fields that change inside
a tile (handed on all the same); after each tile start the previous tile's sums drained on dv_in
every 1..3 cycles (ncols of them give or take, sometimes more than 15 so the count wraps), plus
stray dv_in; PPU results returned PPU_LATENCY cycles after p_valid with their tag (plus stray
q_valid writes), reads of the tags written at the same edge or 1..3 edges before and of random
addresses; random bank writes (some at the weight read at the same edge) and rare resets
throughout. Every output port is compared cycle by cycle (None from the model = unknown state, not
compared)."""

from __future__ import annotations

import numpy as np

from hwspec.config import get_config
from hwspec.config import ACT_WORD
from rtl.feeder import ADDR_BITS, WR_BITS, rowu
from rtl.models import ROWU_OUTPUTS, rowu_model
from hwspec.config import PPU_LATENCY
from tb.runner import generated_dir
from tb.stream_myhdl import myhdl_stream
from tb.test_pe import stream_through
from tests.test_rtl_pe import known_only, mismatch_report

CONFIG = "tiny"
CYCLES = 40_000
PRE = 16  # idle cycles of zero inputs before the stream (run through the model too)
NB = 4  # i_ncols / i_rows width on tiny (cfg.cols, cfg.rows < 16)
ROWU_IN = [("rst", 1, False), ("i_valid", 1, False), ("i_first", 1, False), ("i_waddr", ADDR_BITS, False),
           ("i_ctile", ADDR_BITS, False), ("i_obase", ADDR_BITS, False), ("i_ncols", NB, False),
           ("i_rows", NB, False), ("i_tok", 1, False), ("d_in", 32, True), ("dv_in", 1, False),
           ("q_valid", 1, False), ("q_y", 8, True), ("q_tag", ADDR_BITS, False), ("we_w", 1, False),
           ("we_c", 1, False), ("wr_addr", ADDR_BITS, False), ("wr_data", WR_BITS, False),
           ("rd_addr", ADDR_BITS, False)]
ROWU_OUT = [("o_valid", 1, False), ("o_first", 1, False), ("o_waddr", ADDR_BITS, False),
            ("o_ctile", ADDR_BITS, False), ("o_obase", ADDR_BITS, False), ("o_ncols", NB, False),
            ("o_rows", NB, False), ("o_tok", 1, False), ("w_data", 8, True), ("p_valid", 1, False),
            ("p_acc", 32, True), ("p_bias", 32, True), ("p_mant", 24, False), ("p_exp", 10, True),
            ("p_tag", ADDR_BITS, False), ("rd_data", 8 * ACT_WORD, True, ACT_WORD)]
assert [p for p, *_ in ROWU_OUT] == list(ROWU_OUTPUTS)


def _model(v, cfg):
    """rowu_model over the bench's PRE idle cycles then the stream; the stream's outputs."""
    z = {k: [0] * PRE + list(x) for k, x in v.items()}
    out = rowu_model(z, cfg.wgt_depth, cfg.const_depth, cfg.out_depth, ncols_bits=NB, word=ACT_WORD)
    return {k: x[PRE:] for k, x in out.items()}


def _high(rng, n, p):
    """Random high address bits (above every bank's index) on a fraction p of the cycles."""
    return np.where(rng.random(n) < p, rng.integers(0, 2**ADDR_BITS, n) & ~0xFFFF, 0)


def rowu_vectors(n, cfg, seed):
    rng = np.random.default_rng(seed)
    WD, CD, OD = cfg.wgt_depth, cfg.const_depth, cfg.out_depth
    z = lambda: np.zeros(n, np.int64)  # noqa: E731
    v = {p: z() for p, _, _ in ROWU_IN}
    init = WD + CD + 8
    v["rst"][:4] = 1
    v["rst"][init:] = rng.random(n - init) < 0.0005
    # bank writes: weights then constants, whole, then now and then (read-during-write included)
    k = np.arange(n)
    v["we_w"] = ((k < WD) | ((k >= init) & (rng.random(n) < 0.03))).astype(np.int64)
    v["we_c"] = (((k >= WD) & (k < WD + CD)) | ((k >= init) & (rng.random(n) < 0.01))).astype(np.int64)
    wr_addr = np.where(k < WD, k, np.where(k < WD + CD, k - WD, rng.integers(0, max(WD, CD), n)))
    v["wr_addr"] = wr_addr | _high(rng, n, 0.1)
    v["wr_data"] = [sum(int(x) << (32 * i) for i, x in enumerate(q)) for q in rng.integers(0, 2**32, (n, WR_BITS // 32))]
    # tiles: descriptor held through the tile (some fields redrawn inside), drain of the previous tile
    dv = np.zeros(n, np.int64)
    t, prev_ncols = init, 0
    while t < n:
        L = int(rng.choice([1, 1, 2, 3, int(rng.integers(4, 40)), int(rng.integers(40, 200))]))
        e = min(n, t + L)
        v["i_first"][t] = 1
        v["i_ctile"][t:e] = int(rng.integers(0, CD)) | (int(rng.integers(0, 2**ADDR_BITS)) & ~0xFF
                                                       if rng.random() < 0.05 else 0)
        v["i_obase"][t:e] = (int(rng.integers(2**ADDR_BITS - 16, 2**ADDR_BITS)) if rng.random() < 0.05
                             else int(rng.integers(0, OD)))
        nc = int(rng.choice([int(rng.integers(0, 16)), int(rng.integers(1, cfg.cols + 1))]))
        v["i_ncols"][t:e] = nc
        v["i_rows"][t:e] = int(rng.choice([0, int(rng.integers(0, 16)), int(rng.integers(1, cfg.rows + 1))]))
        v["i_tok"][t:e] = rng.random() < 0.8
        w0 = int(rng.integers(0, WD))
        v["i_waddr"][t:e] = (w0 + np.arange(e - t)) % WD
        # the previous tile's sums: prev_ncols give or take, one every 1..3 cycles, from a few cycles on
        cnt = max(0, prev_ncols + int(rng.choice([0, 0, 0, -1, 1, 2, int(rng.integers(10, 20))])))
        gap, s = int(rng.choice([2, 2, 2, 1, 3])), t + int(rng.integers(0, 8))
        dv[s:min(n, s + gap * cnt):gap] = 1
        prev_ncols, t = nc, e
    v["dv_in"] = (dv | (rng.random(n) < 0.03)).astype(np.int64)
    v["dv_in"][:init] = 0
    v["d_in"] = np.where(rng.random(n) < 0.1, rng.choice([-(2**31), 2**31 - 1, 0, -1], n),
                         rng.integers(-(2**31), 2**31, n, dtype=np.int64))
    v["i_valid"] = ((k >= init) & (rng.random(n) < 0.85)).astype(np.int64)
    for f, p in (("i_waddr", 0.05), ("i_ctile", 0.02), ("i_obase", 0.02), ("i_ncols", 0.02), ("i_rows", 0.02),
                 ("i_tok", 0.02)):
        redraw = (k >= init) & (v["i_first"] == 0) & (rng.random(n) < p)
        hi = {"i_ncols": 16, "i_rows": 16, "i_tok": 2}.get(f, 2**ADDR_BITS)
        v[f] = np.where(redraw, rng.integers(0, hi, n), v[f])
    v["i_waddr"] |= _high(rng, n, 0.05)
    hit = (k >= init) & (v["we_w"] == 1) & (rng.random(n) < 0.3)  # a weight read where it is written
    v["wr_addr"] = np.where(hit, (v["i_waddr"] % WD) // ACT_WORD | _high(rng, n, 0.5), v["wr_addr"])
    # the output bank: written whole first, then the PPU's results (tags of p_valid, PPU_LATENCY + 1
    # vectors later: p_* of vector k are seen during vector k + 1) and stray writes
    v["q_valid"][:OD] = 1
    v["q_tag"] = np.where(k < OD, k, rng.integers(0, OD, n)) | _high(rng, n, 0.05)
    v["q_y"] = rng.integers(-128, 128, n)
    v["q_valid"] = np.where(k >= init, rng.random(n) < 0.05, v["q_valid"]).astype(np.int64)
    p = _model(v, cfg)
    lat = PPU_LATENCY + 1
    for j in range(n - lat):
        if p["p_valid"][j] and p["p_tag"][j] is not None:
            v["q_valid"][j + lat], v["q_tag"][j + lat] = 1, p["p_tag"][j]
    # reads (word addresses): the word of the tag written at the same edge or 1..3 edges before,
    # random addresses (aliased too)
    recent = np.stack([np.roll(v["q_tag"], d) for d in range(4)])[rng.integers(0, 4, n), k] // ACT_WORD
    v["rd_addr"] = np.where(rng.random(n) < 0.5, recent, rng.integers(0, 2**ADDR_BITS, n))
    return v


def test_rowu_vs_model(sim, seed):
    cfg = get_config(CONFIG)
    assert max(cfg.rows, cfg.cols) < 2**NB
    v = rowu_vectors(CYCLES, cfg, seed=(seed, 31))
    got, rate = stream_through(sim=sim, block="rowu", cfg=cfg, dut_module="ce_rowu",
                               sources=[generated_dir(CONFIG) / "ce_rowu.v"], inputs=ROWU_IN, outputs=ROWU_OUT,
                               vectors=v, depth=1 << 16, pre=PRE, test_module="test_rowu")
    want = _model(v, cfg)
    report, bad = mismatch_report(f"ce_rowu {CONFIG} on {sim} ({rate:.0f} cycles/s)", got, want, list(ROWU_OUTPUTS))
    print(report)
    assert bad == 0, report
    # what was compared: sums handed on (with known constants), wrapped tags, weights, read data
    pv = [k for k, x in enumerate(want["p_valid"]) if x == 1]
    assert len(pv) > CYCLES // 25, len(pv)
    assert sum(1 for k in pv if want["p_bias"][k] is not None) > len(pv) * 0.9
    assert sum(1 for k in pv if want["p_tag"][k] < 16) > 10  # some of them wrapped past 2**24
    assert sum(1 for x, q in zip(want["p_valid"], v["dv_in"]) if q and x == 0) > CYCLES // 50  # cut by ncols/ok
    assert sum(1 for x in want["w_data"] if x) > CYCLES // 2
    assert sum(1 for x in want["rd_data"] if None not in x) > CYCLES * 0.9


def test_rowu_myhdl_equals_verilog(sim, seed):
    """MyHDL's simulation of rowu() equals the model and the converted Verilog (tiny) on the same
    4,000 cycles (1,048 of them filling the banks), wherever the model knows the value."""
    cfg = get_config(CONFIG)
    v = rowu_vectors(4000, cfg, seed=(seed, 32))
    mh = myhdl_stream(rowu, ROWU_IN, ROWU_OUT, v, pre=PRE, wdepth=cfg.wgt_depth, cdepth=cfg.const_depth,
                      odepth=cfg.out_depth)
    want = _model(v, cfg)
    report, bad = mismatch_report("MyHDL ce_rowu vs rowu_model", mh, want, list(ROWU_OUTPUTS))
    assert bad == 0, report
    got, _ = stream_through(sim=sim, block="rowu", cfg=cfg, dut_module="ce_rowu",
                            sources=[generated_dir(CONFIG) / "ce_rowu.v"], inputs=ROWU_IN, outputs=ROWU_OUT,
                            vectors=v, depth=1 << 16, pre=PRE, test_module="test_rowu")
    report, bad = mismatch_report(f"MyHDL vs Verilog ce_rowu on {sim}", got, known_only(mh, want), list(ROWU_OUTPUTS))
    print(report)
    assert bad == 0, report
    assert sum(want["p_valid"][k] == 1 and want["p_bias"][k] is not None for k in range(4000)) > 50
