"""python -m hwspec [CONFIG ...]: print the spec's tables (every record's fields with their bytes and
bits, the error codes, the host's registers) and the named hardware configurations' buffer sizes."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from hwspec.config import CONFIGS
from hwspec.fields import Record
from hwspec.formats import (BANK_CONSTANT, COUNTER_RECORD, CTRL, DESCRIPTOR, DRAM_CONSTANT, ERRORS, FLAGS, HEADER,
                            HOST_REGS, LAYER_REGS, OPS, SEGMENT, STATUS)

RECORDS = (HEADER, DESCRIPTOR, SEGMENT, COUNTER_RECORD, DRAM_CONSTANT, BANK_CONSTANT, CTRL, STATUS)


def record_table(r: Record) -> str:
    lines = [f"## {r.name}: {r.size} bytes ({r.size_bits} bits), {r.used_bytes} used",
             "| byte | bits | field | type | note |", "|---|---|---|---|---|"]
    for f in r.fields.values():
        kind = ("i" if f.signed else "u") + str(f.bits) + (f" x {f.count}" if f.count > 1 else "")
        lines.append(f"| {f.lo // 8} | {f.hi - 1}:{f.lo} | {f.name} | {kind} | {f.doc} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hwspec", description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="*", help=f"configurations to list ({', '.join(CONFIGS)}; default: all)")
    args = ap.parse_args(argv)
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        print(f"error: unknown config {unknown[0]!r}; known: {', '.join(CONFIGS)}", file=sys.stderr)
        return 2
    out = [record_table(r) for r in RECORDS]
    out.append("## ops\n" + ", ".join(f"{v} {k}" for k, v in OPS.items()))
    out.append("## descriptor flags\n" + ", ".join(f"{v} {k}" for k, v in FLAGS.items()))
    out.append("## layer registers\n" + ", ".join(f"{i} {n}" for i, n in enumerate(LAYER_REGS)))
    out.append("## host registers (AXI4-Lite)\n" + "\n".join(f"0x{v:02X} {k}" for k, v in HOST_REGS.items()))
    out.append("## error codes (STATUS.error)\n" + "\n".join(f"{c:2} {t}" for c, t in ERRORS.items()))
    for name in args.configs or CONFIGS:
        cfg = CONFIGS[name]
        out.append(f"## config {name} ({cfg.key})\n" + ", ".join(f"{k} {v}" for k, v in asdict(cfg).items()
                                                              if k != "name"))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
