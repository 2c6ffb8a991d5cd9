"""FC-HarDNet as an ONNX graph, built from its published structure with numpy and onnx.helper.

No trained checkpoint exists here: weights are He-initialized from a fixed seed, and BatchNorm
statistics are re-estimated on Cityscapes crops and folded into the convolutions (see build.py).
This module only knows the structure: ``HarDNetSpec`` says the widths, ``build_graph`` lays the
nodes out. The same code builds FC-HarDNet-70 and the ``tiny`` variant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["HarDNetSpec", "SPECS", "hardblock_links", "build_graph"]

OPSET = 17


@dataclass(frozen=True)
class HarDNetSpec:
    """Widths of an FC-HarDNet. Defaults are FC-HarDNet-70 as published."""

    name: str = "hardnet70"
    stem: tuple[int, ...] = (16, 24, 32, 48)  # conv3x3 s2, conv3x3, conv3x3 s2, conv3x3
    growth: tuple[int, ...] = (10, 16, 18, 24, 32)
    n_layers: tuple[int, ...] = (4, 4, 8, 8, 8)
    transition: tuple[int, ...] = (64, 96, 160, 224, 320)  # conv1x1 after each encoder block
    grmul: float = 1.7
    n_classes: int = 19
    # hardware-friendly variant (0: as published): every conv's width rounded to the nearest divisor
    # or multiple of ``granule`` (the array's rows), ties to the smaller, so that output channels
    # fill the rows exactly, alone or stacked (compiler.program.stack_rows); the classes stay
    granule: int = 0

    def width(self, w: int) -> int:
        """A conv's output width in this spec: ``w`` as published, or rounded to the granule."""
        g = self.granule
        if not g:
            return w
        fits = [d for d in range(1, g + 1) if g % d == 0] + [g * m for m in range(2, w // g + 3)]
        return min(fits, key=lambda c: (abs(c - w), c))

    def __post_init__(self):
        if not (len(self.growth) == len(self.n_layers) == len(self.transition)) or len(self.growth) < 2:
            raise ValueError(f"{self.name}: growth, n_layers and transition need one entry per block (>= 2)")
        if len(self.stem) != 4:
            raise ValueError(f"{self.name}: stem has 4 convs, got {len(self.stem)}")

    @property
    def downsample(self) -> int:
        """Input sizes must be multiples of this (two stride-2 stem convs, one pool per block but the last)."""
        return 4 * 2 ** (len(self.growth) - 1)


SPECS = {
    "hardnet70": HarDNetSpec(),
    # FC-HarDNet-70 with every width rounded to a divisor or multiple of 72, the asic array's rows
    # (issue "Full-frame performance": a hardware-friendly variant, reported beside the published one)
    "hardnet70_hw": HarDNetSpec(name="hardnet70_hw", granule=72),
    # Same code path, small enough that the whole network simulates in RTL in seconds:
    # stem, three HarDBlocks (two pools), two decoder stages (upsample + concat), the head.
    "tiny": HarDNetSpec(name="tiny", stem=(8, 8, 16, 16), growth=(6, 8, 10), n_layers=(2, 2, 4),
                        transition=(16, 24, 32)),
}


def hardblock_links(layer: int, base_ch: int, growth: int, grmul: float, width=lambda w: w):
    """(out_channels, in_channels, links) of HarDBlock layer ``layer`` (1-based; 0 is the block input).

    Layer k reads layers k - 2**i for every i with k % 2**i == 0, concatenated in that order
    (k-1 first); its width is growth * grmul**(links-1) rounded as int(int(w + 1) / 2) * 2, then
    passed through ``width`` (HarDNetSpec.width: the hardware-friendly rounding).
    """
    if layer == 0:
        return base_ch, 0, []
    out_ch = growth
    links = []
    for i in range(10):
        dv = 2**i
        if layer % dv == 0:
            links.append(layer - dv)
            if i > 0:
                out_ch *= grmul
    out_ch = width(int(int(out_ch + 1) / 2) * 2)
    in_ch = sum(hardblock_links(k, base_ch, growth, grmul, width)[0] for k in links)
    return out_ch, in_ch, links


@dataclass
class ConvSpec:
    name: str
    cin: int
    cout: int
    k: int
    stride: int
    relu: bool = True
    bias: bool = False  # a bias before folding (only the head); folding always adds one


@dataclass
class _Graph:
    nodes: list = field(default_factory=list)
    convs: list = field(default_factory=list)
    initializers: dict = field(default_factory=dict)
    counter: int = 0


class _Builder:
    def __init__(self, spec: HarDNetSpec, upsample: str, weights: dict | None, rng):
        if upsample not in ("nearest", "bilinear_align_corners"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear_align_corners', got {upsample!r}")
        self.spec, self.upsample_mode, self.weights, self.rng = spec, upsample, weights, rng
        self.g = _Graph()

    def conv(self, x: str, name: str, cin: int, cout: int, k: int = 3, stride: int = 1, relu=True, bias=False):
        cs = ConvSpec(name, cin, cout, k, stride, relu, bias)
        self.g.convs.append(cs)
        if self.weights is not None and name in self.weights:
            w, b = self.weights[name]
        else:  # He (Kaiming normal, fan_in) init from the build's seeded generator
            w = (self.rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
            b = np.zeros(cout, np.float32)
        self.g.initializers[f"{name}.weight"] = np.asarray(w, np.float32)
        self.g.initializers[f"{name}.bias"] = np.asarray(b, np.float32)
        out = f"{name}.conv" if relu else name
        self.g.nodes.append(helper.make_node(
            "Conv", [x, f"{name}.weight", f"{name}.bias"], [out], name=name,
            kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4))
        if relu:
            self.g.nodes.append(helper.make_node("Relu", [out], [name], name=f"{name}.relu"))
        return name

    def concat(self, xs: list[str], name: str):
        if len(xs) == 1:
            return xs[0]
        self.g.nodes.append(helper.make_node("Concat", xs, [name], name=name, axis=1))
        return name

    def avgpool(self, x: str, name: str):
        self.g.nodes.append(helper.make_node("AveragePool", [x], [name], name=name,
                                             kernel_shape=[2, 2], strides=[2, 2]))
        return name

    def upsample(self, x: str, name: str, factor: int):
        scales = f"{name}.scales"
        self.g.initializers[scales] = np.array([1, 1, factor, factor], np.float32)
        if self.upsample_mode == "nearest":
            attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        else:
            attrs = dict(mode="linear", coordinate_transformation_mode="align_corners")
        self.g.nodes.append(helper.make_node("Resize", [x, "", scales], [name], name=name, **attrs))
        return name

    def hardblock(self, x: str, name: str, cin: int, growth: int, n_layers: int):
        layers = [x]
        widths = [cin]
        for k in range(1, n_layers + 1):
            cout, lin, links = hardblock_links(k, cin, growth, self.spec.grmul, self.spec.width)
            assert lin == sum(widths[j] for j in links)
            inp = self.concat([layers[j] for j in links], f"{name}.l{k}.in")
            layers.append(self.conv(inp, f"{name}.l{k}", lin, cout))
            widths.append(cout)
        keep = [i for i in range(len(layers)) if i == len(layers) - 1 or i % 2 == 1]
        out = self.concat([layers[i] for i in keep], f"{name}.out")
        return out, sum(widths[i] for i in keep)


def build_graph(spec: HarDNetSpec, height: int, width: int, *, upsample: str = "nearest",
                weights: dict | None = None, seed: int = 0) -> onnx.ModelProto:
    """The float FC-HarDNet graph for a 1x3xHxW input: logits 'logits' [1,19,H,W] and 'labels' [1,H,W].

    ``weights`` maps conv names to (weight, bias) float arrays (folded BN); missing convs get He init.
    """
    if height % spec.downsample or width % spec.downsample:
        raise ValueError(f"{spec.name}: input size {height}x{width} must be a multiple of {spec.downsample}")
    b = _Builder(spec, upsample, weights, np.random.default_rng(seed))
    x = "input"
    ch = 3
    for i, (cout, stride) in enumerate(zip(spec.stem, (2, 1, 2, 1))):
        x = b.conv(x, f"stem{i}", ch, spec.width(cout), 3, stride)
        ch = spec.width(cout)
    skips = []
    nblk = len(spec.growth)
    for i in range(nblk):
        x, ch = b.hardblock(x, f"enc{i}", ch, spec.growth[i], spec.n_layers[i])
        if i < nblk - 1:
            skips.append((x, ch))
        x = b.conv(x, f"enc{i}.trans", ch, spec.width(spec.transition[i]), 1)
        ch = spec.width(spec.transition[i])
        if i < nblk - 1:
            x = b.avgpool(x, f"enc{i}.pool")
    for j, i in enumerate(range(nblk - 2, -1, -1)):
        skip, skip_ch = skips[i]
        up = b.upsample(x, f"dec{j}.up", 2)
        x = b.concat([up, skip], f"dec{j}.cat")
        cat_ch = ch + skip_ch
        x = b.conv(x, f"dec{j}.squeeze", cat_ch, spec.width(cat_ch // 2), 1)
        x, ch = b.hardblock(x, f"dec{j}", spec.width(cat_ch // 2), spec.growth[i], spec.n_layers[i])
    x = b.conv(x, "head", ch, spec.n_classes, 1, relu=False, bias=True)
    logits = b.upsample(x, "logits", 4)
    b.g.nodes.append(helper.make_node("ArgMax", [logits], ["labels"], name="argmax", axis=1, keepdims=0))

    graph = helper.make_graph(
        b.g.nodes, f"fc_{spec.name}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, spec.n_classes, height, width]),
         helper.make_tensor_value_info("labels", TensorProto.INT64, [1, height, width])],
        initializer=[numpy_helper.from_array(v, k) for k, v in b.g.initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="hardnet-accel")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model

