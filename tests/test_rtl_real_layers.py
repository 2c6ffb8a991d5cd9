"""Real FC-HarDNet-70 layers (weights from the int8 ONNX, inputs from onnxruntime's golden capture
of a Cityscapes crop) through the engine on the sim config: every output element equals
onnxruntime's. Verilator only: the 16x16 engine runs at about 1.5k cycles/s on Icarus, and the
engine's Icarus coverage is the synthetic layers of tests/test_rtl_engine.py."""

from pathlib import Path

import numpy as np
import pytest

from golden.cityscapes import Crop
from hwspec.config import get_config
from rtl.layout import Layer
from tests.rtl_helpers import run_engine

MODEL = Path(__file__).resolve().parents[1] / "onnx_models" / "hardnet70_int8.onnx"
CROP = Crop("frankfurt_000000_002196", top=448, left=1024, height=64, width=128)  # whole layers fit the sim buffers


def pick_layers(cfg):
    from golden.capture import capture
    from golden.qgraph import load_qgraph

    cap = capture(MODEL, CROP)
    tensors = cap.tensors
    chosen = {}
    for c in load_qgraph(str(MODEL), cap.input_size).convs:
        k, s = c.weight.shape[2], c.stride
        kind = "c3s1" if (k, s) == (3, 1) else "c3s2" if (k, s) == (3, 2) else "c1" if k == 1 else None
        if kind is None or kind in chosen:
            continue
        x = tensors[c.inputs[0]].data[0]
        L = Layer(x=x, w=c.weight, bias=c.bias, x_scale=float(c.x_scale), x_zp=int(c.x_zp), w_scale=c.w_scale,
                  y_scale=float(c.y_scale), y_zp=int(c.y_zp), stride=s, pad=c.pad, name=f"{kind}:{c.name}")
        cin, h, w = x.shape
        co, ho, wo = L.out_shape
        R = cfg.rows
        if cin * h * w <= cfg.act_depth and -(-co // R) * cin * k * k <= cfg.wgt_depth and -(-co // R) * ho * wo <= cfg.out_depth:
            want = tensors[c.output].data[0]
            assert np.array_equal(L.reference(), want), f"{c.name}: contract differs from onnxruntime"
            chosen[kind] = L
    return [chosen[k] for k in ("c3s1", "c3s2", "c1") if k in chosen]


@pytest.mark.slow(minutes=1)
def test_real_layers_bit_exact(tmp_path):
    sim = "verilator"
    if not MODEL.exists():
        pytest.fail(f"{MODEL} missing: build it with `nox -s models`")
    cfg = get_config("sim")
    layers = pick_layers(cfg)
    assert len(layers) == 3, [L.name for L in layers]
    res = run_engine(sim, "sim", layers, tmp_path)
    assert [r["name"] for r in res] == [L.name for L in layers], res
    assert all(r["mismatches"] == 0 for r in res), res
