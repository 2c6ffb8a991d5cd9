"""ce_counters (rtl.counters) against rtl.models.counters_model on constrained-random streams, on both
simulators (tb/test_pe.py's stream bench, cocotb module tb/test_counters.py), and MyHDL's own
simulation against the converted Verilog on the same vectors.

Stimulus: runs (run_clear, then busy) of layers (layer_clear held 1..3 cycles, then activity codes in
runs, every code 0..7 included, tile retirements with step counts up to 2**32 - 1 so the step
counts wrap, rec_latch at the layer's end), idle gaps with busy low, DMA byte counters that advance
by 0..128 bytes a cycle from just below 2**32 (so they wrap inside a layer), every pair of strobes raised
together on some edges (the same-cycle priority) and rare resets. Every output port is compared cycle by cycle.
"""

from __future__ import annotations

import itertools
import subprocess

import numpy as np

from hwspec.config import get_config
from hwspec.formats import COUNTER_RECORD
from hwspec.formats import ACTIVITY, ACTIVITY_BITS
from rtl.counters import counters
from rtl.models import COUNTERS_OUTPUTS, counters_model
from tb.runner import generated_dir, setup_verilator
from tb.stream_myhdl import myhdl_stream
from tb.test_pe import stream_through
from tests.test_rtl_pe import mismatch_report

CYCLES = 20_000
IN = [("rst", 1, False), ("busy", 1, False), ("activity", ACTIVITY_BITS, False), ("run_clear", 1, False),
      ("layer_clear", 1, False), ("steps_valid", 1, False), ("steps", 32, False), ("rd_bytes", 32, False),
      ("wr_bytes", 32, False), ("rec_latch", 1, False)]
OUT = [(p, 32, False) for p in COUNTERS_OUTPUTS[:-1]] + [("record", COUNTER_RECORD.size_bits, False,
                                                           len(COUNTER_RECORD.names))]
assert [p for p, *_ in OUT] == list(COUNTERS_OUTPUTS)
STROBES = ("run_clear", "layer_clear", "steps_valid", "rec_latch")


def counters_vectors(n, seed):
    rng = np.random.default_rng(seed)
    v = {p: np.zeros(n, np.int64) for p, _, _ in IN}
    k = 4
    v["rst"][:k] = 1
    while k < n:
        if rng.random() < 0.3:  # idle gap
            k += int(rng.integers(1, 30))
            continue
        v["run_clear"][k] = 1
        for _ in range(int(rng.integers(1, 6))):  # layers of this run
            if k >= n:
                break
            lc = int(rng.integers(1, 4))
            v["layer_clear"][k:k + lc] = 1
            length = int(rng.choice([2, 5, int(rng.integers(10, 200)), int(rng.integers(200, 1500))]))
            e = min(n, k + lc + length)
            v["busy"][k:e] = 1
            t = k
            while t < e:  # activity in runs, every code (those past ACTIVITY count as cycles only)
                r = int(rng.integers(1, 40))
                v["activity"][t:t + r] = int(rng.integers(0, 2**ACTIVITY_BITS))
                t += r
            ret = (rng.random(e - k) < 0.05)
            v["steps_valid"][k:e] = ret
            big = rng.random(e - k) < 0.2
            v["steps"][k:e] = np.where(big, rng.integers(2**31, 2**32, e - k), rng.integers(0, 5000, e - k))
            if e < n:
                v["rec_latch"][e - 1] = 1
            k = e
    # DMA byte counters: free running, wrapping
    for p in ("rd_bytes", "wr_bytes"):
        v[p] = (2**32 - 5000 + np.cumsum(rng.integers(0, 129, n) * (rng.random(n) < 0.5))) % 2**32
    # strobes together now and then, stray strobes, rare resets
    for p in STROBES:
        v[p] |= (rng.random(n) < 0.003).astype(np.int64)
    for a, b in itertools.combinations(STROBES, 2):  # each pair on the same edge
        at = rng.integers(0, n, 10)
        v[a][at] = v[b][at] = 1
    v["rst"][n // 2] = 1
    v["rst"] |= (rng.random(n) < 0.0005).astype(np.int64)
    return v


def _expected(v):
    return counters_model({p: v[p].tolist() for p in v})


def run_counters(sim, v):
    return stream_through(sim=sim, block="counters", cfg=get_config("tiny"), dut_module="ce_counters",
                          sources=[generated_dir("tiny") / "ce_counters.v"], inputs=IN, outputs=OUT, vectors=v,
                          depth=1 << 15, test_module="test_counters")


def test_counters_random_vs_model(sim, seed):
    v = counters_vectors(CYCLES, seed)
    got, rate = run_counters(sim, v)
    want = _expected(v)
    assert len(got["t_cycles"]) == CYCLES
    report, bad = mismatch_report(f"ce_counters on {sim} ({rate:.0f} cycles/s)", got, want, list(COUNTERS_OUTPUTS))
    print(report)
    assert bad == 0, report
    # the stimulus reached what it is for: every activity counted, wraps, strobes together
    counted = [set(want[t]) != {0} for t in ("t_engine", "t_fetch", "t_load", "t_store")]
    assert all(counted), counted
    assert any(b < a for a, b in zip(want["t_steps"], want["t_steps"][1:]) if b), "no step count wrapped"
    assert sum(1 for r in want["record"] if r[6] > 1000) > 5  # layers' bytes read across the counters' wrap
    assert all(sum(v[a] & v[b] & ~v["rst"]) for a, b in itertools.combinations(STROBES, 2))
    assert len(ACTIVITY) < 2**ACTIVITY_BITS and sum(v["activity"] >= len(ACTIVITY)) > 100


def test_counters_myhdl_equals_verilog(sim, seed):
    """MyHDL's simulation equals the model and the converted Verilog on the same 3,000 cycles."""
    v = counters_vectors(3000, seed + 1)
    mh = myhdl_stream(counters, IN, OUT, v)
    report, bad = mismatch_report("MyHDL ce_counters vs counters_model", mh, _expected(v), list(COUNTERS_OUTPUTS))
    assert bad == 0, report
    got, _ = run_counters(sim, v)
    report, bad = mismatch_report(f"MyHDL vs Verilog ce_counters on {sim}", got, mh, list(COUNTERS_OUTPUTS))
    print(report)
    assert bad == 0, report


def test_counters_lint_clean_without_waivers():
    """The counters unit passes Verilator -Wall with no waiver file (rtl/lint.vlt waives WIDTH and
    UNUSEDSIGNAL for the older ce_* modules)."""
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", "-Wall", str(generated_dir("tiny") / "ce_counters.v")],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr
