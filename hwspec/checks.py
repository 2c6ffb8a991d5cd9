"""What the controller refuses, as a Python model: ``refusal(d, cfg)`` is the key of the error
(hwspec.formats.ERRORS) that rtl/controller.py stops a descriptor with on config ``cfg``, or None
if it runs it. The checks come in the controller's order (its CHECK state, then each weight
group's G_CHK and each tile's B_CHK), so the first broken limit names the code. The compiler
checks every descriptor it emits against it; the RTL tests hold the controller's codes equal to it.
"""

from __future__ import annotations

from hwspec import tiling
from hwspec.bus import DMA
from hwspec.config import ACT_WORD, EngineConfig, weight_pitch
from hwspec.formats import FLAGS, MAX_SEGMENTS, OPS

__all__ = ["refusal", "PLANE_MAX", "SCALES"]

# a channel plane (input or output): a whole-row tile's 2-D load has it as pitch, a vector op writes
# a channel's output as one command
PLANE_MAX = (1 << DMA.len_bits) - 1
SCALES = (2, 4, 8, 16)  # the line buffer's byte repeats (upsample factors, argmax label upsampling)


def _conv_refusal(d, cfg: EngineConfig) -> str | None:
    pool, up = d.flags & FLAGS["pool"], d.flags & FLAGS["up"]
    if not (d.group and d.band and d.strip):
        return "conv_tile"
    k_rows = d.kernel + (d.factor - 1) * d.stride
    if weight_pitch(d.cin * k_rows * d.kernel) > cfg.wgt_depth:
        return "weight_bank"
    if d.factor > 1 and (d.cout > cfg.rows or d.group != d.cout):
        return "stacked"
    if pool and (d.factor != 1 or d.strip != d.wo or d.wo % ACT_WORD or d.ho % 2 or d.band % 2
                 or 2 * d.wo > cfg.line_depth or d.band * d.wo > 2 * cfg.line_depth):
        return "fused_pool"
    if up and (d.strip != d.wo or d.up_factor not in (2, 4) or pool or (d.wo * d.up_factor) % ACT_WORD):
        return "fused_up"
    return None


def _conv_buffers_refusal(d, cfg: EngineConfig) -> str | None:
    k_rows = d.kernel + (d.factor - 1) * d.stride
    pitch = weight_pitch(d.cin * k_rows * d.kernel)
    for _, gc in tiling.groups(d.cout, d.group):
        ntile = -(-gc // cfg.rows)
        if ntile * pitch > cfg.wgt_depth or ntile > cfg.const_depth:
            return "group_banks"
        for t in tiling.tiles(d):
            win = tiling.window(d, t)
            if (d.cin * tiling.act_pitches(win.rows, win.cols, d.w)[1] > cfg.act_half
                    or ntile * t.rows * t.cols > cfg.out_half):
                return "band_buffers"
    return None


def refusal(d, cfg: EngineConfig) -> str | None:
    """``d``: a descriptor's fields by name (a compiler.program.Descriptor, with ``op`` a name or
    its code, and ``segments`` its list)."""
    op = OPS.get(d.op, d.op)
    if op not in OPS.values():
        return "op"
    if op == OPS["conv"] and (d.kernel not in (1, 3) or d.stride not in (1, 2) or d.factor == 0):
        return "conv_shape"
    if op == OPS["upsample"] and d.factor not in SCALES:
        return "scale"
    if not 1 <= len(d.segments) <= MAX_SEGMENTS:
        return "segments"
    if max(d.in_pitch, d.ho * d.wo) > PLANE_MAX:  # a 2-D load's pitch, a vector op's write
        return "plane"
    if op == OPS["conv"]:
        return _conv_refusal(d, cfg) or _conv_buffers_refusal(d, cfg)
    if op in (OPS["avgpool"], OPS["upsample"]) and d.flags & FLAGS["fused"]:
        return None  # the convs before it computed it: only its counter record
    if op == OPS["avgpool"] and 4 * d.w > cfg.line_depth:
        return "pool_row"
    if op == OPS["upsample"] and 2 * d.w > cfg.line_depth:
        return "up_row"
    if op == OPS["argmax"]:
        if d.factor not in (1,) + SCALES:
            return "scale"
        if (len(d.segments) != 1 or d.cin < 2 or d.strip == 0 or d.strip % ACT_WORD
                or d.cin * d.strip > cfg.line_half or 2 * d.w > cfg.line_depth):
            return "argmax"
    return None
