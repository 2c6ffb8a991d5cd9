"""Soak: constrained-random networks (onnx_models.random_net) through the RTL, each recorded in the
results store as a run of the main job.

    python -m regress.soak --runs 20              # 20 new seeds, drawn from the OS
    python -m regress.soak --runs 3 --seed 1234   # seeds 1234, 1235, 1236 again

Each network is written to OUT/random/random-SEED.onnx (the store's ``model`` column names it, so
every run in the store names its seed) and run chained on its own crop; a line per network says its
seed, what was drawn and the verdict; failures end with the command that replays each.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path

import onnx

from golden.cli import ArgumentParser, command_line, int_in
from hwspec.config import CONFIGS
from onnx_models.random_net import PROFILES, crop_args, random_net
from regress.cli import DEFAULT_OUT

__all__ = ["main"]


@command_line
def main(argv=None) -> int:
    ap = ArgumentParser(prog="python -m regress.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int_in(1), default=10, help="networks to run (default 10)")
    ap.add_argument("--seed", type=int_in(0), help="the first seed (default: a new one each network)")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="soak", help="bounds of the draw: %s" % PROFILES)
    ap.add_argument("--config", default="sim", choices=CONFIGS,
                    help="hardware configuration (default sim: the soak profile's networks simulate in seconds to minutes)")
    ap.add_argument("--db", type=Path, default=DEFAULT_OUT / "results.db", help="results store (SQLite)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the models, dashboard and waveforms")
    a = ap.parse_args(argv)
    from regress.job import run_regression

    seeds = [a.seed + i for i in range(a.runs)] if a.seed is not None else [secrets.randbits(31) for _ in range(a.runs)]
    (a.out / "random").mkdir(parents=True, exist_ok=True)
    failed = []
    t0 = time.monotonic()
    for i, seed in enumerate(seeds, 1):
        net = random_net(seed, a.profile)
        path = a.out / "random" / f"random-{seed}.onnx"
        onnx.save(net.model, str(path))
        res = run_regression(model=str(path), crop=net.crop, config=a.config, sim="verilator", isolated=False,
                             workers=1, layers=None, db=a.db, out=a.out, waves_on_fail=True, inject_mismatch=None,
                             progress=False, dashboard=i == len(seeds))
        bad = [l["name"] for l in res.layers if l["verdict"] == "fail"]
        print(f"{i}/{len(seeds)} {res.status.upper():4} run {res.run_id}, {net.describe()}"
              + (f"; failing layers {', '.join(bad)}" if bad else "")
              + f" [{time.monotonic() - t0:,.0f} s]", flush=True)
        if res.status != "pass":
            failed.append((seed, path, net.crop))
    print(f"{len(seeds) - len(failed)}/{len(seeds)} random networks bit-exact on {a.config}; results: {a.db.resolve()}")
    for seed, path, crop in failed:
        print(f"  replay seed {seed}: python -m regress --model {path} {crop_args(crop)} --config {a.config}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
