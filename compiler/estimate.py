"""Per-layer cycle and DRAM-traffic estimate of a compiled program, mirroring the controller's loops.

DRAM bytes are counted as the RTL counts them: reads as whole bus beats moved (a transfer that
starts or ends inside a beat still moves the beat), writes as bytes written (strobes set). The
command sequence below is the controller's (rtl/controller.py), so bytes and MAC steps are exact;
cycles are an estimate (one byte per cycle through the DMAs plus fixed overheads) until the
performance model is calibrated against the RTL counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.program import Descriptor, Program

__all__ = ["LayerEstimate", "estimate", "BUS_BYTES"]

BUS_BYTES = 16  # 128-bit AXI data bus
DESC_FETCH = 104


@dataclass
class LayerEstimate:
    name: str
    macs: int = 0  # useful multiply-accumulates
    mac_steps: int = 0  # array steps the engine issues (each R*C MAC slots)
    engine_cycles: int = 0
    cycles: int = 0
    bytes_read: int = 0
    bytes_written: int = 0


def _beats_bytes(addr: int, n: int) -> int:
    first = addr // BUS_BYTES
    last = (addr + n - 1) // BUS_BYTES
    return (last - first + 1) * BUS_BYTES


class _Acc:
    def __init__(self, e: LayerEstimate):
        self.e = e

    def read(self, addr, n, per_byte=1):
        self.e.bytes_read += _beats_bytes(addr, n)
        self.e.cycles += n * per_byte + 12  # command, first-beat latency, stream

    def write(self, addr, n, per_byte=3):
        self.e.bytes_written += n
        self.e.cycles += n * per_byte + 12


def _conv(d: Descriptor, e: LayerEstimate, acc: _Acc, rows: int, cols: int, min_steps: int, drain: int):
    """The controller's double-buffered band pipeline: band n computes while band n-1 is stored and
    band n+1 loaded, so a band costs the longer of the engine run and that store plus load."""
    k, s, pad = d.kernel, d.stride, d.kernel // 2
    K = d.cin * k * k
    hw_in, howo = d.h * d.w, d.ho * d.wo
    e.macs = d.cout * K * howo
    for co0 in range(0, d.cout, d.group):
        gc = min(d.group, d.cout - co0)
        tiles = -(-gc // rows)
        acc.read(d.weight_addr + co0 * K, gc * K)
        acc.read(d.const_addr + co0 * 8, gc * 8)
        bands = []
        for oy0 in range(0, d.ho, d.band):
            bo = min(d.band, d.ho - oy0)
            lo = max(oy0 * s - pad, 0)
            rows_in = min(d.h, (oy0 + bo - 1) * s - pad + k) - lo
            load = _Acc(LayerEstimate(""))
            for seg in d.segments:
                for ch in range(seg.channels):
                    load.read(seg.addr + ch * hw_in + lo * d.w, rows_in * d.w)
            store = _Acc(LayerEstimate(""))
            for c in range(gc):
                store.write(d.out_addr + (co0 + c) * howo + oy0 * d.wo, bo * d.wo)
            steps = tiles * bo * -(-d.wo // cols)
            e.mac_steps += steps * K
            run = 2 + steps * max(K, min_steps) + 1 + drain + 1
            e.engine_cycles += run
            bands.append((load.e, store.e, run))
        for part in (b for band in bands for b in band[:2]):
            e.bytes_read += part.bytes_read
            e.bytes_written += part.bytes_written
        e.cycles += bands[0][0].cycles  # the first band's load has nothing to overlap
        for n, (_, _, run) in enumerate(bands):
            overlap = (bands[n - 1][1].cycles if n else 0) + (bands[n + 1][0].cycles if n + 1 < len(bands) else 0)
            e.cycles += 20 + max(run, overlap)
        e.cycles += bands[-1][1].cycles  # the last band's store has nothing to overlap


def _vector(d: Descriptor, acc: _Acc):
    hw_in, howo = d.h * d.w, d.ho * d.wo
    out = d.out_addr
    for seg in d.segments:
        for ch in range(seg.channels):
            base = seg.addr + ch * hw_in
            if d.op == "avgpool":
                for y in range(d.ho):
                    acc.read(base + 2 * y * d.w, 2 * d.w)
                    acc.write(out + y * d.wo, d.wo, per_byte=7)
            else:
                for y in range(d.h):
                    acc.read(base + y * d.w, d.w)
                    acc.write(out + y * d.factor * d.wo, d.factor * d.wo, per_byte=1 + 2 / d.factor)
            out += howo


def estimate(program: Program, hw) -> list[LayerEstimate]:
    """One estimate per descriptor for hardware configuration ``hw`` (rtl.config.EngineConfig)."""
    from rtl.engine import drain_wait

    table = program.image[12:16]
    table_addr = int.from_bytes(table, "little")
    out = []
    for d in program.descriptors:
        e = LayerEstimate(d.name)
        acc = _Acc(e)
        acc.read(table_addr + 128 * d.layer, DESC_FETCH)
        if d.op == "conv":
            _conv(d, e, acc, hw.rows, hw.cols, hw.min_tile_steps, drain_wait(hw))
        else:
            _vector(d, acc)
        e.cycles = int(e.cycles)
        out.append(e)
    return out
