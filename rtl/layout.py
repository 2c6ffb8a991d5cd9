"""How one conv layer is laid out in the engine's buffers (what the compiler writes), and the
reference results, both from golden.contract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.contract import conv_int8, requant_constants, requant_multiplier
from hwspec.config import EngineConfig
from hwspec.config import ACT_WORD, weight_pitch
from hwspec.formats import BANK_CONSTANT, LAYER_REGS

__all__ = ["Layer", "program", "unpack_output"]


@dataclass(frozen=True)
class Layer:
    x: np.ndarray  # int8 [Cin, H, W]
    w: np.ndarray  # int8 [Cout, Cin, k, k]
    bias: np.ndarray  # int32 [Cout]
    x_scale: float
    x_zp: int
    w_scale: np.ndarray  # float32 [Cout]
    y_scale: float
    y_zp: int
    stride: int = 1
    pad: int | None = None
    name: str = "layer"

    @property
    def k(self):
        return self.w.shape[2]

    @property
    def padding(self):
        return self.k // 2 if self.pad is None else self.pad

    @property
    def out_shape(self):
        cin, h, w = self.x.shape
        p, k, s = self.padding, self.k, self.stride
        return self.w.shape[0], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1

    @property
    def macs(self):
        co, ho, wo = self.out_shape
        return co * ho * wo * self.x.shape[0] * self.k * self.k

    def reference(self):
        return conv_int8(self.x, self.x_scale, self.x_zp, self.w, self.w_scale, self.bias, self.y_scale,
                         self.y_zp, self.stride, self.padding)


def program(cfg: EngineConfig, L: Layer):
    """Buffer contents for ``L``: dict with regs {name: value}, act (bytes, CHW packed; written to
    the engine ACT_WORD bytes a word, tb.engine_tb), wgt [(bank, word address, ACT_WORD-byte word)]: channel c's
    weights from word (c // R) * weight_pitch(K) / 16 of bank c % R, zero-padded; const
    [(bank, addr, value)]. The input zero point is folded into the bias (sum((x - zp) * w) =
    sum(x * w) - zp * sum(w), exact also in the padding, which the feeders fill with zp), so the
    PEs multiply raw int8 values."""
    R = cfg.rows
    cin, h, w = L.x.shape
    cout, _, k, k2 = L.w.shape
    co, ho, wo = L.out_shape
    if k != k2 or k not in (1, 3):
        raise ValueError(f"layer {L.name}: kernel must be 1x1 or 3x3, not {k}x{k2}")
    if L.stride not in (1, 2):
        raise ValueError(f"layer {L.name}: stride must be 1 or 2, not {L.stride}")
    if L.padding not in (0, 1):
        raise ValueError(f"layer {L.name}: pad must be 0 or 1, not {L.padding}")
    K, tiles = cin * k * k, -(-cout // R)
    Kp = weight_pitch(K)
    for what, need, have in (("act_depth", cin * h * w, cfg.act_depth), ("wgt_depth", tiles * Kp, cfg.wgt_depth),
                             ("const_depth", tiles, cfg.const_depth), ("out_depth", tiles * ho * wo, cfg.out_depth)):
        if need > have:
            raise ValueError(f"layer {L.name} needs {what} >= {need}; config {cfg.name} has {have}")
    wf = L.w.reshape(cout, K).astype(np.int64)
    padded = np.zeros((cout, Kp), np.int64)
    padded[:, :K] = wf
    kw = Kp // ACT_WORD
    wgt = [(c % R, (c // R) * kw + i, int.from_bytes(padded[c, ACT_WORD * i:ACT_WORD * (i + 1)].astype(np.int8).tobytes(),
                                                     "little")) for c in range(cout) for i in range(kw)]
    bias = (L.bias.astype(np.int64) - L.x_zp * wf.sum(1) + 2**31) % 2**32 - 2**31  # wraps to int32
    rc = requant_constants(requant_multiplier(L.x_scale, L.w_scale, L.y_scale))
    const = [(c % R, c // R, BANK_CONSTANT.pack_int(bias=int(bias[c]), mantissa=int(rc.mantissa[c]),
                                                  exponent=int(rc.exponent[c]))) for c in range(cout)]
    vals = dict(cin=cin, h=h, w=w, cout=cout, ho=ho, wo=wo, k=k, stride=L.stride, pad=L.padding,
                x_zp=L.x_zp & 0xFF, y_zp=L.y_zp & 0xFF, qmin=0x80, qmax=0x7F, pad_top=L.padding,
                act_base=0, out_base=0, pad_left=L.padding, row_pitch=w, chan_pitch=h * w, k_rows=k,
                row_stride=L.stride)
    return dict(regs={LAYER_REGS.index(n): v for n, v in vals.items()}, act=L.x.reshape(-1).astype(np.uint8),
                wgt=wgt, const=const, read_words=tiles * ho * wo)


def unpack_output(cfg: EngineConfig, L: Layer, words):
    """Read-port words (R bytes each, byte i = output bank i) to int8 [Cout, Ho, Wo]."""
    co, ho, wo = L.out_shape
    b = np.array([[(wd >> (8 * i)) & 0xFF for i in range(cfg.rows)] for wd in words], np.uint8).view(np.int8)
    tiles = -(-co // cfg.rows)
    y = b.reshape(tiles, ho * wo, cfg.rows).transpose(0, 2, 1).reshape(tiles * cfg.rows, ho, wo)
    return y[:co]
