"""The results store: an append-only SQLite database of regression runs and their layers.

One ``runs`` row per run, inserted as ``running`` when the run starts and closed as ``pass``,
``fail`` or ``incomplete`` when it ends; one ``layers`` row per layer, inserted as the layer is
compared; the run's pictures (crop, RTL labels, onnxruntime labels) as PNG blobs in ``images``.
Rows are never deleted and a closed run is never changed.

Safety: WAL journal (readers never block the writer), every write is one short ``BEGIN IMMEDIATE``
transaction with a generous busy timeout, so several runs can write at once. A run killed half-way
keeps its ``running`` row and the layers it wrote; the next open of the store on the same host sees
that its process is gone (pid and process start time) and marks it ``incomplete``. Readers that must
not change a store (the dashboard, merge's sources) open it ``readonly``. Every SQLite error names
the store's file (``StoreError``).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid as uuidlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from golden.cli import UserError

__all__ = ["Store", "StoreError", "RunInfo", "STATUSES", "process_start", "merge"]

STATUSES = ("running", "pass", "fail", "incomplete")
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    git_commit TEXT, dirty INTEGER,
    config_name TEXT NOT NULL, config_json TEXT NOT NULL, config_hash TEXT NOT NULL,
    model TEXT NOT NULL, model_sha256 TEXT NOT NULL,
    crop TEXT NOT NULL, frame TEXT, crop_top INTEGER, crop_left INTEGER, crop_height INTEGER, crop_width INTEGER,
    simulator TEXT NOT NULL, mode TEXT NOT NULL, workers INTEGER,
    host TEXT NOT NULL, pid INTEGER NOT NULL, proc_start TEXT,
    started REAL NOT NULL, ended REAL,
    status TEXT NOT NULL CHECK (status IN ('running', 'pass', 'fail', 'incomplete')),
    total_cycles INTEGER, sim_wall_s REAL, message TEXT
);
CREATE TABLE IF NOT EXISTS layers (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    idx INTEGER NOT NULL, name TEXT NOT NULL, op TEXT NOT NULL,
    in_shape TEXT, out_shape TEXT, macs INTEGER,
    cycles INTEGER, engine_cycles INTEGER, mac_steps INTEGER, utilization REAL,
    bytes_read INTEGER, bytes_written INTEGER, load_stall INTEGER, store_stall INTEGER,
    verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
    mismatches INTEGER, elements INTEGER, first_diff TEXT, expected INTEGER, actual INTEGER,
    max_abs_diff INTEGER, sqnr_db REAL, waveform TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS images (
    run_id INTEGER NOT NULL REFERENCES runs(id), kind TEXT NOT NULL, png BLOB NOT NULL,
    PRIMARY KEY (run_id, kind)
);
CREATE INDEX IF NOT EXISTS runs_by_config ON runs(config_hash, started);
"""

LAYER_FIELDS = ("idx", "name", "op", "in_shape", "out_shape", "macs", "cycles", "engine_cycles", "mac_steps",
                "utilization", "bytes_read", "bytes_written", "load_stall", "store_stall", "verdict", "mismatches",
                "elements", "first_diff", "expected", "actual", "max_abs_diff", "sqnr_db", "waveform")
RUN_FIELDS = ("uuid", "git_commit", "dirty", "config_name", "config_json", "config_hash", "model", "model_sha256",
              "crop", "frame", "crop_top", "crop_left", "crop_height", "crop_width", "simulator", "mode", "workers",
              "host", "pid", "proc_start", "started", "ended", "status", "total_cycles", "sim_wall_s", "message")


def process_start(pid: int) -> str | None:
    """Start time of process ``pid`` (clock ticks since boot, from /proc), or None if it is gone.
    Together with the pid it tells a live run from a dead one whose pid was reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def _alive(pid: int, proc_start: str | None) -> bool:
    now = process_start(pid)
    if now is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): the pid alone
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return proc_start is None
    return proc_start is None or now == proc_start


class StoreError(UserError):
    """A results store that cannot be used (not a store, unreadable, another schema); names its file."""


@contextmanager
def _naming(path: Path):
    """SQLite's errors say nothing of the file: name it."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"results store {path}: {exc}") from exc


@dataclass
class RunInfo:
    """What identifies a run: where the code, hardware, model and crop came from."""

    config_name: str
    config_json: str
    config_hash: str
    model: str
    model_sha256: str
    crop: str
    simulator: str
    mode: str = "chained"
    workers: int = 1
    git_commit: str | None = None
    dirty: bool | None = None
    frame: str | None = None
    crop_top: int | None = None
    crop_left: int | None = None
    crop_height: int | None = None
    crop_width: int | None = None


class Store:
    """The results database at ``path``: created on first use, and runs of this host whose process is
    gone are marked ``incomplete`` on opening. ``readonly``: an existing store, opened so that nothing in
    it can change (no schema, no stale-run marking). ``mark_stale=False`` leaves stale runs alone."""

    def __init__(self, path, *, timeout: float = 60.0, readonly: bool = False, mark_stale: bool = True):
        self.path = Path(path)
        self.db = None
        if readonly and not self.path.is_file():
            raise StoreError(f"results store {self.path} does not exist")
        with _naming(self.path):
            if readonly:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                                          isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            try:
                self.db.row_factory = sqlite3.Row
                self.db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                if not readonly:
                    mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                    if mode.lower() != "wal":
                        raise StoreError(f"results store {self.path}: cannot switch to WAL journal (got {mode!r})")
                    self.db.execute("PRAGMA synchronous = NORMAL")
                    self.db.execute("PRAGMA foreign_keys = ON")
                    self._create()
                self._check_schema()
                if mark_stale and not readonly:
                    self.mark_stale()
            except BaseException:
                self.db.close()
                raise

    def _create(self):
        with self.write() as db:
            for stmt in SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def _check_schema(self):
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:  # no meta table: an SQLite file, but not one of ours
            row = None
        if row is None:
            raise StoreError(f"{self.path} is an SQLite file but not a results store (no schema version)")
        if int(row[0]) != SCHEMA_VERSION:
            raise StoreError(f"results store {self.path} has schema {row[0]}; this code reads and writes "
                             f"{SCHEMA_VERSION}")

    def close(self):
        if self.db is not None:
            self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextmanager
    def write(self):
        """One write transaction, taken up front (BEGIN IMMEDIATE) so it never fails half-way on a lock."""
        with _naming(self.path):
            self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException as exc:
            if self.db.in_transaction:  # SQLite rolls back by itself after some errors
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"results store {self.path}: {exc}") from exc
            raise
        with _naming(self.path):
            self.db.execute("COMMIT")

    def _read(self, query: str, args=()) -> list[sqlite3.Row]:
        with _naming(self.path):
            return self.db.execute(query, args).fetchall()

    # --- a run's life ---------------------------------------------------------------------------------
    def start_run(self, info: RunInfo) -> int:
        row = dict(info.__dict__, uuid=str(uuidlib.uuid4()), host=socket.gethostname(), pid=os.getpid(),
                   proc_start=process_start(os.getpid()), started=time.time(), status="running",
                   dirty=None if info.dirty is None else int(info.dirty))
        cols = [c for c in RUN_FIELDS if c in row]
        with self.write() as db:
            cur = db.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                             [row[c] for c in cols])
            return int(cur.lastrowid)

    def add_layer(self, run_id: int, layer: dict):
        row = {k: layer.get(k) for k in LAYER_FIELDS}
        for k in ("in_shape", "out_shape", "first_diff"):
            if row[k] is not None and not isinstance(row[k], str):
                row[k] = json.dumps(list(row[k]))
        with self.write() as db:
            db.execute(f"INSERT INTO layers (run_id, {', '.join(LAYER_FIELDS)}) "
                       f"VALUES (?, {', '.join('?' * len(LAYER_FIELDS))})", [run_id] + [row[k] for k in LAYER_FIELDS])

    def set_waveform(self, run_id: int, name: str, path: str):
        with self.write() as db:
            db.execute("UPDATE layers SET waveform = ? WHERE run_id = ? AND name = ? AND waveform IS NULL",
                       (path, run_id, name))

    def add_image(self, run_id: int, kind: str, png: bytes):
        with self.write() as db:
            db.execute("INSERT INTO images (run_id, kind, png) VALUES (?, ?, ?)", (run_id, kind, png))

    def finish_run(self, run_id: int, status: str, *, total_cycles: int | None = None, sim_wall_s: float | None = None,
                   message: str | None = None):
        if status not in STATUSES[1:]:
            raise ValueError(f"a run ends as one of {STATUSES[1:]}, not {status!r}")
        with self.write() as db:
            n = db.execute("UPDATE runs SET status = ?, ended = ?, total_cycles = ?, sim_wall_s = ?, message = ? "
                           "WHERE id = ? AND status = 'running'",
                           (status, time.time(), total_cycles, sim_wall_s, message, run_id)).rowcount
        if n != 1:
            raise RuntimeError(f"results store {self.path}: run {run_id} is not running (already closed?)")

    def mark_stale(self) -> list[int]:
        """Mark 'running' rows of this host whose process is gone as 'incomplete'; returns their ids."""
        host = socket.gethostname()
        rows = self._read("SELECT id, pid, proc_start FROM runs WHERE status = 'running' AND host = ?", (host,))
        dead = [r["id"] for r in rows if not _alive(r["pid"], r["proc_start"])]
        if dead:
            with self.write() as db:
                for rid in dead:
                    db.execute("UPDATE runs SET status = 'incomplete', message = 'process ended before the run "
                               "finished' WHERE id = ? AND status = 'running'", (rid,))
        return dead

    # --- reading ----------------------------------------------------------------------------------------
    def runs(self) -> list[dict]:
        return [dict(r) for r in self._read("SELECT * FROM runs ORDER BY id")]

    def run(self, run_id: int) -> dict:
        r = next(iter(self._read("SELECT * FROM runs WHERE id = ?", (run_id,))), None)
        if r is None:
            raise KeyError(f"results store {self.path} has no run {run_id}")
        return dict(r)

    def latest_run(self, *, finished: bool = False) -> dict | None:
        q = "SELECT * FROM runs" + (" WHERE status IN ('pass', 'fail')" if finished else "") + " ORDER BY id DESC LIMIT 1"
        r = self._read(q)
        return dict(r[0]) if r else None

    def layers(self, run_id: int) -> list[dict]:
        out = []
        for r in self._read("SELECT * FROM layers WHERE run_id = ? ORDER BY idx", (run_id,)):
            d = dict(r)
            for k in ("in_shape", "out_shape", "first_diff"):
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out

    def images(self, run_id: int) -> dict[str, bytes]:
        return {r["kind"]: bytes(r["png"]) for r in self._read("SELECT kind, png FROM images WHERE run_id = ?",
                                                                 (run_id,))}

    def check(self) -> str:
        return self._read("PRAGMA integrity_check")[0][0]


def merge(dest, sources) -> int:
    """Copy every run (with its layers and images) of the ``sources`` stores into ``dest``, skipping runs
    already there (same uuid). Returns the number of runs copied. Run ids are renumbered.

    Sources are opened read-only and never change. ``dest`` changes in one transaction: when any source
    cannot be read, it is left as it was (and not created when it did not exist)."""
    dest = Path(dest)
    for src in sources:
        if Path(src).resolve() == dest.resolve():
            raise UserError(f"cannot merge store {src} into itself")
    for src in sources:  # every source is a readable store before the destination is touched
        Store(src, readonly=True).close()
    created = not dest.exists()
    copied = 0
    try:
        with Store(dest, mark_stale=False) as out:
            have = {r["uuid"] for r in out.runs()}
            with out.write() as db:
                for src in sources:
                    with Store(src, readonly=True) as s:
                        for r in s.runs():
                            if r["uuid"] in have:
                                continue
                            cols = list(RUN_FIELDS)
                            rid = db.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES "
                                             f"({', '.join('?' * len(cols))})", [r[c] for c in cols]).lastrowid
                            for l in s.layers(r["id"]):
                                for k in ("in_shape", "out_shape", "first_diff"):
                                    l[k] = json.dumps(l[k]) if l[k] is not None else None
                                db.execute(f"INSERT INTO layers (run_id, {', '.join(LAYER_FIELDS)}) "
                                           f"VALUES (?, {', '.join('?' * len(LAYER_FIELDS))})",
                                           [rid] + [l[k] for k in LAYER_FIELDS])
                            for kind, png in s.images(r["id"]).items():
                                db.execute("INSERT INTO images (run_id, kind, png) VALUES (?, ?, ?)", (rid, kind, png))
                            have.add(r["uuid"])
                            copied += 1
    except BaseException:
        if created:  # leave no empty store behind
            for p in (dest, dest.with_name(dest.name + "-wal"), dest.with_name(dest.name + "-shm")):
                p.unlink(missing_ok=True)
        raise
    return copied
