"""The accelerator's AXI4 bus to DRAM: the DMA masters' parameters and their burst rule, shared by
the RTL (rtl/axi_rd.py, rtl/axi_wr.py), the benches' models and the cycle model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

__all__ = ["AxiDmaConfig", "DMA", "CMD_ROWS_BITS", "bursts", "DramMap", "DRAM_MAP"]


CMD_ROWS_BITS = 16  # a read command's row count (a 2-D command: rows of cmd_len bytes, cmd_pitch apart)


@dataclass(frozen=True, kw_only=True)
class AxiDmaConfig:
    """Parameters shared by the read and write DMA masters."""

    name: str = "axi512"
    data_bits: int = 512  # AXI data width
    addr_bits: int = 32
    max_burst: int = 16  # beats per burst (AXI4 INCR: 1..256): 1 KB; longer bursts spend fewer DRAM turnarounds
    len_bits: int = 24  # command length field (bytes)
    # bursts in flight: a DRAM's round trip (the timing DRAM's 27 cycles to a read's first beat) spans
    # 8 bursts of 3-4 beats (the argmax's segments, a strip's rows); 4 left its data path waiting
    outstanding: int = 8
    id_bits: int = 4  # AXI ID width; every burst uses ID 0 (responses must carry it)

    def __post_init__(self):
        d = self.data_bits
        if not isinstance(d, int) or d < 16 or d > 1024 or d & (d - 1):
            raise ValueError(f"AxiDmaConfig data_bits must be a power of two in 16..1024, not {d!r}")
        if not isinstance(self.addr_bits, int) or not 13 <= self.addr_bits <= 64:
            raise ValueError(f"AxiDmaConfig addr_bits must be an integer in 13..64, not {self.addr_bits!r}")
        if not isinstance(self.max_burst, int) or not 1 <= self.max_burst <= min(256, self.page_beats):
            raise ValueError(f"AxiDmaConfig max_burst must be in 1..{min(256, self.page_beats)} "
                             f"(AXI4 INCR, one 4 KB page), not {self.max_burst!r}")
        if not isinstance(self.len_bits, int) or not 8 <= self.len_bits <= 32:
            raise ValueError(f"AxiDmaConfig len_bits must be an integer in 8..32, not {self.len_bits!r}")
        if not isinstance(self.id_bits, int) or not 1 <= self.id_bits <= 16:
            raise ValueError(f"AxiDmaConfig id_bits must be an integer in 1..16, not {self.id_bits!r}")
        if not isinstance(self.outstanding, int) or not 1 <= self.outstanding <= 15:
            raise ValueError(f"AxiDmaConfig outstanding must be an integer in 1..15, not {self.outstanding!r}")

    @property
    def beat_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def size(self) -> int:
        """AxSIZE: log2 of the beat's bytes."""
        return self.beat_bytes.bit_length() - 1

    @property
    def page_beats(self) -> int:
        return 4096 // self.beat_bytes

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @property
    def key(self) -> str:
        return f"{self.name}-{hashlib.sha256(self.to_json().encode()).hexdigest()[:10]}"



DMA = AxiDmaConfig()  # 512-bit data (32 GB/s at 500 MHz), 32-bit address, 16-beat (1 KB) bursts, 4 in flight


def bursts(addr: int, length: int, beat_bytes: int = 16, max_burst: int = 16) -> list[tuple[int, int]]:
    """The INCR bursts a DMA command issues, in order: [(AxADDR, beats)], AxLEN = beats - 1 (what
    ``burst_len`` computes burst by burst; tb/axi_models.py and compiler/estimate.py use this).

    Full-width beats from the beat holding ``addr`` to the beat holding ``addr + length - 1``, cut
    at ``max_burst`` beats and at every 4 KB page boundary."""
    if length < 1:
        raise ValueError(f"a DMA command moves at least one byte, not {length}")
    page = 4096 // beat_bytes
    b, last = addr // beat_bytes, (addr + length - 1) // beat_bytes
    out = []
    while b <= last:
        n = min(max_burst, page - b % page, last - b + 1)
        out.append((b * beat_bytes, n))
        b += n
    return out


@dataclass(frozen=True)
class DramMap:
    """How the DRAM behind the bus maps a byte address: row | bank | column, ``row_bytes`` bytes of
    column (one row across the rank) and ``banks`` banks. The bench's DDR4 model maps addresses so
    (tests check tb.dram_timing.DEFAULT against ``DRAM_MAP``); the activation layout places channel
    planes by it (``plane_pitch``)."""

    row_bytes: int = 8192
    banks: int = 8

    def plane_pitch(self, nbytes: int) -> int:
        """Bytes from the start of one channel plane of ``nbytes`` to the next in DRAM. A plane that
        ends a whole number of bank windows (``banks`` rows) later, give or take a row, would start
        the next one in the same bank on another row: every switch from one channel's rows to the
        next's would close and open that bank while the data path waits. Such a plane is followed
        by up to two rows of padding, so that planes start one row apart modulo the window: the
        next channel's first burst goes to another bank. Planes under a row are left packed."""
        window = self.row_bytes * self.banks
        r = nbytes % window
        if nbytes < self.row_bytes or self.row_bytes <= r < window - self.row_bytes:
            return nbytes
        return nbytes + (self.row_bytes - r) % window


DRAM_MAP = DramMap()  # 8 KB rows (a 64-bit rank of x16 DDR4 parts' 2 KB pages), 8 banks
