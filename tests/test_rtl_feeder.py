"""ce_fcol (the column feeder, tiny config) against rtl.models.fcol_model on constrained-random
streams, on both simulators (tb/test_pe.py's stream bench, cocotb module tb/test_feeder.py).

Stimulus: word writes (16 random bytes) at random times into a small address window (plus a few far
word addresses, so the low address bits alias), reads at random in-window and negative addresses, taps inside and outside the
row (i_ix < 0, i_ix >= l_w, i_iyok = 0), layer registers changing now and then, all strides 0..3.
ce_rowu (weights, constants, drain numbering, output bank) has its own test: tests/test_rtl_rowu.py."""

from __future__ import annotations

import numpy as np

from rtl.config import get_config
from rtl.feeder import ACT_WORD, ADDR_BITS
from rtl.models import fcol_model
from tb.runner import generated_dir
from tb.test_pe import stream_through
from tests.test_rtl_pe import mismatch_report

CONFIG = "tiny"
CYCLES = 50_000
FCOL_IN = [("i_first", 1, False), ("i_addr", ADDR_BITS, True), ("i_iyok", 1, False), ("i_ix", ADDR_BITS, True),
           ("l_w", 16, False), ("l_stride", 2, False), ("l_xzp", 8, True), ("wr_en", 1, False),
           ("wr_addr", ADDR_BITS, False), ("wr_data", 8 * ACT_WORD, False)]
FCOL_OUT = [("o_first", 1, False), ("o_addr", ADDR_BITS, True), ("o_iyok", 1, False), ("o_ix", ADDR_BITS, True),
            ("a_data", 8, True), ("f_data", 1, False)]


def _held(rng, n, values, p_change):
    """A register value held for random stretches (layer registers change rarely)."""
    change = rng.random(n) < p_change
    change[0] = True
    idx = np.cumsum(change) - 1
    return np.asarray(values(int(idx[-1]) + 1))[idx]


def fcol_vectors(n, depth, seed):
    rng = np.random.default_rng(seed)
    win, wwin = 256, 256 // ACT_WORD  # bytes, words
    wr_addr = rng.integers(0, wwin, n)
    wr_addr = np.where(rng.random(n) < 0.05, rng.integers(0, 2**ADDR_BITS, n), wr_addr)  # aliases of the window
    wr_addr[:wwin] = np.arange(wwin)  # the window written first (most reads then hit known bytes)
    i_addr = rng.integers(-16, win, n)
    i_addr = np.where(rng.random(n) < 0.02, rng.integers(-(2**23), 2**23, n), i_addr)
    l_w = _held(rng, n, lambda k: rng.integers(1, 40, k), 0.002)
    i_ix = rng.integers(-4, 44, n)
    i_ix = np.where(rng.random(n) < 0.01, rng.choice([-(2**23), 2**23 - 1, 2**23 - 2], n), i_ix)  # wrap of o_ix
    return dict(i_first=(rng.random(n) < 0.1).astype(np.int64), i_addr=i_addr,
                i_iyok=(rng.random(n) < 0.8).astype(np.int64), i_ix=i_ix, l_w=l_w,
                l_stride=_held(rng, n, lambda k: rng.integers(0, 4, k), 0.002),
                l_xzp=_held(rng, n, lambda k: rng.integers(-128, 128, k), 0.002),
                wr_en=(rng.random(n) < 0.3).astype(np.int64) | (np.arange(n) < wwin), wr_addr=wr_addr,
                wr_data=[int.from_bytes(rng.bytes(ACT_WORD), "little") for _ in range(n)])


def test_fcol_vs_model(sim):
    cfg = get_config(CONFIG)
    v = fcol_vectors(CYCLES, cfg.act_depth, seed=21)
    got, rate = stream_through(sim=sim, block="fcol", cfg=cfg, dut_module="ce_fcol",
                               sources=[generated_dir(CONFIG) / "ce_fcol.v"], inputs=FCOL_IN, outputs=FCOL_OUT,
                               vectors=v, depth=1 << 16, test_module="test_feeder")
    want = fcol_model(v, cfg.act_depth, word=ACT_WORD)
    report, bad = mismatch_report(f"ce_fcol {CONFIG} on {sim} ({rate:.0f} cycles/s)", got, want,
                                  [p for p, _, _ in FCOL_OUT])
    print(report)
    assert bad == 0, report
    known = sum(1 for x, ok in zip(want["a_data"][2:], (v["i_iyok"] & (v["i_ix"] >= 0) & (v["i_ix"] < v["l_w"]))[:-2])
                if ok and x is not None)
    assert known > CYCLES // 5, known  # many buffer bytes (not only padding) were compared
