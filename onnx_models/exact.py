"""The float model's forward pass with results that no CPU, BLAS kernel or thread count can change.

The model build needs float activations twice: BatchNorm statistics and calibration ranges. Run through
onnxruntime's (or any BLAS's) float kernels, their last bits depend on the instruction set (AVX2,
AVX-512, VNNI choose different kernels, summation orders and FMA use), and a last bit can flip a
rounded statistic and so a committed tensor. Here every value that feeds a committed tensor is
computed exactly or by one correctly rounded IEEE operation in a fixed order:

- activations are kept on a fixed-point grid (multiples of 2^-ACT_FRAC_BITS) and each conv's weights
  are rounded to WEIGHT_BITS significant bits of its largest magnitude, so every product and every
  partial sum of a conv is an integer multiple of one power of two below 2^53: float64 represents them
  exactly, and any summation order, blocking or FMA gives the same result (checked per conv);
- elementwise steps (bias, normalization, ReLU, pooling, nearest upsampling) are single IEEE
  operations, which every x86-64 CPU rounds the same way; their results go back onto the grid;
- reductions are ``math.fsum`` (the correctly rounded sum, independent of order).

The grid changes activations by less than 2^-17 and weights by less than 2^-16 of their conv's largest:
this pass estimates statistics, it is not the model's arithmetic (that is golden/contract.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["ACT_FRAC_BITS", "WEIGHT_BITS", "to_grid", "round_significand", "forward", "channel_mean_var"]

ACT_FRAC_BITS = 16
WEIGHT_BITS = 16
_EXACT = 2.0 ** 53


def to_grid(x: np.ndarray) -> np.ndarray:
    """float64 x rounded to the nearest multiple of 2^-ACT_FRAC_BITS (ties to even)."""
    return np.ldexp(np.rint(np.ldexp(np.asarray(x, np.float64), ACT_FRAC_BITS)), -ACT_FRAC_BITS)


def round_significand(x: np.ndarray, bits: int) -> np.ndarray:
    """float64 x rounded to ``bits`` significant bits (ties to even); exact steps only."""
    m, e = np.frexp(np.asarray(x, np.float64))
    return np.ldexp(np.rint(np.ldexp(m, bits)), e - bits)


def _weight_grid(w: np.ndarray) -> tuple[np.ndarray, int]:
    """The conv's weights on a grid of WEIGHT_BITS significant bits of its largest magnitude, and the
    grid's exponent (weights are integers times 2^exp)."""
    w = np.asarray(w, np.float64)
    _, top = np.frexp(np.max(np.abs(w)))  # max |w| < 2^top
    exp = int(top) - WEIGHT_BITS
    return np.ldexp(np.rint(np.ldexp(w, -exp)), exp), exp


def _conv(name: str, x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Exact conv of grid activations x [N,Ci,H,W] with weights w [Co,Ci,k,k] (no bias)."""
    wg, wexp = _weight_grid(w)
    co, ci, k, _ = wg.shape
    wmat = wg.reshape(co, ci * k * k)
    # Bound on any partial sum in units of the product grid: below 2^53 every step is exact.
    bound = math.ldexp(float(np.max(np.abs(x))), ACT_FRAC_BITS) * math.ldexp(float(np.max(np.sum(np.abs(wmat), 1))), -wexp)
    if bound >= _EXACT:
        raise ArithmeticError(f"conv '{name}': partial sums reach 2^{math.log2(bound):.1f} grid units, "
                              f"over the 2^53 that float64 holds exactly (activations up to {np.max(np.abs(x)):.3g})")
    n, _, h, wd = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.empty((n, co, ho, wo))
    for i in range(n):  # one image at a time bounds the im2col buffer
        xp = np.pad(x[i], ((0, 0), (pad, pad), (pad, pad)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride][:, :ho, :wo]
        cols = win.transpose(1, 2, 0, 3, 4).reshape(ho * wo, ci * k * k)
        out[i] = (cols @ wmat.T).T.reshape(co, ho, wo)
    return out


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _resize_nearest(node, x: np.ndarray, scales: np.ndarray) -> np.ndarray:
    a = _attrs(node)
    mode = (a.get("mode", b"nearest"), a.get("coordinate_transformation_mode", b"half_pixel"), a.get("nearest_mode", b"round_prefer_floor"))
    if mode != (b"nearest", b"asymmetric", b"floor") or list(scales[:2]) != [1, 1] or scales[2] != scales[3] \
            or scales[2] != int(scales[2]):
        raise NotImplementedError(f"Resize '{node.name}': only nearest/asymmetric/floor by an integer factor, "
                                  f"got {mode} scales {list(scales)}")
    f = int(scales[2])
    return np.repeat(np.repeat(x, f, axis=2), f, axis=3)


def forward(model: onnx.ModelProto, x: np.ndarray, *,
            conv_output: Callable[[onnx.NodeProto, np.ndarray], np.ndarray] | None = None,
            observe: Callable[[str, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """Run the float FC-HarDNet graph (Conv, Relu, Concat, AveragePool 2x2, nearest Resize; ArgMax is
    skipped) on a batch x [N,3,H,W]. ``conv_output(node, y)`` may replace a conv's output (the build's
    BatchNorm estimation normalizes it there); ``observe(name, value)`` sees every tensor once.
    Returns the graph outputs that were computed."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consumers: dict[str, int] = {}
    for node in model.graph.node:
        for i in node.input:
            consumers[i] = consumers.get(i, 0) + 1
    outputs = {o.name for o in model.graph.output}
    inp = model.graph.input[0].name
    env = {inp: to_grid(x)}
    if observe:
        observe(inp, env[inp])
    for node in model.graph.node:
        op = node.op_type
        if op == "ArgMax":
            continue
        xs = [env[i] for i in node.input if i in env]
        if op == "Conv":
            a = _attrs(node)
            if a.get("dilations", [1, 1]) != [1, 1] or a.get("group", 1) != 1 or len(set(a.get("pads", [0] * 4))) != 1:
                raise NotImplementedError(f"Conv '{node.name}': attributes {a} not supported here")
            y = _conv(node.name, xs[0], inits[node.input[1]], a.get("strides", [1, 1])[0], a.get("pads", [0])[0])
            if len(node.input) > 2 and node.input[2]:
                y = y + inits[node.input[2]].astype(np.float64)[None, :, None, None]
            if conv_output is not None:
                y = conv_output(node, y)
        elif op == "Relu":
            y = np.maximum(xs[0], 0.0)
        elif op == "Concat":
            y = np.concatenate(xs, axis=_attrs(node)["axis"])
        elif op == "AveragePool":
            a = _attrs(node)
            if a.get("kernel_shape") != [2, 2] or a.get("strides") != [2, 2] or any(a.get("pads", [0])):
                raise NotImplementedError(f"AveragePool '{node.name}': attributes {a} not supported here")
            t = xs[0]
            y = (t[:, :, 0::2, 0::2] + t[:, :, 0::2, 1::2] + t[:, :, 1::2, 0::2] + t[:, :, 1::2, 1::2]) / 4.0
        elif op == "Resize":
            y = _resize_nearest(node, xs[0], inits[node.input[2]])
        else:
            raise NotImplementedError(f"node '{node.name}': op {op} is not in the exact forward")
        y = to_grid(y)
        env[node.output[0]] = y
        if observe:
            observe(node.output[0], y)
        for i in node.input:  # free what no later node reads
            if i in env and i not in outputs:
                consumers[i] -= 1
                if consumers[i] == 0 and i != inp:
                    del env[i]
    return {k: v for k, v in env.items() if k in outputs}


def channel_mean_var(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) variance of y [N,C,H,W], each a correctly rounded fsum:
    the same on every CPU whatever the reduction order."""
    c = y.shape[1]
    per_channel = np.ascontiguousarray(y.transpose(1, 0, 2, 3)).reshape(c, -1)
    n = per_channel.shape[1]
    mean = np.array([math.fsum(row.tolist()) / n for row in per_channel])
    var = np.array([math.fsum(((row - m) ** 2).tolist()) / n for row, m in zip(per_channel, mean, strict=True)])
    return mean, var
