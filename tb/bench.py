"""Engine benchmark (a report, not a test): ``nox -s bench_engine`` or ``python -m tb.bench``.

Prints
(a) simulated cycles per second of ce_engine on the ``sim`` configuration, on Verilator and on
    Icarus (Icarus runs a short synthetic layer only: it is slow);
(b) for the three real FC-HarDNet-70 layers of tests/test_rtl_real_layers.py (its ``pick_layers``):
    cycles, MACs, ideal cycles MACs/(R*C), utilization, on Verilator; every output is also
    checked against onnxruntime's (mismatches column).

This module is also the cocotb test module it runs (``engine_bench``): each layer is loaded through
the write port, then timed from start to done alone (the engine runs without Python per clock).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cocotb
import numpy as np

__all__ = ["engine_bench", "bench", "main"]


def _engine_tb(dut, clock):
    """tb/engine_tb.EngineTB, with its clock from the simulator (``gpi``) unless ``clock`` is "py":
    a Python clock wakes Python twice a cycle and caps the measured speed."""
    from cocotb.clock import Clock
    from engine_tb import EngineTB

    if clock == "py":
        return EngineTB(dut)

    class GpiClockTB(EngineTB):
        def __init__(self, dut):  # EngineTB.__init__ with the clock implementation chosen
            self.dut = dut
            self.rows = len(dut.rd_data) // 8
            cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())

    return GpiClockTB(dut)


@cocotb.test()
async def engine_bench(dut):
    """Layers from CE_LAYERS (.npz) on the CE_CONFIG engine; per-layer results (cycles, wall time of
    the run, mismatches) as JSON to CE_RESULT."""
    from hwspec.config import get_config
    from rtl.layout import Layer, program, unpack_output

    cfg = get_config(os.environ["CE_CONFIG"])
    tb = _engine_tb(dut, os.environ.get("CE_CLOCK", "gpi"))
    out = []
    for d in np.load(os.environ["CE_LAYERS"], allow_pickle=True)["layers"]:
        L = Layer(**d)
        await tb.reset()
        prog = program(cfg, L)
        await tb.load(prog)
        t0 = time.perf_counter()
        cycles, busy = await tb.run()
        wall = time.perf_counter() - t0
        y = unpack_output(cfg, L, await tb.read(prog["read_words"]))
        out.append(dict(name=L.name, cycles=cycles, busy=busy, macs=int(L.macs), wall=wall,
                        mismatches=int(np.sum(y != L.reference())), total=int(y.size)))
        dut._log.info("%s", out[-1])
    Path(os.environ["CE_RESULT"]).write_text(json.dumps(out, indent=1))


def bench(sim, config, layers, clock="gpi"):
    """Run ``layers`` through the engine on ``sim``; returns the per-layer result dicts."""
    from hwspec.config import get_config
    from rtl.engine import MODULES
    from tb.runner import generated_dir, run_cocotb

    cfg = get_config(config)
    d = generated_dir(config)
    with tempfile.TemporaryDirectory() as tmp:
        lp, rp = Path(tmp) / "layers.npz", Path(tmp) / "result.json"
        np.savez(lp, layers=np.array([vars(L) for L in layers], dtype=object))
        t0 = time.perf_counter()
        # block "engine": the same build (and cache) as tests/test_rtl_engine.py and the real-layer test
        run_cocotb(sim=sim, block="engine", cfg=cfg, sources=[d / f"{m}.v" for m in MODULES], toplevel="ce_engine",
                   test_module="bench", env=dict(CE_CONFIG=config, CE_LAYERS=str(lp), CE_RESULT=str(rp), CE_CLOCK=clock))
        if not rp.exists():
            raise RuntimeError(f"engine bench on {sim}/{config} wrote no result (see the cocotb log above)")
        res = json.loads(rp.read_text())
    for r in res:
        r.update(sim=sim, config=config, clock=clock, total_wall=time.perf_counter() - t0, ideal=r["macs"] / cfg.macs,
                 util=r["macs"] / (r["cycles"] * cfg.macs), cps=r["cycles"] / r["wall"])
    return res


def _table(rows, cols):
    """Plain-text table: cols = [(header, key or function, format)]."""
    cells = [[h for h, _, _ in cols]] + [[fmt.format(k(r) if callable(k) else r[k]) for _, k, fmt in cols] for r in rows]
    width = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    line = lambda c: "  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(c, width)))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in width)] + [line(c) for c in cells[1:]])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tb.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="sim", help="engine configuration (default: sim)")
    ap.add_argument("--no-icarus", action="store_true", help="skip the Icarus speed run")
    ap.add_argument("--no-real", action="store_true", help="skip the real FC-HarDNet-70 layers")
    ap.add_argument("--clock", choices=("gpi", "py"), default="gpi",
                    help="cocotb clock implementation (default gpi: the simulator toggles it, no Python per edge)")
    args = ap.parse_args(argv)

    from hwspec.config import get_config
    from tests.rtl_helpers import random_layer

    cfg = get_config(args.config)
    t_start = time.perf_counter()
    # a short synthetic conv3x3 (2 pixel tiles x 6 rows, K = 72 steps): ~1.1k cycles
    short = random_layer(np.random.default_rng(1), "short_c3s1", 8, cfg.rows, 6, 2 * cfg.cols, 3, 1)
    speed = bench("verilator", args.config, [short], args.clock)
    if not args.no_icarus:
        speed += bench("icarus", args.config, [short], args.clock)
    real = []
    if not args.no_real:
        from tests.test_rtl_real_layers import MODEL, pick_layers

        if not MODEL.exists():
            sys.exit(f"{MODEL} missing: build it with `nox -s models` (or pass --no-real)")
        layers = pick_layers(cfg)
        real = bench("verilator", args.config, layers, args.clock)
        speed += [dict(r, name=r["name"].split(":")[0] + " (real)") for r in real]

    print(f"\n(a) ce_engine simulation speed, config {cfg.name} ({cfg.rows}x{cfg.cols}), run phase only "
          f"(start to done), {args.clock} clock")
    print(_table(speed, [("simulator", "sim", "{}"), ("layer", "name", "{}"), ("cycles", "cycles", "{:,}"),
                         ("wall s", "wall", "{:.2f}"), ("cycles/s", "cps", "{:,.0f}")]))
    if real:
        print(f"\n(b) real FC-HarDNet-70 layers on {cfg.name} ({cfg.macs} MACs), Verilator; every output vs onnxruntime")
        print(_table(real, [("layer", "name", "{}"), ("cycles", "cycles", "{:,}"), ("MACs", "macs", "{:,}"),
                            ("ideal cycles", "ideal", "{:,.0f}"), ("utilization", "util", "{:.1%}"),
                            ("mismatches", lambda r: f"{r['mismatches']}/{r['total']}", "{}")]))
    print(f"\nbench time {time.perf_counter() - t_start:.0f} s")
    bad = [r["name"] for r in speed + real if r["mismatches"]]
    if bad:
        sys.exit(f"outputs differ from the reference on: {', '.join(bad)}")


if __name__ == "__main__":
    main()
