"""The int8 QDQ ONNX model as the hardware sees it: a list of quantized layers.

``load_qgraph`` validates a model (a user's own trained model of the same op set included) and
returns its layers in execution order. Every activation is named by the node that produces it
(the graph input by its own name); the golden capture uses the same names.

Supported: Conv (1x1 or 3x3, stride 1 or 2, padding k//2, ReLU folded into the output zero point),
Concat on channels, AveragePool 2x2 stride 2, Resize nearest by an integer factor, ArgMax on
channels; activations int8 per tensor, weights int8 per channel symmetric, biases int32; every
attribute of these ops within ``ATTRIBUTES``; an input size that is a multiple of the network's
output stride. Anything else raises ``ModelError`` (one line) naming the file, node, attribute or
size and what it broke, before any shape is inferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["ModelError", "QTensor", "QLayer", "QConv", "QGraph", "load_qgraph", "read_model", "check_nodes",
           "with_input_size", "output_stride", "SUPPORTED_OPS", "ATTRIBUTES", "RESIZE_NEAREST"]

SUPPORTED_OPS = ("Conv", "Concat", "AveragePool", "Resize", "ArgMax")
_QDQ = ("QuantizeLinear", "DequantizeLinear")
_QDQ_REQUIRED = "an int8 QDQ model is required (quantize it with onnxruntime.quantization.quantize_static)"


class ModelError(ValueError):
    """A model the accelerator flow cannot take; the message (one line) names the node or file."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # onnx's messages span lines


REQUIRED = "required"  # an attribute ONNX has no default for: absent is refused
OMITTED = "omitted"  # absent is fine (Conv's kernel_shape: the weights' shape)

# Every ONNX attribute of each supported op: (ONNX's default, the values the accelerator computes
# exactly). An attribute not listed, or a value not listed (the default when it is absent), is
# refused naming the node, the attribute, its value and the supported values.
ATTRIBUTES = {
    "Conv": {
        "auto_pad": ("NOTSET", ("NOTSET",)),
        "dilations": ([1, 1], ([1, 1],)),
        "group": (1, (1,)),
        "kernel_shape": (OMITTED, ([1, 1], [3, 3])),  # and the weights' shape
        "pads": ([0, 0, 0, 0], ([0, 0, 0, 0], [1, 1, 1, 1])),  # and k // 2 for the kernel (_check_conv)
        "strides": ([1, 1], ([1, 1], [2, 2])),
    },
    "Concat": {
        "axis": (REQUIRED, (1, -3)),
    },
    "AveragePool": {
        "auto_pad": ("NOTSET", ("NOTSET",)),
        "ceil_mode": (0, (0,)),
        "count_include_pad": (0, (0, 1)),  # no padding: both average four pixels
        "dilations": ([1, 1], ([1, 1],)),
        "kernel_shape": (REQUIRED, ([2, 2],)),
        "pads": ([0, 0, 0, 0], ([0, 0, 0, 0],)),
        "strides": ([1, 1], ([2, 2],)),
    },
    "Resize": {
        "antialias": (0, (0,)),
        "axes": (OMITTED, ()),  # scales or sizes for all four axes
        "coordinate_transformation_mode": ("half_pixel", ("half_pixel", "pytorch_half_pixel", "asymmetric")),
        "cubic_coeff_a": (-0.75, (-0.75,)),
        "exclude_outside": (0, (0,)),
        "extrapolation_value": (0.0, (0.0,)),
        "keep_aspect_ratio_policy": ("stretch", ("stretch",)),
        "mode": ("nearest", ("nearest",)),
        "nearest_mode": ("round_prefer_floor", ("round_prefer_floor", "round_prefer_ceil", "floor")),
    },
    "ArgMax": {
        "axis": (0, (1, -3)),
        "keepdims": (1, (0,)),  # labels N,H,W (the golden capture's and the compare's shape)
        "select_last_index": (0, (0,)),  # the first maximum (the controller's compare)
    },
}
# (coordinate_transformation_mode, nearest_mode) pairs that map output pixel f*i + j (0 <= j < f) to
# input pixel i for every integer factor f: the byte repetition the hardware does. half_pixel puts
# it at i + (j + 1/2)/f - 1/2, strictly within half a pixel of i; asymmetric at i + j/f, within [i, i + 1)
# (asymmetric with round_prefer_floor repeats for f = 2 only). tests/test_golden_errors.py checks
# every pair against onnxruntime.
RESIZE_NEAREST = (("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
                  ("pytorch_half_pixel", "round_prefer_floor"), ("pytorch_half_pixel", "round_prefer_ceil"),
                  ("asymmetric", "floor"))


@dataclass
class QTensor:
    name: str
    scale: np.float32
    zero_point: int
    shape: tuple  # NCHW


@dataclass
class QLayer:
    name: str
    op: str  # conv | concat | avgpool | upsample | argmax
    inputs: list[str]
    output: str
    in_shapes: list[tuple] = field(default_factory=list)
    out_shape: tuple = ()

    @property
    def input(self) -> str:
        return self.inputs[0]


@dataclass
class QConv(QLayer):
    weight: np.ndarray = None  # int8 [Cout, Cin, k, k]
    w_scale: np.ndarray = None  # float32 [Cout]
    bias: np.ndarray = None  # int32 [Cout]
    x_scale: np.float32 = None
    x_zp: int = 0
    y_scale: np.float32 = None
    y_zp: int = 0
    stride: int = 1
    pad: int = 0
    relu: bool = False  # True when the output zero point is -128 (the clamp at zero is the ReLU)

    @property
    def kernel(self) -> int:
        return self.weight.shape[2]

    @property
    def macs(self) -> int:
        cout, cin, k, _ = self.weight.shape
        return int(cout * cin * k * k * self.out_shape[2] * self.out_shape[3])


@dataclass
class QGraph:
    path: str
    input: QTensor
    layers: list[QLayer]
    tensors: dict[str, QTensor]

    @property
    def convs(self) -> list[QConv]:
        return [l for l in self.layers if isinstance(l, QConv)]

    def layer(self, name: str) -> QLayer:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(f"no layer {name!r} in {self.path}")


def _dims(vi) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]


def read_model(path) -> onnx.ModelProto:
    """The ONNX model in file ``path``; a missing, unreadable, truncated or non-ONNX file is a
    ``ModelError`` naming it."""
    from google.protobuf.message import DecodeError

    try:
        m = onnx.load(str(path))
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model: {exc.strerror or exc}") from exc
    except DecodeError as exc:
        raise ModelError(f"{path}: not an ONNX model (truncated or another format: {exc})") from exc
    if not m.graph.node:
        raise ModelError(f"{path}: not an ONNX model (no graph nodes)")
    return m


def _attrs(node) -> dict:
    """A node's attributes as Python values (strings decoded)."""
    values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def _node_error(path, node, msg) -> ModelError:
    return ModelError(f"{path}: node {node.name or '<unnamed>'!r} ({node.op_type}): {msg}")


def _constant(m: onnx.ModelProto, name: str):
    """The value of tensor ``name`` if it is an initializer or a Constant node's output, else None."""
    for i in m.graph.initializer:
        if i.name == name:
            return numpy_helper.to_array(i)
    for n in m.graph.node:
        if n.op_type == "Constant" and n.output[0] == name and n.attribute and n.attribute[0].name == "value":
            return numpy_helper.to_array(n.attribute[0].t)
    return None


def check_nodes(m: onnx.ModelProto, path: str = "<model>") -> None:
    """Refuse any node outside the supported ops and ``ATTRIBUTES`` (no shapes needed, so an
    attribute that would change a shape is named at its node, not at a later shape mismatch)."""
    if not any(n.op_type == "DequantizeLinear" for n in m.graph.node):  # float: name that, not its ReLUs
        first = m.graph.node[0]
        raise _node_error(path, first, f"input {first.input[0]!r} is float: {_QDQ_REQUIRED}")
    for node in m.graph.node:
        if node.op_type in _QDQ:
            continue
        if node.op_type not in SUPPORTED_OPS:
            raise _node_error(path, node, f"op {node.op_type} is not supported (supported: {', '.join(SUPPORTED_OPS)})")
        if not node.name:
            raise _node_error(path, node, "compute nodes need names (they name the activations)")
        attrs, table = _attrs(node), ATTRIBUTES[node.op_type]
        for name in attrs:
            if name not in table:
                raise _node_error(path, node, f"attribute {name} is not supported ({node.op_type} takes "
                                              f"{', '.join(table)})")
        if node.op_type == "Conv":
            _check_conv(m, path, node, attrs)
        for name, (default, allowed) in table.items():
            given = name in attrs
            if not given and default is OMITTED:
                continue
            if not given and default is REQUIRED:
                raise _node_error(path, node, f"attribute {name} is missing (supported: "
                                              f"{', '.join(map(repr, allowed))})")
            value = attrs.get(name, default)
            if value not in allowed:
                raise _node_error(path, node, f"attribute {name} = {value!r}{'' if given else ' (the default)'} "
                                              f"is not supported (supported: "
                                              f"{', '.join(map(repr, allowed)) or 'none, leave it out'})")
        if node.op_type == "Resize":
            _check_resize(m, path, node, attrs)


def _check_conv(m, path, node, attrs) -> None:
    """A square 1x1 or 3x3 kernel (the weights' shape, and kernel_shape's if given), padded k // 2."""
    dq = next((n for n in m.graph.node if node.input[1] in n.output), None)
    w = _constant(m, dq.input[0] if dq is not None and dq.op_type == "DequantizeLinear" else node.input[1])
    kernel = list(w.shape[2:]) if w is not None else attrs.get("kernel_shape")
    if kernel is None:
        return  # float weights from no constant: the parser refuses them
    if "kernel_shape" in attrs and list(attrs["kernel_shape"]) != kernel:
        raise _node_error(path, node, f"attribute kernel_shape = {attrs['kernel_shape']!r} differs from the "
                                      f"weights' {kernel}")
    if kernel not in ([1, 1], [3, 3]):
        raise _node_error(path, node, f"kernel {kernel[0]}x{kernel[-1]} not supported (1x1 or 3x3)")
    pads = attrs.get("pads", ATTRIBUTES["Conv"]["pads"][0])
    if list(pads) != [kernel[0] // 2] * 4:
        raise _node_error(path, node, f"attribute pads = {pads!r}{'' if 'pads' in attrs else ' (the default)'} is "
                                      f"not supported for a {kernel[0]}x{kernel[0]} kernel (supported: "
                                      f"{[kernel[0] // 2] * 4})")


def _check_resize(m, path, node, attrs) -> None:
    """Nearest by an integer factor: a coordinate mapping that repeats each pixel (``RESIZE_NEAREST``)
    and scales [1, 1, f, f] when scales are given (sizes: the shapes' ratio, checked by the parser)."""
    defaults = ATTRIBUTES["Resize"]
    pair = tuple(attrs.get(a, defaults[a][0]) for a in ("coordinate_transformation_mode", "nearest_mode"))
    if pair not in RESIZE_NEAREST:
        pairs = "; ".join(f"{c} with {n}" for c, n in RESIZE_NEAREST)
        raise _node_error(path, node, f"coordinate_transformation_mode {pair[0]!r} with nearest_mode {pair[1]!r} "
                                      f"does not repeat each pixel for every integer factor (supported: {pairs})")
    if len(node.input) > 2 and node.input[2]:
        scales = _constant(m, node.input[2])
        if scales is None:
            raise _node_error(path, node, f"scales {node.input[2]!r} must be a constant")
        s = [float(v) for v in scales.reshape(-1)]
        if len(s) != 4 or s[:2] != [1.0, 1.0] or s[2] != s[3] or s[2] != int(s[2]) or s[2] < 1:
            raise _node_error(path, node, f"scales {s} not supported ([1, 1, f, f] with an integer factor f)")


def output_stride(m: onnx.ModelProto) -> tuple[Fraction, Fraction]:
    """The network's output stride (rows, columns): its deepest downsampling, from the conv and
    pool strides and the Resize scales (tensors after a Resize given by sizes are not followed)."""
    stride = {m.graph.input[0].name: (Fraction(1), Fraction(1))}
    for node in m.graph.node:
        ins = [stride[i] for i in node.input if i in stride]
        if not ins:
            continue
        sh, sw = ins[0]
        if node.op_type in ("Conv", "AveragePool", "MaxPool"):
            s = _attrs(node).get("strides", [1, 1])
            sh, sw = sh * s[0], sw * s[-1]
        elif node.op_type == "Resize":
            scales = _constant(m, node.input[2]) if len(node.input) > 2 and node.input[2] else None
            if scales is None or scales.size != 4:
                continue
            sh, sw = sh / Fraction(float(scales.reshape(-1)[2])), sw / Fraction(float(scales.reshape(-1)[3]))
        for o in node.output:
            stride[o] = (sh, sw)
    return max(s[0] for s in stride.values()), max(s[1] for s in stride.values())


def with_input_size(model: onnx.ModelProto, height: int, width: int, path: str = "<model>") -> onnx.ModelProto:
    """A copy of a fully convolutional model with its input fixed to 1x3xHxW (outputs re-inferred);
    H and W must be multiples of the network's output stride (every strided layer then halves an
    even size, and the decoder's upsampled tensors match the encoder's they are joined with)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    if len(m.graph.input) != 1:
        raise ModelError(f"{path}: model has {len(m.graph.input)} inputs; exactly one image input is supported")
    name = m.graph.input[0].name
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ModelError(f"{path}: input {name!r} has rank {len(dims)}; NCHW (rank 4) expected")
    for what, size, stride in zip(("height", "width"), (height, width), output_stride(m)):
        if stride.denominator == 1 and size % stride:
            raise ModelError(f"{path}: input {name!r}: {what} {size} is not a multiple of {stride} "
                             f"(the network's output stride)")
    dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, height, width
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    try:
        return onnx.shape_inference.infer_shapes(m, strict_mode=True)
    except onnx.shape_inference.InferenceError as exc:
        raise ModelError(f"{path}: shapes do not infer at input size {(height, width)}: {exc}") from exc


def load_qgraph(model, input_size: tuple[int, int] | None = None) -> QGraph:
    """Parse and validate an int8 QDQ model (path or ModelProto); ``input_size`` = (H, W) overrides
    the input's spatial size (required when the model's input shape is dynamic)."""
    path = str(model) if isinstance(model, (str, Path)) else "<model>"
    m = read_model(path) if isinstance(model, (str, Path)) else model
    if len(m.graph.input) != 1:
        names = ", ".join(i.name for i in m.graph.input)
        raise ModelError(f"{path}: model has {len(m.graph.input)} inputs ({names}); exactly one is supported")
    check_nodes(m, path)
    if input_size is None:
        dims = _dims(m.graph.input[0])
        if len(dims) != 4 or any(not isinstance(d, int) or d <= 0 for d in dims):
            raise ModelError(f"{path}: input {m.graph.input[0].name!r} has dynamic shape {dims}; "
                             f"give an input size")
        input_size = dims[2:]
    m = with_input_size(m, *input_size, path=path)
    return _Parser(m, path).parse()


class _Parser:
    def __init__(self, m: onnx.ModelProto, path: str):
        self.m, self.path = m, path
        self.inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        self.producer = {o: n for n in m.graph.node for o in n.output}
        self.shapes = {vi.name: tuple(_dims(vi)) for vi in
                       list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
        self.input_name = m.graph.input[0].name

    def err(self, node, msg):
        return _node_error(self.path, node, msg)

    def const(self, name, node):
        if name not in self.inits:
            raise self.err(node, f"{name!r} must be a constant initializer")
        return self.inits[name]

    def activation(self, dq_output: str, node) -> QTensor:
        """The quantized activation feeding ``node`` through a DequantizeLinear."""
        dq = self.producer.get(dq_output)
        if dq is None or dq.op_type != "DequantizeLinear":
            raise self.err(node, f"input {dq_output!r} is float: {_QDQ_REQUIRED}")
        q = self.producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            raise self.err(node, f"input {dq_output!r} is not a quantized activation")
        return self.qtensor(q, node)

    def qtensor(self, q, node) -> QTensor:
        scale = self.const(q.input[1], q)
        zp = self.const(q.input[2], q) if len(q.input) > 2 and q.input[2] else np.array(0, np.uint8)
        if zp.dtype != np.int8:
            raise self.err(node, f"activation {q.input[0]!r} is {zp.dtype}; int8 activations are required "
                                 f"(uint8 accumulates with int16 saturation in onnxruntime)")
        if scale.size != 1:
            raise self.err(node, f"activation {q.input[0]!r} is quantized per channel; per tensor is required")
        src = self.producer.get(q.input[0])
        name = src.name if src is not None else q.input[0]
        if src is not None and not src.name:
            raise self.err(src, "compute nodes need names (they name the activations)")
        return QTensor(name, np.float32(scale.reshape(())), int(zp.reshape(())), self.shapes.get(q.input[0], ()))

    def output_of(self, node) -> QTensor:
        users = [n for n in self.m.graph.node if node.output[0] in n.input]
        qs = [n for n in users if n.op_type == "QuantizeLinear"]
        if len(qs) != 1 or len(users) != 1:
            raise self.err(node, "output must feed exactly one QuantizeLinear (int8 output required)")
        return self.qtensor(qs[0], node)

    def parse(self) -> QGraph:
        layers, tensors, produced = [], {}, {self.input_name}
        for node in self.m.graph.node:
            if node.op_type in _QDQ:
                continue
            layer = getattr(self, f"_{node.op_type.lower()}")(node)
            for t in layer.inputs:
                if t not in produced:
                    raise self.err(node, f"input {t!r} is produced by no earlier layer")
            produced.add(layer.output)
            layers.append(layer)
        inp = None
        for l in layers:
            for i, t in enumerate(l.inputs):
                if t == self.input_name and inp is None:
                    node = next(n for n in self.m.graph.node if n.name == l.name)
                    inp = self.activation(node.input[0], node)
        if inp is None:
            raise ModelError(f"{self.path}: the graph input {self.input_name!r} feeds no quantized layer")
        tensors[inp.name] = inp
        for l in layers:
            node = next(n for n in self.m.graph.node if n.name == l.name)
            if l.op != "argmax":
                tensors[l.output] = self.output_of(node)
        return QGraph(self.path, inp, layers, tensors)

    def _shape(self, name):
        return self.shapes.get(name, ())

    def _conv(self, node) -> QConv:
        x = self.activation(node.input[0], node)
        wdq = self.producer.get(node.input[1])
        if wdq is None or wdq.op_type != "DequantizeLinear":
            raise self.err(node, "weights are float: int8 per-channel weights are required")
        w = self.const(wdq.input[0], node)
        w_scale = self.const(wdq.input[1], node).astype(np.float32).reshape(-1)
        w_zp = self.const(wdq.input[2], node) if len(wdq.input) > 2 and wdq.input[2] else np.zeros(1, np.int8)
        if w.dtype != np.int8 or np.any(w_zp != 0):
            raise self.err(node, f"weights must be symmetric int8 (got {w.dtype}, zero points {np.unique(w_zp)})")
        cout, cin, kh, kw = w.shape
        if w_scale.size == 1:
            w_scale = np.full(cout, w_scale[0], np.float32)
        stride = _attrs(node).get("strides", ATTRIBUTES["Conv"]["strides"][0])  # square: check_nodes
        if len(node.input) > 2 and node.input[2]:
            bdq = self.producer.get(node.input[2])
            bias = self.const(bdq.input[0] if bdq is not None and bdq.op_type == "DequantizeLinear" else node.input[2], node)
            if bias.dtype != np.int32:
                raise self.err(node, f"bias must be int32 (got {bias.dtype})")
        else:
            bias = np.zeros(cout, np.int32)
        y = self.output_of(node)
        return QConv(name=node.name, op="conv", inputs=[x.name], output=node.name,
                     in_shapes=[self._shape(node.input[0])], out_shape=self._shape(node.output[0]),
                     weight=w, w_scale=w_scale, bias=bias.astype(np.int32), x_scale=x.scale, x_zp=x.zero_point,
                     y_scale=y.scale, y_zp=y.zero_point, stride=stride[0], pad=kh // 2, relu=y.zero_point == -128)

    def _concat(self, node) -> QLayer:
        xs = [self.activation(i, node) for i in node.input]
        y = self.output_of(node)
        for x in xs:
            if (x.scale, x.zero_point) != (y.scale, y.zero_point):
                raise self.err(node, f"input {x.name!r} has (scale {x.scale}, zero point {x.zero_point}) but the "
                                     f"output has ({y.scale}, {y.zero_point}); a concat must share one quantization")
        return QLayer(node.name, "concat", [x.name for x in xs], node.name,
                      [self._shape(i) for i in node.input], self._shape(node.output[0]))

    def _averagepool(self, node) -> QLayer:
        x = self.activation(node.input[0], node)
        return QLayer(node.name, "avgpool", [x.name], node.name, [self._shape(node.input[0])],
                      self._shape(node.output[0]))

    def _resize(self, node) -> QLayer:
        x = self.activation(node.input[0], node)
        ins, outs = self._shape(node.input[0]), self._shape(node.output[0])
        if len(ins) != 4 or len(outs) != 4 or outs[2] % ins[2] or outs[3] % ins[3] or outs[2] // ins[2] != outs[3] // ins[3]:
            raise self.err(node, f"Resize {ins} -> {outs} is not an integer upsampling")
        layer = QLayer(node.name, "upsample", [x.name], node.name, [ins], outs)
        layer.factor = outs[2] // ins[2]
        return layer

    def _argmax(self, node) -> QLayer:
        x = self.activation(node.input[0], node)
        return QLayer(node.name, "argmax", [x.name], node.output[0], [self._shape(node.input[0])],
                      self._shape(node.output[0]))
