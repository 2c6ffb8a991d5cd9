"""Constrained-random int8 QDQ networks for verification: ``random_net(seed)`` draws a small network of
the ops the accelerator computes and a Cityscapes crop to run it on; the same seed gives the same
network and crop on every machine.

The draw stays inside what golden.qgraph's validator and the compiler accept: convolutions 1x1 or
3x3 of stride 1 or 2 with 1 to 32 output channels (by default), channel concat of a conv's input and output
(HarDNet's pattern), 2x2 average pools, nearest upsamples by 2 or 4, and an argmax over channels at the end; activations int8 per tensor with
power-of-two scales (an average pool needs one, and its input's), the zero point anywhere in
[-128, 127] (-128 is a ReLU folded into it); weights int8 per output channel, symmetric, each
channel's scale a random float32 (so requantization multipliers use all their mantissa bits); biases
int32. Each conv's output scale is calibrated on the crop itself, so its int8 output uses most of
its range instead of saturating or rounding to a constant. The graph is written as onnxruntime's
quantize_static writes a QDQ model: QuantizeLinear then DequantizeLinear after every op.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from golden.cityscapes import Crop, crop_input
from golden.contract import avgpool2x2_int8, conv_acc, conv_int8, upsample_nearest_int8

__all__ = ["RandomNet", "random_net", "crop_args", "OPS", "PROFILES"]

OPS = ("conv", "conv_concat", "avgpool", "upsample")
OP_WEIGHTS = (0.55, 0.2, 0.15, 0.1)
MAX_DOWN = 3  # at most 2**3 of downsampling (stride-2 convs and pools together)
MAX_CHANNELS = 32  # the default; a concat's output too
ARGMAX_P = 0.3  # the share of networks that end with an argmax over channels
# bounds of a draw by use: the suite's (networks that simulate in seconds on the tiny config) and the
# soak's (nox -s soak)
PROFILES = {"ci": dict(max_ops=4, max_size=(24, 48), max_channels=16),
            "soak": dict(max_ops=6, max_size=(48, 96), max_channels=MAX_CHANNELS)}
FRAMES = ("frankfurt_000000_002196", "demo_000000_000000")  # the two frames of ../shared/cityscapes
FRAME_SIZE = (1024, 2048)


@dataclass
class RandomNet:
    seed: int
    model: onnx.ModelProto
    crop: Crop
    ops: list[str]  # one line per op: what was drawn
    kinds: set[str]  # what the ops are, for coverage: conv1x1/1, conv3x3/2, concat, relu, avgpool, up2, up4, argmax
    last: str  # the last op's node (before an argmax): the golden capture names its output so
    expected: np.ndarray  # its int8 output [C, H, W] by golden.contract, computed as it was drawn

    def describe(self) -> str:
        return f"seed {self.seed}: {self.crop.height}x{self.crop.width} crop, " + "; ".join(self.ops)


def _pow2_scale(lo: float, hi: float) -> tuple[float, int]:
    """A power-of-two scale covering [lo, hi] in 255 steps (0 included), and its int8 zero point."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    m, e = math.frexp(max(hi - lo, 1e-6) / 255.0)
    scale = math.ldexp(1.0, e - 1 if m == 0.5 else e)
    return scale, int(np.clip(np.round(-128 - lo / scale), -128, 127))


class _Builder:
    def __init__(self, rng: np.random.Generator):
        self.rng, self.nodes, self.inits = rng, [], []

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def qdq(self, src: str, name: str, scale: float, zp: int) -> str:
        """QuantizeLinear then DequantizeLinear of ``src``; returns the dequantized tensor's name."""
        s, z = self.init(f"{name}_scale", np.float32(scale)), self.init(f"{name}_zero_point", np.int8(zp))
        self.nodes.append(helper.make_node("QuantizeLinear", [src, s, z], [f"{name}_QuantizeLinear_Output"],
                                           name=f"{name}_QuantizeLinear"))
        self.nodes.append(helper.make_node("DequantizeLinear", [f"{name}_QuantizeLinear_Output", s, z],
                                           [f"{name}_DequantizeLinear_Output"], name=f"{name}_DequantizeLinear"))
        return f"{name}_DequantizeLinear_Output"


@dataclass
class _Act:
    """An int8 activation as the golden contract computes it, and its float tensor in the graph."""
    name: str
    q: np.ndarray  # int8 [C, H, W]
    scale: float
    zp: int


def _conv(b: _Builder, name: str, x: _Act, cout: int, k: int, stride: int, zp: int | None,
          scale: float | None = None) -> _Act:
    """A conv of random int8 weights and int32 biases; its output quantized at ``scale`` and ``zp``,
    each calibrated on the crop where not given."""
    rng = b.rng
    cin = x.q.shape[0]
    w = rng.integers(-127, 128, size=(cout, cin, k, k)).astype(np.int8)
    w[rng.random(w.shape) < rng.uniform(0.0, 0.5)] = 0  # some sparsity: other accumulator ranges
    w_scale = (rng.uniform(0.5, 2.0, cout) / (127.0 * math.sqrt(cin * k * k))).astype(np.float32)
    acc = conv_acc(x.q, x.zp, w, None, stride)
    # each channel's RMS accumulator, from an integer sum (exact in any order: no SIMD path decides it)
    spread = np.maximum(np.sqrt((acc * acc).sum(axis=(1, 2)) / acc[0].size), 1.0)
    bias = np.rint(rng.normal(0.0, 1.0, cout) * spread).astype(np.int32)
    y = (acc + bias.reshape(-1, 1, 1)) * (np.float64(x.scale) * w_scale.astype(np.float64).reshape(-1, 1, 1))
    scale_fit, zp_fit = _pow2_scale(float(np.percentile(y, 1)), float(np.percentile(y, 99)))
    scale, zp = scale_fit if scale is None else scale, zp_fit if zp is None else zp
    q = conv_int8(x.q, x.scale, x.zp, w, w_scale, bias, scale, zp, stride)
    b.init(f"{name}.weight_quantized", w)
    b.init(f"{name}.weight_scale", w_scale)
    b.init(f"{name}.weight_zero_point", np.zeros(cout, np.int8))
    b.nodes.append(helper.make_node("DequantizeLinear", [f"{name}.weight_quantized", f"{name}.weight_scale",
                                                         f"{name}.weight_zero_point"],
                                    [f"{name}.weight_DequantizeLinear_Output"], name=f"{name}.weight_DequantizeLinear",
                                    axis=0))
    b.init(f"{name}.bias_quantized", bias)
    b.init(f"{name}.bias_quantized_scale", (np.float32(x.scale) * w_scale).astype(np.float32))
    b.init(f"{name}.bias_quantized_zero_point", np.zeros(cout, np.int32))
    b.nodes.append(helper.make_node("DequantizeLinear", [f"{name}.bias_quantized", f"{name}.bias_quantized_scale",
                                                         f"{name}.bias_quantized_zero_point"],
                                    [f"{name}.bias"], name=f"{name}.bias_DequantizeLinear", axis=0))
    b.nodes.append(helper.make_node("Conv", [x.name, f"{name}.weight_DequantizeLinear_Output", f"{name}.bias"],
                                    [name], name=name, kernel_shape=[k, k], strides=[stride, stride],
                                    pads=[k // 2] * 4))
    return _Act(b.qdq(name, name, scale, zp), q, scale, zp)


def random_net(seed: int, profile: str = "soak", *, max_ops: int | None = None,
               max_size: tuple[int, int] | None = None, max_channels: int | None = None) -> RandomNet:
    """A network of 1 to ``max_ops`` ops (and maybe an argmax) drawn from ``seed``, of at most
    ``max_channels`` channels a tensor, and the crop it runs on (each side a multiple of the
    network's output stride, at most ``max_size``); bounds not given are the profile's."""
    bounds = PROFILES[profile]
    max_ops = max_ops or bounds["max_ops"]
    max_size = max_size or bounds["max_size"]
    max_channels = max_channels or bounds["max_channels"]
    rng = np.random.default_rng(seed)
    n_ops = int(rng.integers(1, max_ops + 1))
    plan, down = [], 0
    for _ in range(n_ops):
        op = str(rng.choice(OPS, p=OP_WEIGHTS))
        stride = 1
        if op == "avgpool" or (op == "conv" and rng.random() < 0.3):
            if down == MAX_DOWN:
                op, stride = "conv", 1
            else:
                stride, down = 2, down + 1
        plan.append((op, stride))
    if plan[0][0] != "conv":  # the input (3 channels, the image) goes through a conv first
        plan.insert(0, ("conv", 1))
    step = 1 << down
    hmax, wmax = max_size
    h = step * int(rng.integers(max(1, 8 // step), hmax // step + 1))
    w = step * int(rng.integers(max(1, 8 // step), wmax // step + 1))
    frame = str(rng.choice(FRAMES))
    crop = Crop(frame, top=int(rng.integers(0, FRAME_SIZE[0] - h + 1)), left=int(rng.integers(0, FRAME_SIZE[1] - w + 1)),
                height=h, width=w)

    b = _Builder(rng)
    x_float = crop_input(crop)
    in_scale, in_zp = _pow2_scale(float(x_float.min()), float(x_float.max()))
    xq = np.clip(np.rint(x_float[0] / np.float32(in_scale)) + in_zp, -128, 127).astype(np.int8)
    x = _Act(b.qdq("input", "input", in_scale, in_zp), xq, in_scale, in_zp)
    ops, kinds = [], set()
    for i, (op, stride) in enumerate(plan):
        name = f"l{i}"
        if op == "conv_concat" and x.q.shape[0] >= max_channels:
            op = "conv"  # no room for a concat's new channels
        if op in ("conv", "conv_concat"):
            k = int(rng.choice([1, 3]))
            cmax = max_channels - x.q.shape[0] if op == "conv_concat" else max_channels
            cout = int(rng.integers(1, cmax + 1))
            relu = rng.random() < 0.5
            # a concat's inputs share (scale, zero point): the conv writes at its input's
            zp = x.zp if op == "conv_concat" else (-128 if relu else None)
            cin = x.q.shape[0]
            y = _conv(b, name, x, cout, k, stride, zp, x.scale if op == "conv_concat" else None)
            kinds |= {f"conv{k}x{k}/{stride}"} | ({"relu"} if zp == -128 else set())
            if op == "conv_concat":
                kinds.add("concat")
                b.nodes.append(helper.make_node("Concat", [x.name, y.name], [f"{name}.cat"], name=f"{name}.cat", axis=1))
                y = _Act(b.qdq(f"{name}.cat", f"{name}.cat", x.scale, x.zp), np.concatenate([x.q, y.q]), x.scale, x.zp)
                ops.append(f"{name} conv {k}x{k} {cin}->{cout}, concat with its input -> {cin + cout}")
            else:
                ops.append(f"{name} conv {k}x{k}/{stride} {cin}->{cout}{' relu' if zp == -128 else ''}")
            x = y
        elif op == "avgpool":
            b.nodes.append(helper.make_node("AveragePool", [x.name], [name], name=name, kernel_shape=[2, 2],
                                            strides=[2, 2]))
            x = _Act(b.qdq(name, name, x.scale, x.zp), avgpool2x2_int8(x.q, x.scale, x.zp, x.scale, x.zp),
                     x.scale, x.zp)
            ops.append(f"{name} avgpool 2x2 of {x.q.shape[0]}")
            kinds.add("avgpool")
        else:
            f = int(rng.choice([2, 4], p=[0.75, 0.25]))
            b.init(f"{name}.scales", np.array([1, 1, f, f], np.float32))
            b.nodes.append(helper.make_node("Resize", [x.name, "", f"{name}.scales"], [name], name=name, mode="nearest",
                                            coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
            x = _Act(b.qdq(name, name, x.scale, x.zp), upsample_nearest_int8(x.q, f), x.scale, x.zp)
            ops.append(f"{name} upsample x{f} of {x.q.shape[0]}")
            kinds.add(f"up{f}")
        last = f"{name}.cat" if op == "conv_concat" else name
    outputs = [helper.make_tensor_value_info(x.name, TensorProto.FLOAT, [1, *x.q.shape])]
    if rng.random() < ARGMAX_P:  # labels, as the segmentation networks end
        b.nodes.append(helper.make_node("ArgMax", [x.name], ["labels"], name="argmax", axis=1, keepdims=0))
        outputs.append(helper.make_tensor_value_info("labels", TensorProto.INT64, [1, *x.q.shape[1:]]))
        ops.append(f"argmax over {x.q.shape[0]}")
        kinds.add("argmax")
    graph = helper.make_graph(b.nodes, f"random_{seed}",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])], outputs,
                              initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx_models.random_net")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return RandomNet(seed, model, crop, ops, kinds, last, x.q)


def main(argv=None) -> int:
    """Write the network of a seed, and print how to run it on the RTL."""
    import argparse
    from pathlib import Path

    ap = argparse.ArgumentParser(prog="python -m onnx_models.random_net", description=main.__doc__)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="soak", help="bounds of the draw: %s" % PROFILES)
    ap.add_argument("--out", type=Path, help="model file (default build/random/random-SEED.onnx)")
    args = ap.parse_args(argv)
    net = random_net(args.seed, args.profile)
    out = args.out or Path("build/random") / f"random-{args.seed}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(net.model, str(out))
    print(net.describe())
    print(f"wrote {out}; on the RTL: python -m tb.accel_run --model {out} {crop_args(net.crop)} --config tiny")
    return 0


def crop_args(crop: Crop) -> str:
    return f"--frame {crop.frame} --top {crop.top} --left {crop.left} --height {crop.height} --width {crop.width}"


if __name__ == "__main__":
    raise SystemExit(main())
