"""Rebuild the committed ONNX models: ``python -m onnx_models.build`` (or ``nox -s models``).

For each network (FC-HarDNet-70 and tiny):
1. He-initialized weights from a fixed seed.
2. BatchNorm statistics re-estimated on Cityscapes crops, one convolution at a time in execution
   order (each conv sees the already-normalized network before it), then folded into the conv as
   weight / std and bias -mean / std (gamma 1, beta 0), mean and std rounded to 11 significant bits.
   The activations come from onnx_models.exact, whose results are the same bit for bit on every CPU
   (no onnxruntime or BLAS float kernel decides a bit of a committed tensor).
3. The float model is saved; so is its SQNR against the published upsampling (bilinear,
   align_corners=True), written to manifest.json.
4. Activation ranges are calibrated (min/max over the crops, from onnx_models.exact too), unified over every set of tensors that
   must share quantization (Concat inputs and output, AveragePool and Resize in and out, a conv and the
   ReLU that follows it), widened to power-of-two scales, and handed to onnxruntime's quantize_static
   as TensorQuantOverrides: per-channel symmetric int8 weights, int8 activations, QDQ format.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from golden.cityscapes import Crop, crop_input
from golden.contract import make_session_options
from onnx_models import exact
from onnx_models.hardnet import SPECS, build_graph

HERE = Path(__file__).resolve().parent
SEED = 20261125
BN_EPS = 1e-5
STAT_BITS = 11  # significant bits of a folded BatchNorm mean and std (float16's precision)

# Build sizes and calibration crops (two real frames; the crops cover different parts of each).
BUILD = {
    "hardnet70": dict(size=(256, 512), crops=[("frankfurt_000000_002196", 384, 0), ("frankfurt_000000_002196", 384, 1536),
                                             ("demo_000000_000000", 384, 512), ("demo_000000_000000", 640, 1024)]),
    "hardnet70_hw": dict(size=(256, 512), crops=[("frankfurt_000000_002196", 384, 0), ("frankfurt_000000_002196", 384, 1536),
                                                ("demo_000000_000000", 384, 512), ("demo_000000_000000", 640, 1024)]),
    "tiny": dict(size=(64, 128), crops=[("frankfurt_000000_002196", 448, 960), ("frankfurt_000000_002196", 512, 256),
                                        ("demo_000000_000000", 448, 960), ("demo_000000_000000", 600, 1700)]),
}


def calibration_inputs(name: str) -> list[np.ndarray]:
    h, w = BUILD[name]["size"]
    return [crop_input(Crop(frame, top, left, h, w)) for frame, top, left in BUILD[name]["crops"]]


def _session(model: onnx.ModelProto, int8: bool = False):
    """A float model's session (its last bits depend on the CPU: only SQNR figures use it), or an int8
    model's under the golden contract's options, whose results are exact integer arithmetic on every CPU
    (onnxruntime's default u8s8 path saturates int16 pair sums on AVX2 machines without VNNI)."""
    import onnxruntime as ort

    if int8:
        so = make_session_options()
    else:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def fold_batchnorm(name: str, inputs: list[np.ndarray], log=print) -> dict:
    """Folded (weight, bias) of every conv: one exact forward pass (onnx_models.exact) over the
    calibration crops, each conv's BatchNorm statistics taken from its output with every conv before it
    already normalized, then that output normalized for the convs after it."""
    spec = SPECS[name]
    h, w = BUILD[name]["size"]
    rng = np.random.default_rng(SEED)
    model = build_graph(spec, h, w, seed=SEED)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    n_convs = sum(n.op_type == "Conv" for n in model.graph.node)
    weights = {}

    def normalize(node, y):
        weight = inits[node.input[1]]
        if node.name == "head":  # no BN on the head: a small deterministic bias instead
            bias = (rng.standard_normal(weight.shape[0]) * 0.1).astype(np.float32)
            weights[node.name] = (weight, bias)
            y = y + bias.astype(np.float64)[None, :, None, None]
        else:
            mean, var = exact.channel_mean_var(y)
            mean = exact.round_significand(mean, STAT_BITS)
            std = exact.round_significand(np.sqrt(var + BN_EPS), STAT_BITS)
            mean32, std32 = mean.astype(np.float32), std.astype(np.float32)  # exact: STAT_BITS <= 24
            weights[node.name] = ((weight / std32[:, None, None, None]).astype(np.float32),
                                  (-mean32 / std32).astype(np.float32))
            y = (y - mean[None, :, None, None]) / std[None, :, None, None]
        if len(weights) % 10 == 0 or len(weights) == n_convs:
            log(f"  [{name}] BN folded into {len(weights)}/{n_convs} convs")
        return y

    exact.forward(model, np.concatenate(inputs, axis=0), conv_output=normalize)
    assert len(weights) == n_convs, f"{name}: folded {len(weights)} of {n_convs} convs"
    return weights


def _pow2_ceil(x: float) -> float:
    """The smallest power of two >= x > 0, by exact steps (no log2, whose last bit libm may choose)."""
    m, e = math.frexp(x)  # x = m * 2^e, 0.5 <= m < 1
    return math.ldexp(1.0, e - 1 if m == 0.5 else e)


class _UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def quant_overrides(model: onnx.ModelProto, inputs: list[np.ndarray]) -> dict:
    """Power-of-two (scale, zero point) per activation tensor, shared where the hardware needs it."""
    acts = ["input"] + [o for n in model.graph.node for o in n.output if n.op_type != "ArgMax"]
    lo = {a: np.inf for a in acts}
    hi = {a: -np.inf for a in acts}

    def observe(a, v):
        lo[a], hi[a] = float(v.min()), float(v.max())

    exact.forward(model, np.concatenate(inputs, axis=0), observe=observe)
    unseen = [a for a in acts if lo[a] == np.inf]
    assert not unseen, f"calibration saw no values of {unseen}"
    groups = _UnionFind()
    for a in acts:
        groups.find(a)
    for n in model.graph.node:
        if n.op_type in ("Concat", "AveragePool", "Resize", "Relu"):
            for i in n.input:
                if i and i in lo:
                    groups.union(i, n.output[0])
    glo, ghi = {}, {}
    for a in acts:
        g = groups.find(a)
        # A conv followed by ReLU takes the ReLU's range: the ReLU is folded into the zero point.
        relu_out = any(n.op_type == "Relu" and n.output[0] == a for n in model.graph.node)
        a_lo = 0.0 if relu_out else lo[a]
        if any(n.op_type == "Relu" and n.input[0] == a for n in model.graph.node):
            continue  # pre-ReLU tensors do not widen their group
        glo[g] = min(glo.get(g, 0.0), a_lo)
        ghi[g] = max(ghi.get(g, 0.0), hi[a])
    overrides = {}
    for a in acts:
        g = groups.find(a)
        rmin, rmax = glo[g], ghi[g]
        scale = _pow2_ceil(max(rmax - rmin, 1e-6) / 255.0)
        zp = int(np.clip(np.round(-128 - rmin / scale), -128, 127))
        overrides[a] = [{"scale": np.array(scale, np.float32), "zero_point": np.array(zp, np.int8)}]
    return overrides


class _Reader:
    def __init__(self, inputs):
        self.it = iter([{"input": x} for x in inputs])

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        pass


def quantize(float_path: Path, int8_path: Path, overrides: dict, inputs: list[np.ndarray]):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(float_path), str(int8_path), _Reader(inputs),
        quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=["argmax"],
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False,
                       "TensorQuantOverrides": overrides},
    )


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    noise = np.sum((ref.astype(np.float64) - test) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / noise))


def tensor_digest(model_path: Path) -> str:
    """sha256 over every initializer's name and bytes: the model's tensors, independent of metadata."""
    h = hashlib.sha256()
    for init in sorted(onnx.load(str(model_path)).graph.initializer, key=lambda i: i.name):
        h.update(init.name.encode())
        h.update(numpy_helper.to_array(init).tobytes())
    return h.hexdigest()


def build(name: str, out_dir: Path, log=print) -> dict:
    t0 = time.time()
    spec = SPECS[name]
    h, w = BUILD[name]["size"]
    inputs = calibration_inputs(name)
    log(f"[{name}] {len(inputs)} calibration crops of {h}x{w}; estimating BatchNorm one conv at a time")
    weights = fold_batchnorm(name, inputs, log)
    model = build_graph(spec, h, w, weights=weights)
    float_path = out_dir / f"{name}_float.onnx"
    onnx.save(model, str(float_path))

    published = build_graph(spec, h, w, weights=weights, upsample="bilinear_align_corners")
    ours = _session(model)
    theirs = _session(published)
    sqnr = [sqnr_db(theirs.run(["logits"], {"input": x})[0], ours.run(["logits"], {"input": x})[0]) for x in inputs]
    log(f"[{name}] logits SQNR, nearest upsampling vs published bilinear align_corners: "
        f"{', '.join(f'{s:.2f}' for s in sqnr)} dB")

    log(f"[{name}] calibrating activations and quantizing")
    overrides = quant_overrides(model, inputs)
    int8_path = out_dir / f"{name}_int8.onnx"
    quantize(float_path, int8_path, overrides, inputs)
    q = _session(onnx.load(str(int8_path)), int8=True)
    qsqnr = [sqnr_db(ours.run(["logits"], {"input": x})[0], q.run(["logits"], {"input": x})[0]) for x in inputs]
    log(f"[{name}] int8 vs float logits SQNR: {', '.join(f'{s:.2f}' for s in qsqnr)} dB "
        f"({time.time() - t0:.0f} s)")
    return {
        "input_size": [h, w],
        "calibration_crops": [Crop(f, t, l, h, w).key for f, t, l in BUILD[name]["crops"]],
        "seed": SEED,
        "float": {"file": float_path.name, "tensors_sha256": tensor_digest(float_path)},
        "int8": {"file": int8_path.name, "tensors_sha256": tensor_digest(int8_path)},
        "sqnr_db_nearest_vs_published_bilinear": [round(s, 2) for s in sqnr],
        "sqnr_db_int8_vs_float": [round(s, 2) for s in qsqnr],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=list(BUILD), help=f"which to build (default: {' '.join(BUILD)})")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: onnx_models/)")
    args = ap.parse_args(argv)
    for m in args.models:
        if m not in BUILD:
            ap.error(f"unknown model {m!r}; choose from {', '.join(BUILD)}")
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for m in args.models:
        manifest[m] = build(m, args.out)
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
