"""Quick checks of the perf/ helpers (no SCALE-Sim, Yosys or full-frame runs)."""

import configparser

import pytest

from perf import scalesim as ss
from perf.gates import gate_equivalents, parse_stat
from perf.sweep import SweepPoint, smallest

# COMPUTE_REPORT.csv written by SCALE-Sim 3.0 for FC-HarDNet-70's stem1 at 256x512 on 96x96 (OS)
REPORT = """LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,
0, 128968, 114227, 0, 10.757526679331507, 24.951267056530213, 10.757432503414172,
"""
STEM1 = ss.ConvLayer("stem1", h=128, w=256, kernel=3, cin=16, cout=24, stride=1)


def test_formula_matches_stored_scalesim_report():
    row = ss.parse_compute_report(REPORT)[0]
    assert row["cycles"] == 114227 and row["stall_cycles"] == 0 and row["cycles_with_prefetch"] == 128968
    assert row["compute_util"] == pytest.approx(10.7574, abs=1e-3)
    assert ss.os_compute_cycles(STEM1, 96, 96) == row["cycles"]


def test_formula_by_hand():
    # P = 4 pixels on a 2x2 array, Cout 3 on 2 columns, K = 1*1*5: 2 * 2 * (5 + 2 + 2 - 2) - 1
    assert ss.os_compute_cycles(ss.ConvLayer("x", 2, 2, 1, 5, 3, 1), 2, 2) == 27


@pytest.mark.parametrize("k,s,expect", [(3, 1, (66, 130)), (3, 2, (65, 129)), (1, 1, (64, 128))])
def test_padded_input(k, s, expect):
    layer = ss.ConvLayer("x", 64, 128, k, 8, 8, s)
    assert ss.padded_input(layer) == expect
    hp, wp = expect
    assert ((hp - k) // s + 1, (wp - k) // s + 1) == (layer.ho, layer.wo)  # what SCALE-Sim computes


def test_topology_rows_have_trailing_comma():
    text = ss.topology_csv([STEM1, ss.ConvLayer("t", 64, 128, 1, 48, 64, 1)])
    lines = text.strip().splitlines()
    assert lines[0].startswith("Layer name") and all(l.endswith(",") for l in lines)
    assert lines[1] == "stem1, 130, 258, 3, 3, 16, 24, 1,"
    assert lines[2] == "t, 64, 128, 1, 1, 48, 64, 1,"


def test_config_is_output_stationary_without_network_presets():
    cp = configparser.ConfigParser()
    cp.read_string(ss.config_cfg(96, 96, 128, 384, 1536))
    assert not cp.has_section("network_presets")
    a = cp["architecture_presets"]
    assert (a["Dataflow"], a["ArrayHeight"], a["ArrayWidth"], a["IfmapSramSzkB"]) == ("os", "96", "96", "128")


STAT = """
=== ce_pe ===

   Number of wires:                 12
   Number of wire bits:            200
   Number of cells:                  6
     $_AND_                          2
     $_DFF_P_                        1
     $_SDFF_PP1_                     1
     $_XOR_                          2

"""


def test_parse_stat_and_gate_equivalents():
    cells = parse_stat(STAT)
    assert cells == {"$_AND_": 2, "$_DFF_P_": 1, "$_SDFF_PP1_": 1, "$_XOR_": 2}
    assert gate_equivalents(cells) == pytest.approx(2 * 1.33 + 4.67 + 6.0 + 2 * 2.33)


def test_smallest_sweep_point():
    pts = [SweepPoint(32, 32, "asic", 128, 10_000_000, 5_000_000, 0.1, 0),
           SweepPoint(64, 64, "asic", 128, 8_000_000, 2_000_000, 0.1, 0),
           SweepPoint(48, 48, "asic", 128, 8_000_000, 3_000_000, 0.1, 2)]  # refused layers: not eligible
    assert smallest(pts, 60).rows == 64
    assert smallest(pts, 200, engine_only=True).rows == 64
    assert smallest(pts, 60, engine_only=True).rows == 32
    assert smallest(pts, 1000) is None
