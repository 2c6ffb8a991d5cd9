"""Plain-Python models of the blocks, built on golden.contract (never re-deriving its arithmetic)."""

from __future__ import annotations

import numpy as np

from golden.contract import INT8_MAX, INT8_MIN, RequantConstants, requantize_int
from hwspec.config import ACT_WORD, abuf_banks
from hwspec.formats import ACTIVITY, ACTIVITY_FIELD, COUNTER_RECORD, TOTALS

__all__ = ["pe_model", "array_model", "abuf_model", "rowu_model", "ROWU_OUTPUTS", "ppu_model", "random_ppu_cases",
           "counters_model", "COUNTERS_OUTPUTS"]


def _wrap32(v):
    return (v + 2**31) % 2**32 - 2**31


def pe_model(a, w, f, d_in=None, dv_in=None, *, acc0=0):
    """Per-cycle PE outputs for input streams a, w, f and the drain chain inputs d_in, dv_in (tied to
    0/invalid when not given). Returns (d_out, dv_out) lists, one entry per cycle after the clock edge
    (a_out, w_out, f_out are the inputs one cycle late).

    ``acc0`` is the accumulator before the first cycle; None means unknown (ce_pe has no reset): a
    sum built on it is drained as None, a value the hardware leaves undefined."""
    n = len(a)
    d_in = [0] * n if d_in is None else d_in
    dv_in = [0] * n if dv_in is None else dv_in
    acc, d_out, dv_out = acc0, [], []
    for ai, wi, fi, di, dvi in zip(a, w, f, d_in, dv_in):
        p = int(ai) * int(wi)
        if fi:
            d, dv, acc = acc, 1, p
        else:
            d, dv = di, int(dvi)
            acc = None if acc is None else _wrap32(acc + p)
        d_out.append(d)
        dv_out.append(dv)
    return d_out, dv_out


def _late(x, k, fill=0):
    """Stream x seen k registers later (fill before the first value arrives)."""
    x = list(x)
    return ([fill] * k + x)[: len(x)]


def array_model(a_top, f_top, w_left):
    """The R x C output-stationary array (ce_array) cycle by cycle, built on pe_model.

    a_top (T, C) int8 and f_top (T, C) flags enter at the top and move down one row per cycle,
    w_left (T, R) int8 enters at the left and moves right one column per cycle, so PE(i, j) sees
    a_top[t-i, j], f_top[t-i, j] and w_left[t-j, i] at cycle t (zeros before the stream: the bench
    idles with zero inputs first). Drain registers shift left in two chains (PE(i, j) takes PE(i,
    j+2)'s d_out of the previous cycle; columns C-2 and C-1 take 0/invalid); the row's output is
    column 0's drain register when valid, else column 1's.
    Accumulators start unknown (no reset): sums built on them are None.
    Returns (d_left, dv_left): (T, R) object array (int or None) and (T, R) int array."""
    a_top, f_top, w_left = np.asarray(a_top), np.asarray(f_top), np.asarray(w_left)
    T, C = a_top.shape
    R = w_left.shape[1]
    d_left = np.empty((T, R), object)
    dv_left = np.zeros((T, R), np.int64)
    for i in range(R):
        outs = {C: ([0] * T, [0] * T), C + 1: ([0] * T, [0] * T)}  # the 0/invalid tie-offs
        for j in reversed(range(C)):
            d, dv = outs[j + 2]
            d_in, dv_in = (d, dv) if j + 2 >= C else (_late(d, 1), _late(dv, 1))
            outs[j] = pe_model(_late(a_top[:, j].tolist(), i), _late(w_left[:, i].tolist(), j),
                               _late(f_top[:, j].tolist(), i), d_in, dv_in, acc0=None)
        (d0, v0), (d1, v1) = outs[0], outs[1] if C > 1 else ([0] * T, [0] * T)
        d_left[:, i] = [a if va else b for a, va, b in zip(d0, v0, d1)] if C > 1 else d0
        dv_left[:, i] = [int(bool(a) or bool(b)) for a, b in zip(v0, v1)]
    return d_left, dv_left


def _wrap(v, bits):
    return (v + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)


def abuf_model(v, depth, cols, word=ACT_WORD):
    """Per-cycle outputs of the shared activation buffer (ce_abuf) for input streams ``v`` (dict of
    equal-length sequences: i_first, i_addr, i_iyok, i_ix, l_w, l_stride, l_xzp, wr_en, wr_addr,
    wr_data), one entry per cycle after the clock edge: a_data (the ``cols`` column bytes, column 0
    first) and f_data (a bit per column). The buffer (``depth`` bytes, addressed by the address's
    low bits) starts unknown: a tap of a never-written byte gives None. A write puts the ``word``
    bytes of wr_data (little endian) at byte addresses word * wr_addr + i.

    Latency 2: edge t reads the abuf_banks(cols) words from i_addr's word on (before edge t's write)
    and registers i_addr, i_ix, i_iyok, i_first, l_w, l_stride; edge t+1 gives column j the byte at
    i_addr + j * l_stride (taken modulo the window of those words), or l_xzp (of cycle t+1) when the
    tap is padding (not i_iyok, or i_ix + j * l_stride outside 0 .. l_w - 1); f_data is all ones
    when i_first was 1."""
    nb = abuf_banks(cols)
    span = word * nb
    mem = [None] * depth
    win, lo1, ix1, iy1, f1, w1, s1 = None, 0, 0, 0, None, 0, 0  # the registers start unknown
    out = {"a_data": [], "f_data": []}
    for t in range(len(v["i_first"])):
        g = {k: int(x[t]) for k, x in v.items()}
        a_data = []
        for j in range(cols):
            if win is None:
                a_data.append(None)
            elif iy1 and 0 <= ix1 + j * s1 < w1:
                a_data.append(win[(lo1 + j * s1) % span])
            else:
                a_data.append(g["l_xzp"])
        f_data = None if f1 is None else (1 << cols) - 1 if f1 else 0
        # the window: bank b holds the word of wa0 .. wa0 + nb - 1 that is b modulo nb
        wa0 = g["i_addr"] // word
        win = [None] * span
        for w in range(wa0, wa0 + nb):
            for i in range(word):
                win[(w % nb) * word + i] = mem[(w * word + i) % depth]
        lo1, ix1, iy1, f1 = g["i_addr"] % span, g["i_ix"], g["i_iyok"], g["i_first"]
        w1, s1 = g["l_w"], g["l_stride"]
        if g["wr_en"]:
            for i in range(word):
                mem[(word * g["wr_addr"] + i) % depth] = _wrap((g["wr_data"] >> (8 * i)) & 0xFF, 8)
        out["a_data"].append(a_data)
        out["f_data"].append(f_data)
    return out


def _and(*xs):
    """Verilog && of flags that may be unknown (None): a known 0 wins, then an unknown gives None."""
    if any(x is not None and not x for x in xs):
        return 0
    return None if any(x is None for x in xs) else 1


def _add(a, b, bits):
    return None if a is None or b is None else (a + b) % 2**bits


ROWU_OUTPUTS = ("o_valid", "o_first", "o_waddr", "o_ctile", "o_obase", "o_ncols", "o_rows", "o_tok", "w_data",
                "p_valid", "p_acc", "p_bias", "p_mant", "p_exp", "p_tag", "rd_data")


def rowu_model(v, wdepth, cdepth, odepth, *, ncols_bits=4, addr_bits=24, word=ACT_WORD):
    """Per-cycle outputs of one row unit (ce_rowu) for input streams ``v`` (dict of equal-length
    sequences: rst, i_valid, i_first, i_waddr, i_ctile, i_obase, i_ncols, i_rows, i_tok, d_in, dv_in,
    q_valid, q_y, q_tag, we_w, we_c, wr_addr, wr_data, rd_addr), one entry per cycle after the clock
    edge (ROWU_OUTPUTS). Every register and bank starts unknown (no initial values; rst clears only
    cur_ok, dr_ok, cnt and p_valid): a value that depends on unknown state is None, a don't-care.
    Feed the bench's idle cycles through the model too (they make the feed registers known).

    Banks (index = the address's low bits): weights int8 [wdepth] written ``word`` bytes at a time
    (wr_data's low 8*word bits at word address wr_addr) on we_w, read a byte at i_waddr,
    constants [cdepth] (66 bits: bias 65:34 | mantissa 33:10 | exponent 9:0) on we_c, outputs int8
    [odepth] written with q_y at q_tag on q_valid, read ``word`` bytes at a time (rd_addr a word
    address; rd_data the list of its bytes, lane 0 first). Reads are registered and see the bank
    before the same edge's write.

    Edge t: the descriptor is handed on (o_* = i_*, o_rows = max(i_rows - 1, 0)); w_data = the
    weight read at edge t-1 (wmem[i_waddr]) if i_valid was 1 at edge t-1, else 0 (latency 2);
    rd_data = omem[word * rd_addr + lane]. Drain (unless rst): at i_first the current tile (ok, obase, ncols and
    the constant word cmem[cur_ctile] read at edge t-1) becomes the draining one, the new tile is
    current with ok = i_tok and i_rows > 0, and the drain count restarts at 0; otherwise dv_in
    counts (ncols_bits-bit wrap). Every edge: p_valid = dv_in and dr_ok and cnt < dr_ncols, p_acc =
    d_in, p_bias/p_mant/p_exp = the draining tile's constant fields, p_tag = dr_obase + cnt
    (addr_bits-bit wrap), all with the state before the edge."""
    cols = {k: [int(x) for x in xs] for k, xs in v.items()}
    n = len(cols["i_first"])
    wmem, cmem, omem = [None] * (wdepth // word), [None] * cdepth, [None] * odepth
    r = dict.fromkeys(("wq", "wv1", "cq", "cur_ok", "dr_ok", "cur_ctile", "cur_obase", "dr_obase", "cur_ncols",
                       "dr_ncols", "dr_const", "cnt") + ROWU_OUTPUTS)
    out = {k: [] for k in ROWU_OUTPUTS}
    for t in range(n):
        g = {k: x[t] for k, x in cols.items()}
        o = dict(r)  # next state, from the state before the edge (r) and the inputs (g)
        # mems: registered reads of the banks before this edge's writes
        wword = wmem[(g["i_waddr"] // word) % (wdepth // word)]
        o["wq"] = None if wword is None else _wrap((wword >> (8 * (g["i_waddr"] % word))) & 0xFF, 8)
        o["cq"] = None if r["cur_ctile"] is None else cmem[r["cur_ctile"] % cdepth]
        o["rd_data"] = [omem[(word * g["rd_addr"] + j) % odepth] for j in range(word)]
        if g["we_w"]:
            wmem[g["wr_addr"] % (wdepth // word)] = g["wr_data"] % 2 ** (8 * word)
        if g["we_c"]:
            cmem[g["wr_addr"] % cdepth] = g["wr_data"] % 2**66
        if g["q_valid"]:
            omem[g["q_tag"] % odepth] = _wrap(g["q_y"], 8)
        # feed: weight (0 in bubbles) and the descriptor one cycle later
        o["wv1"] = g["i_valid"]
        o["w_data"] = None if r["wv1"] is None else (r["wq"] if r["wv1"] else 0)
        for k in ("valid", "first", "waddr", "ctile", "obase", "ncols", "tok"):
            o["o_" + k] = g["i_" + k]
        o["o_rows"] = max(g["i_rows"] - 1, 0)
        # drain
        if g["rst"]:
            o.update(cur_ok=0, dr_ok=0, cnt=0, p_valid=0)
        else:
            if g["i_first"]:
                o.update(dr_ok=r["cur_ok"], dr_obase=r["cur_obase"], dr_ncols=r["cur_ncols"], dr_const=r["cq"],
                         cur_ok=int(bool(g["i_tok"]) and g["i_rows"] > 0), cur_obase=g["i_obase"],
                         cur_ncols=g["i_ncols"], cur_ctile=g["i_ctile"], cnt=0)
            elif g["dv_in"]:
                o["cnt"] = _add(r["cnt"], 1, ncols_bits)
            lt = None if r["cnt"] is None or r["dr_ncols"] is None else int(r["cnt"] < r["dr_ncols"])
            o["p_valid"] = _and(g["dv_in"], r["dr_ok"], lt)
            o["p_acc"] = _wrap(g["d_in"], 32)
            c = r["dr_const"]
            o["p_bias"] = None if c is None else _wrap(c >> 34, 32)
            o["p_mant"] = None if c is None else (c >> 10) & 0xFFFFFF
            o["p_exp"] = None if c is None else _wrap(c & 0x3FF, 10)
            o["p_tag"] = _add(r["dr_obase"], r["cnt"], addr_bits)
        r = o
        for k in ROWU_OUTPUTS:
            out[k].append(r[k])
    return out


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


# ce_counters' outputs: the run's totals (hwspec.formats.TOTALS), then the layer's record
COUNTERS_OUTPUTS = (*TOTALS, "record")


def counters_model(v):
    """Per-cycle outputs of the counters unit (ce_counters) for input streams ``v`` (dict of per-cycle
    lists: rst, busy, activity, run_clear, layer_clear, steps_valid, steps, rd_bytes, wr_bytes,
    rec_latch). Returns a dict of per-cycle lists after each edge; "record" holds the 8 words of
    COUNTER_RECORD in its field order."""
    field = {ACTIVITY.index(k): f for k, f in ACTIVITY_FIELD.items()}
    names = tuple(TOTALS.values())  # the record fields the run sums and each layer counts
    m = 2**32
    out = {p: [] for p in COUNTERS_OUTPUTS}
    run = dict.fromkeys(names, 0)
    layer = dict.fromkeys(names, 0)
    rd0 = wr0 = l_rdb = l_wrb = 0
    for k in range(len(v["rst"])):
        if v["rst"][k]:
            run, layer = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
            rd0 = wr0 = l_rdb = l_wrb = 0
        else:
            rd, wr = int(v["rd_bytes"][k]), int(v["wr_bytes"][k])
            if v["busy"][k]:
                f = field.get(int(v["activity"][k]))
                for c in (run, layer):
                    c["cycles"] = (c["cycles"] + 1) % m
                    if f:
                        c[f] = (c[f] + 1) % m
            if v["steps_valid"][k]:
                for c in (run, layer):
                    c["mac_steps"] = (c["mac_steps"] + int(v["steps"][k])) % m
            if v["rec_latch"][k]:  # against the layer's start as it was before this edge
                l_rdb, l_wrb = (rd - rd0) % m, (wr - wr0) % m
            if v["run_clear"][k]:
                run = dict.fromkeys(names, 0)
            if v["layer_clear"][k]:
                layer = dict(dict.fromkeys(names, 0), cycles=1, fetch=1)
                rd0, wr0 = rd, wr
        for p, n in TOTALS.items():
            out[p].append(run[n])
        rec = dict(layer, bytes_read=l_rdb, bytes_written=l_wrb)
        out["record"].append([rec[n] for n in COUNTER_RECORD.names])
    return out
