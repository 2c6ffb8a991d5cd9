"""onnxruntime benchmark of the float and int8 FC-HarDNet-70 at 1024x2048 (fps, warm-up excluded)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

__all__ = ["MODELS", "providers_report", "bench"]

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"float": ROOT / "onnx_models" / "hardnet70_float.onnx", "int8": ROOT / "onnx_models" / "hardnet70_int8.onnx"}
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def providers_report():
    """(available providers, the GPU ones among them)."""
    import onnxruntime as ort

    avail = ort.get_available_providers()
    return avail, [p for p in GPU_PROVIDERS if p in avail]


def bench(model: Path, size=(1024, 2048), iters=3, warmup=1, provider="CPUExecutionProvider", threads=0) -> dict:
    import onnx
    import onnxruntime as ort

    from golden.contract import ORT_SESSION_CONFIG
    from golden.qgraph import with_input_size

    m = with_input_size(onnx.load(str(model)), *size)
    so = ort.SessionOptions()
    for k, v in ORT_SESSION_CONFIG.items():  # int8 activations stay int8 (QLinear* kernels)
        so.add_session_config_entry(k, v)
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=[provider])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((1, 3, *size), dtype=np.float32)
    for _ in range(warmup):
        sess.run(None, {name: x})
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    return {"provider": provider, "iters": iters, "mean_s": mean, "min_s": min(times), "fps": 1 / mean}
