"""The hardware spec (hwspec/): its records pack and unpack every field, refuse what does not fit by
name, and are what the generated controller slices and raises; the software above it needs no HDL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.program import Descriptor, compile_graph
from golden.qgraph import ModelError, load_qgraph
from hwspec.bus import DRAM_MAP
from hwspec.checks import refusal
from onnx_models import model_path
from compiler.memplan import Segment
from hwspec import tiling
from hwspec.config import CONFIGS
from hwspec.fields import FieldError, Record, pad
from hwspec.formats import COUNTER_RECORD, DESCRIPTOR, ERRORS, FLAGS, HEADER, MAX_SEGMENTS, STATUS, error_code, flag_bit

ROOT = Path(__file__).resolve().parents[1]


def test_record_packs_fields_where_its_table_puts_them():
    r = Record("r", 48, [("a", 4), pad(4), ("b", 8, True), ("c", 8, False, 3)])
    raw = r.pack(a=0xA, b=-2, c=[1, 2, 3])
    assert raw == bytes([0x0A, 0xFE, 1, 2, 3, 0])
    assert r.unpack(raw) == dict(a=0xA, b=-2, c=[1, 2, 3])
    assert r.bits("b") == (16, 8) and r.bits("c", 2) == (40, 32) and r.span("c") == (40, 16)
    assert r.replace(raw, b=5) == bytes([0x0A, 5, 1, 2, 3, 0])
    assert r.used_bytes == 5 and r.size == 6


@pytest.mark.parametrize("values, message", [
    (dict(b=128), "r.b = 128 does not fit its 8 bits (-128..127)"),
    (dict(a=16), "r.a = 16 does not fit its 4 bits (0..15)"),
    (dict(c=[1, 2, 3, 4]), "r.c holds 3 elements, not 4"),
    (dict(c=[0, -1]), "r.c[1] = -1 does not fit its 8 bits (0..255)"),
])
def test_record_refuses_a_value_naming_the_field_and_its_range(values, message):
    r = Record("r", 48, [("a", 4), pad(4), ("b", 8, True), ("c", 8, False, 3)])
    with pytest.raises(FieldError) as e:
        r.pack(**values)
    assert str(e.value) == message


def test_record_refuses_fields_past_its_size():
    with pytest.raises(ValueError, match="fields take 40 bits, more than its 32"):
        Record("small", 32, [("a", 32), ("b", 8)])


def test_every_descriptor_field_survives_pack_and_unpack():
    """A descriptor with each field at a value of its own (and at its limits) comes back whole: no
    two fields overlap and none is cut short."""
    d = Descriptor(layer=65535, name="", op="argmax", kernel=3, stride=2, flags=31, cin=1, cout=2, h=3, w=4, ho=5,
                   wo=6, x_zp=-128, y_zp=127, qmin=-7, qmax=9, factor=16, group=7, band=8, strip=9, ho_v=10,
                   aux_addr=2**32 - 1, pool_zp=-3, up_factor=4, weight_addr=11, const_addr=12, out_addr=13,
                   segments=[Segment("", 100 * i + 1, i + 1) for i in range(MAX_SEGMENTS)], in_pitch=14,
                   out_pitch=15, aux_pitch=2**32 - 2)
    raw = d.pack()
    assert len(raw) == DESCRIPTOR.size
    assert Descriptor.unpack(raw) == d
    with pytest.raises(FieldError, match=r"descriptor.cin = 65536 does not fit its 16 bits"):
        Descriptor(layer=0, name="", op="conv", cin=65536).pack()


def test_counter_record_and_header_fit_the_hosts_strides():
    assert COUNTER_RECORD.size == 32 and len(COUNTER_RECORD.names) == 8
    assert HEADER.used_bytes <= HEADER.size and DESCRIPTOR.used_bytes <= DESCRIPTOR.size
    assert all(flag_bit(f) == DESCRIPTOR.field("flags").lo + v.bit_length() - 1 for f, v in FLAGS.items())


@pytest.mark.parametrize("config", list(CONFIGS))
def test_generated_controller_raises_every_error_code_and_no_other(config):
    """Each code of hwspec.formats.ERRORS is set somewhere in the committed controller, and the
    controller sets no code the table does not name: the host can tell which limit was broken."""
    verilog = (ROOT / "rtl" / "generated" / config / "ce_ctrl.v").read_text()
    raised = {int(c) for c in re.findall(r"\berr_code <= (\d+);", verilog)} - {0}
    assert raised == set(ERRORS), (sorted(raised), sorted(ERRORS))
    assert max(ERRORS) < 1 << STATUS.field("error").bits
    assert error_code("fused_pool") != error_code("fused_up")


def test_compiler_models_and_host_import_no_hdl():
    """The compiler, the cycle model, the loss split and the host side learn the hardware from
    hwspec: none of them imports MyHDL or the RTL."""
    code = ("import sys, compiler.program, compiler.estimate, compiler.executor, perf.losses, perf.model, "
            "tb.accel_host; print(sorted(m for m in sys.modules if m.split('.')[0] in ('myhdl', 'rtl')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _conv(h, w, k, s, g, band, strip):
    pad = k // 2
    ho, wo = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    return Descriptor(layer=0, name="", op="conv", kernel=k, stride=s, factor=g, cin=1, cout=g, h=h, w=w, ho=ho,
                      wo=wo, ho_v=-(-ho // g), band=band, strip=strip, group=g)


CONVS = [(h, w, k, s, g, band, strip) for h in (1, 2, 5, 8) for w in (1, 3, 7) for k in (1, 3) for s in (1, 2)
         for g in (1, 2, 3) for band in (1, 2, 3) for strip in (1, 2, 5)]


def test_tiles_cover_every_output_once_and_windows_hold_every_tap():
    """Every output pixel of the engine's layer is in exactly one tile, in band-major order; each
    tile's input window spans the input rows and columns from its outputs' first kernel tap to their
    last inside the image (the rest is padding: pad_top / pad_left say so); no window is larger than
    ``extent``, which the compiler sizes buffers with."""
    checked = 0
    for h, w, k, s, g, band, strip in CONVS:
        d = _conv(h, w, k, s, g, band, strip)
        walk = tiling.tiles(d)
        seen = [(y, x) for t in walk for y in range(t.oy0, t.oy0 + t.rows) for x in range(t.ox0, t.ox0 + t.cols)]
        assert sorted(seen) == [(y, x) for y in range(d.ho_v) for x in range(d.wo)], d
        assert [(t.oy0, t.ox0) for t in walk] == sorted((t.oy0, t.ox0) for t in walk)
        pad = k // 2
        for t in walk:
            win = tiling.window(d, t)
            # stacked rows: engine row r covers kernel rows r * g * s - pad .. + k_rows - 1
            rows = {r * d.row_stride - pad + dy for r in range(t.oy0, t.oy0 + t.rows) for dy in range(d.k_rows)}
            cols = {x * s - pad + dx for x in range(t.ox0, t.ox0 + t.cols) for dx in range(k)}
            assert (win.row0, win.row0 + win.rows) == (max(min(rows), 0), min(max(rows) + 1, h)), (d, t, win)
            assert (win.col0, win.col0 + win.cols) == (max(min(cols), 0), min(max(cols) + 1, w)), (d, t, win)
            assert (win.pad_top, win.pad_left) == (int(min(rows) < 0), int(min(cols) < 0))
            assert win.rows <= tiling.extent(t.rows, d.row_stride, d.k_rows, h)
            assert win.cols <= tiling.extent(t.cols, s, k, w)
            checked += 1
    assert checked > len(CONVS)


@pytest.mark.parametrize("model, size", [("tiny", (64, 128)), ("hardnet70", (128, 256)), ("hardnet70", (1024, 2048)),
                                         ("hardnet70_hw", (1024, 2048))])
def test_compiled_descriptors_pass_the_controllers_checks(model, size):
    """Every descriptor the compiler emits, on every configuration that can take the network, is one
    the controller runs (hwspec.checks, the model of its CHECK, G_CHK and B_CHK states; the RTL tests
    hold the controller's codes equal to it); compile_graph itself refuses to emit one that is not."""
    graph = load_qgraph(model_path(model), size)
    compiled = 0
    for cfg in CONFIGS.values():
        try:
            prog = compile_graph(graph, cfg)
        except ModelError:  # a layer too large for a small config: refused with its own message
            continue
        assert [(d.name, refusal(d, cfg)) for d in prog.descriptors if refusal(d, cfg)] == []
        compiled += 1
    assert compiled >= 1


def test_python_m_hwspec_prints_every_table_and_refuses_an_unknown_config():
    out = subprocess.run([sys.executable, "-m", "hwspec", "asic"], cwd=ROOT, capture_output=True, text=True, check=True)
    for title in ("## descriptor: 128 bytes", "## counter record: 32 bytes", "## error codes", "## config asic"):
        assert title in out.stdout, title
    assert out.stdout.count("| segments | u64 x 8 |") == 1
    bad = subprocess.run([sys.executable, "-m", "hwspec", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == "error: unknown config 'nope'; known: tiny, sim, tall, asic\n"


def test_plane_pitch_starts_each_plane_in_another_bank():
    """From any address, the next plane (pitch bytes on) starts in another DRAM bank, for every plane
    of at least a row; the padding is under two rows and none where the plane already does so;
    smaller planes stay packed."""
    m = DRAM_MAP
    window = m.row_bytes * m.banks
    bank = lambda a: a // m.row_bytes % m.banks  # noqa: E731
    sizes = [h * w for h in (64, 128, 256, 512, 1024, 2048) for w in (64, 128, 256, 512, 1024, 2048)]
    sizes += list(range(m.row_bytes, 3 * window, 1000)) + [k * window + d for k in (1, 2, 33) for d in (-64, 0, 64)]
    padded = 0
    for n in sizes:
        p = m.plane_pitch(n)
        assert n <= p < n + 2 * m.row_bytes, n
        if n < m.row_bytes:
            assert p == n, n
            continue
        if m.row_bytes <= n % window < window - m.row_bytes:
            assert p == n, n  # no padding where none is needed
        padded += p != n
        assert all(bank(x + p) != bank(x) for x in range(0, window, 256)), (n, p)
    assert padded > 0 and m.plane_pitch(512 * 1024) == 512 * 1024 + m.row_bytes


def test_frame_tensors_are_laid_out_by_the_plane_pitch():
    """FC-HarDNet-70 at 1024x2048 on asic: every descriptor's pitches are its planes' plane_pitch, and
    the 2 MB, 512 KB and 128 KB planes are padded."""
    prog = compile_graph(load_qgraph(model_path("hardnet70"), (1024, 2048)), CONFIGS["asic"])
    for d in prog.descriptors:
        assert d.in_pitch == DRAM_MAP.plane_pitch(d.h * d.w) and d.out_pitch == DRAM_MAP.plane_pitch(d.ho * d.wo), d.name
        if d.flags & FLAGS["pool"]:
            assert d.aux_pitch == DRAM_MAP.plane_pitch(d.ho * d.wo // 4), d.name
        elif d.flags & FLAGS["up"]:
            assert d.aux_pitch == DRAM_MAP.plane_pitch(d.ho * d.wo * d.up_factor ** 2), d.name
    assert {d.in_pitch - d.h * d.w for d in prog.descriptors} == {0, DRAM_MAP.row_bytes}
