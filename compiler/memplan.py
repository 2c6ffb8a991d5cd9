"""Activation memory plan: where every tensor lives in DRAM, with Concat costing nothing.

Activations are stored channel-planar (CHW, int8): channel c of a tensor is one contiguous plane of
H*W bytes, starting ``pitch`` bytes after channel c - 1's (hwspec.bus.DRAM_MAP.plane_pitch: H*W, or
a little more where H*W would start every plane in the same DRAM bank). A Concat is never materialized: its consumers read the list of its inputs' channel
ranges (segments), so every producer writes its own buffer once, wherever it is used. A buffer is
freed after its last consumer (through any concat) has run and is reused first-fit by later
tensors; the plan reports its peak footprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from golden.qgraph import QGraph
from hwspec.bus import DRAM_MAP

__all__ = ["Segment", "MemoryPlan", "plan_memory", "concat_leaves", "align", "ALIGN", "TENSOR_ALIGN", "read_planes",
           "write_planes"]

ALIGN = 64  # bytes: a beat of the accelerator's 512-bit bus
# Every tensor starts on a 4 KB DRAM page and takes whole pages: a tensor's rows of 64 to 2048 bytes
# then never straddle a page, so each is whole bursts (an unaligned base cost the 1024x2048 logits
# upsample 5% more cycles in compiler.estimate; 4 KB is also the AXI burst boundary).
TENSOR_ALIGN = 4096


@dataclass(frozen=True)
class Segment:
    """``channels`` channel planes starting at ``addr`` (plane size the tensor's H*W, ``MemoryPlan.pitch`` apart)."""

    tensor: str
    addr: int
    channels: int


@dataclass
class MemoryPlan:
    base: int
    addr: dict[str, int] = field(default_factory=dict)  # materialized tensor -> DRAM address
    size: dict[str, int] = field(default_factory=dict)
    segments: dict[str, list[Segment]] = field(default_factory=dict)  # any tensor -> its planes
    pitch: dict[str, int] = field(default_factory=dict)  # materialized tensor -> bytes from a plane to the next
    live_bytes: list[int] = field(default_factory=list)  # after each layer
    peak: int = 0  # highest address used above base (the activation region's size)

    def report(self) -> str:
        return (f"activation plan: {len(self.addr)} buffers, {sum(self.size.values()):,} bytes if never "
                f"reused, peak footprint {self.peak:,} bytes ({self.peak / 2**20:.2f} MiB), "
                f"max live {max(self.live_bytes, default=0):,} bytes")


def align(n: int, to: int = ALIGN) -> int:
    """n rounded up to a multiple of ``to``."""
    return -(-n // to) * to


def read_planes(mem, addr: int, shape, pitch: int) -> np.ndarray:
    """The int8 tensor of ``shape`` (..., H, W) whose channel planes start at ``addr``, ``pitch``
    bytes apart, in ``mem`` (bytes, a bytearray or a uint8 array)."""
    mem = mem if isinstance(mem, np.ndarray) else np.frombuffer(mem, np.uint8)
    hw, n = shape[-2] * shape[-1], int(np.prod(shape[:-2]))
    planes = [mem[addr + c * pitch: addr + c * pitch + hw] for c in range(n)]
    return np.stack(planes).view(np.int8).reshape(shape).copy() if n else np.zeros(shape, np.int8)


def write_planes(mem, addr: int, x: np.ndarray, pitch: int):
    """Store the int8 tensor ``x`` (..., H, W) in ``mem`` (a bytearray or uint8 array): its channel
    planes from ``addr``, ``pitch`` bytes apart."""
    mem = mem if isinstance(mem, np.ndarray) else np.frombuffer(mem, np.uint8)
    x = np.asarray(x, np.int8)
    hw = x.shape[-2] * x.shape[-1]
    for c, plane in enumerate(x.reshape(-1, hw)):
        mem[addr + c * pitch: addr + c * pitch + hw] = plane.view(np.uint8)


def concat_leaves(graph: QGraph, t: str) -> list[str]:
    """The materialized tensors behind tensor ``t``, in channel order: itself, or a (possibly nested)
    concat's inputs."""
    by_output = {l.output: l for l in graph.layers if l.op == "concat"}

    def leaves(x: str) -> list[str]:
        return [y for i in by_output[x].inputs for y in leaves(i)] if x in by_output else [x]

    return leaves(t)


def plan_memory(graph: QGraph, base: int = 0, keep: set[str] | None = None,
                born_with: dict[str, str] | None = None, reads: dict[str, list[str]] | None = None) -> MemoryPlan:
    """Plan the activations of ``graph`` from DRAM address ``base``.

    ``keep`` names tensors that must survive to the end (by default all of them, so that every
    intermediate tensor can be read back and compared; pass an empty set for the reuse plan a
    deployment uses). ``born_with`` maps a tensor to one its producer writes at the same time (a
    fused average pool's output, written by the conv before it): that one is placed with it, so it
    never takes the space of a tensor the producer still reads. ``reads`` maps a layer to the tensors
    it reads in place of its graph inputs (the on-chip argmax reads the logits upsample's input).
    """
    if base % TENSOR_ALIGN:
        raise ValueError(f"activation base {base:#x} is not on a {TENSOR_ALIGN}-byte page")
    plan = MemoryPlan(base)
    last_use: dict[str, int] = {}
    for idx, layer in enumerate(graph.layers):
        for t in reads.get(layer.name, layer.inputs) if reads else layer.inputs:
            for leaf in concat_leaves(graph, t):
                last_use[leaf] = idx
    keep_all = keep is None
    keep = set(keep or ())

    free: list[tuple[int, int]] = []  # (offset, size) holes, offsets relative to base
    top = 0

    def alloc(nbytes: int) -> int:
        nonlocal top
        for i, (off, size) in enumerate(free):
            if size >= nbytes:
                free[i] = (off + nbytes, size - nbytes)
                if free[i][1] == 0:
                    free.pop(i)
                return off
        off, top = top, top + nbytes
        return off

    def release(off: int, nbytes: int):
        free.append((off, nbytes))
        free.sort()
        merged = []
        for o, s in free:
            if merged and merged[-1][0] + merged[-1][1] == o:
                merged[-1] = (merged[-1][0], merged[-1][1] + s)
            else:
                merged.append((o, s))
        free[:] = merged

    def materialize(name: str):
        shape = graph.tensors[name].shape if name in graph.tensors else labels[name]
        c, hw = (shape[1], shape[2] * shape[3]) if len(shape) == 4 else (1, shape[1] * shape[2])
        pitch = DRAM_MAP.plane_pitch(hw)
        nbytes = align((c - 1) * pitch + hw, TENSOR_ALIGN)
        off = alloc(nbytes)
        plan.addr[name], plan.size[name], plan.pitch[name] = base + off, nbytes, pitch
        plan.segments[name] = [Segment(name, base + off, c)]

    labels = {l.output: l.out_shape for l in graph.layers if l.op == "argmax"}  # (1, H, W): a byte a pixel
    materialize(graph.input.name)
    live = {graph.input.name}
    for idx, layer in enumerate(graph.layers):
        if layer.op == "concat":
            plan.segments[layer.output] = [s for i in layer.inputs for s in plan.segments[i]]
        elif layer.output not in plan.addr:
            materialize(layer.output)
            live.add(layer.output)
            if layer.output in (born_with or {}):
                materialize(born_with[layer.output])
                live.add(born_with[layer.output])
        if not keep_all:
            for t in sorted(live):
                if last_use.get(t, -1) <= idx and t not in keep and t != layer.output:
                    release(plan.addr[t] - base, plan.size[t])
                    live.discard(t)
        plan.live_bytes.append(sum(plan.size[t] for t in live))
    plan.peak = top
    return plan
