"""Every command line refuses a user's mistake (model, crop, frame, option, store) with one line
``error: ...`` naming the thing and its limit and exit status 2, without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from onnx_models import model_path

REPO = Path(__file__).resolve().parent.parent
TINY = str(model_path("tiny"))


def _main(module: str):
    import importlib

    return importlib.import_module(module).main


# (command line module, arguments, what the one line must say)
CASES = [
    ("compiler.__main__", ["--model", "no/such.onnx"], "argument --model: no/such.onnx: cannot read the model: No such file or directory"),
    ("compiler.__main__", ["--model", str(REPO / "README.md")], "README.md: not an ONNX model"),
    ("compiler.__main__", ["--model", TINY, "--size", "0", "64"], "argument --size: must be at least 1, not 0"),
    ("compiler.__main__", ["--model", TINY, "--size", "60", "128"],
     "input 'input': height 60 is not a multiple of 16 (the network's output stride)"),
    ("golden.capture", ["--model", TINY, "--top", "-1"], "argument --top: must be at least 0, not -1"),
    ("golden.capture", ["--model", TINY, "--frame", "berlin_1", "--height", "64", "--width", "128"],
     "frame 'berlin_1' not found"),
    ("golden.capture", ["--model", TINY, "--top", "1000", "--height", "64", "--width", "128"],
     "crop 64x128 at (1000,768) lies outside frame"),
    ("tb.accel_run", ["--stall", "256"], "argument --stall: must be 0..255, not 256"),
    ("tb.accel_run", ["--config", "huge"], "argument --config: invalid choice: 'huge'"),
    ("tb.accel_run", ["--width", "0"], "argument --width: must be at least 1, not 0"),
    ("regress.cli", ["--model", "nonet"], "argument --model: no model nonet_int8.onnx"),
    ("regress.cli", ["--model", "tiny", "--workers", "0"], "argument --workers: must be at least 1, not 0"),
    ("regress.cli", ["--model", "tiny", "--config", "huge"], "argument --config: invalid choice: 'huge'"),
    ("regress.cli", ["--model", "tiny", "--layers", "enc1.l2"], "--layers needs --isolated"),
    ("perf.__main__", ["--clock", "0"], "argument --clock: must be above 0 and finite, not 0"),
    ("perf.__main__", ["--ort-iters", "0"], "argument --ort-iters: must be at least 1, not 0"),
    ("perf.__main__", ["--config", "huge"], "argument --config: invalid choice: 'huge'"),
]


@pytest.mark.parametrize("module, args, says", CASES, ids=[f"{i}-{m.split('.')[0]}" for i, (m, _, _) in enumerate(CASES)])
def test_user_error_is_one_line_and_status_2(module, args, says, capsys):
    assert _main(module)(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err, err


def test_regress_store_errors_name_the_file(tmp_path, capsys):
    from regress.cli import main

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database " * 100)
    commands = [["dashboard", "--db", str(garbage)],
                ["merge", str(tmp_path / "all.db"), str(garbage)],
                ["dashboard", "--db", str(tmp_path / "none.db")]]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: results store "), err
    assert not (tmp_path / "all.db").exists()  # the merge refused before creating its destination


@pytest.mark.parametrize("args, says", [
    (["--frame", "berlin_1"], "frame 'berlin_1' not found"),
    (["--top", "1000"], "crop 64x128 at (1000,768) lies outside frame"),
    (["--isolated", "--layers", "enc1.l2", "nolayer"], "--layers: no layer 'nolayer' in tiny_int8.onnx"),
    (["--inject-mismatch", "nolayer"], "--inject-mismatch: no layer 'nolayer' in tiny_int8.onnx"),
], ids=["frame", "crop", "layers", "inject"])
def test_regress_refuses_before_inserting_a_run(args, says, tmp_path, capsys):
    """A refused model, crop or layer adds no row to the store (not even an ``incomplete`` one)."""
    from regress.cli import main
    from regress.store import Store

    db = tmp_path / "results.db"
    Store(db).close()
    argv = ["--model", "tiny", "--config", "tiny", "--height", "64", "--width", "128", "--quiet", "--db", str(db),
            "--out", str(tmp_path)]
    assert main(argv + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and says in err, err
    with Store(db, readonly=True) as s:
        assert s.runs() == []


def test_no_traceback_from_the_shell():
    p = subprocess.run([sys.executable, "-m", "tb.accel_run", "--stall", "256"], cwd=REPO, capture_output=True,
                       text=True)
    assert p.returncode == 2
    assert p.stdout == "" and p.stderr == "error: argument --stall: must be 0..255, not 256\n"


def test_internal_errors_keep_their_traceback(monkeypatch):
    """Only user errors are turned into one line: a bug elsewhere still raises."""
    import compiler.__main__ as cli

    def broken(*a, **k):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(cli, "compile_graph", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["--model", TINY])


def test_run_accel_refuses_a_stall_it_cannot_model():
    from tb.accel_run import STALL_STEPS, run_accel

    with pytest.raises(ValueError, match=f"0..{STALL_STEPS - 1}"):
        run_accel(None, None, config="tiny", stall=STALL_STEPS)


@pytest.mark.parametrize("module, args, says", [
    ("compiler.__main__", ["--size", "96", "128"], "height 96 is not a multiple of 64"),
    ("golden.capture", ["--frame", "berlin_1"], "frame 'berlin_1' not found"),
    ("tb.accel_run", ["--dram", "timing", "--stall", "5"], "--stall applies to --dram model"),
])
def test_default_model_is_found_from_any_folder(module, args, says, tmp_path, monkeypatch, capsys):
    """The default --model is the committed model, not a path relative to the repository: from another
    folder the command gets past it to the error its arguments deserve."""
    monkeypatch.chdir(tmp_path)
    assert _main(module)(args) == 2
    err = capsys.readouterr().err
    assert says in err and "cannot read the model" not in err, err
