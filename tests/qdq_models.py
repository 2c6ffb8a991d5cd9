"""Single-op int8 QDQ models for checking golden.contract against onnxruntime on random tensors.

Each model takes an int8 tensor (DequantizeLinear -> op -> QuantizeLinear), so onnxruntime fuses
it into the QLinear* kernel the contract describes, and returns the int8 result.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from golden.contract import make_session_options


def _model(nodes, inits, inputs, out_shape, out_type=TensorProto.INT8):
    graph = helper.make_graph(
        nodes, "op",
        [helper.make_tensor_value_info(n, TensorProto.INT8, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", out_type, out_shape)],
        initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def run(model: onnx.ModelProto, feeds: dict, options=None) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), options or make_session_options(),
                                providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def _dq(name, scale, zp, inits, nodes):
    inits[f"{name}_s"] = np.array(scale, np.float32)
    inits[f"{name}_z"] = np.array(zp, np.int8)
    nodes.append(helper.make_node("DequantizeLinear", [name, f"{name}_s", f"{name}_z"], [f"{name}_f"]))
    return f"{name}_f"


def _q(src, scale, zp, inits, nodes):
    inits["y_s"] = np.array(scale, np.float32)
    inits["y_z"] = np.array(zp, np.int8)
    nodes.append(helper.make_node("QuantizeLinear", [src, "y_s", "y_z"], ["y"]))


def conv_model(shape, x_scale, x_zp, w, w_scale, bias, y_scale, y_zp, stride):
    cout, cin, k, _ = w.shape
    nodes, inits = [], {}
    xf = _dq("x", x_scale, x_zp, inits, nodes)
    inits["w"], inits["w_s"], inits["w_z"] = w.astype(np.int8), np.asarray(w_scale, np.float32), np.zeros(cout, np.int8)
    nodes.append(helper.make_node("DequantizeLinear", ["w", "w_s", "w_z"], ["w_f"], axis=0))
    inits["b"] = bias.astype(np.int32)
    inits["b_s"] = (np.float32(x_scale) * np.asarray(w_scale, np.float32)).astype(np.float32)
    inits["b_z"] = np.zeros(cout, np.int32)
    nodes.append(helper.make_node("DequantizeLinear", ["b", "b_s", "b_z"], ["b_f"], axis=0))
    nodes.append(helper.make_node("Conv", [xf, "w_f", "b_f"], ["c"], kernel_shape=[k, k], strides=[stride] * 2,
                                  pads=[k // 2] * 4))
    _q("c", y_scale, y_zp, inits, nodes)
    h, wd = shape[2:]
    return _model(nodes, inits, [("x", list(shape))], [1, cout, (h + 2 * (k // 2) - k) // stride + 1,
                                                      (wd + 2 * (k // 2) - k) // stride + 1])


def avgpool_model(shape, x_scale, x_zp, y_scale, y_zp):
    nodes, inits = [], {}
    xf = _dq("x", x_scale, x_zp, inits, nodes)
    nodes.append(helper.make_node("AveragePool", [xf], ["p"], kernel_shape=[2, 2], strides=[2, 2]))
    _q("p", y_scale, y_zp, inits, nodes)
    return _model(nodes, inits, [("x", list(shape))], [shape[0], shape[1], shape[2] // 2, shape[3] // 2])


def resize_model(shape, scale, zp, factor, coordinate_transformation_mode="asymmetric", nearest_mode="floor"):
    nodes, inits = [], {}
    xf = _dq("x", scale, zp, inits, nodes)
    inits["scales"] = np.array([1, 1, factor, factor], np.float32)
    nodes.append(helper.make_node("Resize", [xf, "", "scales"], ["r"], mode="nearest",
                                  coordinate_transformation_mode=coordinate_transformation_mode,
                                  nearest_mode=nearest_mode))
    _q("r", scale, zp, inits, nodes)
    return _model(nodes, inits, [("x", list(shape))], [shape[0], shape[1], shape[2] * factor, shape[3] * factor])


def concat_model(shapes, scale, zp):
    nodes, inits = [], {}
    fs = [_dq(f"x{i}", scale, zp, inits, nodes) for i in range(len(shapes))]
    nodes.append(helper.make_node("Concat", fs, ["c"], axis=1))
    _q("c", scale, zp, inits, nodes)
    out = [1, sum(s[1] for s in shapes), shapes[0][2], shapes[0][3]]
    return _model(nodes, inits, [(f"x{i}", list(s)) for i, s in enumerate(shapes)], out)


def argmax_model(shape, scale, zp):
    nodes, inits = [], {}
    xf = _dq("x", scale, zp, inits, nodes)
    nodes.append(helper.make_node("ArgMax", [xf], ["y"], axis=1, keepdims=0))
    return _model(nodes, inits, [("x", list(shape))], [shape[0], shape[2], shape[3]], TensorProto.INT64)


def fused_ops(model: onnx.ModelProto, options=None) -> list[str]:
    """Op types of the graph onnxruntime actually runs (its optimized model)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        so = options or make_session_options()
        so.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
