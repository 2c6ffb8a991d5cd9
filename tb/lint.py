"""Verilator -Wall lint of the generated Verilog (``python -m tb.lint``, ``nox -s lint``).

For each configuration: the chip (ce_accel and every module under it) with the waivers of
rtl/lint.vlt must be clean; and, as a report, each module alone without any waiver, its warnings
counted by rule (what the waivers hide, module by module). Exit status 1 if the waived lint warns.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter

from hwspec.config import CONFIGS
from rtl.accel import ACCEL_MODULES
from rtl.bus import BUS_MODULES
from rtl.engine import MODULES
from tb.runner import ROOT, generated_dir, setup_verilator

__all__ = ["CHIP_MODULES", "lint", "unwaived_counts", "main"]

CHIP_MODULES = MODULES + BUS_MODULES + ACCEL_MODULES
WAIVERS = ROOT / "rtl" / "lint.vlt"


def lint(config: str, top: str, modules=CHIP_MODULES, waivers: bool = True) -> list[str]:
    """Verilator's warning lines for ``top`` of ``config`` (``modules`` on the command line)."""
    setup_verilator()
    files = [str(generated_dir(config) / f"{m}.v") for m in modules]
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top,
                        *([str(WAIVERS)] if waivers else []), *files], capture_output=True, text=True)
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("%Warning")]
    if r.returncode != 0 and not warnings:
        raise RuntimeError(f"verilator lint of {top} ({config}) failed: {r.stderr.strip()[-500:]}")
    return warnings


def unwaived_counts(config: str) -> dict[str, Counter]:
    """Per module as the top (the modules under it included): warnings by rule, without waivers."""
    counts = {}
    for m in CHIP_MODULES:
        rules = Counter(re.match(r"%Warning-(\w+)", w).group(1) for w in lint(config, m, waivers=False))
        counts[m] = rules
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tb.lint", description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=list(CONFIGS), action="append",
                    help="configuration(s) to lint (default: all)")
    args = ap.parse_args(argv)
    bad = 0
    for config in args.config or list(CONFIGS):
        waived = lint(config, "ce_accel")
        bad += len(waived)
        print(f"{config}: chip lint with rtl/lint.vlt: {len(waived)} warnings")
        for w in waived[:20]:
            print(f"  {w}")
        print(f"  {'module (and those under it), no waiver':40s} {'warnings':>8s}  by rule")
        for m, rules in unwaived_counts(config).items():
            print(f"  {m:40s} {sum(rules.values()):8d}  {', '.join(f'{r} {n}' for r, n in rules.most_common())}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
