"""The accelerator's behaviour at program level, in Python: execute descriptors against a DRAM image.

This is the model the controller RTL is checked against: it reads only what the descriptors and the
DRAM image say (addresses, segments, constants), never the ONNX graph, so it checks the compiler's
output too. Arithmetic comes from golden.contract.
"""

from __future__ import annotations

import struct

import numpy as np

from golden import contract
from compiler.memplan import read_planes, write_planes
from compiler.program import Descriptor, Program
from hwspec.formats import DESCRIPTOR, FLAGS, HEADER, MAGIC
from hwspec.config import weight_pitch

__all__ = ["Dram", "load_program", "execute", "read_tensor", "write_tensor"]


class Dram:
    """Flat byte-addressed memory."""

    def __init__(self, size: int):
        self.mem = np.zeros(size, np.uint8)

    def write(self, addr: int, data: bytes | np.ndarray):
        b = np.frombuffer(bytes(data), np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()
        self.mem[addr: addr + b.size] = b

    def read(self, addr: int, n: int) -> np.ndarray:
        return self.mem[addr: addr + n]


def load_program(program: Program, x_int8: np.ndarray) -> Dram:
    """A DRAM holding the program image and the int8 input tensor [1, C, H, W]."""
    dram = Dram(program.dram_size)
    dram.write(0, bytes(program.image))
    name = program.graph.input.name
    write_tensor(dram, program.tensor_addr(name), x_int8, program.tensor_pitch(name))
    return dram


def write_tensor(dram: Dram, addr: int, x: np.ndarray, pitch: int):
    """An int8 tensor [1, C, H, W], its channel planes ``pitch`` bytes apart from ``addr``."""
    write_planes(dram.mem, addr, np.asarray(x, np.int8)[0], pitch)


def read_tensor(dram: Dram, addr: int, shape, pitch: int) -> np.ndarray:
    return read_planes(dram.mem, addr, shape, pitch)


def _gather(dram: Dram, d: Descriptor) -> np.ndarray:
    planes = [read_planes(dram.mem, s.addr, (s.channels, d.h, d.w), d.in_pitch) for s in d.segments]
    return np.concatenate(planes, axis=0)


def _constants(dram: Dram, d: Descriptor):
    raw = dram.read(d.const_addr, 8 * d.cout).tobytes()
    bias = np.array([struct.unpack_from("<i", raw, 8 * c)[0] for c in range(d.cout)], np.int64)
    mant = np.array([int.from_bytes(raw[8 * c + 4: 8 * c + 7], "little") for c in range(d.cout)], np.int64)
    expo = np.array([struct.unpack_from("<b", raw, 8 * c + 7)[0] for c in range(d.cout)], np.int64)
    return bias, contract.RequantConstants(mantissa=mant, exponent=expo)


def execute_descriptor(dram: Dram, d: Descriptor):
    if d.flags & FLAGS["fused"]:  # an average pool or upsample the convs before it wrote (FLAGS["pool"], FLAGS["up"])
        return
    x = _gather(dram, d)
    if d.op == "conv":
        k, g = d.kernel, d.stack
        K = d.cin * d.k_rows * k
        w = dram.read(d.weight_addr, d.cout * weight_pitch(K)).view(np.int8).reshape(d.cout, -1)[:, :K]
        # stacked rows (factor g): channel c's kernel is the first k rows of its stacked channel c * g
        w = w.reshape(d.cout, d.cin, d.k_rows, k)[::g, :, :k, :]
        bias, consts = _constants(dram, d)
        bias = bias[::g]
        consts = contract.RequantConstants(mantissa=consts.mantissa[::g], exponent=consts.exponent[::g])
        # raw activations times weights plus the folded bias (bias - x_zp * sum(w)), wrapped to
        # int32 as the hardware's adders do; padding taps carry x_zp, as the feeders supply
        acc = contract.conv_acc(x, 0, w, None, d.stride, 0) if k == 1 else \
            contract.conv_acc(np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=d.x_zp), 0, w, None, d.stride, 0)
        acc = (acc + bias[:, None, None] + 2**31) % 2**32 - 2**31
        y = np.moveaxis(contract.requantize_int(np.moveaxis(acc, 0, -1), consts, d.y_zp, d.qmin, d.qmax), -1, 0)
    elif d.op == "avgpool":  # equal power-of-two scales (the compiler checks): the integer form
        y = contract.avgpool2x2_int8(x, 1.0, d.x_zp, 1.0, d.y_zp)
    elif d.op == "upsample":
        y = contract.upsample_nearest_int8(x, d.factor)
    elif d.op == "argmax":  # class indices (first maximum), then upsampled: argmax(up(x)) == up(argmax(x))
        y = contract.upsample_nearest_int8(contract.argmax_channels(x)[None].astype(np.int8), d.factor)
    else:
        raise ValueError(f"descriptor {d.layer}: unknown op {d.op!r}")
    assert y.shape == (d.cout // d.stack, d.ho, d.wo), (d.name, y.shape)
    write_planes(dram.mem, d.out_addr, y, d.out_pitch)
    if d.op == "conv" and d.flags & FLAGS["pool"]:  # the 2x2 average pool of the output, its zero point y_zp
        pooled = contract.avgpool2x2_int8(y, 1.0, d.y_zp, 1.0, d.pool_zp)
        write_planes(dram.mem, d.aux_addr, pooled, d.aux_pitch)
    if d.op == "conv" and d.flags & FLAGS["up"]:  # its channels of the upsample's output
        up = contract.upsample_nearest_int8(y, d.up_factor)
        write_planes(dram.mem, d.aux_addr, up, d.aux_pitch)


def read_descriptors(dram: Dram) -> list[Descriptor]:
    h = HEADER.unpack(dram.read(0, HEADER.size).tobytes())
    magic, size = h["magic"].to_bytes(4, "little"), h["descriptor_size"]
    if magic != MAGIC or size != DESCRIPTOR.size:
        raise ValueError(f"DRAM holds no program (magic {magic!r}, descriptor size {size})")
    return [Descriptor.unpack(dram.read(h["table"] + i * size, size).tobytes()) for i in range(h["layers"])]


def execute(dram: Dram, on_layer=None) -> None:
    """Run every descriptor in the DRAM image, in order, as the controller does."""
    for d in read_descriptors(dram):
        execute_descriptor(dram, d)
        if on_layer:
            on_layer(d)
