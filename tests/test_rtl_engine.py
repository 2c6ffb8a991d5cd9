"""The engine on synthetic conv layers vs golden.contract.conv_int8: every output element equal."""

import json
import re

import numpy as np
import pytest

from tests import rtl_helpers
from tests.rtl_helpers import random_layer, run_engine

LAYERS = [  # name, cin, cout, h, w, k, stride: 3x3 s1/s2, 1x1, odd and remainder channel counts
    ("c3s1", 5, 6, 7, 9, 3, 1),
    ("c3s2", 3, 5, 9, 8, 3, 2),
    ("c1", 7, 9, 6, 5, 1, 1),
]


@pytest.mark.parametrize("config", ["tiny"])
def test_engine_synthetic_layers(sim, config, tmp_path, seed):
    rng = np.random.default_rng((seed, 7))
    layers = [random_layer(rng, *spec) for spec in LAYERS]
    res = run_engine(sim, config, layers, tmp_path)
    assert len(res) == len(layers)
    assert [r["name"] for r in res] == [L.name for L in layers], res
    assert all(r["mismatches"] == 0 for r in res), res


def test_a_simulation_that_writes_no_result_fails_naming_the_file(tmp_path, monkeypatch):
    """A simulation that ends before the cocotb test writes its records (a crash, a cocotb error)
    must fail, not return no records for `all(...)` to pass on."""
    monkeypatch.setattr(rtl_helpers, "run_cocotb", lambda **kw: None)
    layers = [random_layer(np.random.default_rng(7), *LAYERS[0])]
    with pytest.raises(AssertionError, match=re.escape(f"{tmp_path / 'result.json'}: no result file")):
        run_engine("verilator", "tiny", layers, tmp_path)


def test_fewer_result_records_than_layers_fail(tmp_path, monkeypatch):
    def one_record(env, **kw):
        with open(env["CE_RESULT"], "w") as f:
            json.dump([dict(name="c3s1", mismatches=0, total=1, first=None, cycles=1, macs=1, ideal=1, util=1)], f)

    monkeypatch.setattr(rtl_helpers, "run_cocotb", one_record)
    rng = np.random.default_rng(7)
    layers = [random_layer(rng, *spec) for spec in LAYERS]
    with pytest.raises(AssertionError, match="1 result records for 3 layers"):
        run_engine("verilator", "tiny", layers, tmp_path)
