"""The int8 QDQ ONNX model as the hardware sees it: a list of quantized layers.

``load_qgraph`` validates a model (a user's own trained model of the same op set included) and
returns its layers in execution order. Every activation is named by the node that produces it
(the graph input by its own name); the golden capture uses the same names.

Supported: Conv (1x1 or 3x3, stride 1 or 2, padding k//2, ReLU folded into the output zero point),
Concat on channels, AveragePool 2x2 stride 2, Resize nearest by an integer factor, ArgMax on
channels; activations int8 per tensor, weights int8 per channel symmetric, biases int32. Anything
else raises ``ModelError`` naming the node and what it broke.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["ModelError", "QTensor", "QLayer", "QConv", "QGraph", "load_qgraph", "with_input_size", "SUPPORTED_OPS"]

SUPPORTED_OPS = ("Conv", "Concat", "AveragePool", "Resize", "ArgMax")
_QDQ = ("QuantizeLinear", "DequantizeLinear")


class ModelError(ValueError):
    """A model the accelerator flow cannot take; the message names the node."""


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


def with_input_size(model: onnx.ModelProto, height: int, width: int) -> onnx.ModelProto:
    """A copy of a fully convolutional model with its input fixed to 1x3xHxW (outputs re-inferred)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    if len(m.graph.input) != 1:
        raise ModelError(f"model has {len(m.graph.input)} inputs; exactly one image input is supported")
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if len(dims) != 4:
        raise ModelError(f"input {m.graph.input[0].name!r} has rank {len(dims)}; NCHW (rank 4) expected")
    dims[0].dim_value, dims[2].dim_value, dims[3].dim_value = 1, height, width
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    return onnx.shape_inference.infer_shapes(m, strict_mode=True)


def load_qgraph(model, input_size: tuple[int, int] | None = None) -> QGraph:
    """Parse and validate an int8 QDQ model (path or ModelProto); ``input_size`` = (H, W) overrides
    the input's spatial size (required when the model's input shape is dynamic)."""
    path = str(model) if isinstance(model, (str, Path)) else "<model>"
    m = onnx.load(path) if isinstance(model, (str, Path)) else model
    if len(m.graph.input) != 1:
        names = ", ".join(i.name for i in m.graph.input)
        raise ModelError(f"{path}: model has {len(m.graph.input)} inputs ({names}); exactly one is supported")
    if input_size is None:
        dims = _dims(m.graph.input[0])
        if len(dims) != 4 or any(not isinstance(d, int) or d <= 0 for d in dims):
            raise ModelError(f"{path}: input {m.graph.input[0].name!r} has dynamic shape {dims}; "
                             f"give an input size")
        input_size = dims[2:]
    try:
        m = with_input_size(m, *input_size)
    except onnx.shape_inference.InferenceError as exc:
        raise ModelError(f"{path}: shapes do not infer at input size {tuple(input_size)}: {exc}") from exc
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
        return ModelError(f"{self.path}: node {node.name or '<unnamed>'!r} ({node.op_type}): {msg}")

    def const(self, name, node):
        if name not in self.inits:
            raise self.err(node, f"{name!r} must be a constant initializer")
        return self.inits[name]

    def activation(self, dq_output: str, node) -> QTensor:
        """The quantized activation feeding ``node`` through a DequantizeLinear."""
        dq = self.producer.get(dq_output)
        if dq is None or dq.op_type != "DequantizeLinear":
            raise self.err(node, f"input {dq_output!r} is float: an int8 QDQ model is required "
                                 f"(quantize it with onnxruntime.quantization.quantize_static)")
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
            if node.op_type not in SUPPORTED_OPS:
                raise self.err(node, f"op {node.op_type} is not supported (supported: {', '.join(SUPPORTED_OPS)})")
            if not node.name:
                raise self.err(node, "compute nodes need names (they name the activations)")
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
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
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
        if kh != kw or kh not in (1, 3):
            raise self.err(node, f"kernel {kh}x{kw} not supported (1x1 or 3x3)")
        stride = attrs.get("strides", [1, 1])
        if stride[0] != stride[1] or stride[0] not in (1, 2):
            raise self.err(node, f"strides {stride} not supported (1 or 2)")
        pads = attrs.get("pads", [0, 0, 0, 0])
        if any(p != kh // 2 for p in pads):
            raise self.err(node, f"pads {pads} not supported (k//2 = {kh // 2} on every side)")
        if attrs.get("group", 1) != 1 or any(d != 1 for d in attrs.get("dilations", [1, 1])):
            raise self.err(node, "grouped or dilated convolution not supported")
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
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("axis") not in (1, -3):
            raise self.err(node, f"concat on axis {attrs.get('axis')} not supported (channels, axis 1)")
        xs = [self.activation(i, node) for i in node.input]
        y = self.output_of(node)
        for x in xs:
            if (x.scale, x.zero_point) != (y.scale, y.zero_point):
                raise self.err(node, f"input {x.name!r} has (scale {x.scale}, zero point {x.zero_point}) but the "
                                     f"output has ({y.scale}, {y.zero_point}); a concat must share one quantization")
        return QLayer(node.name, "concat", [x.name for x in xs], node.name,
                      [self._shape(i) for i in node.input], self._shape(node.output[0]))

    def _averagepool(self, node) -> QLayer:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if list(attrs.get("kernel_shape", [])) != [2, 2] or list(attrs.get("strides", [])) != [2, 2] \
                or any(attrs.get("pads", [0] * 4)):
            raise self.err(node, f"only AveragePool 2x2 stride 2 without padding is supported, got {attrs}")
        x = self.activation(node.input[0], node)
        return QLayer(node.name, "avgpool", [x.name], node.name, [self._shape(node.input[0])],
                      self._shape(node.output[0]))

    def _resize(self, node) -> QLayer:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        mode = attrs.get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "nearest":
            raise self.err(node, f"Resize mode {mode!r} not supported (nearest by an integer factor)")
        x = self.activation(node.input[0], node)
        ins, outs = self._shape(node.input[0]), self._shape(node.output[0])
        if len(ins) != 4 or len(outs) != 4 or outs[2] % ins[2] or outs[3] % ins[3] or outs[2] // ins[2] != outs[3] // ins[3]:
            raise self.err(node, f"Resize {ins} -> {outs} is not an integer upsampling")
        layer = QLayer(node.name, "upsample", [x.name], node.name, [ins], outs)
        layer.factor = outs[2] // ins[2]
        return layer

    def _argmax(self, node) -> QLayer:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("axis", 0) != 1:
            raise self.err(node, f"ArgMax on axis {attrs.get('axis', 0)} not supported (channels, axis 1)")
        x = self.activation(node.input[0], node)
        return QLayer(node.name, "argmax", [x.name], node.output[0], [self._shape(node.input[0])],
                      self._shape(node.output[0]))
