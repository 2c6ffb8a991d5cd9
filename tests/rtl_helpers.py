"""Helpers shared by the tests/test_rtl_*.py entries: synthetic layers, running the engine."""

from __future__ import annotations

import json

import numpy as np

from hwspec.config import get_config
from rtl.engine import MODULES
from rtl.layout import Layer
from tb.runner import generated_dir, run_cocotb


def random_layer(rng, name, cin, cout, h, w, k, stride):
    """A synthetic int8 conv with realistic scales (outputs spread over the int8 range)."""
    x = rng.integers(-128, 128, (cin, h, w)).astype(np.int8)
    wt = rng.integers(-128, 128, (cout, cin, k, k)).astype(np.int8)
    x_scale, w_scale = 0.05, (rng.uniform(0.5, 2.0, cout) * 0.002).astype(np.float32)
    y_scale = float(x_scale * 0.002 * 40 * np.sqrt(cin * k * k))
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    return Layer(x=x, w=wt, bias=bias, x_scale=x_scale, x_zp=int(rng.integers(-20, 20)), w_scale=w_scale,
                 y_scale=y_scale, y_zp=int(rng.integers(-10, 10)), stride=stride, name=name)


def run_engine(sim, config, layers, tmp_path):
    cfg = get_config(config)
    path = tmp_path / "layers.npz"
    np.savez(path, layers=np.array([vars(L) for L in layers], dtype=object))
    out = tmp_path / "result.json"
    d = generated_dir(config)
    run_cocotb(sim=sim, block="engine", cfg=cfg, sources=[d / f"{m}.v" for m in MODULES], toplevel="ce_engine",
               test_module="test_engine", env=dict(CE_CONFIG=config, CE_LAYERS=str(path), CE_RESULT=str(out)))
    # a simulation that ends before the cocotb test writes its records must not pass on nothing
    assert out.exists(), f"{out}: no result file from the engine's cocotb test (tb/test_engine.py)"
    res = json.loads(out.read_text())
    assert len(res) == len(layers), f"{out}: {len(res)} result records for {len(layers)} layers"
    for r in res:
        print(f"{sim} {config} {r['name']}: mismatches {r['mismatches']}/{r['total']} first {r['first']} "
              f"cycles {r['cycles']} MACs {r['macs']} ideal {r['ideal']:.0f} utilization {r['util']:.1%}")
    return res


def assert_model_equals_counters(res, est, label: str):
    """Every counter (compiler.estimate.COUNTERS) of every layer of an RTL run equals the cycle model's
    estimate ``est``; prints how many were compared."""
    from compiler.estimate import COUNTERS

    assert len(res.layers) == len(est), (len(res.layers), len(est))
    diffs = [(l.name, c, l.counters[c], e.counters()[c]) for l, e in zip(res.layers, est) for c in COUNTERS
             if l.counters[c] != e.counters()[c]]
    total = sum(l.counters["cycles"] for l in res.layers)
    print(f"{label}: {len(res.layers)} layers x {len(COUNTERS)} counters, {len(diffs)} differ; "
          f"{total:,} RTL cycles, model {sum(e.cycles for e in est):,}")
    assert not diffs, f"first difference: layer {diffs[0][0]} {diffs[0][1]}: RTL {diffs[0][2]}, model {diffs[0][3]} " \
                      f"({len(diffs)} in all)"
