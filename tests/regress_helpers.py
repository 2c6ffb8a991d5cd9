"""Shared by tests/test_regress_*.py: one store with two real runs of the tiny network, made once per
session (tests/conftest.py's ``two_runs``: by the first pytest-xdist worker that asks; the others wait
for it and read the same store)."""

from __future__ import annotations

import fcntl
from pathlib import Path

ARGS = ["--model", "tiny", "--config", "tiny", "--height", "64", "--width", "128", "--quiet"]


def two_runs(out: Path) -> tuple[Path, Path]:
    """In ``out``: a passing chained run, then one whose golden of enc1.l2 was changed in one element
    (the failure path: verdict, coordinates, waveform). Returns (store, folder). Made once: a process
    that finds them made (``out/made``) reads them, one that finds them being made waits."""
    from regress.cli import main

    db, made = out / "results.db", out / "made"
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            db.unlink(missing_ok=True)  # a half-made store (an earlier maker failed) is made again
            assert main(ARGS + ["--db", str(db), "--out", str(out)]) == 0
            assert main(ARGS + ["--db", str(db), "--out", str(out), "--inject-mismatch", "enc1.l2"]) == 1
            made.touch()
    return db, out
