"""The results store: append-only rows, concurrent writers, stale runs, merge; the job's pure helpers."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from regress.job import split_layers, sqnr_db
from regress.store import RunInfo, Store, merge

N_RUNS, N_LAYERS = 12, 30


def _info(tag: str) -> RunInfo:
    return RunInfo(config_name="tiny", config_json="{}", config_hash=f"tiny-{tag}", model="m.onnx",
                   model_sha256="0" * 64, crop="frame@0,0+8x8", simulator="verilator")


def _layer(i: int, verdict: str = "pass") -> dict:
    return dict(idx=i, name=f"l{i}", op="conv", in_shape=[1, 3, 8, 8], out_shape=[1, 4, 8, 8], macs=100 * i,
                cycles=1000 + i, verdict=verdict, mismatches=0 if verdict == "pass" else 3, elements=256,
                first_diff=None if verdict == "pass" else [0, 1, 2, 3], max_abs_diff=0, sqnr_db=20.0)


def _writer(db, tag, barrier):
    store = Store(db, timeout=60)
    barrier.wait()
    for _ in range(N_RUNS):
        rid = store.start_run(_info(tag))
        for i in range(N_LAYERS):
            store.add_layer(rid, _layer(i))
        store.finish_run(rid, "pass", total_cycles=N_LAYERS)
    store.close()


def test_two_concurrent_writers_do_not_corrupt_the_store(tmp_path):
    db = tmp_path / "results.db"
    Store(db).close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(db, tag, barrier)) for tag in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with Store(db) as s:
        assert s.check() == "ok"
        runs = s.runs()
        assert sorted(r["config_hash"] for r in runs) == ["tiny-a"] * N_RUNS + ["tiny-b"] * N_RUNS
        assert all(r["status"] == "pass" for r in runs)
        for r in runs:
            assert [l["idx"] for l in s.layers(r["id"])] == list(range(N_LAYERS))
        assert len({r["id"] for r in runs}) == 2 * N_RUNS
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


_HALF_RUN = """
import sys, time
from regress.store import Store, RunInfo
s = Store(sys.argv[1])
rid = s.start_run(RunInfo(config_name="tiny", config_json="{}", config_hash="tiny-x", model="m", model_sha256="0",
                          crop="c", simulator="verilator"))
s.add_layer(rid, dict(idx=0, name="l0", op="conv", verdict="pass", cycles=5))
print(rid, flush=True)
time.sleep(600)
"""


def test_killed_writer_is_marked_incomplete_and_earlier_runs_stay(tmp_path):
    db = tmp_path / "results.db"
    with Store(db) as s:
        done = s.start_run(_info("old"))
        s.add_layer(done, _layer(0))
        s.finish_run(done, "pass")
        before = (s.run(done), s.layers(done))
    p = subprocess.Popen([sys.executable, "-c", _HALF_RUN, str(db)], stdout=subprocess.PIPE, text=True)
    rid = int(p.stdout.readline())
    with Store(db) as s:  # the writer is alive: its run stays running
        assert s.run(rid)["status"] == "running"
    p.kill()
    p.wait()
    with Store(db) as s:
        assert s.run(rid)["status"] == "incomplete"
        assert [l["name"] for l in s.layers(rid)] == ["l0"]
        assert (s.run(done), s.layers(done)) == before
        assert s.check() == "ok"
        with pytest.raises(RuntimeError, match="not running"):
            s.finish_run(done, "fail")  # a closed run is never rewritten


def test_merge_copies_runs_once(tmp_path):
    a, b, all_ = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "all.db"
    for path, tag, verdict in ((a, "a", "pass"), (b, "b", "fail")):
        with Store(path) as s:
            rid = s.start_run(_info(tag))
            for i in range(3):
                s.add_layer(rid, _layer(i, verdict if i == 1 else "pass"))
            s.add_image(rid, "crop", b"\x89PNG" + tag.encode())
            s.finish_run(rid, "pass" if verdict == "pass" else "fail")
    assert merge(all_, [a, b]) == 2
    assert merge(all_, [a, b]) == 0  # runs already there (same uuid) are skipped
    with Store(all_) as s:
        runs = s.runs()
        assert [r["config_hash"] for r in runs] == ["tiny-a", "tiny-b"]
        assert s.layers(runs[1]["id"])[1]["first_diff"] == [0, 1, 2, 3]
        assert s.images(runs[1]["id"]) == {"crop": b"\x89PNGb"}
    with pytest.raises(ValueError, match="into itself"):
        merge(a, [a])


def test_sqnr_and_split():
    ref = np.linspace(-1, 1, 101, dtype=np.float32)
    q = np.round(ref / 0.01).astype(np.int8)
    assert sqnr_db(ref, q, 0.01, 0) > 60
    assert sqnr_db(ref, q, 0.02, 0) < 10  # a wrong scale is caught
    assert sqnr_db(ref, q + 10, 0.01, 10) > 60  # the zero point is subtracted
    groups = split_layers(list("abcdef"), [10, 1, 1, 1, 1, 6], 2)
    assert sorted(sum(groups, [])) == list("abcdef")
    assert groups[0] == ["a"] and groups[1] == ["b", "c", "d", "e", "f"]


def _store_with_stale_run(path, tag: str) -> int:
    """A store holding a finished run and a ``running`` run of this host whose process is gone (what a
    killed run leaves); returns the stale run's id."""
    with Store(path) as s:
        done = s.start_run(_info(tag))
        s.add_layer(done, _layer(0))
        s.add_image(done, "crop", b"\x89PNG" + tag.encode())
        s.finish_run(done, "pass")
        stale = s.start_run(_info(tag + "-killed"))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sqlite3.connect(path) as db:  # the run's process: one that has ended
        db.execute("UPDATE runs SET pid = ?, proc_start = '0' WHERE id = ?", (int(gone.stdout), stale))
    return stale


def _dump(path) -> list[str]:
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def test_merge_opens_sources_read_only(tmp_path):
    a, all_ = tmp_path / "a.db", tmp_path / "all.db"
    stale = _store_with_stale_run(a, "a")
    before = _dump(a)
    assert merge(all_, [a]) == 2
    assert _dump(a) == before  # its stale run is not marked incomplete by a reader
    with Store(a, readonly=True) as s:
        assert s.run(stale)["status"] == "running"
    with Store(all_, readonly=True) as s:
        assert [r["status"] for r in s.runs()] == ["pass", "running"]  # copied as it was


@pytest.mark.parametrize("bad", ["garbage", "not_a_store"])
def test_merge_with_a_bad_source_leaves_the_destination_as_it_was(tmp_path, bad):
    from regress.store import StoreError

    a, b, src, all_, new = (tmp_path / n for n in ("a.db", "b.db", "src.db", "all.db", "new.db"))
    _store_with_stale_run(a, "a")
    with Store(b) as s:
        s.finish_run(s.start_run(_info("b")), "pass")
    assert merge(all_, [b]) == 1
    if bad == "garbage":
        src.write_bytes(b"this is no database " * 200)
    else:
        with sqlite3.connect(src) as db:
            db.execute("CREATE TABLE other (x)")
    before, a_before = _dump(all_), _dump(a)
    with pytest.raises(StoreError, match=f"{src}"):
        merge(all_, [a, src])  # a would be copied first
    assert _dump(all_) == before and _dump(a) == a_before
    with pytest.raises(StoreError, match=f"{src}"):
        merge(new, [a, src])
    assert not new.exists()  # no empty store left behind


def test_dashboard_renders_a_store_without_changing_it(tmp_path):
    from regress.dashboard import write_dashboard

    db = tmp_path / "results.db"
    stale = _store_with_stale_run(db, "a")
    before = _dump(db)
    page = write_dashboard(db, tmp_path / "dashboard.html")
    # the stale run is on the page as the store holds it
    assert page.read_text().count('<span class="badge running">running</span>') == 1
    assert _dump(db) == before
    with Store(db, readonly=True) as s:
        assert s.run(stale)["status"] == "running"


def test_store_errors_name_the_file(tmp_path):
    from regress.store import StoreError

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is no database " * 200)
    for readonly in (False, True):
        with pytest.raises(StoreError, match=f"results store {garbage}: file is not a database"):
            Store(garbage, readonly=readonly)
    assert garbage.read_bytes() == b"this is no database " * 200
