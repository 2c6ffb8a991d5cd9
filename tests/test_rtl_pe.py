"""ce_pe: the converted Verilog against rtl.models.pe_model on constrained-random streams (both
simulators), and MyHDL's own simulation against the converted Verilog on the same vectors.

Streams go through tb/test_pe.py's stream bench (vectors from a RAM, one per clock). Mismatches
are reported per port as a count and the first differing cycle."""

from __future__ import annotations

import functools

import numpy as np

from hwspec.config import get_config
from rtl.models import pe_model
from rtl.pe import pe
from tb.runner import generated_dir
from tb.stream_myhdl import myhdl_stream
from tb.test_pe import stream_through

PE_IN = [("a_in", 8, True), ("w_in", 8, True), ("f_in", 1, False), ("d_in", 32, True), ("dv_in", 1, False)]
PE_OUT = [("a_out", 8, True), ("w_out", 8, True), ("f_out", 1, False), ("d_out", 32, True), ("dv_out", 1, False)]
DEPTH = 1 << 18
CYCLES = 200_000  # on both simulators (~1M cycles/s on Verilator, ~0.3M on Icarus); includes a 140k-cycle -128*-128 tile


def int8_stream(rng, n):
    """int8 values: uniform, the extremes (-128, 127, 0, -1) and runs of -128 (so -128*-128 occurs)."""
    kind = rng.integers(0, 4, n)
    x = rng.integers(-128, 128, n)
    x = np.where(kind == 1, rng.choice([-128, 127, 0, -1, 1], n), x)
    x = np.where(kind == 2, -128, x)
    return x


def flag_stream(rng, n):
    """Tile-start flags at random intervals: back-to-back (1), short, medium and long tiles."""
    f = np.zeros(n, np.int64)
    t = int(rng.integers(0, 4))
    while t < n:
        f[t] = 1
        t += int(rng.choice([1, 1, 2, 3, int(rng.integers(4, 40)), int(rng.integers(40, 400))]))
    return f


def pe_vectors(n, seed, wrap_tile=0):
    """n cycles of constrained-random PE inputs; wrap_tile > 0 adds a tile of that many -128*-128
    steps (2**14 each: 131,072 of them reach 2**31, so the int32 accumulator wraps)."""
    rng = np.random.default_rng(seed)
    v = dict(a_in=int8_stream(rng, n), w_in=int8_stream(rng, n), f_in=flag_stream(rng, n),
             d_in=rng.integers(-(2**31), 2**31, n, dtype=np.int64),
             dv_in=(rng.random(n) < 0.5).astype(np.int64))
    v["d_in"] = np.where(rng.random(n) < 0.1, rng.choice([-(2**31), 2**31 - 1, 0, -1], n), v["d_in"])
    if wrap_tile:
        s = n // 4
        v["a_in"][s:s + wrap_tile] = -128
        v["w_in"][s:s + wrap_tile] = -128
        v["f_in"][s:s + wrap_tile] = 0
        v["f_in"][s] = v["f_in"][s + wrap_tile] = 1
    return v


def pe_expected(v, acc0=None):
    d, dv = pe_model(v["a_in"].tolist(), v["w_in"].tolist(), v["f_in"].tolist(), v["d_in"].tolist(),
                     v["dv_in"].tolist(), acc0=acc0)
    return dict(a_out=v["a_in"].tolist(), w_out=v["w_in"].tolist(), f_out=v["f_in"].tolist(), d_out=d, dv_out=dv)


def compare(got, want, ports):
    """Per port: (mismatches, first differing cycle or None); a want of None is a don't-care, also
    for one lane of a port read as lanes."""
    def differ(g, w):
        if isinstance(w, list):
            return any(wl is not None and gl != wl for gl, wl in zip(g, w, strict=True))
        return w is not None and g != w

    res = {}
    for p in ports:
        bad = [k for k, (g, w) in enumerate(zip(got[p], want[p], strict=True)) if differ(g, w)]
        res[p] = (len(bad), bad[0] if bad else None)
    return res


def known_only(got, want):
    """``got`` with None wherever ``want`` is None (a lane of a port read as lanes too): the model's
    don't-cares, where MyHDL's zero-initialized state and the Verilog's undefined one may differ."""
    def mask(g, w):
        if isinstance(w, list):
            return [None if wl is None else gl for gl, wl in zip(g, w, strict=True)]
        return None if w is None else g

    return {p: [mask(g, w) for g, w in zip(got[p], want[p], strict=True)] for p in want}


def mismatch_report(name, got, want, ports):
    res = compare(got, want, ports)
    n = len(want[ports[0]])
    lines = [f"{name}: {n} cycles"]
    for p, (cnt, first) in res.items():
        at = "" if first is None else f", first at cycle {first}: got {got[p][first]} want {want[p][first]}"
        lines.append(f"  {p}: {cnt} mismatches{at}")
    return "\n".join(lines), sum(c for c, _ in res.values())


def run_pe(sim, v):
    return stream_through(sim=sim, block="pe", cfg=get_config("tiny"), dut_module="ce_pe",
                          sources=[generated_dir("tiny") / "ce_pe.v"], inputs=PE_IN, outputs=PE_OUT, vectors=v,
                          depth=DEPTH)


def test_pe_random_vs_model(sim, seed):
    n = CYCLES
    v = pe_vectors(n, seed=(seed, 3), wrap_tile=140_000)
    got, rate = run_pe(sim, v)
    want = pe_expected(v)
    s = n // 4 + 140_000  # the long tile's sum really wrapped
    assert want["d_out"][s] == (140_000 * 16384 + 2**31) % 2**32 - 2**31 < 0
    report, bad = mismatch_report(f"ce_pe on {sim} ({rate:.0f} cycles/s)", got, want, [p for p, _, _ in PE_OUT])
    print(report)
    assert bad == 0, report
    assert sum(v["f_in"][1:] & v["f_in"][:-1]) > 100  # back-to-back tile starts were exercised
    assert sum((v["a_in"] == -128) & (v["w_in"] == -128)) > 1000


@functools.cache
def _myhdl_pe(seed, n):
    """MyHDL's simulation of pe() on pe_vectors(n, seed): per-port output lists (after each edge)."""
    v = pe_vectors(n, seed)
    return v, myhdl_stream(pe, PE_IN, PE_OUT, v)


def test_pe_myhdl_equals_verilog(sim, seed):
    """MyHDL's simulation vs the converted Verilog on the same 2,000 cycles (MyHDL's acc starts at 0,
    the Verilog's is undefined until the first tile start: those drained values are not compared)."""
    v, mh = _myhdl_pe((seed, 5), 2000)
    model = pe_expected(v, acc0=0)
    report, bad = mismatch_report("MyHDL ce_pe vs pe_model", mh, model, [p for p, _, _ in PE_OUT])
    assert bad == 0, report
    got, _ = run_pe(sim, v)
    # Verilog's X (Icarus) or arbitrary initial accumulator (Verilator) before the first tile start
    first = int(np.argmax(v["f_in"]))
    ref = {p: list(mh[p]) for p in mh}
    ref["d_out"][first] = None
    report, bad = mismatch_report(f"MyHDL vs Verilog ce_pe on {sim}", got, ref, [p for p, _, _ in PE_OUT])
    print(report)
    assert bad == 0, report
