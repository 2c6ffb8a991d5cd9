"""Generated Verilog: up to date with the MyHDL sources, and Verilator -Wall lint clean (waivers in
rtl/lint.vlt, each with its reason) on every configuration."""

import subprocess
import sys

import pytest

from rtl.accel import ACCEL_MODULES
from rtl.bus import BUS_MODULES
from hwspec.config import CONFIGS
from rtl.engine import MODULES
from tb.runner import ROOT, generated_dir, setup_verilator


def test_generated_verilog_is_up_to_date():
    r = subprocess.run([sys.executable, "-m", "rtl.generate", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("top", ["ce_engine", "ce_accel"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_lint_clean(config, top):
    """The engine alone, and the whole chip (controller, DMAs, registers, engine)."""
    setup_verilator()
    modules = MODULES if top == "ce_engine" else MODULES + BUS_MODULES + ACCEL_MODULES
    files = [str(generated_dir(config) / f"{m}.v") for m in modules]
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top, str(ROOT / "rtl" / "lint.vlt"),
                        *files], capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-3000:]
