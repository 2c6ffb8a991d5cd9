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
from rtl.axi_rd import AxiDmaConfig
from rtl.axil_regs import AxilRegsConfig

__all__ = ["BUS_MODULES", "DMA", "REGS", "build_bus"]

BUS_MODULES = ("ce_axi_rd", "ce_axi_wr", "ce_axil_regs")
DMA = AxiDmaConfig()  # 512-bit data (32 GB/s at 500 MHz), 32-bit address, 16-beat (1 KB) bursts, 4 in flight
REGS = AxilRegsConfig(n_rw=4, n_ro=10, addr_bits=8)  # the register map of rtl/accel.py


def build_bus(directory: str, dma: AxiDmaConfig = DMA, regs: AxilRegsConfig = REGS) -> list[str]:
    files = [axi_rd.build(dma, directory), axi_wr.build(dma, directory), axil_regs.build(regs, directory)]
    with open(os.path.join(directory, "bus.json"), "w") as f:
        f.write(json.dumps({"dma": asdict(dma), "regs": asdict(regs)}, indent=2, sort_keys=True) + "\n")
    return files
