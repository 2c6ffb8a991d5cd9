"""Bad models and bad inputs give errors that name the node, file or parameter."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from golden.cityscapes import Crop, CityscapesError, crop_input
from golden.qgraph import ModelError, load_qgraph
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
    with pytest.raises(ModelError, match=r"node 'head' \(Conv\): strides \[3, 3\] not supported \(1 or 2\)"):
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
