"""Layer table of a model at any input size: ``python -m golden.layers [--model M] [--size H W]``
(``nox -s layers``). Works on the float and the int8 QDQ models alike."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from golden.qgraph import QGraph, with_input_size
from onnx_models import model_path

__all__ = ["LayerRow", "layer_rows", "print_layer_table"]

_OPS = {"Conv": "conv", "Concat": "concat", "AveragePool": "avgpool", "Resize": "upsample", "ArgMax": "argmax"}


@dataclass
class LayerRow:
    name: str
    op: str
    in_shapes: list
    out_shape: tuple
    kernel: int | None = None
    stride: int | None = None
    params: int = 0
    macs: int = 0


def layer_rows(model, height: int, width: int) -> list[LayerRow]:
    """One row per compute node (Q/DQ nodes are not layers)."""
    m = onnx.load(str(model)) if not isinstance(model, onnx.ModelProto) else model
    m = with_input_size(m, height, width)
    shapes = {vi.name: tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
              for vi in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
    inits = {i.name: i for i in m.graph.initializer}
    producer = {o: n for n in m.graph.node for o in n.output}

    def initializer_behind(name):  # weights reach a QDQ conv through a DequantizeLinear
        while name not in inits and name in producer and producer[name].op_type == "DequantizeLinear":
            name = producer[name].input[0]
        return inits.get(name)

    rows = []
    for n in m.graph.node:
        if n.op_type not in _OPS:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        ins = [shapes.get(i, ()) for i in n.input if i and initializer_behind(i) is None]
        row = LayerRow(n.name, _OPS[n.op_type], ins, shapes.get(n.output[0], ()))
        if n.op_type == "Conv":
            w = initializer_behind(n.input[1])
            wshape = tuple(w.dims)
            row.kernel, row.stride = wshape[2], attrs.get("strides", [1])[0]
            bias = initializer_behind(n.input[2]) if len(n.input) > 2 and n.input[2] else None
            row.params = int(np.prod(wshape)) + (int(np.prod(bias.dims)) if bias is not None else 0)
            row.macs = int(np.prod(wshape)) * int(np.prod(row.out_shape[2:]))
        elif n.op_type == "AveragePool":
            row.kernel, row.stride = attrs["kernel_shape"][0], attrs.get("strides", [1])[0]
        rows.append(row)
    return rows


def _fmt(shape) -> str:
    return "x".join(str(d) for d in shape[1:]) if shape else "?"


def print_layer_table(model, height: int | None = None, width: int | None = None, file=None):
    """Print the table; ``model`` is a path, a ModelProto or a QGraph (its own input size)."""
    if isinstance(model, QGraph):
        height, width = model.input.shape[2:]
        model = model.path
    rows = layer_rows(model, height, width)
    out = file or sys.stdout
    print(f"{'#':>3} {'layer':<16} {'op':<8} {'input':<28} {'output':<14} {'k':>2} {'s':>2} {'params':>9} "
          f"{'MACs':>14}", file=out)
    for i, r in enumerate(rows):
        print(f"{i:>3} {r.name:<16} {r.op:<8} {' + '.join(_fmt(s) for s in r.in_shapes):<28.28} "
              f"{_fmt(r.out_shape):<14} {r.kernel or '':>2} {r.stride or '':>2} {r.params:>9,} {r.macs:>14,}",
              file=out)
    convs = [r for r in rows if r.op == "conv"]
    print(f"input {height}x{width}: {len(rows)} layers, {len(convs)} convolutions, "
          f"{sum(r.params for r in convs):,} parameters, {sum(r.macs for r in convs) / 1e9:.2f} GMACs", file=out)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(model_path("hardnet70")))
    ap.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=(1024, 2048))
    args = ap.parse_args(argv)
    print_layer_table(args.model, *args.size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
