"""The AXI bus blocks as generated with every engine configuration: read and write DMA masters
(rtl/axi_rd.py, rtl/axi_wr.py, default 512-bit AXI4) and the AXI4-Lite register file
(rtl/axil_regs.py). ``build_bus(directory)`` writes ce_axi_rd.v, ce_axi_wr.v, ce_axil_regs.v and
bus.json (both configurations) next to the engine's Verilog.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from rtl import axi_rd, axi_wr, axil_regs
from hwspec.bus import DMA, AxiDmaConfig
from hwspec.formats import HOST_REGS
from rtl.axil_regs import AxilRegsConfig

__all__ = ["BUS_MODULES", "REGS", "build_bus"]

BUS_MODULES = ("ce_axi_rd", "ce_axi_wr", "ce_axil_regs")
_RW = 4  # CTRL, PROG_BASE, CNT_BASE, IRQ_ACK: the rest of hwspec.formats.HOST_REGS is read-only
REGS = AxilRegsConfig(n_rw=_RW, n_ro=len(HOST_REGS) - _RW, addr_bits=8)  # the register map of rtl/accel.py


def build_bus(directory: str, dma: AxiDmaConfig = DMA, regs: AxilRegsConfig = REGS) -> list[str]:
    files = [axi_rd.build(dma, directory), axi_wr.build(dma, directory), axil_regs.build(regs, directory)]
    with open(os.path.join(directory, "bus.json"), "w") as f:
        f.write(json.dumps({"dma": asdict(dma), "regs": asdict(regs)}, indent=2, sort_keys=True) + "\n")
    return files
