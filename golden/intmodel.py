"""The network in integer arithmetic: each layer of a QGraph computed with golden.contract.

This is the hardware's model at network level: what the accelerator must produce for each layer,
given that layer's int8 inputs. Tests check it against onnxruntime's golden capture element by
element, layer by layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden import contract
from golden.qgraph import QConv, QGraph, QLayer

__all__ = ["run_layer", "run_network", "Comparison", "compare", "quantize_input"]


def quantize_input(x: np.ndarray, scale, zero_point) -> np.ndarray:
    """QuantizeLinear of the float image: round half to even of x / scale (float32), saturated."""
    q = np.rint((np.asarray(x, np.float32) / np.float32(scale)).astype(np.float32)).astype(np.int64) + int(zero_point)
    return np.clip(q, contract.INT8_MIN, contract.INT8_MAX).astype(np.int8)


def run_layer(graph: QGraph, layer: QLayer, inputs: list[np.ndarray]) -> np.ndarray:
    """One layer on one image: ``inputs`` int8 [1, C, H, W] each; returns the layer's output tensor."""
    xs = [np.asarray(x)[0] for x in inputs]
    if isinstance(layer, QConv):
        y = contract.conv_int8(xs[0], layer.x_scale, layer.x_zp, layer.weight, layer.w_scale, layer.bias,
                               layer.y_scale, layer.y_zp, layer.stride, layer.pad)
    elif layer.op == "concat":
        y = contract.concat_int8(xs)
    elif layer.op == "avgpool":
        x, out = graph.tensors[layer.input], graph.tensors[layer.output]
        y = contract.avgpool2x2_int8(xs[0], x.scale, x.zero_point, out.scale, out.zero_point)
    elif layer.op == "upsample":
        y = contract.upsample_nearest_int8(xs[0], layer.factor)
    elif layer.op == "argmax":
        y = contract.argmax_channels(xs[0])
    else:
        raise ValueError(f"layer {layer.name!r}: no integer model for op {layer.op!r}")
    return y[None]


def run_network(graph: QGraph, x_int8: np.ndarray, on_layer=None) -> dict[str, np.ndarray]:
    """Every tensor of the network from the int8 input; ``on_layer(layer, output)`` after each layer."""
    values = {graph.input.name: np.asarray(x_int8, np.int8)}
    for layer in graph.layers:
        values[layer.output] = run_layer(graph, layer, [values[i] for i in layer.inputs])
        if on_layer:
            on_layer(layer, values[layer.output])
    return values


@dataclass
class Comparison:
    """Element-wise comparison of a tensor with its golden: counts and first differing coordinates."""

    name: str
    elements: int
    mismatches: int
    first: tuple | None  # NCHW coordinates of the first mismatch
    expected: int | None = None
    actual: int | None = None  # None at a mismatch: the hardware's value there was unknown (X or Z)
    max_abs_diff: int = 0

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def __str__(self):
        if self.ok:
            return f"{self.name}: {self.elements} elements, 0 mismatches"
        return (f"{self.name}: {self.mismatches} of {self.elements} elements differ, first at {self.first} "
                f"(expected {self.expected}, got {'X' if self.actual is None else self.actual}), "
                f"max |diff| {self.max_abs_diff}")


def compare(name: str, expected: np.ndarray, actual: np.ndarray, unknown: np.ndarray | None = None) -> Comparison:
    """``unknown``: a mask of the elements whose value the hardware left unknown (X or Z in a
    simulator's dump): each is a mismatch, whatever ``actual`` holds there."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    if expected.shape != actual.shape:
        raise ValueError(f"{name}: shape {actual.shape} differs from the golden's {expected.shape}")
    known_diff = expected != actual
    diff = known_diff if unknown is None else known_diff | np.asarray(unknown, bool).reshape(expected.shape)
    n = int(diff.sum())
    if n == 0:
        return Comparison(name, expected.size, 0, None)
    first = tuple(int(i) for i in np.argwhere(diff)[0])
    x_first = unknown is not None and not known_diff[first]
    absdiff = np.abs(expected.astype(np.int64) - actual.astype(np.int64))[known_diff]
    return Comparison(name, expected.size, n, first, int(expected[first]), None if x_first else int(actual[first]),
                      int(absdiff.max()) if absdiff.size else 0)
