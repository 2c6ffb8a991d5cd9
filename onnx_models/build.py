"""Rebuild the committed ONNX models: ``python -m onnx_models.build`` (or ``nox -s models``).

For each network (FC-HarDNet-70 and tiny):
1. He-initialized weights from a fixed seed.
2. BatchNorm statistics re-estimated on Cityscapes crops, one convolution at a time in execution
   order (each conv sees the already-normalized network before it), then folded into the conv as
   weight / std and bias -mean / std (gamma 1, beta 0). Mean and std are rounded to float16 so that
   last-bit differences between CPUs' float kernels cannot change the committed tensors.
3. The float model is saved; so is its SQNR against the published upsampling (bilinear,
   align_corners=True), written to manifest.json.
4. Activation ranges are calibrated (min/max over the crops), unified over every set of tensors that
   must share quantization (Concat inputs and output, AveragePool and Resize in and out, a conv and the
   ReLU that follows it), widened to power-of-two scales, and handed to onnxruntime's quantize_static
   as TensorQuantOverrides: per-channel symmetric int8 weights, int8 activations, QDQ format.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from golden.cityscapes import Crop, crop_input
from onnx_models.hardnet import SPECS, build_graph

HERE = Path(__file__).resolve().parent
SEED = 20261125
BN_EPS = 1e-5

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


def _session(model: onnx.ModelProto):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for n in names:
        m.graph.output.append(onnx.ValueInfoProto(name=n))
    return m


def fold_batchnorm(name: str, inputs: list[np.ndarray], log=print) -> dict:
    """Folded (weight, bias) of every conv, BN statistics estimated one conv at a time."""
    spec = SPECS[name]
    h, w = BUILD[name]["size"]
    rng = np.random.default_rng(SEED)
    model = build_graph(spec, h, w, seed=SEED)
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    weights = {}
    for i, node in enumerate(convs):
        wname, bname = node.input[1], node.input[2]
        weight = inits[wname]
        if node.name == "head":  # no BN on the head: a small deterministic bias instead
            weights[node.name] = (weight, (rng.standard_normal(weight.shape[0]) * 0.1).astype(np.float32))
            continue
        sess = _session(_with_outputs(model, [node.output[0]]))
        outs = np.concatenate([sess.run(None, {"input": x})[0] for x in inputs], axis=0)
        mean = outs.mean(axis=(0, 2, 3)).astype(np.float16).astype(np.float32)
        std = np.sqrt(outs.var(axis=(0, 2, 3)) + BN_EPS).astype(np.float16).astype(np.float32)
        folded_w = (weight / std[:, None, None, None]).astype(np.float32)
        folded_b = (-mean / std).astype(np.float32)
        weights[node.name] = (folded_w, folded_b)
        for init in model.graph.initializer:
            if init.name == wname:
                init.CopyFrom(numpy_helper.from_array(folded_w, wname))
            elif init.name == bname:
                init.CopyFrom(numpy_helper.from_array(folded_b, bname))
        if (i + 1) % 10 == 0 or i + 1 == len(convs):
            log(f"  [{name}] BN folded into {i + 1}/{len(convs)} convs")
    return weights


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
    sess = _session(_with_outputs(model, acts))
    lo = {a: np.inf for a in acts}
    hi = {a: -np.inf for a in acts}
    for x in inputs:
        for a, v in zip(acts, sess.run(None, {"input": x})):
            lo[a] = min(lo[a], float(v.min()))
            hi[a] = max(hi[a], float(v.max()))
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
        scale = 2.0 ** np.ceil(np.log2(max(rmax - rmin, 1e-6) / 255.0))
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
    q = _session(onnx.load(str(int8_path)))
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
