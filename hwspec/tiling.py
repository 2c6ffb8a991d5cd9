"""How the controller walks a conv layer, in one place: output-channel groups, tiles of output rows
and columns in its order, each tile's input window with its halo, the window's layout in the
activation buffer and the tile's stores. The compiler sizes tiles with it, the cycle model and the
loss split walk it, and rtl/controller.py implements the same walk (its tests hold the model equal
to the RTL's counters).

``d`` below is a conv descriptor (compiler.program.Descriptor): h, w, ho, wo, cin, cout, kernel,
stride, group, band, strip, ho_v, stack, k_rows, row_stride, out_addr, flags, aux_addr, up_factor.
A stacked conv (stack G > 1) is computed as an engine layer of G * cout channels and ho_v rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspec.config import ACT_WORD
from hwspec.formats import FLAGS

__all__ = ["Tile", "Window", "groups", "tiles", "extent", "window", "act_pitches", "store_writes"]


@dataclass(frozen=True)
class Tile:
    """Output rows oy0 .. oy0 + rows - 1 (of the engine's layer) by columns ox0 .. ox0 + cols - 1."""

    oy0: int
    rows: int
    ox0: int
    cols: int


@dataclass(frozen=True)
class Window:
    """The input a tile reads: rows row0 .. row0 + rows - 1 and columns col0 .. col0 + cols - 1, the
    halo included and clipped at the image's edges; pad_top / pad_left: whether the tile's first
    output row / column reads the padding above / left of the image."""

    row0: int
    rows: int
    col0: int
    cols: int
    pad_top: int
    pad_left: int


def groups(cout: int, group: int) -> list[tuple[int, int]]:
    """(first output channel, channels) of each weight load."""
    return [(co0, min(group, cout - co0)) for co0 in range(0, cout, group)]


def tiles(d) -> list[Tile]:
    """A group's tiles in the controller's order: bands of ``band`` rows, each in strips of ``strip``
    columns (the full width when strip is 0)."""
    strip = d.strip or d.wo
    return [Tile(oy0, min(d.band, d.ho_v - oy0), ox0, min(strip, d.wo - ox0))
            for oy0 in range(0, d.ho_v, d.band) for ox0 in range(0, d.wo, strip)]


def extent(n_out: int, step: int, k: int, size: int) -> int:
    """Input rows (or columns) that ``n_out`` consecutive outputs ``step`` apart with a kernel of ``k``
    read away from the edges, at most the image's ``size``: the largest window of a tile."""
    return min(size, (n_out - 1) * step + k)


def window(d, t: Tile) -> Window:
    pad = d.kernel // 2
    top = t.oy0 * d.row_stride - pad
    left = t.ox0 * d.stride - pad
    row0, col0 = max(top, 0), max(left, 0)
    rows = min(d.h, (t.oy0 + t.rows - 1) * d.row_stride - pad + d.k_rows) - row0
    cols = min(d.w, (t.ox0 + t.cols - 1) * d.stride - pad + d.kernel) - col0
    return Window(row0, rows, col0, cols, int(top < 0), int(left < 0))


def act_pitches(rows: int, cols: int, w: int) -> tuple[int, int]:
    """(row pitch, channel pitch) of a window of ``rows`` x ``cols`` of a ``w``-wide input in the
    activation buffer: whole rows (cols == w) are one DMA command a channel, so each channel starts
    on a buffer word; a strip is one command a row, so each row does."""
    up = lambda n: -(-n // ACT_WORD) * ACT_WORD  # noqa: E731
    if cols == w:
        return w, up(rows * w)
    return up(cols), rows * up(cols)


def store_writes(d, co0: int, gc: int, t: Tile, array_rows: int) -> list[tuple[int, int, int]]:
    """The write commands that store tile ``t`` of the group from output channel ``co0`` (``gc``
    channels), in order: (DRAM address, output-bank byte address, bytes). Channel c of the group is in
    bank c % array_rows from tile c // array_rows. A stacked conv's channel v = c * G + r writes its row
    y to output row G * (oy0 + y) + r (rows past ho skipped); whole rows are one command a channel, a
    strip one a row. A fused pool follows each channel with its pooled rows (from the line buffer), a
    fused upsample each command with the same rows upsampled (from the same bank bytes)."""
    g, row0 = d.stack, t.oy0 * d.stack * d.wo + t.ox0  # row0: the tile's first byte in a plane
    bo, sw = t.rows, t.cols
    # (output channel, byte in its plane, bank byte address, bytes)
    if g > 1:
        placed = [(co0 + v // g, row0 + (g * y + v % g) * d.wo, y * sw, sw)
                  for v in range(gc) for y in range(bo) if g * (t.oy0 + y) + v % g < d.ho]
    elif sw == d.wo:
        placed = [(co0 + c, row0, (c // array_rows) * bo * sw, bo * d.wo) for c in range(gc)]
    else:
        placed = [(co0 + c, row0 + r * d.wo, (c // array_rows) * bo * sw + r * sw, sw)
                  for c in range(gc) for r in range(bo)]
    writes = []
    for ch, off, src, n in placed:  # planes out_pitch apart, pooled or upsampled planes aux_pitch apart
        writes.append((d.out_addr + ch * d.out_pitch + off, src, n))
        if d.flags & FLAGS["pool"]:  # whole rows only
            writes.append((d.aux_addr + ch * d.aux_pitch + t.oy0 // 2 * (d.wo // 2), 0, bo * d.wo // 4))
        if d.flags & FLAGS["up"]:
            f2 = d.up_factor ** 2
            writes.append((d.aux_addr + ch * d.aux_pitch + f2 * off, 0, f2 * n))
    return writes
