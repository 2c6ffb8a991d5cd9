"""``python -m compiler --model M --size H W [--out program.bin]``: compile and print the program."""

from __future__ import annotations

import sys
from pathlib import Path

from compiler.program import compile_graph
from golden.cli import ArgumentParser, command_line, int_in, onnx_file
from golden.qgraph import load_qgraph
from onnx_models import model_path


@command_line
def main(argv=None) -> int:
    ap = ArgumentParser(description="Compile an int8 QDQ ONNX model into an accelerator program.")
    ap.add_argument("--model", type=onnx_file, default=str(model_path("hardnet70")))
    ap.add_argument("--size", type=int_in(1), nargs=2, metavar=("H", "W"), default=None,
                    help="input size (default: the model's own)")
    ap.add_argument("--reuse", action="store_true", help="reuse dead activation buffers (deployment plan)")
    ap.add_argument("--out", type=Path, help="write the DRAM image (header, descriptors, weights, constants)")
    args = ap.parse_args(argv)
    graph = load_qgraph(args.model, tuple(args.size) if args.size else None)
    prog = compile_graph(graph, keep_all=not args.reuse)
    print(f"{'#':>3} {'layer':<16} {'op':<8} {'in (CxHxW)':<14} {'out':<14} {'segs':>4} {'out addr':>10} "
          f"{'read B':>11} {'write B':>11}")
    for d in prog.descriptors:
        reads = d.cin * d.h * d.w + (d.cout * d.cin * d.kernel ** 2 + 8 * d.cout if d.op == "conv" else 0)
        print(f"{d.layer:>3} {d.name:<16} {d.op:<8} {f'{d.cin}x{d.h}x{d.w}':<14} {f'{d.cout}x{d.ho}x{d.wo}':<14} "
              f"{len(d.segments):>4} {d.out_addr:>#10x} {reads:>11,} {d.cout * d.ho * d.wo:>11,}")
    print(f"{len(prog.descriptors)} descriptors; weights {prog.weight_bytes:,} B, constants {prog.const_bytes:,} B; "
          f"host runs: {', '.join(f'{n} ({w})' for n, w in prog.host_reasons.items()) or 'nothing'}; "
          f"not written in a whole-network run: "
          f"{', '.join(sorted(prog.elided)) or 'nothing'}")
    print(prog.plan.report())
    if args.out:
        args.out.write_bytes(bytes(prog.image))
        print(f"wrote {len(prog.image):,} bytes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
