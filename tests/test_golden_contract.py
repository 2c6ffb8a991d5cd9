"""golden.contract against onnxruntime on random tensors: 0 mismatches, counts printed."""

import collections
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from golden import contract
from golden.intmodel import compare
from tests import qdq_models as qm

from onnx_models import MODELS_DIR as MODELS


def report(cmp):
    print(cmp)
    assert cmp.ok, str(cmp)


def test_integer_requantizer_equals_float32_reference():
    """The hardware datapath vs onnxruntime's float32 formula on 4M accumulators, |acc| up to 2**31."""
    rng = np.random.default_rng(1)
    total = mismatches = 0
    for _ in range(8):
        n = 1 << 19
        acc = np.concatenate([
            rng.integers(-(2**31), 2**31, n // 4),
            rng.integers(-(2**24) - 4096, 2**24 + 4096, n // 4),  # around float32's exact-integer limit
            rng.integers(-4096, 4096, n // 4),
            (rng.standard_normal(n // 4) * 2.0 ** rng.integers(0, 31, n // 4)).astype(np.int64).clip(-(2**31), 2**31 - 1),
        ]).reshape(-1, 32)
        multiplier = np.exp(rng.uniform(np.log(1e-8), np.log(8.0), 32)).astype(np.float32)
        zp = int(rng.integers(-128, 128))
        ref = contract.requantize_float32(acc, multiplier, zp)
        hw = contract.requantize_int(acc, contract.requant_constants(multiplier), zp)
        total += acc.size
        mismatches += int((ref != hw).sum())
    print(f"integer requantizer vs float32 reference: {mismatches} mismatches in {total} accumulators")
    assert mismatches == 0


def test_round_half_even_shift():
    v = np.array([5, 6, 7, -5, -6, -7, 4, 12, -12, 2**40 + 2**39])
    assert contract.round_half_even_shift(v, 1).tolist() == [2, 3, 4, -2, -3, -4, 2, 6, -6, 2**39 + 2**38]
    assert contract.round_half_even_shift(v, 3).tolist() == [1, 1, 1, -1, -1, -1, 0, 2, -2, 2**37 + 2**36]


def test_requant_constants_reject_bad_multipliers():
    with pytest.raises(ValueError, match="positive"):
        contract.requant_constants(np.array([0.5, -1.0], np.float32))


CONV_CASES = [  # (cin, cout, k, stride, h, w, big): big pushes accumulators past 2**24
    (3, 16, 3, 2, 33, 47, False),
    (22, 10, 3, 1, 17, 19, False),
    (54, 27, 1, 1, 16, 32, False),
    (256, 8, 3, 1, 9, 9, True),
    (640, 12, 1, 1, 8, 8, True),
]


@pytest.mark.parametrize("cin,cout,k,stride,h,w,big", CONV_CASES)
def test_conv_matches_onnxruntime(cin, cout, k, stride, h, w, big):
    rng = np.random.default_rng(cin * 1000 + cout)
    if big:  # saturated activations and weights of one sign: |acc| far beyond 2**24
        x = rng.choice(np.array([127, 126, 125], np.int8), (1, cin, h, w))
        wq = rng.choice(np.array([-127, -126, -125], np.int8), (cout, cin, k, k))
        x_zp = -128
    else:
        x = rng.integers(-128, 128, (1, cin, h, w)).astype(np.int8)
        wq = rng.integers(-127, 128, (cout, cin, k, k)).astype(np.int8)
        x_zp = int(rng.integers(-128, 20))
    x_scale = np.float32(rng.uniform(0.005, 0.1))
    w_scale = rng.uniform(0.001, 0.05, cout).astype(np.float32)
    bias = rng.integers(-(2**20), 2**20, cout).astype(np.int32)
    y_scale = np.float32(rng.uniform(0.01, 0.5) * (2000.0 if big else 1.0))
    y_zp = int(rng.integers(-128, 128))
    model = qm.conv_model(x.shape, x_scale, x_zp, wq, w_scale, bias, y_scale, y_zp, stride)
    ops = qm.fused_ops(model)
    assert "QLinearConv" in ops and not {"Conv", "DequantizeLinear"} & set(ops), ops
    expected = qm.run(model, {"x": x})
    acc = contract.conv_acc(x[0], x_zp, wq, bias, stride)
    if big:
        assert np.abs(acc).max() > 2**24
    actual = contract.conv_int8(x[0], x_scale, x_zp, wq, w_scale, bias, y_scale, y_zp, stride)[None]
    report(compare(f"conv{k}x{k} s{stride} {cin}->{cout} (max |acc| {np.abs(acc).max()})", expected, actual))


@pytest.mark.parametrize("x_scale,y_scale", [(0.03125, 0.03125), (0.0625, 0.0625), (0.037, 0.037), (0.05, 0.031)])
def test_avgpool_matches_onnxruntime(x_scale, y_scale):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 24, 16, 30)).astype(np.int8)
    x_zp, y_zp = -128, int(rng.integers(-128, 0))
    model = qm.avgpool_model(x.shape, x_scale, x_zp, y_scale, y_zp)
    expected = qm.run(model, {"x": x})
    actual = contract.avgpool2x2_int8(x[0], x_scale, x_zp, y_scale, y_zp)[None]
    report(compare(f"avgpool x_scale {x_scale} y_scale {y_scale}", expected, actual))


@pytest.mark.parametrize("factor", [2, 4])
def test_upsample_matches_onnxruntime(factor):
    x = np.random.default_rng(factor).integers(-128, 128, (1, 19, 8, 12)).astype(np.int8)
    expected = qm.run(qm.resize_model(x.shape, 0.0625, -8, factor), {"x": x})
    report(compare(f"upsample x{factor}", expected, contract.upsample_nearest_int8(x, factor)))


def test_concat_matches_onnxruntime():
    rng = np.random.default_rng(3)
    xs = [rng.integers(-128, 128, (1, c, 6, 10)).astype(np.int8) for c in (10, 16, 48)]
    model = qm.concat_model([x.shape for x in xs], 0.03125, -128)
    assert qm.fused_ops(model) == ["QLinearConcat"]  # a byte copy: inputs share the output's quantization
    expected = qm.run(model, {f"x{i}": x for i, x in enumerate(xs)})
    report(compare("concat", expected, contract.concat_int8([x[0] for x in xs])[None]))


def test_argmax_matches_onnxruntime():
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 3, (1, 19, 16, 16)).astype(np.int8)  # many ties: first maximum wins
    expected = qm.run(qm.argmax_model(x.shape, 0.0625, -8), {"x": x})
    report(compare("argmax", expected, contract.argmax_channels(x[0])[None]))


def test_session_pin_fuses_every_op_into_int8():
    """With the contract's session options onnxruntime runs the whole tiny network in int8 kernels;
    without the pin it leaves fan-out tensors in float (the failure the pin exists for)."""
    model = onnx.load(str(MODELS / "tiny_int8.onnx"))
    pinned = collections.Counter(qm.fused_ops(model))
    assert set(pinned) <= {"QLinearConv", "QLinearConcat", "QLinearAveragePool", "Resize", "Transpose",
                           "QuantizeLinear", "DequantizeLinear", "ArgMax"}, pinned
    assert pinned["QuantizeLinear"] == 1 and pinned["DequantizeLinear"] == 1  # the input, and the logits for ArgMax
    unpinned = ort.SessionOptions()
    unpinned.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    float_ops = collections.Counter(qm.fused_ops(model, unpinned))
    print(f"pinned: {dict(pinned)}\nunpinned: {dict(float_ops)}")
    assert float_ops["Conv"] > 0 and float_ops["DequantizeLinear"] > 1
    # the contract's config entries alone are what pins it (not its thread or logging settings)
    entries_only = ort.SessionOptions()
    entries_only.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    for key, value in contract.ORT_SESSION_CONFIG.items():
        entries_only.add_session_config_entry(key, value)
    assert collections.Counter(qm.fused_ops(model, entries_only)) == pinned
