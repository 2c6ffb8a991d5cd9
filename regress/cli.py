"""Command line of the main job.

    python -m regress                         # hardnet70 int8, `sim` hardware, 128x256 crop, chained
    python -m regress --model tiny --config tiny
    python -m regress --isolated --workers 2  # every layer alone from golden inputs, 2 processes
    python -m regress dashboard               # regenerate the page from the store
    python -m regress merge all.db a.db b.db  # gather the stores of several machines
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from golden.cityscapes import Crop
from golden.cli import ArgumentParser, UserError, command_line, int_in, onnx_file
from regress.job import DEFAULT_CROPS, REPO_ROOT, resolve_model
from hwspec.config import CONFIGS

__all__ = ["main"]

DEFAULT_OUT = REPO_ROOT / "build" / "regress"


def _model(text: str) -> str:
    """An argparse type: a committed model's name or the path of an ONNX model."""
    try:
        onnx_file(str(resolve_model(text).int8))
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _run_parser() -> argparse.ArgumentParser:
    ap = ArgumentParser(prog="python -m regress", description=__doc__.splitlines()[0],
                                 epilog="Subcommands: `dashboard` (regenerate the page), `merge OUT IN...` "
                                        "(gather stores). See regress/README.md.")
    ap.add_argument("--model", type=_model, default="hardnet70", help="hardnet70, hardnet70_hw (its hardware-friendly variant), tiny or a path to an int8 QDQ model "
                    "(its *_float.onnx beside it gives the SQNR)")
    ap.add_argument("--frame", default=Crop.frame, help="Cityscapes frame (name or path)")
    ap.add_argument("--top", type=int_in(0), help="crop corner (default per model: %s)" % DEFAULT_CROPS)
    ap.add_argument("--left", type=int_in(0))
    ap.add_argument("--height", type=int_in(1))
    ap.add_argument("--width", type=int_in(1))
    ap.add_argument("--config", default="sim", choices=CONFIGS, help="hardware configuration (hwspec/config.py: tiny, sim, asic)")
    ap.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    ap.add_argument("--isolated", action="store_true", help="run every layer alone from golden inputs")
    ap.add_argument("--layers", nargs="+", help="isolated runs: only these layers")
    ap.add_argument("--workers", type=int_in(1), default=1, help="processes for isolated runs (default 1; try %d)"
                    % (os.cpu_count() or 1))
    ap.add_argument("--db", type=Path, default=DEFAULT_OUT / "results.db", help="results store (SQLite)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the dashboard, waveforms and logs")
    ap.add_argument("--no-waves", action="store_true", help="do not rerun the first failing layer with FST tracing")
    ap.add_argument("--inject-mismatch", metavar="LAYER",
                    help="change one element of LAYER's golden (checks the failure path end to end)")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    return ap


@command_line
def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        ap = ArgumentParser(prog="python -m regress merge",
                            description="Copy the runs of several stores into one (runs already there are "
                                        "skipped), then regenerate its dashboard.")
        ap.add_argument("dest", type=Path)
        ap.add_argument("sources", type=Path, nargs="+")
        ap.add_argument("--out", type=Path, help="dashboard file (default: dashboard.html beside DEST)")
        a = ap.parse_args(argv[1:])
        from regress.dashboard import write_dashboard
        from regress.store import merge

        n = merge(a.dest, a.sources)
        page = write_dashboard(a.dest, a.out or a.dest.parent / "dashboard.html")
        print(f"merged {n} run(s) into {a.dest}; dashboard: {page.resolve()}")
        return 0
    if argv[:1] == ["dashboard"]:
        ap = ArgumentParser(prog="python -m regress dashboard", description="Regenerate the dashboard.")
        ap.add_argument("--db", type=Path, default=DEFAULT_OUT / "results.db")
        ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "dashboard.html")
        a = ap.parse_args(argv[1:])
        if not a.db.is_file():
            ap.error(f"results store {a.db} does not exist; run `python -m regress` first")
        from regress.dashboard import write_dashboard

        print(f"dashboard: {write_dashboard(a.db, a.out).resolve()}")
        return 0
    ap = _run_parser()
    a = ap.parse_args(argv)
    if a.layers and not a.isolated:
        ap.error("--layers needs --isolated (a chained run runs the whole network)")
    from regress.job import run_regression

    name = resolve_model(a.model).name
    top, left, h, w = DEFAULT_CROPS.get(name, DEFAULT_CROPS["hardnet70"])
    crop = Crop(a.frame, top if a.top is None else a.top, left if a.left is None else a.left,
                h if a.height is None else a.height, w if a.width is None else a.width)
    res = run_regression(model=a.model, crop=crop, config=a.config, sim=a.sim, isolated=a.isolated,
                         workers=a.workers, layers=a.layers, db=a.db, out=a.out, waves_on_fail=not a.no_waves,
                         inject_mismatch=a.inject_mismatch, progress=not a.quiet)
    fails = [l for l in res.layers if l["verdict"] == "fail"]
    cycles = sum(l["cycles"] or 0 for l in res.layers)
    print(f"run {res.run_id}: {res.status}, {len(res.layers) - len(fails)}/{len(res.layers)} layers bit-exact, "
          f"{cycles:,} RTL cycles")
    for l in fails:
        print(f"  FAIL {l['name']}: {l['mismatches']} mismatches, first at {tuple(l['first_diff'] or ())}, "
              f"max |diff| {l['max_abs_diff']}" + (f", waveform {l['waveform']}" if l["waveform"] else ""))
    print(f"results: {res.db.resolve()}")
    print(f"dashboard: {res.dashboard.resolve()}")
    return 0 if res.status == "pass" else 1
