"""The model build gives the same tensors on every x86-64 CPU: its float forward pass is exact."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from onnx_models import MODELS_DIR, exact


def _grid_case(rng, n=2, ci=40, h=9, w=11, co=24, k=3, scale=4.0):
    x = exact.to_grid(rng.standard_normal((n, ci, h, w)) * scale)
    wt = rng.standard_normal((co, ci, k, k)).astype(np.float32) * np.float32(0.05)
    return x, wt


def test_conv_is_exact_integer_arithmetic():
    """Every output of the float64 conv equals the int64 conv of the grid integers: no rounding anywhere,
    so no summation order, blocking or FMA can change a bit."""
    rng = np.random.default_rng(5)
    x, wt = _grid_case(rng)
    y = exact._conv("t", x, wt, stride=1, pad=1)
    wg, wexp = exact._weight_grid(wt)
    xi = np.ldexp(x, exact.ACT_FRAC_BITS).astype(np.int64)
    wi = np.ldexp(wg, -wexp).astype(np.int64)
    assert np.array_equal(np.ldexp(xi, -exact.ACT_FRAC_BITS), x) and np.array_equal(np.ldexp(wi, wexp), wg)
    xp = np.pad(xi, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros(y.shape, np.int64)
    for dy in range(3):
        for dx in range(3):
            ref += np.einsum("nchw,oc->nohw", xp[:, :, dy:dy + y.shape[2], dx:dx + y.shape[3]], wi[:, :, dy, dx])
    got = np.ldexp(y, exact.ACT_FRAC_BITS - wexp)
    assert np.array_equal(got, ref.astype(np.float64)), f"{np.sum(got != ref)} of {ref.size} outputs differ"
    # and a stride-2 conv picks the same outputs as every second one of stride 1
    y2 = exact._conv("t", x, wt, stride=2, pad=1)
    assert np.array_equal(y2, y[:, :, ::2, ::2])


def test_conv_refuses_sums_float64_cannot_hold_exactly():
    rng = np.random.default_rng(6)
    x, wt = _grid_case(rng, scale=2.0 ** 30)
    with pytest.raises(ArithmeticError, match=r"conv 'big': partial sums reach 2\^\d+\.\d grid units, over the 2\^53"):
        exact._conv("big", x, wt, stride=1, pad=1)


def test_statistics_do_not_depend_on_the_order_of_the_values():
    rng = np.random.default_rng(7)
    y = rng.standard_normal((4, 3, 16, 16)) * 1e3 + 1e6  # large mean: a naive float sum loses bits here
    mean, var = exact.channel_mean_var(y)
    perm = rng.permutation(16 * 16)
    shuffled = y.reshape(4, 3, -1)[:, :, perm].reshape(y.shape)[::-1]
    assert np.array_equal(exact.channel_mean_var(shuffled)[0], mean)
    assert np.array_equal(exact.channel_mean_var(shuffled)[1], var)
    np.testing.assert_allclose(var, y.transpose(1, 0, 2, 3).reshape(3, -1).var(axis=1), rtol=1e-12)


def test_round_significand():
    x = np.array([1.0, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11, -3.14159, 1e-8])
    r = exact.round_significand(x, 11)
    assert list(r[:3]) == [1.0, 1.0, 1.0 + 4 * 2.0 ** -11]  # ties to even
    assert np.all(np.abs(r - x) <= np.abs(x) * 2.0 ** -11)
    m, _ = np.frexp(r)
    assert np.all(np.ldexp(m, 11) == np.rint(np.ldexp(m, 11)))


def test_model_build_is_the_same_on_an_avx2_only_cpu(tmp_path):
    """Rebuild tiny on an emulated AMD EPYC Rome (AVX2, no AVX-512: numpy, OpenBLAS and onnxruntime
    dispatch to their AVX2 kernels) and get the committed tensors and figures. The build before the
    exact forward pass gave other tensors there."""
    qemu = shutil.which("qemu-x86_64")
    assert qemu, "qemu-x86_64 not found: install Debian's qemu-user (.ci/run does)"
    cmd = [qemu, "-cpu", "EPYC-Rome", sys.executable, "-m", "onnx_models.build", "tiny", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cpu = subprocess.run([qemu, "-cpu", "EPYC-Rome", sys.executable, "-c",
                          "import numpy._core._multiarray_umath as m; print(sorted(k for k, v in m.__cpu_features__.items() if v))"],
                         capture_output=True, text=True, check=True).stdout
    assert "AVX2" in cpu and "AVX512F" not in cpu, cpu
    committed = json.loads((MODELS_DIR / "manifest.json").read_text())["tiny"]
    rebuilt = json.loads((tmp_path / "manifest.json").read_text())["tiny"]
    for kind in ("float", "int8"):
        assert rebuilt[kind]["tensors_sha256"] == committed[kind]["tensors_sha256"], f"tiny {kind} tensors differ on EPYC-Rome"
    assert rebuilt["sqnr_db_int8_vs_float"] == committed["sqnr_db_int8_vs_float"]
