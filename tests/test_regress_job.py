"""The main job end to end on the tiny network (64x128 crop, `tiny` hardware, Verilator): records,
failure path with waveform, isolated runs over worker processes equal to serial, a killed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from regress.store import Store
from tests.regress_helpers import ARGS

REPO = Path(__file__).resolve().parent.parent


def test_chained_run_records_every_layer(two_runs):
    from compiler.program import compile_graph
    from hwspec.formats import FLAGS
    from golden.qgraph import load_qgraph
    from onnx_models import model_path
    from hwspec.config import get_config

    db, out = two_runs
    hw = get_config("tiny")
    prog = compile_graph(load_qgraph(str(model_path("tiny")), (64, 128)), hw)
    with Store(db) as s:
        run = s.runs()[0]
        layers = s.layers(run["id"])
        images = s.images(run["id"])
    assert run["status"] == "pass" and run["ended"] >= run["started"]
    assert run["config_hash"] == hw.key and run["config_name"] == "tiny"
    assert run["crop"] == "frankfurt_000000_002196@384,768+64x128" and run["mode"] == "chained"
    assert run["git_commit"] and len(run["git_commit"]) == 40 and run["dirty"] in (0, 1)
    # every layer but the elided logits upsample (its reader, the argmax, reads the head's output)
    assert prog.elided == {"logits"}
    kept = [d for d in prog.descriptors if d.name not in prog.elided]
    assert [l["name"] for l in layers] == [d.name for d in kept]
    for l, d in zip(layers, kept):
        assert l["verdict"] == "pass" and l["mismatches"] == 0, l
        assert l["cycles"] > 0 and l["bytes_read"] > 0, l
        # a pool or upsample fused into the convs before it (FLAGS["fused"]) writes nothing itself
        assert (l["bytes_written"] == 0) == bool(d.flags & FLAGS["fused"]), l
        assert l["out_shape"] == list(prog.output_shape(d.name))
        if d.op == "conv":
            assert l["macs"] > 0
            assert l["utilization"] == pytest.approx(l["macs"] / (l["cycles"] * hw.rows * hw.cols))
            assert 0 < l["utilization"] <= 1
        if d.op != "argmax":  # class indices have no float counterpart
            assert l["sqnr_db"] is not None and 5 < l["sqnr_db"] < 60, l  # int8 against float, dequantized
    # the labels the RTL's argmax wrote are onnxruntime's labels
    assert images["rtl_labels"] == images["ort_labels"] and images["crop"].startswith(b"\x89PNG")


def test_failing_layer_has_coordinates_and_waveform(two_runs):
    db, out = two_runs
    with Store(db) as s:
        run = s.runs()[1]
        layers = s.layers(run["id"])
    assert run["status"] == "fail"
    bad = [l for l in layers if l["verdict"] == "fail"]
    assert [l["name"] for l in bad] == ["enc1.l2"]  # the chain goes on from the RTL's own (correct) tensor
    assert bad[0]["mismatches"] == 1 and bad[0]["max_abs_diff"] == 1 and len(bad[0]["first_diff"]) == 4
    wave = Path(bad[0]["waveform"])
    assert wave.suffix == ".fst" and wave.stat().st_size > 1000
    html = (out / "dashboard.html").read_text()
    assert "enc1.l2.fst" in html and "(" + ", ".join(map(str, bad[0]["first_diff"])) + ")" in html


def test_isolated_workers_equal_serial(tmp_path):
    from compiler.program import compile_graph
    from golden.capture import capture
    from golden.cityscapes import Crop
    from golden.qgraph import load_qgraph
    from onnx_models import model_path
    from regress.job import run_isolated
    from hwspec.config import get_config

    crop = Crop(Crop.frame, 384, 768, 64, 128)
    gold = capture(str(model_path("tiny")), crop)
    prog = compile_graph(load_qgraph(str(model_path("tiny")), (64, 128)), get_config("tiny"))
    names = [d.name for d in prog.descriptors][8:20]
    out = {}
    for workers in (1, 2):
        out[workers] = run_isolated(prog, gold, config="tiny", sim="verilator", workers=workers, layers=names,
                                    workdir=tmp_path / f"w{workers}", log=tmp_path / f"w{workers}.log")
    (l1, o1, r1, _), (l2, o2, r2, _) = out[1], out[2]
    assert [l.name for l in l1] == [l.name for l in l2] == names
    for a, b in zip(l1, l2):
        assert a.comparison == b.comparison and a.comparison.ok
        assert a.counters == b.counters and a.counters["cycles"] > 0
    assert sorted(o1) == sorted(o2) == sorted(names)
    for n in names:
        assert np.array_equal(o1[n], o2[n]) and np.array_equal(o1[n], gold[n].data)
    assert len(r1) == len(r2) == len(names)  # one start per layer, none timed out or errored
    assert not any(r.get("timeout") or r.get("STATUS", 0) & 4 for r in r1 + r2)


def test_run_killed_mid_simulation_is_incomplete(two_runs, tmp_path):
    db_src, _ = two_runs
    db = tmp_path / "results.db"
    from regress.store import merge

    merge(db, [db_src])
    with Store(db) as s:
        before = [(r, s.layers(r["id"])) for r in s.runs()]
    p = subprocess.Popen([sys.executable, "-m", "regress", *ARGS, "--db", str(db), "--out", str(tmp_path)],
                         cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        log = None
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None:  # wait for the simulation phase
            logs = list(tmp_path.glob("work/run*/simulator.log"))
            if logs and logs[0].stat().st_size > 0:
                log = logs[0]
                break
            time.sleep(0.2)
        assert log is not None and p.poll() is None, "the run never reached the simulator"
        with Store(db) as s:
            assert s.runs()[-1]["status"] == "running"
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the job and its simulator, no chance to clean up
        p.wait()
    with Store(db) as s:
        runs = s.runs()
        assert runs[-1]["status"] == "incomplete" and runs[-1]["ended"] is None
        assert [(r, s.layers(r["id"])) for r in runs[:-1]] == before
        assert s.check() == "ok"


def test_isolated_layers_with_injected_mismatch(tmp_path):
    """`--isolated --layers` records its layers and renders the dashboard (no RTL labels without the
    argmax); the injected mismatch fails only its layer: the golden it changes is also the next layer's
    preloaded input, which stays untouched."""
    from regress.cli import main

    db = tmp_path / "results.db"
    layers = ["enc1.l2", "enc1.trans"]  # enc1.trans reads enc1.l2's output
    assert main(ARGS + ["--db", str(db), "--out", str(tmp_path), "--isolated", "--layers", *layers,
                        "--inject-mismatch", "enc1.l2", "--no-waves"]) == 1
    with Store(db, readonly=True) as s:
        (run,) = s.runs()
        assert run["status"] == "fail" and run["mode"] == "isolated"
        rows = s.layers(run["id"])
        assert [(l["name"], l["verdict"], l["mismatches"]) for l in rows] == \
            [("enc1.l2", "fail", 1), ("enc1.trans", "pass", 0)]
        assert sorted(s.images(run["id"])) == ["crop", "ort_labels"]
    assert "no RTL labels in this run" in (tmp_path / "dashboard.html").read_text()


def test_progress_without_a_terminal_prints_plain_lines_once(capfd):
    """In a log or CI (stderr not a terminal): each phase's line, its time, one line per layer; no
    carriage return redraws a line and no line repeats."""
    from regress.job import _Progress

    prog = _Progress(True)
    assert not prog.tty
    prog.phase("compile", "m.onnx for tiny")
    prog.phase("capture", "crop")
    prog.phase("simulate", "whole network (2 layers) chained")
    time.sleep(2.5)  # a terminal's bar would redraw itself here
    bar = prog.layers(2)
    for name in ("a", "b"):
        bar.set_postfix_str(f"{name} 10 cyc pass")
        bar.update(1)
    prog.write("note")
    prog.close()
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) == len(set(lines)) == 8, lines
    assert lines[0] == "[1/4] compile: m.onnx for tiny" and lines[1].startswith("[1/4] compile: done in ")
    assert lines[4] == "[3/4] simulate: whole network (2 layers) chained"
    assert lines[5].startswith("[4/4] compare 1/2 a 10 cyc pass [") and lines[6].startswith("[4/4] compare 2/2 b ")
    assert lines[7] == "note"
