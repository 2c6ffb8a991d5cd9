"""ce_array (tiny, 4x4) against rtl.models.array_model on random streams, on both simulators.

Two stimuli through tb/test_pe.py's stream bench (cocotb module tb/test_array.py):
- ``random``: every lane independent (int8 corner values, tile-start flags per column at random
  intervals, back-to-back included): checks the array's wiring and register timing cycle by cycle;
- ``systolic``: what the feeders send (README "Mapping"): tiles of K >= C+ceil(C/2)+4 steps (the minimum tile), column j and
  row i skewed j and i cycles late; besides the model, each row's drained sums must be the tiles'
  dot products, column 0 first (a check that does not trust the model's skew).
"""

from __future__ import annotations

import numpy as np
import pytest

from hwspec.config import get_config
from rtl.models import array_model
from tb.runner import generated_dir
from tests.test_rtl_pe import flag_stream, int8_stream, mismatch_report
from tb.test_pe import stream_through

CONFIG = "tiny"
CYCLES = 20_000
DEPTH = 1 << 16


def _ports(cfg):
    R, C = cfg.rows, cfg.cols
    return ([("a_top", 8 * C, False), ("f_top", C, False), ("w_left", 8 * R, False)],
            [("d_left", 32 * R, True, R), ("dv_left", R, False, R)])


def _lanes(x, bits):
    """(T, L) signed lanes -> one packed int per cycle, lane l in bits [bits*l + bits-1 : bits*l]."""
    m = (1 << bits) - 1
    return [sum((int(v) & m) << (bits * k) for k, v in enumerate(row)) for row in x]


def random_streams(cfg, n, rng):
    R, C = cfg.rows, cfg.cols
    a = np.stack([int8_stream(rng, n) for _ in range(C)], 1)
    w = np.stack([int8_stream(rng, n) for _ in range(R)], 1)
    f = np.stack([flag_stream(rng, n) for _ in range(C)], 1)
    return a, f, w, None


def systolic_streams(cfg, n, rng):
    """Feeder-like streams: step k of tile starts at step s with A[k] (per column), W[k] (per row);
    column j sees step k at cycle k + j, row i at k + i. Returns the streams and the tile bounds."""
    R, C = cfg.rows, cfg.cols
    steps = n - R - C - 2 * C - 8  # leave room for the last tile's drain
    A = np.stack([int8_stream(rng, steps) for _ in range(C)], 1)
    W = np.stack([int8_stream(rng, steps) for _ in range(R)], 1)
    F = np.zeros(steps, np.int64)
    starts, s = [], 0
    while s < steps:
        starts.append(s)
        F[s] = 1
        s += int(rng.choice([cfg.min_tile_steps, cfg.min_tile_steps + 1, int(rng.integers(cfg.min_tile_steps, 200))]))
    a, f, w = np.zeros((n, C), np.int64), np.zeros((n, C), np.int64), np.zeros((n, R), np.int64)
    for j in range(C):
        a[j:j + steps, j], f[j:j + steps, j] = A[:, j], F
    for i in range(R):
        w[i:i + steps, i] = W[:, i]
    return a, f, w, (A, W, starts + [steps])


def run_array(sim, cfg, a, f, w):
    inputs, outputs = _ports(cfg)
    d = generated_dir(cfg.name)
    vec = dict(a_top=_lanes(a, 8), f_top=_lanes(f, 1), w_left=_lanes(w, 8))
    got, rate = stream_through(sim=sim, block="array", cfg=cfg, dut_module="ce_array",
                               sources=[d / "ce_pe.v", d / "ce_row.v", d / "ce_array.v"], inputs=inputs,
                               outputs=outputs, vectors=vec, depth=DEPTH, pre=cfg.rows + cfg.cols + 8,
                               test_module="test_array")
    return np.array(got["d_left"], object), np.array(got["dv_left"], object), rate


@pytest.mark.parametrize("stimulus", ["random", "systolic"])
def test_array_vs_model(sim, stimulus, seed):
    cfg = get_config(CONFIG)
    R = cfg.rows
    rng = np.random.default_rng((seed, 11 if stimulus == "random" else 12))
    a, f, w, tiles = (random_streams if stimulus == "random" else systolic_streams)(cfg, CYCLES, rng)
    d, dv, rate = run_array(sim, cfg, a, f, w)
    md, mdv = array_model(a, f, w)
    got = {f"d{i}": d[:, i].tolist() for i in range(R)} | {f"dv{i}": dv[:, i].tolist() for i in range(R)}
    want = {f"d{i}": md[:, i].tolist() for i in range(R)} | {f"dv{i}": mdv[:, i].tolist() for i in range(R)}
    report, bad = mismatch_report(f"ce_array {cfg.name} {stimulus} on {sim} ({rate:.0f} cycles/s)", got, want,
                                  [f"d{i}" for i in range(R)] + [f"dv{i}" for i in range(R)])
    print(report)
    assert bad == 0, report
    assert int(mdv.sum()) > CYCLES // 10  # plenty of drained sums were compared
    if tiles is not None:
        A, W, bounds = tiles
        for i in range(R):
            drained = [d[t, i] for t in range(CYCLES) if dv[t, i]]
            want_i = [None] * cfg.cols  # the first tile start drains the undefined power-on sums
            for s, e in zip(bounds[:-1], bounds[1:]):
                want_i += [int(np.dot(A[s:e, j], W[s:e, i])) for j in range(cfg.cols)]
            want_i = want_i[:len(drained)]  # the last tile is never flushed
            assert len(drained) == cfg.cols * (len(bounds) - 1), (i, len(drained))
            wrong = [k for k, (g, x) in enumerate(zip(drained, want_i)) if x is not None and g != x]
            assert not wrong, f"row {i}: {len(wrong)} drained sums differ from the tiles' dot products, first #{wrong[0]}"
