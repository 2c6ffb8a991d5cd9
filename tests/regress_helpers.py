"""Shared by tests/test_regress_*.py: one store with two real runs of the tiny network, made once per
session (the module is imported once, so the cache is shared by every test module that asks)."""

from __future__ import annotations

import functools
from pathlib import Path

ARGS = ["--model", "tiny", "--config", "tiny", "--height", "64", "--width", "128", "--quiet"]


@functools.lru_cache(maxsize=None)
def two_runs(out: Path) -> tuple[Path, Path]:
    """In ``out``: a passing chained run, then one whose golden of enc1.l2 was changed in one element
    (the failure path: verdict, coordinates, waveform). Returns (store, folder)."""
    from regress.cli import main

    db = out / "results.db"
    assert main(ARGS + ["--db", str(db), "--out", str(out)]) == 0
    assert main(ARGS + ["--db", str(db), "--out", str(out), "--inject-mismatch", "enc1.l2"]) == 1
    return db, out
