"""Bad models and bad inputs give errors that name the node, file or parameter."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import tests.qdq_models as qm
from hwspec.checks import SCALES as UPSAMPLE_FACTORS
from golden.capture import capture
from golden.cityscapes import Crop, CityscapesError, crop_input
from golden.contract import upsample_nearest_int8
from golden.qgraph import RESIZE_NEAREST, ModelError, load_qgraph
from onnx_models import model_path


def tiny_int8():
    return onnx.load(str(model_path("tiny", "int8")))


def test_float_model_is_refused_naming_the_node():
    with pytest.raises(ModelError, match=r"node 'stem0' \(Conv\): input .* is float"):
        load_qgraph(model_path("tiny", "float"))


def test_unsupported_op_is_refused_naming_the_node():
    m = tiny_int8()
    node = next(n for n in m.graph.node if n.name == "enc0.pool")
    node.op_type = "MaxPool"
    with pytest.raises(ModelError, match=r"node 'enc0.pool' \(MaxPool\): op MaxPool is not supported"):
        load_qgraph(m)


def test_dynamic_shape_is_refused_unless_a_size_is_given():
    m = tiny_int8()
    m.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    with pytest.raises(ModelError, match=r"input 'input' has dynamic shape \[1, 3, 'height', 128\]"):
        load_qgraph(m)
    assert load_qgraph(m, (32, 64)).layers[-1].out_shape == (1, 32, 64)


def test_second_input_is_refused():
    m = tiny_int8()
    m.graph.input.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 3, 8, 8]))
    with pytest.raises(ModelError, match=r"2 inputs \(input, extra\)"):
        load_qgraph(m)


def test_uint8_activations_are_refused():
    m = tiny_int8()
    zp = next(i for i in m.graph.initializer if i.name == "input_zero_point")
    zp.CopyFrom(onnx.numpy_helper.from_array(np.array(128, np.uint8), zp.name))
    with pytest.raises(ModelError, match="uint8; int8 activations are required"):
        load_qgraph(m)


def test_unsupported_kernel_is_refused_with_the_limit():
    m = tiny_int8()
    conv = next(n for n in m.graph.node if n.name == "head")
    for a in conv.attribute:
        if a.name == "strides":
            a.ints[:] = [3, 3]
    with pytest.raises(ModelError, match=r"node 'head' \(Conv\): attribute strides = \[3, 3\] is not supported "
                                         r"\(supported: \[1, 1\], \[2, 2\]\)"):
        load_qgraph(m)


def test_missing_dataset_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYSCAPES_DATASET", str(tmp_path / "nowhere"))
    with pytest.raises(CityscapesError, match="nowhere has no leftImg8bit"):
        crop_input(Crop())


def test_unknown_frame_lists_what_exists():
    with pytest.raises(CityscapesError, match=r"frame 'berlin_1' not found .*frankfurt_000000_002196"):
        crop_input(Crop("berlin_1"))


def test_crop_outside_the_frame():
    with pytest.raises(CityscapesError, match=r"crop 256x512 at \(900,0\) lies outside frame .* of 1024x2048"):
        crop_input(Crop(top=900, height=256, width=512))


def test_unreadable_frame(tmp_path):
    bad = tmp_path / "x_leftImg8bit.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(CityscapesError, match="cannot read frame .*x_leftImg8bit.png"):
        crop_input(Crop(str(bad), height=8, width=8))


def test_crop_is_normalized_like_training():
    x = crop_input(Crop(height=64, width=128))
    assert x.shape == (1, 3, 64, 128) and x.dtype == np.float32
    assert -2.2 < x.min() and x.max() < 2.7  # ImageNet mean/std normalization of [0, 1] pixels


def with_attribute(m, node_name, name, value):
    """Model ``m`` with attribute ``name`` of node ``node_name`` set to ``value`` (None: removed)."""
    node = next(n for n in m.graph.node if n.name == node_name)
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept + ([helper.make_attribute(name, value)] if value is not None else []))
    return m


# (node of the tiny model, attribute, value or None for absent, what the one-line error says after
# "node 'NAME' (OP): "): every attribute of every supported op with a value the hardware does not compute
REFUSED = [
    ("head", "auto_pad", "SAME_UPPER", "attribute auto_pad = 'SAME_UPPER' is not supported (supported: 'NOTSET')"),
    ("stem1", "dilations", [2, 2], "attribute dilations = [2, 2] is not supported (supported: [1, 1])"),
    ("head", "group", 2, "attribute group = 2 is not supported (supported: 1)"),
    ("head", "kernel_shape", [3, 3], "attribute kernel_shape = [3, 3] differs from the weights' [1, 1]"),
    ("stem1", "pads", None, "attribute pads = [0, 0, 0, 0] (the default) is not supported for a 3x3 kernel "
                            "(supported: [1, 1, 1, 1])"),
    ("head", "pads", [1, 1, 1, 1], "attribute pads = [1, 1, 1, 1] is not supported for a 1x1 kernel "
                                   "(supported: [0, 0, 0, 0])"),
    ("stem0", "strides", [2, 1], "attribute strides = [2, 1] is not supported (supported: [1, 1], [2, 2])"),
    ("head", "bias_shift", 1, "attribute bias_shift is not supported (Conv takes auto_pad, dilations, group, "
                              "kernel_shape, pads, strides)"),
    ("dec0.cat", "axis", 2, "attribute axis = 2 is not supported (supported: 1, -3)"),
    ("dec0.cat", "axis", None, "attribute axis is missing (supported: 1, -3)"),
    ("enc0.pool", "auto_pad", "VALID", "attribute auto_pad = 'VALID' is not supported (supported: 'NOTSET')"),
    ("enc0.pool", "ceil_mode", 1, "attribute ceil_mode = 1 is not supported (supported: 0)"),
    ("enc0.pool", "count_include_pad", 2, "attribute count_include_pad = 2 is not supported (supported: 0, 1)"),
    ("enc0.pool", "dilations", [2, 2], "attribute dilations = [2, 2] is not supported (supported: [1, 1])"),
    ("enc0.pool", "kernel_shape", [3, 3], "attribute kernel_shape = [3, 3] is not supported (supported: [2, 2])"),
    ("enc0.pool", "kernel_shape", None, "attribute kernel_shape is missing (supported: [2, 2])"),
    ("enc0.pool", "pads", [0, 0, 1, 1], "attribute pads = [0, 0, 1, 1] is not supported (supported: [0, 0, 0, 0])"),
    ("enc0.pool", "strides", None, "attribute strides = [1, 1] (the default) is not supported (supported: [2, 2])"),
    ("dec0.up", "antialias", 1, "attribute antialias = 1 is not supported (supported: 0)"),
    ("dec0.up", "axes", [2, 3], "attribute axes = [2, 3] is not supported (supported: none, leave it out)"),
    ("dec0.up", "coordinate_transformation_mode", "align_corners",
     "attribute coordinate_transformation_mode = 'align_corners' is not supported "
     "(supported: 'half_pixel', 'pytorch_half_pixel', 'asymmetric')"),
    ("dec0.up", "cubic_coeff_a", -0.5, "attribute cubic_coeff_a = -0.5 is not supported (supported: -0.75)"),
    ("dec0.up", "exclude_outside", 1, "attribute exclude_outside = 1 is not supported (supported: 0)"),
    ("dec0.up", "extrapolation_value", 1.0, "attribute extrapolation_value = 1.0 is not supported (supported: 0.0)"),
    ("dec0.up", "keep_aspect_ratio_policy", "not_larger",
     "attribute keep_aspect_ratio_policy = 'not_larger' is not supported (supported: 'stretch')"),
    ("dec0.up", "mode", "linear", "attribute mode = 'linear' is not supported (supported: 'nearest')"),
    ("dec0.up", "nearest_mode", "ceil", "attribute nearest_mode = 'ceil' is not supported "
                                        "(supported: 'round_prefer_floor', 'round_prefer_ceil', 'floor')"),
    ("dec0.up", "nearest_mode", None, "coordinate_transformation_mode 'asymmetric' with nearest_mode "
                                      "'round_prefer_floor' does not repeat each pixel for every integer factor"),
    ("argmax", "axis", None, "attribute axis = 0 (the default) is not supported (supported: 1, -3)"),
    ("argmax", "keepdims", 1, "attribute keepdims = 1 is not supported (supported: 0)"),
    ("argmax", "select_last_index", 1, "attribute select_last_index = 1 is not supported (supported: 0)"),
]


@pytest.mark.parametrize("node,attribute,value,message", REFUSED, ids=[f"{n}-{a}-{v}" for n, a, v, _ in REFUSED])
def test_attribute_the_hardware_does_not_compute_is_refused(node, attribute, value, message):
    m = with_attribute(tiny_int8(), node, attribute, value)
    op = next(n.op_type for n in m.graph.node if n.name == node)
    with pytest.raises(ModelError) as exc:
        load_qgraph(m)
    assert str(exc.value) == f"<model>: node {node!r} ({op}): {message}" or \
        str(exc.value).startswith(f"<model>: node {node!r} ({op}): {message} (supported: ")


def test_every_attribute_of_every_op_has_a_refusal_test():
    from golden.qgraph import ATTRIBUTES

    ops = {n.name: n.op_type for n in tiny_int8().graph.node}
    tested = {(ops[n], a) for n, a, _, _ in REFUSED}
    listed = {(op, a) for op, table in ATTRIBUTES.items() for a in table}
    assert listed <= tested, sorted(listed - tested)


def test_resize_pairs_accepted_exactly_where_onnxruntime_repeats_pixels():
    """Each (coordinate_transformation_mode, nearest_mode) pair is accepted if and only if
    onnxruntime's int8 Resize repeats every pixel factor x factor times for every factor the
    controller does."""
    rng = np.random.default_rng(15)
    x = rng.integers(-128, 128, (1, 3, 5, 7)).astype(np.int8)
    accepted = []
    for ctm in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"):
        for nearest in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            repeats = all(np.array_equal(qm.run(qm.resize_model(x.shape, 0.0625, -8, f, ctm, nearest), {"x": x}),
                                         upsample_nearest_int8(x, f)) for f in UPSAMPLE_FACTORS)
            m = with_attribute(with_attribute(tiny_int8(), "dec0.up", "coordinate_transformation_mode", ctm),
                               "dec0.up", "nearest_mode", nearest)
            try:
                load_qgraph(m)
                loads = True
            except ModelError as exc:
                assert "node 'dec0.up' (Resize)" in str(exc)
                loads = False
            assert loads == repeats, (ctm, nearest, repeats)
            accepted += [(ctm, nearest)] if loads else []
    assert sorted(accepted) == sorted(RESIZE_NEAREST)


def test_resize_scales_must_be_one_integer_factor():
    m = tiny_int8()
    scales = next(i for i in m.graph.initializer if i.name == "dec0.up.scales")
    scales.CopyFrom(onnx.numpy_helper.from_array(np.array([1, 1, 2.5, 2.5], np.float32), scales.name))
    with pytest.raises(ModelError, match=r"^<model>: node 'dec0.up' \(Resize\): scales \[1.0, 1.0, 2.5, 2.5\] "
                                         r"not supported \(\[1, 1, f, f\] with an integer factor f\)$"):
        load_qgraph(m)


def output_stride_of(model):
    """The deepest downsampling of ``model`` at its own size, from its inferred shapes."""
    g = load_qgraph(model_path(model))
    return g.input.shape[2] // min(t.shape[2] for t in g.tensors.values())


@pytest.mark.parametrize("model", ["tiny", "hardnet70"])
def test_crop_not_a_multiple_of_the_output_stride_is_refused_naming_the_size(model):
    stride = output_stride_of(model)
    path = model_path(model)
    with pytest.raises(ModelError) as exc:
        load_qgraph(path, (4 * stride - 4, 4 * stride))
    assert str(exc.value) == (f"{path}: input 'input': height {4 * stride - 4} is not a multiple of {stride} "
                              f"(the network's output stride)")
    with pytest.raises(ModelError, match=f"width {2 * stride + 8} is not a multiple of {stride} "):
        load_qgraph(path, (stride, 2 * stride + 8))
    with pytest.raises(ModelError, match=f"height {4 * stride - 4} is not a multiple of {stride} "):
        capture(path, Crop(height=4 * stride - 4, width=4 * stride))
    assert load_qgraph(path, (stride, 2 * stride)).layers[-1].out_shape == (1, stride, 2 * stride)


@pytest.mark.parametrize("content", [b"truncated", b"not onnx\n", b""], ids=["truncated", "text", "empty"])
def test_file_that_is_not_an_onnx_model_is_named(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(model_path("tiny").read_bytes()[:5000] if content == b"truncated" else content)
    with pytest.raises(ModelError, match=f"^{path}: not an ONNX model \\(") as exc:
        load_qgraph(path)
    assert "\n" not in str(exc.value)
    with pytest.raises(ModelError, match=f"^{tmp_path / 'none.onnx'}: cannot read the model: No such file"):
        load_qgraph(tmp_path / "none.onnx")
