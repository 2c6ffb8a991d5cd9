"""The host's side of an accelerator run: DRAM contents before, results and counters after.

DRAM layout of a run (every region 64-byte aligned):
    [0, act_base)            the compiled program (header, descriptors, weights, constants)
    activations              the memory plan (every tensor kept, so each can be read back)
    headers                  64 bytes per layer: a program header pointing at one descriptor
                             alone (count 1), for layer-isolated runs
    counters                 32 bytes per layer: the controller's counter records
    (isolated runs only) a copy of every descriptor writing to a scratch output of its own (fusion
                             flags cleared: a fused pool runs as its own pass), and
                             those scratch outputs, filled with a poison byte first: a layer that
                             does not run cannot pass on golden data left in DRAM
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from compiler.memplan import align, read_planes, write_planes
from compiler.program import Program
from golden.intmodel import Comparison, compare
from hwspec.bus import DMA
from hwspec.formats import (COUNTER_RECORD, CTRL, DESCRIPTOR, ERRORS, FUSION_FLAGS, HEADER, HOST_REGS, MAGIC,
                             STATUS, VERSION)

__all__ = ["RunLayout", "layout_run", "dram_image", "write_hex", "read_hex", "read_tensor", "counters",
           "compare_layers", "REGS", "LayerResult", "run_failed", "status_text"]

REGS = HOST_REGS  # AXI-Lite register map of rtl.accel (byte offsets)
CTRL_START, CTRL_IRQ_EN = CTRL.pack_int(start=1), CTRL.pack_int(irq_en=1)


POISON = 0x5A


@dataclass
class RunLayout:
    program: Program
    headers: int  # address of the per-layer headers
    counters: int  # address of the counter records
    size: int  # bytes of DRAM the run uses
    isolated: bool = False
    copies: int = 0  # isolated: address of the descriptor copies
    scratch: dict = field(default_factory=dict)  # isolated: layer name -> its scratch output address

    def header_addr(self, layer: int) -> int:
        return self.headers + HEADER.size * layer

    def output_addr(self, name: str) -> int:
        return self.scratch[name] if self.isolated else self.program.tensor_addr(name)


def layout_run(program: Program, isolated: bool = False) -> RunLayout:
    headers = align(program.dram_size)
    n = len(program.descriptors)
    counters = headers + HEADER.size * n
    end = align(counters + COUNTER_RECORD.size * n)
    layout = RunLayout(program, headers, counters, end, isolated)
    if isolated:
        layout.copies = end
        end += DESCRIPTOR.size * n
        for d in program.descriptors:
            layout.scratch[d.name] = end
            end = align(end + program.plan.size[program.output_name(d.name)])
    layout.size = align(end, 16)
    return layout


def dram_image(layout: RunLayout, tensors: dict[str, np.ndarray]) -> bytearray:
    """Program, the given int8 NCHW tensors at their planned addresses, and the per-layer headers."""
    prog = layout.program
    img = bytearray(layout.size)
    img[: len(prog.image)] = prog.image
    for name, x in tensors.items():
        write_planes(img, prog.tensor_addr(name), np.asarray(x, np.int8)[0], prog.tensor_pitch(name))
    act_base = prog.activation_base
    for i, d in enumerate(prog.descriptors):
        table = HEADER.size + DESCRIPTOR.size * i
        if layout.isolated:
            table = layout.copies + DESCRIPTOR.size * i
            raw = prog.image[HEADER.size + DESCRIPTOR.size * i:][:DESCRIPTOR.size]
            flags = DESCRIPTOR.unpack(raw)["flags"] & ~FUSION_FLAGS  # alone, a layer computes its own output
            # every other field as compiled (or as a test corrupted it: an unknown op stays unknown)
            img[table: table + DESCRIPTOR.size] = DESCRIPTOR.replace(raw, out_addr=layout.scratch[d.name], flags=flags)
            out, n = layout.scratch[d.name], prog.plan.size[prog.output_name(d.name)]
            img[out: out + n] = bytes([POISON]) * n
        hdr = HEADER.pack(magic=int.from_bytes(MAGIC, "little"), version=VERSION, layers=1,
                          descriptor_size=DESCRIPTOR.size, table=table, image_size=act_base)
        a = layout.header_addr(i)
        img[a: a + len(hdr)] = hdr
    return img


def write_hex(img: bytes, path, word_bytes: int = DMA.beat_bytes):
    """$readmemh file: one little-endian word per line."""
    data = bytes(img) + b"\0" * (-len(img) % word_bytes)
    words = np.frombuffer(data, np.uint8).reshape(-1, word_bytes)[:, ::-1]
    with open(path, "w") as f:
        f.write("\n".join(row.tobytes().hex() for row in words))
        f.write("\n")


def read_hex(path, nbytes: int, word_bytes: int = DMA.beat_bytes, *, unknown: bytearray | None = None) -> bytearray:
    """Bytes from a $writememh file (comment and address lines skipped). A byte with an X or Z digit
    reads as 0; ``unknown``, if given, is extended with a 1 for each such byte (0 otherwise)."""
    out = bytearray()
    with open(path) as f:
        for line in f:
            line = line.split("//")[0].strip()
            if not line or line.startswith("@"):
                continue
            digits = line.lower().zfill(2 * word_bytes)
            word = bytes.fromhex(digits.replace("x", "0").replace("z", "0"))
            out += word[::-1]
            if unknown is not None:  # digit i is in big-endian byte i // 2: little-endian word_bytes - 1 - i // 2
                xs = bytearray(word_bytes)
                if "x" in digits or "z" in digits:
                    for i, c in enumerate(digits):
                        if c in "xz":
                            xs[word_bytes - 1 - i // 2] = 1
                unknown += xs
            if len(out) >= nbytes:
                break
    if unknown is not None:
        del unknown[nbytes:]
    return out[:nbytes]


def read_tensor(img: bytes, addr: int, shape, pitch: int) -> np.ndarray:
    """The int8 tensor of ``shape`` whose channel planes start at ``addr``, ``pitch`` bytes apart."""
    return read_planes(img, addr, shape, pitch)


def counters(img: bytes, layout: RunLayout, layer: int) -> dict[str, int]:
    a = layout.counters + COUNTER_RECORD.size * layer
    return COUNTER_RECORD.unpack(bytes(img[a: a + COUNTER_RECORD.size]))


@dataclass
class LayerResult:
    index: int
    name: str
    op: str
    comparison: Comparison
    counters: dict = field(default_factory=dict)
    actual: np.ndarray | None = None  # the tensor read back from DRAM
    # a whole-network run never writes this layer's output (compiler.program.Program.elided): nothing
    # to compare (0 elements); the layer is compared in isolated runs, its reader's output here
    elided: bool = False

    @property
    def ok(self) -> bool:
        return self.comparison.ok


def compare_layers(layout: RunLayout, img: bytes, golden, unknown: bytes | None = None) -> list[LayerResult]:
    """Every descriptor's output read back from DRAM against the golden capture (the argmax's labels
    against onnxruntime's int64 labels); in a whole-network run an elided layer is only counted.
    ``unknown``: per byte of ``img``, 1 where the simulator's dump held X or Z (each such output
    element is a mismatch)."""
    prog = layout.program
    out = []
    for d in prog.descriptors:
        if not layout.isolated and d.name in prog.elided:
            out.append(LayerResult(d.layer, d.name, d.op, Comparison(d.name, 0, 0, None),
                                   counters(img, layout, d.layer), None, elided=True))
            continue
        where = layout.output_addr(d.name), prog.output_shape(d.name), prog.tensor_pitch(d.name)
        got = read_tensor(img, *where)
        expected = golden[prog.output_name(d.name)].data
        xs = None if unknown is None else read_tensor(unknown, *where)
        out.append(LayerResult(d.layer, d.name, d.op, compare(d.name, expected, got, xs),
                               counters(img, layout, d.layer), got))
    return out


def run_failed(run: dict) -> bool:
    """A start of the bench's (tb/test_accel.py) that timed out or ended with the error bit."""
    return bool(run.get("timeout")) or bool(STATUS.unpack_int(run.get("STATUS", 0))["err"])


def status_text(status: int) -> str:
    s = STATUS.unpack_int(status)
    code = s["error"]
    text = f"busy={s['busy']} done={s['done']} err={s['err']} layer={s['layer']}"
    return text + (f" error {code}: {ERRORS.get(code, '?')}" if code else "")
