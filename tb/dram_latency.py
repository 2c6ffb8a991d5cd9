"""DRAM latency benchmark (`nox -s dram_latency`): a network on a crop through the RTL on the ideal
DRAM and on the DDR4 timing DRAM at its default and with more read round trip, bit-exact each time;
prints the cycles of each run, read from the RTL's counters.

The figures are RTL measurements of the configuration and crop named on the first line, not of the
asic frame; the cycle model (compiler.estimate) follows the ideal DRAM only.
"""

from __future__ import annotations

import sys
import time

from compiler.estimate import estimate
from compiler.program import compile_graph
from golden.capture import capture
from golden.cityscapes import Crop
from golden.cli import ArgumentParser, command_line, int_in, onnx_file
from golden.qgraph import load_qgraph
from hwspec.config import CLOCK_NS, CONFIGS, get_config
from onnx_models import model_path
from tb.accel_run import added_round_trip_ns, run_accel
from tb.dram_timing import DEFAULT as DEFAULT_TIMING
from tb.runner import ROOT, output_to


@command_line
def main(argv=None) -> int:
    ap = ArgumentParser(prog="python -m tb.dram_latency", description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=onnx_file, default=str(model_path("tiny")))
    ap.add_argument("--config", default="tiny", choices=CONFIGS)
    ap.add_argument("--height", type=int_in(1), default=64)
    ap.add_argument("--width", type=int_in(1), default=128)
    ap.add_argument("--added-ns", type=int_in(0, 10_000), nargs="+", default=[0, 50, 100, 150],
                    help="read round trips added to the timing DRAM's default")
    args = ap.parse_args(argv)
    crop = Crop(top=400, left=900, height=args.height, width=args.width)
    gold = capture(args.model, crop)
    hw = get_config(args.config)
    prog = compile_graph(load_qgraph(args.model, gold.input_size), hw)
    model_cycles = sum(e.cycles for e in estimate(prog, hw))
    print(f"{args.model} on a {args.height}x{args.width} crop, config {hw.name!r}, {len(prog.descriptors)} layers; "
          f"clock {CLOCK_NS} ns; timing DRAM default: controller latency {DEFAULT_TIMING.t_ctrl} cycles each way",
          flush=True)
    log = ROOT / "build" / "dram_latency.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    print(f"simulator output: {log}", flush=True)
    print(f"{'DRAM':44s} {'cycles':>11s} {'x ideal':>8s} {'bit-exact':>9s} {'wall s':>7s}", flush=True)
    runs = [("ideal (tb/hdl/axi_ram_model.v)", "model", 0)] + [
        (f"DDR4-3200 timing, read round trip +{added_round_trip_ns(ns)} ns", "timing", ns) for ns in args.added_ns]
    ideal = None
    failed = 0
    for label, dram, ns in runs:
        t0 = time.time()
        with output_to(log):
            res = run_accel(prog, gold, config=hw.name, dram=dram, dram_latency_ns=ns)
        cycles = sum(l.counters["cycles"] for l in res.layers)
        ideal = ideal or cycles
        failed += not res.ok
        print(f"{label:44s} {cycles:11,} {cycles / ideal:8.3f} {'yes' if res.ok else 'NO':>9s} "
              f"{time.time() - t0:7.1f}", flush=True)
    print(f"cycle model (ideal DRAM): {model_cycles:,}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
