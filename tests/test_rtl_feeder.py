"""ce_abuf (the activation buffer shared by the columns, tiny and sim configs) against
rtl.models.abuf_model on constrained-random streams, on both simulators (tb/test_pe.py's stream
bench, cocotb module tb/test_feeder.py).

Stimulus: word writes (ACT_WORD random bytes) at random times into a small address window (plus a few far
word addresses, so the low address bits alias), steps at random in-window and negative addresses
(every start lane, so the columns' bytes cross word and bank boundaries), taps inside and outside
the row (i_ix < 0, i_ix + j * stride >= l_w, i_iyok = 0), layer registers changing now and then,
all strides 0..3. ce_rowu (weights, constants, drain numbering, output bank) has its own test:
tests/test_rtl_rowu.py; the column skew is checked end to end by the engine tests."""

from __future__ import annotations

import numpy as np
import pytest

from hwspec.config import get_config
from hwspec.config import ACT_WORD
from rtl.feeder import ADDR_BITS, abuf
from rtl.models import abuf_model
from tb.runner import generated_dir
from tb.stream_myhdl import myhdl_stream
from tb.test_pe import stream_through
from tests.test_rtl_pe import known_only, mismatch_report

CYCLES = {"tiny": 40_000, "sim": 20_000}


def _ports(cols):
    inputs = [("i_first", 1, False), ("i_addr", ADDR_BITS, True), ("i_iyok", 1, False), ("i_ix", ADDR_BITS, True),
              ("l_w", 16, False), ("l_stride", 2, False), ("l_xzp", 8, True), ("wr_en", 1, False),
              ("wr_addr", ADDR_BITS, False), ("wr_data", 8 * ACT_WORD, False)]
    outputs = [("a_data", 8 * cols, True, cols), ("f_data", cols, False)]
    return inputs, outputs


def _held(rng, n, values, p_change):
    """A register value held for random stretches (layer registers change rarely)."""
    change = rng.random(n) < p_change
    change[0] = True
    idx = np.cumsum(change) - 1
    return np.asarray(values(int(idx[-1]) + 1))[idx]


def abuf_vectors(n, cols, seed):
    rng = np.random.default_rng(seed)
    win, wwin = 512, 512 // ACT_WORD  # bytes, words
    wr_addr = rng.integers(0, wwin, n)
    wr_addr = np.where(rng.random(n) < 0.05, rng.integers(0, 2**ADDR_BITS, n), wr_addr)  # aliases of the window
    wr_addr[:wwin] = np.arange(wwin)  # the window written first (most reads then hit known bytes)
    i_addr = rng.integers(-16, win - 3 * cols, n)
    i_addr = np.where(rng.random(n) < 0.02, rng.integers(-(2**23), 2**23, n), i_addr)
    l_w = _held(rng, n, lambda k: rng.integers(1, 4 * cols + 8, k), 0.002)
    i_ix = rng.integers(-4, 4 * cols + 12, n)
    i_ix = np.where(rng.random(n) < 0.01, rng.choice([-(2**23), 2**23 - 1, 2**23 - 2], n), i_ix)
    return dict(i_first=(rng.random(n) < 0.1).astype(np.int64), i_addr=i_addr,
                i_iyok=(rng.random(n) < 0.8).astype(np.int64), i_ix=i_ix, l_w=l_w,
                l_stride=_held(rng, n, lambda k: rng.integers(0, 4, k), 0.002),
                l_xzp=_held(rng, n, lambda k: rng.integers(-128, 128, k), 0.002),
                wr_en=(rng.random(n) < 0.3).astype(np.int64) | (np.arange(n) < wwin), wr_addr=wr_addr,
                wr_data=[int.from_bytes(rng.bytes(ACT_WORD), "little") for _ in range(n)])


@pytest.mark.parametrize("config", sorted(CYCLES))
def test_abuf_vs_model(sim, config, seed):
    cfg = get_config(config)
    n = CYCLES[config]
    inputs, outputs = _ports(cfg.cols)
    v = abuf_vectors(n, cfg.cols, seed=(seed, 21))
    got, rate = stream_through(sim=sim, block=f"abuf_{config}", cfg=cfg, dut_module="ce_abuf",
                               sources=[generated_dir(config) / "ce_abuf.v"], inputs=inputs, outputs=outputs,
                               vectors=v, depth=1 << 16, test_module="test_feeder")
    want = abuf_model(v, cfg.act_depth, cfg.cols, word=ACT_WORD)
    report, bad = mismatch_report(f"ce_abuf {config} on {sim} ({rate:.0f} cycles/s)", got, want,
                                  [p for p, *_ in outputs])
    print(report)
    assert bad == 0, report
    # many buffer bytes (not only padding or unknown ones) were compared, in every column
    known = [sum(1 for t in range(1, n) if want["a_data"][t][j] is not None and v["i_iyok"][t - 1]
                 and 0 <= v["i_ix"][t - 1] + j * v["l_stride"][t - 1] < v["l_w"][t - 1]) for j in range(cfg.cols)]
    assert min(known) > n // 10, known


def test_abuf_myhdl_equals_verilog(sim, seed):
    """MyHDL's simulation of abuf() equals the model and the converted Verilog (tiny) on the same
    3,000 cycles, wherever the model knows the value."""
    cfg = get_config("tiny")
    inputs, outputs = _ports(cfg.cols)
    ports = [p for p, *_ in outputs]
    v = abuf_vectors(3000, cfg.cols, seed=(seed, 22))
    mh = myhdl_stream(abuf, inputs, outputs, v, pre=16, depth=cfg.act_depth, cols=cfg.cols)
    want = abuf_model(v, cfg.act_depth, cfg.cols, word=ACT_WORD)
    report, bad = mismatch_report("MyHDL ce_abuf vs abuf_model", mh, want, ports)
    assert bad == 0, report
    got, _ = stream_through(sim=sim, block="abuf_tiny", cfg=cfg, dut_module="ce_abuf",
                            sources=[generated_dir("tiny") / "ce_abuf.v"], inputs=inputs, outputs=outputs,
                            vectors=v, depth=1 << 16, test_module="test_feeder")
    report, bad = mismatch_report(f"MyHDL vs Verilog ce_abuf on {sim}", got, known_only(mh, want), ports)
    print(report)
    assert bad == 0, report
    assert sum(1 for a in want["a_data"] if None not in a) > 1000  # most cycles fully compared
