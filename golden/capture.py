"""The golden capture: every int8 activation of a network as onnxruntime's optimized CPU session
computes it, and the command ``python -m golden.capture`` (``nox -s golden``).

How (capturing must not change numerics; adding graph outputs to a model can stop fusions):
1. an untouched session (contract options, all optimizations) runs the model and saves the
   optimized graph it actually executes;
2. that optimized graph gets every node output as a graph output and is reloaded with all
   optimizations disabled, so it runs exactly the fused kernels of step 1;
3. its final outputs must equal the untouched session's, or the capture is refused.

Each captured tensor is stored channels-first (NCHW) whatever layout onnxruntime used internally
(its NHWC transformer runs QLinearConv channels-last), with scale, zero point, the producing node
in the QDQ model and in the optimized graph. File format (``.npz``, see golden/README.md):
``t/<tensor name>`` arrays plus a ``meta.json`` entry (UTF-8 JSON as uint8) describing them.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from golden.cityscapes import Crop, crop_input
from golden.cli import ArgumentParser, command_line, int_in, onnx_file
from golden.contract import ORT_SESSION_CONFIG, make_session_options
from golden.qgraph import QGraph, check_nodes, load_qgraph, read_model, with_input_size
from onnx_models import model_path

__all__ = ["GoldenTensor", "Capture", "capture", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_TOKEN = re.compile(r"_token_\d+$")


class CaptureError(RuntimeError):
    pass


@dataclass
class GoldenTensor:
    name: str  # the QDQ model's producing node (the graph input's name for the input)
    data: np.ndarray  # int8 NCHW (int64 [N, H, W] for labels)
    scale: float | None
    zero_point: int | None
    op: str  # the layer's op in the QDQ model: input | conv | concat | avgpool | upsample | argmax
    ort_node: str  # node in onnxruntime's optimized graph that produced it
    ort_op: str
    ort_layout: str  # the layout onnxruntime held it in: NCHW or NHWC

    @property
    def shape(self):
        return tuple(self.data.shape)

    def meta(self) -> dict:
        d = asdict(self)
        del d["data"]
        d.update(shape=list(self.shape), dtype=str(self.data.dtype), layout="NCHW" if self.data.ndim == 4 else "NHW")
        return d


@dataclass
class Capture:
    model: str
    input_size: tuple[int, int]
    crop: str | None
    tensors: dict[str, GoldenTensor]
    float_input: np.ndarray
    ort_version: str
    session_config: dict

    def __getitem__(self, name) -> GoldenTensor:
        return self.tensors[name]

    def __contains__(self, name) -> bool:
        return name in self.tensors

    def save(self, path: Path):
        meta = dict(format=FORMAT_VERSION, model=self.model, input_size=list(self.input_size), crop=self.crop,
                    ort_version=self.ort_version, session_config=self.session_config,
                    tensors=[t.meta() for t in self.tensors.values()])
        arrays = {f"t/{n}": t.data for n, t in self.tensors.items()}
        arrays["float_input"] = self.float_input
        arrays["meta.json"] = np.frombuffer(json.dumps(meta, indent=1).encode(), np.uint8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # one per process: pytest-xdist workers
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)  # a killed run never leaves a half-written golden

    @classmethod
    def load(cls, path: Path) -> "Capture":
        with np.load(path) as z:
            meta = json.loads(bytes(z["meta.json"]).decode())
            if meta.get("format") != FORMAT_VERSION:
                raise CaptureError(f"{path}: golden format {meta.get('format')}, expected {FORMAT_VERSION}")
            tensors = {}
            for t in meta["tensors"]:
                fields = {k: t[k] for k in ("name", "scale", "zero_point", "op", "ort_node", "ort_op", "ort_layout")}
                tensors[t["name"]] = GoldenTensor(data=z[f"t/{t['name']}"], **fields)
            return cls(meta["model"], tuple(meta["input_size"]), meta["crop"], tensors, z["float_input"],
                       meta["ort_version"], meta["session_config"])


def _layout_of(opt: onnx.ModelProto) -> dict[str, str]:
    """Layout of every tensor of the optimized graph, propagated from the NCHW graph input through
    the transposes onnxruntime's layout transformer inserted."""
    inits = {i.name for i in opt.graph.initializer}
    layout = {i.name: "NCHW" for i in opt.graph.input}
    for node in opt.graph.node:
        if node.op_type == "Transpose":
            perm = next(list(a.ints) for a in node.attribute if a.name == "perm")
            src = layout.get(node.input[0], "NCHW")
            if perm == [0, 2, 3, 1] and src == "NCHW":
                layout[node.output[0]] = "NHWC"
            elif perm == [0, 3, 1, 2] and src == "NHWC":
                layout[node.output[0]] = "NCHW"
            else:
                raise CaptureError(f"optimized graph: transpose {node.name!r} perm {perm} on a {src} tensor")
            continue
        acts = [i for i in node.input if i and i not in inits and i in layout]
        lay = layout[acts[0]] if acts else "NCHW"
        for o in node.output:
            layout[o] = lay
    return layout


def _input_array(x, model_path) -> tuple[np.ndarray, str | None]:
    if isinstance(x, Crop):
        return crop_input(x), x.key
    x = np.asarray(x, np.float32)
    if x.ndim != 4 or x.shape[:2] != (1, 3):
        raise CaptureError(f"input for {model_path} must be float32 [1, 3, H, W], got {x.shape}")
    return x, None


def capture(model_path, x, *, workdir: Path | None = None, keep_optimized: Path | None = None) -> Capture:
    """Capture every int8 activation of an int8 QDQ model on input ``x`` (a Crop or a float array)."""
    import onnxruntime as ort

    model_path = Path(model_path)
    x, crop_key = _input_array(x, model_path)
    h, w = x.shape[2:]
    model = read_model(model_path)
    check_nodes(model, str(model_path))  # before shapes: a bad attribute is named at its node
    model = with_input_size(model, h, w, str(model_path))
    qgraph = load_qgraph(model)
    qgraph.path = str(model_path)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        sized = Path(tmp) / "sized.onnx"
        opt_path = Path(keep_optimized) if keep_optimized else Path(tmp) / "optimized.onnx"
        onnx.save(model, str(sized))
        # 1. the untouched optimized session, which writes out the graph it runs
        untouched = ort.InferenceSession(str(sized), make_session_options(True, str(opt_path)),
                                         providers=["CPUExecutionProvider"])
        out_names = [o.name for o in untouched.get_outputs()]
        reference = dict(zip(out_names, untouched.run(None, {qgraph.input.name: x})))
        # 2. the same optimized graph with every node output exposed, run without optimizations
        opt = onnx.load(str(opt_path))
        layout = _layout_of(opt)
        exposed = [o for n in opt.graph.node for o in n.output if o]
        graph_outputs = {o.name for o in opt.graph.output}
        for name in exposed:
            if name not in graph_outputs:
                opt.graph.output.append(onnx.ValueInfoProto(name=name))
        probe = ort.InferenceSession(opt.SerializeToString(), make_session_options(False),
                                     providers=["CPUExecutionProvider"])
        values = dict(zip([o.name for o in probe.get_outputs()], probe.run(None, {qgraph.input.name: x})))
    # 3. exposing outputs must not have changed the result
    for name, ref in reference.items():
        if not np.array_equal(values[name], ref):
            diff = int(np.sum(values[name] != ref))
            raise CaptureError(f"{model_path}: exposing every node output changed output {name!r} "
                               f"({diff} elements differ); the capture would not be onnxruntime's result")
    tensors = _collect(qgraph, opt, values, layout)
    return Capture(str(model_path), (h, w), crop_key, tensors, x, ort.__version__, dict(ORT_SESSION_CONFIG))


def _collect(qgraph: QGraph, opt: onnx.ModelProto, values: dict, layout: dict) -> dict[str, GoldenTensor]:
    by_name = {l.name: l for l in qgraph.layers}
    tensors = {}
    for node in opt.graph.node:
        if node.op_type in ("Transpose", "DequantizeLinear"):
            continue  # layout changes and the float view of the logits: not activations of their own
        if node.op_type == "QuantizeLinear":
            key, op = node.input[0], "input"
            if key != qgraph.input.name:
                raise CaptureError(f"optimized graph keeps an unfused QuantizeLinear {node.name!r} on {key!r}; "
                                   f"not every op runs in int8 (check session option session.qdqisint8allowed)")
        else:
            layer = by_name.get(_TOKEN.sub("", node.name))
            if layer is None:
                raise CaptureError(f"optimized graph node {node.name!r} ({node.op_type}) maps to no layer of "
                                   f"{qgraph.path}")
            key, op = layer.output, layer.op
        data = values[node.output[0]]
        ort_layout = layout[node.output[0]]
        if ort_layout == "NHWC" and data.ndim == 4:
            data = data.transpose(0, 3, 1, 2)
        data = np.ascontiguousarray(data)
        qt = qgraph.tensors.get(key)
        if qt is not None and tuple(qt.shape) != data.shape:
            raise CaptureError(f"captured {key!r} has shape {data.shape}, the model says {qt.shape}")
        if op != "argmax" and data.dtype != np.int8:
            raise CaptureError(f"captured {key!r} from {node.name!r} is {data.dtype}, int8 expected: "
                               f"onnxruntime did not run it in int8")
        tensors[key] = GoldenTensor(key, data, float(qt.scale) if qt else None, qt.zero_point if qt else None,
                                    op, node.name, node.op_type, ort_layout)
    missing = [l.output for l in qgraph.layers if l.output not in tensors]
    if missing:
        raise CaptureError(f"{qgraph.path}: no captured tensor for layers {missing}")
    return tensors


@command_line
def main(argv=None) -> int:
    from golden.layers import print_layer_table

    ap = ArgumentParser(description="Capture the per-layer int8 golden of a model on a Cityscapes crop.")
    ap.add_argument("--model", type=onnx_file, default=str(model_path("hardnet70")), help="int8 QDQ ONNX model")
    ap.add_argument("--frame", default=Crop.frame, help="frame name or path (default: %(default)s)")
    ap.add_argument("--top", type=int_in(0), default=384)
    ap.add_argument("--left", type=int_in(0), default=768)
    ap.add_argument("--height", type=int_in(1), default=256)
    ap.add_argument("--width", type=int_in(1), default=512)
    ap.add_argument("--out", type=Path, default=None, help="output .npz (default: build/golden/<model>-<crop>.npz)")
    args = ap.parse_args(argv)
    crop = Crop(args.frame, args.top, args.left, args.height, args.width)
    t0 = time.time()
    cap = capture(args.model, crop)
    out = args.out or Path("build/golden") / f"{Path(args.model).stem}-{crop.key.replace('@', '-').replace(',', '_').replace('+', '-')}.npz"
    cap.save(out)
    print_layer_table(load_qgraph(args.model, (args.height, args.width)))
    print(f"captured {len(cap.tensors)} tensors of {args.model} on {crop.key} in {time.time() - t0:.1f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
