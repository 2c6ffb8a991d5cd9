"""MyHDL helpers: structural modules as user-defined Verilog, conversion with stable output.

MyHDL flattens hierarchy. Leaf blocks (PE, PPU, feeders, sequencer) are written in MyHDL and
converted on their own; structural blocks (row, array, engine top) are MyHDL blocks whose Verilog is
user-defined code instantiating those leaves, so generated files stay small and diffable and the
asic configuration (9216 PEs) converts in seconds.
"""

from __future__ import annotations

import os
import re
import tempfile

from myhdl._extractHierarchy import _UserVerilogCode

__all__ = ["mark_ports", "attach_verilog", "convert"]


def mark_ports(inputs, outputs):
    """Tell the converter that user code reads ``inputs`` and drives ``outputs`` (wires)."""
    for s in inputs:
        s.read = True
    for s in outputs:
        s.driven = "wire"


def attach_verilog(blk, text: str):
    """Make ``blk`` convert to ``text`` (the module body; its port names are the block's args)."""
    blk.verilog_code = _UserVerilogCode(text.replace("$", "$$"), {}, blk.func.__name__, blk.func, __file__, 0)
    return blk


_SENS = re.compile(r"^(always @\()([^)]*)(\) begin: .*)$", re.M)


def _sort_sensitivity(text: str) -> str:
    """MyHDL orders a combinational sensitivity list by set iteration (it changes between processes);
    the order has no meaning, so sort it."""
    return _SENS.sub(lambda m: m.group(0) if "edge" in m.group(2) else
                     m.group(1) + ", ".join(sorted(x.strip() for x in m.group(2).split(","))) + m.group(3), text)


def convert(top, name: str, directory: str) -> str:
    """Convert a block instance to ``directory/name.v``; returns the path. MyHDL's date/file header
    lines are dropped and sensitivity lists sorted so regeneration is byte-stable."""
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        top.convert(hdl="Verilog", name=name, path=tmp, no_testbench=True, timescale="1ns/1ps")
        with open(os.path.join(tmp, name + ".v")) as f:
            text = f.read()
    lines = [l for l in _sort_sensitivity(text).splitlines() if not l.startswith(("// Date:", "// File:"))]
    path = os.path.join(directory, name + ".v")
    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    return path
