"""Our design from the compiler's cycle model (compiler.estimate): one full frame on a hardware config.

The compiler refuses a config whose buffers cannot hold one output row of a layer; ``frame_estimate``
reports those layers (and why) and, so that a whole-frame figure still exists, tiles only them for
the smallest power-of-two activation buffer that holds them (``fallback``), saying so.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

from golden.qgraph import ModelError, load_qgraph
from hwspec.config import CLOCK_HZ
from compiler.program import compile_graph, tile_conv
from compiler.estimate import estimate
from perf.losses import CAUSES, conv_losses

__all__ = ["DEFAULT_MODEL", "VARIANT_MODEL", "LayerPerf", "FramePerf", "frame_estimate", "load_program"]

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "onnx_models" / "hardnet70_int8.onnx"
# the hardware-friendly variant: every width rounded to a divisor or multiple of 72 (onnx_models/hardnet.py)
VARIANT_MODEL = DEFAULT_MODEL.with_name("hardnet70_hw_int8.onnx")


@dataclass
class LayerPerf:
    name: str
    op: str
    cin: int
    cout: int
    h: int
    w: int
    ho: int
    wo: int
    kernel: int
    stride: int
    macs: int
    cycles: int
    engine_cycles: int
    bytes_read: int
    bytes_written: int
    fallback: str = ""  # why the config's own tiling was refused, and what was used instead
    losses: dict = field(default_factory=dict)  # conv: the engine's MAC slots by cause (perf/losses.py)

    def utilization(self, pes: int) -> float:
        return self.macs / (self.cycles * pes) if self.cycles else 0.0


@dataclass
class FramePerf:
    config: str
    rows: int
    cols: int
    size: tuple[int, int]
    clock_hz: float
    layers: list[LayerPerf]
    refused: list[str] = field(default_factory=list)  # the compiler's messages for layers that did not fit
    compiled_as_is: bool = True  # compile_graph(graph, hw) accepted the whole network
    seconds: float = 0.0  # compile + estimate time
    params: int = 0  # conv weights of the network

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def cycles(self) -> int:
        return sum(l.cycles for l in self.layers)

    @property
    def engine_cycles(self) -> int:
        return sum(l.engine_cycles for l in self.layers)

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def bytes_read(self) -> int:
        return sum(l.bytes_read for l in self.layers)

    @property
    def bytes_written(self) -> int:
        return sum(l.bytes_written for l in self.layers)

    @property
    def fps(self) -> float:
        return self.clock_hz / self.cycles

    @property
    def utilization(self) -> float:
        return self.macs / (self.cycles * self.pes)

    @property
    def losses(self) -> dict[str, int]:
        """The engine's MAC slots over the frame's convs by cause (perf.losses.CAUSES order)."""
        return {c: sum(l.losses.get(c, 0) for l in self.layers) for c in CAUSES}

    def bandwidth_at(self, fps: float) -> float:
        """DRAM bytes per second needed at ``fps`` frames per second."""
        return (self.bytes_read + self.bytes_written) * fps


_GRAPHS: dict = {}


def _graph(model, size):
    key = (str(model), tuple(size))
    if key not in _GRAPHS:
        _GRAPHS[key] = load_qgraph(model, tuple(size))
    return _GRAPHS[key]


def load_program(model, size, hw):
    """compile_graph(graph, hw) if the config holds every layer; otherwise the untiled program with
    each conv tiled for ``hw`` where it fits and for ``hw`` with a larger activation buffer where it
    does not. Returns (program, refused messages, fallback notes per layer name, compiled_as_is)."""
    graph = _graph(model, size)
    try:
        return compile_graph(graph, hw), [], {}, True
    except ModelError:
        pass
    program = compile_graph(graph, None)
    refused, notes = [], {}
    for d in program.descriptors:
        if d.op != "conv":
            continue
        try:
            d.group, d.band, d.strip = tile_conv(d, hw)
            continue
        except ModelError as e:
            refused.append(str(e))
        big = hw
        while True:
            if big.act_depth >= 1 << 30:
                raise ModelError(f"node {d.name!r}: does not fit any activation buffer")
            big = dataclasses.replace(big, act_depth=big.act_depth * 2)
            try:
                d.group, d.band, d.strip = tile_conv(d, big)
                break
            except ModelError:
                pass
        notes[d.name] = f"needs act_depth {big.act_depth // 1024} KB (config has {hw.act_depth // 1024} KB)"
    return program, refused, notes, False


def frame_estimate(hw, size=(1024, 2048), model=DEFAULT_MODEL, clock_hz=CLOCK_HZ) -> FramePerf:
    """Cycles, MACs and DRAM bytes per layer of one frame (compile + compiler.estimate), timed."""
    _graph(model, size)  # parsing the ONNX model is not part of the timed model computation
    t0 = time.perf_counter()
    program, refused, notes, as_is = load_program(model, size, hw)
    estimates = estimate(program, hw)
    from hwspec.config import run_tail

    layers = []
    for d, e in zip(program.descriptors, estimates):
        # cout: the layer's own channels (a conv with stacked rows runs as d.stack times as many)
        layers.append(LayerPerf(d.name, d.op, d.cin, d.cout // d.stack, d.h, d.w, d.ho, d.wo, d.kernel, d.stride,
                                e.macs, e.cycles, e.engine_cycles, e.bytes_read, e.bytes_written, notes.get(d.name, ""),
                                dict(conv_losses(d, hw, run_tail(hw))) if d.op == "conv" else {}))
    return FramePerf(hw.name, hw.rows, hw.cols, tuple(size), clock_hz, layers, refused, as_is,
                     time.perf_counter() - t0, sum(c.weight.size for c in program.graph.convs))
