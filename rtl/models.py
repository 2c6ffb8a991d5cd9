"""Plain-Python models of the blocks, built on golden.contract (never re-deriving its arithmetic)."""

from __future__ import annotations

import numpy as np

from golden.contract import INT8_MAX, INT8_MIN, RequantConstants, requantize_int

__all__ = ["pe_model", "ppu_model", "random_ppu_cases"]


def pe_model(a, w, f):
    """Per-cycle PE outputs for input streams a, w, f (drain input tied to 0/invalid).
    Returns (d_out, dv_out) lists, one entry per cycle after the clock edge."""
    acc, d_out, dv_out = 0, [], []
    d, dv = 0, 0
    for ai, wi, fi in zip(a, w, f):
        if fi:
            d, dv, acc = acc, 1, ai * wi
        else:
            d, dv = 0, 0
            acc = (acc + ai * wi + 2**31) % 2**32 - 2**31
        d_out.append(d)
        dv_out.append(dv)
    return d_out, dv_out


def ppu_model(acc, bias, mant, exp, yzp, qmin, qmax):
    """Vectorized PPU: int32 wrap of acc + bias, then golden.contract.requantize_int per case."""
    s = (np.asarray(acc, np.int64) + np.asarray(bias, np.int64) + 2**31) % 2**32 - 2**31
    out = np.empty(len(s), np.int8)
    # requantize_int takes one zero point and clamp range per call: group the cases by them
    keys = np.stack([yzp, qmin, qmax], axis=1)
    for key in np.unique(keys, axis=0):
        sel = np.all(keys == key, axis=1)
        c = RequantConstants(mantissa=np.asarray(mant, np.int64)[sel], exponent=np.asarray(exp, np.int64)[sel])
        out[sel] = requantize_int(s[sel], c, int(key[0]), int(key[1]), int(key[2]))
    return out


def random_ppu_cases(n, rng):
    """Constrained-random PPU cases: accumulators of all magnitudes (many beyond 2**24), realistic and
    extreme multipliers, rounding ties, ReLU clamps. Returns a dict of int64 arrays + float32 M."""
    kind = rng.integers(0, 4, n)
    bits = rng.integers(0, 32, n)
    acc = rng.integers(-(2**31), 2**31, n, dtype=np.int64) >> (31 - bits)
    acc = np.where(kind == 0, rng.integers(-300000, 300000, n), acc)
    bias = np.where(rng.random(n) < 0.5, rng.integers(-(2**20), 2**20, n), 0)
    bias = np.where(rng.random(n) < 0.02, rng.integers(-(2**31), 2**31, n, dtype=np.int64), bias)
    # bias folded modulo 2**32 keeps acc + bias in int32: restrict acc so that the sum is int32
    total = np.clip(acc + bias, -(2**31), 2**31 - 1)
    acc = total - bias
    # multipliers: mostly 2**-20..2**-2 (real layers), some up to 2**8 and down to 2**-40
    log2m = np.where(rng.random(n) < 0.9, rng.uniform(-20, -2, n), rng.uniform(-40, 8, n))
    m = np.exp2(log2m).astype(np.float32)
    # exact ties: multipliers with few mantissa bits make acc*M land on .5 often
    tie = rng.random(n) < 0.2
    m = np.where(tie, np.exp2(np.round(log2m)).astype(np.float32) * np.float32(1.5), m).astype(np.float32)
    mbits = m.view(np.uint32).astype(np.int64)
    mant = (mbits & 0x7FFFFF) | 0x800000
    exp = ((mbits >> 23) & 0xFF) - 150
    yzp = rng.integers(-128, 128, n)
    relu = rng.random(n) < 0.3
    qmin = np.where(relu, yzp, INT8_MIN)
    qmax = np.full(n, INT8_MAX)
    return dict(acc=acc, bias=bias, mant=mant, exp=exp, yzp=yzp, qmin=qmin, qmax=qmax, m=m)
