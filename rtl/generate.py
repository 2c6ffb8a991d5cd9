"""Regenerate rtl/generated/<config>/ (Verilog + config.json) for every configuration.

    python -m rtl.generate            write the files
    python -m rtl.generate --check    exit 1 naming every file that regeneration would change
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
import time
from pathlib import Path

from hwspec.config import CONFIGS
from rtl.engine import build
from rtl.accel import build_accel
from rtl.bus import build_bus  # AXI bus blocks, added by the bus work

OUT = Path(__file__).resolve().parent / "generated"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    ap.add_argument("configs", nargs="*", default=list(CONFIGS), help="configurations (default: all)")
    args = ap.parse_args(argv)
    stale = []
    for name in args.configs:
        t0 = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            build(CONFIGS[name], tmp)
            build_bus(tmp)  # ce_axi_rd/ce_axi_wr/ce_axil_regs + bus.json, the same in every config
            build_accel(CONFIGS[name], tmp)  # controller and accelerator top
            new = sorted(p.name for p in Path(tmp).iterdir())
            dest = OUT / name
            # only the engine's own files: other generators may share the folder
            for f in new:
                a, b = Path(tmp) / f, dest / f
                if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
                    stale.append(str(b.relative_to(OUT.parents[1])))
                    if not args.check:
                        dest.mkdir(parents=True, exist_ok=True)
                        b.write_bytes(a.read_bytes())
        print(f"{name}: {len(new)} files, {time.time() - t0:.1f} s", file=sys.stderr)
    if args.check and stale:
        print("regeneration differs from the files on disk:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
