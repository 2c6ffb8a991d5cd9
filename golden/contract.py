"""The arithmetic contract: how every int8 tensor of a network is computed.

This module is the single place that defines the numerics the accelerator must reproduce bit for
bit. The compiler, the Python models of the RTL blocks and the tests all import it.

onnxruntime (int8 activations, session option ``session.qdqisint8allowed=1``, every op fused to
QLinear*) computes a convolution as

    acc = sum((x - x_zp) * w) + bias                      exact int32
    M[c] = f32(f32(x_scale * w_scale[c]) / y_scale)       this order; others mismatch
    y = clamp(round_half_even(f32(f32(acc) * M[c])), qmin - y_zp, qmax - y_zp) + y_zp

with two float32 roundings (int32 -> float32, and the product).  ``requantize_float32`` is that
reference written with numpy float32; ``requantize_int`` is the integer-only datapath the hardware
implements (24-bit mantissas, round-to-nearest-even at each of the three roundings), equal to the
reference on every int32 input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "INT8_MIN",
    "INT8_MAX",
    "ORT_SESSION_CONFIG",
    "make_session_options",
    "requant_multiplier",
    "RequantConstants",
    "requant_constants",
    "requantize_float32",
    "requantize_int",
    "round_half_even_shift",
    "conv_acc",
    "conv_int8",
    "avgpool2x2_int8",
    "upsample_nearest_int8",
    "concat_int8",
    "argmax_channels",
    "is_pow2",
]

INT8_MIN, INT8_MAX = -128, 127

# The only onnxruntime configuration whose int8 results are exact int32 arithmetic, independent of
# the CPU: int8 activations with QDQ fusion allowed on int8 (otherwise fan-out tensors stay float).
ORT_SESSION_CONFIG = {"session.qdqisint8allowed": "1"}

MANTISSA_BITS = 24  # float32 significand, implicit bit included


def make_session_options(optimized: bool = True, optimized_model_path: str | None = None):
    """onnxruntime SessionOptions pinned to the contract (single-threaded: deterministic order)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    for key, value in ORT_SESSION_CONFIG.items():
        so.add_session_config_entry(key, value)
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if optimized_model_path:
        so.optimized_model_filepath = str(optimized_model_path)
    return so


def requant_multiplier(x_scale, w_scale, y_scale) -> np.ndarray:
    """M[c] = f32(f32(x_scale * w_scale[c]) / y_scale), in onnxruntime's order."""
    xs = np.float32(x_scale)
    ws = np.asarray(w_scale, dtype=np.float32).reshape(-1)
    ys = np.float32(y_scale)
    return ((xs * ws).astype(np.float32) / ys).astype(np.float32)


@dataclass(frozen=True)
class RequantConstants:
    """Per-channel integer form of a float32 multiplier: M = mantissa * 2**exponent.

    ``mantissa`` has exactly 24 significant bits (2**23 <= mantissa < 2**24), ``exponent`` is the
    power of two of its least significant bit. These are what the compiler writes to DRAM.
    """

    mantissa: np.ndarray  # int64, [C]
    exponent: np.ndarray  # int64, [C]


def requant_constants(multiplier) -> RequantConstants:
    m = np.asarray(multiplier, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"requantization multipliers must be finite and positive, got {m}")
    if np.any(m < np.finfo(np.float32).tiny):
        raise ValueError("requantization multiplier is subnormal; the datapath handles normal float32 only")
    bits = m.view(np.uint32).astype(np.int64)
    mantissa = (bits & 0x7FFFFF) | 0x800000
    exponent = ((bits >> 23) & 0xFF) - 127 - 23
    return RequantConstants(mantissa=mantissa, exponent=exponent)


def requantize_float32(acc, multiplier, y_zp, qmin=INT8_MIN, qmax=INT8_MAX) -> np.ndarray:
    """onnxruntime's float32 requantization. acc: int32 [..., C] (channels last); multiplier: [C]."""
    acc = np.asarray(acc)
    f = acc.astype(np.float32) * np.asarray(multiplier, dtype=np.float32)
    f = np.clip(f.astype(np.float32), np.float32(qmin - y_zp), np.float32(qmax - y_zp))
    return (np.rint(f).astype(np.int64) + int(y_zp)).astype(np.int8)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bit length of non-negative int64 values below 2**53 (exact through float64's exponent)."""
    _, e = np.frexp(v.astype(np.float64))
    return np.where(v == 0, 0, e).astype(np.int64)


def _round_to_bits(v: np.ndarray, bits: int):
    """Round non-negative v to at most ``bits`` significant bits, nearest-even.

    Returns (m, s) with v ~= m * 2**s and m < 2**bits (m may reach 2**bits after rounding up, in
    which case it is renormalized).
    """
    shift = np.maximum(_bit_length(v) - bits, 0)
    m = round_half_even_shift(v, shift)
    carry = m >> bits  # rounding overflowed to bits+1 bits: 2**bits exactly
    return m >> carry, shift + carry


def round_half_even_shift(v: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """v / 2**shift rounded half to even, for int64 v (any sign) and shift >= 0."""
    v = np.asarray(v, dtype=np.int64)
    shift = np.broadcast_to(np.asarray(shift, dtype=np.int64), v.shape)
    sign = np.where(v < 0, -1, 1)
    a = np.abs(v)
    s = np.minimum(shift, 62)
    q = a >> s
    rem = a - (q << s)
    half = np.where(s > 0, np.int64(1) << np.maximum(s - 1, 0), 0)
    round_up = (s > 0) & ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    return sign * (q + round_up)


def requantize_int(acc, constants: RequantConstants, y_zp, qmin=INT8_MIN, qmax=INT8_MAX) -> np.ndarray:
    """The hardware's integer-only requantizer; equal to ``requantize_float32`` for every int32 acc.

    1. |acc| rounded to a 24-bit mantissa (float32 conversion): a = a24 * 2**s
    2. a24 * m24 (48-bit product) rounded to 24 bits (float32 multiply): p = p24 * 2**t
    3. p24 * 2**(s + t + e) shifted to an integer, round half to even (nearbyint)
    4. clamp to [qmin - y_zp, qmax - y_zp], add y_zp
    """
    acc = np.asarray(acc, dtype=np.int64)
    if np.any(acc < -(2**31)) or np.any(acc >= 2**31):
        raise ValueError("accumulator outside int32")
    sign = np.where(acc < 0, -1, 1)
    a24, s = _round_to_bits(np.abs(acc), MANTISSA_BITS)
    p24, t = _round_to_bits(a24 * constants.mantissa, MANTISSA_BITS)
    exp = s + t + constants.exponent
    lo, hi = qmin - int(y_zp), qmax - int(y_zp)
    # A left shift only happens for multipliers >= 1; clamp the shift so int64 never overflows
    # (anything that large saturates anyway).
    left = np.minimum(np.maximum(exp, 0), 40 - _bit_length(p24).clip(0, 40))
    magnitude = np.where(exp >= 0, p24 << left, round_half_even_shift(p24, np.maximum(-exp, 0)))
    value = np.clip(sign * magnitude, lo, hi)
    return (value + int(y_zp)).astype(np.int8)


def conv_acc(x_q, x_zp, w_q, bias, stride: int = 1, pad: int | None = None) -> np.ndarray:
    """Exact int32 accumulators of a 2-D convolution. x_q: int8 [Cin, H, W] (one image, NCHW),
    w_q: int8 [Cout, Cin, k, k], bias: int32 [Cout] or None. Padding is done with x_zp (a real zero).
    Returns int64 [Cout, Ho, Wo] holding int32 values."""
    x = np.asarray(x_q, dtype=np.int64) - int(x_zp)
    w = np.asarray(w_q, dtype=np.int64)
    cout, cin, kh, kw = w.shape
    if x.shape[0] != cin:
        raise ValueError(f"input has {x.shape[0]} channels, weights expect {cin}")
    if pad is None:
        pad = kh // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))  # zero after zp subtraction == pad with x_zp
    h, wd = x.shape[1:]
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    # im2col as [Cin*k*k, Ho*Wo]; int8*int8 products summed in float64 are exact below 2**53.
    cols = np.empty((cin, kh, kw, ho, wo), dtype=np.float64)
    for dy in range(kh):
        for dx in range(kw):
            cols[:, dy, dx] = xp[:, dy : dy + stride * ho : stride, dx : dx + stride * wo : stride]
    acc = w.reshape(cout, -1).astype(np.float64) @ cols.reshape(cin * kh * kw, -1)
    acc = np.rint(acc).astype(np.int64).reshape(cout, ho, wo)
    if bias is not None:
        acc += np.asarray(bias, dtype=np.int64).reshape(-1, 1, 1)
    return acc


def conv_int8(x_q, x_scale, x_zp, w_q, w_scale, bias, y_scale, y_zp, stride=1, pad=None) -> np.ndarray:
    """QLinearConv exactly as the contract says, through the hardware's integer datapath.
    Returns int8 [Cout, Ho, Wo]."""
    acc = conv_acc(x_q, x_zp, w_q, bias, stride, pad)
    consts = requant_constants(requant_multiplier(x_scale, w_scale, y_scale))
    y = requantize_int(np.moveaxis(acc, 0, -1), consts, y_zp)
    return np.moveaxis(y, -1, 0)


def avgpool2x2_int8(x_q, x_scale, x_zp, y_scale, y_zp) -> np.ndarray:
    """QLinearAveragePool 2x2 stride 2 (no padding), x_q int8 [C, H, W].

    onnxruntime dequantizes each input as f32(x_scale * (x - x_zp)), sums the window in float32
    (row by row), divides by 4, and quantizes as nearbyint(f32(f32(v / y_scale) + y_zp)): the zero
    point is added before rounding, so it takes part in the half-to-even tie. With equal
    power-of-two scales every float step is exact and this is the integer form
    round_half_even((sum(x - x_zp) + 4 * y_zp) / 4), the one the hardware implements; other
    scales are emulated in float32.
    """
    x = np.asarray(x_q, dtype=np.int64)
    c, h, w = x.shape
    win = (x - int(x_zp)).reshape(c, h // 2, 2, w // 2, 2)
    if is_pow2(x_scale) and np.float32(x_scale) == np.float32(y_scale):
        y = round_half_even_shift(win.sum(axis=(2, 4)) + 4 * int(y_zp), 2)
    else:
        deq = (np.float32(x_scale) * win.astype(np.float32)).astype(np.float32)
        s = deq[:, :, 0, :, 0] + deq[:, :, 0, :, 1]
        s = (s + deq[:, :, 1, :, 0]).astype(np.float32)
        s = (s + deq[:, :, 1, :, 1]).astype(np.float32)
        v = (s / np.float32(4)).astype(np.float32)
        v = ((v / np.float32(y_scale)).astype(np.float32) + np.float32(y_zp)).astype(np.float32)
        y = np.rint(v).astype(np.int64)
    return np.clip(y, INT8_MIN, INT8_MAX).astype(np.int8)


def is_pow2(scale) -> bool:
    """True when the float32 value of ``scale`` is a power of two."""
    m, _ = np.frexp(np.float64(np.float32(scale)))
    return m == 0.5


def upsample_nearest_int8(x_q, factor: int) -> np.ndarray:
    """Resize nearest by an integer factor: each input byte repeated factor x factor times."""
    x = np.asarray(x_q, dtype=np.int8)
    return np.repeat(np.repeat(x, factor, axis=-2), factor, axis=-1)


def concat_int8(tensors) -> np.ndarray:
    """Channel concat of tensors sharing one (scale, zero point): a byte copy."""
    return np.concatenate([np.asarray(t, dtype=np.int8) for t in tensors], axis=0)


def argmax_channels(x) -> np.ndarray:
    """Per-pixel class index, the first maximum on ties (as onnxruntime's ArgMax)."""
    return np.argmax(np.asarray(x), axis=0).astype(np.int64)
