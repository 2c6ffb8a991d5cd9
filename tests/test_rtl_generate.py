"""Generated Verilog: up to date with the MyHDL sources, and Verilator -Wall lint clean (waivers in
rtl/lint.vlt, each with its reason) on every configuration."""

import subprocess
import sys

import pytest

from hwspec.config import CONFIGS
from rtl.engine import MODULES
from tb.lint import CHIP_MODULES, lint
from tb.lint import main as lint_main
from tb.runner import ROOT


def test_generated_verilog_is_up_to_date():
    r = subprocess.run([sys.executable, "-m", "rtl.generate", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("top", ["ce_engine", "ce_accel"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_lint_clean(config, top):
    """The engine alone, and the whole chip (controller, DMAs, registers, engine), with rtl/lint.vlt."""
    warnings = lint(config, top, MODULES if top == "ce_engine" else CHIP_MODULES)
    assert not warnings, "\n".join(warnings[:20])


def test_lint_report_counts_every_module(capsys):
    """`nox -s lint`: the chip is clean with its waivers; the report lists every module's unwaived
    warnings, and the ones the waivers do not cover are clean without them."""
    assert lint_main(["--config", "tiny"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: int(ln.split()[1]) for ln in out.splitlines() if ln.startswith("  ce_")}
    assert set(rows) == set(CHIP_MODULES), rows
    assert rows["ce_pe"] == rows["ce_counters"] == rows["ce_axi_rd"] == rows["ce_axi_wr"] == 0, rows
    assert rows["ce_ctrl"] > 0  # what rtl/lint.vlt waives is counted, not hidden
