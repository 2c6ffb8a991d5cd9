"""Full-frame performance of the accelerator: the cycle model on the `asic` config, SCALE-Sim on the
same layers, the reference chip's published figures, a design-space sweep, Yosys gate counts and an
onnxruntime CPU benchmark. ``python -m perf`` (``nox -s perf``) prints them; see perf/README.md."""
