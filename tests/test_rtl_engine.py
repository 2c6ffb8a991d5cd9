"""The engine on synthetic conv layers vs golden.contract.conv_int8: every output element equal."""

import numpy as np
import pytest

from tests.rtl_helpers import random_layer, run_engine

LAYERS = [  # name, cin, cout, h, w, k, stride: 3x3 s1/s2, 1x1, odd and remainder channel counts
    ("c3s1", 5, 6, 7, 9, 3, 1),
    ("c3s2", 3, 5, 9, 8, 3, 2),
    ("c1", 7, 9, 6, 5, 1, 1),
]


@pytest.mark.parametrize("config", ["tiny"])
def test_engine_synthetic_layers(sim, config, tmp_path):
    rng = np.random.default_rng(7)
    layers = [random_layer(rng, *spec) for spec in LAYERS]
    res = run_engine(sim, config, layers, tmp_path)
    assert len(res) == len(layers)
    assert all(r["mismatches"] == 0 for r in res), res
