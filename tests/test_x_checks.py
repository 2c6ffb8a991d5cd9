"""X and Z in what the simulator hands back are failures, never zeros: a byte of the DRAM dump with an
X or Z digit is marked unknown (tb.accel_host.read_hex), and an unknown element of a layer's output
is a mismatch at its coordinates (golden.intmodel.compare), reported as X."""

from __future__ import annotations

import numpy as np

from golden.intmodel import compare
from tb.accel_host import read_hex


def test_read_hex_marks_each_byte_with_an_x_or_z_digit(tmp_path):
    path = tmp_path / "dump.hex"
    path.write_text("// comment\n@0\ndeadbeef\n12x4Zz78\nxxxxxxxx\n")  # 4-byte words, most significant first
    unknown = bytearray()
    data = read_hex(path, 10, word_bytes=4, unknown=unknown)
    assert bytes(data) == bytes([0xEF, 0xBE, 0xAD, 0xDE, 0x78, 0x00, 0x04, 0x12, 0, 0])
    assert list(unknown) == [0, 0, 0, 0, 0, 1, 1, 0, 1, 1]  # little-endian: 0x78, zz, x4, 0x12
    assert read_hex(path, 10, word_bytes=4) == data  # the mask is optional


def test_an_unknown_element_is_a_mismatch_even_where_its_bits_read_as_expected():
    expected = np.zeros((1, 2, 2, 3), np.int8)
    actual = expected.copy()
    actual[0, 1, 1, 2] = 5
    unknown = np.zeros(expected.shape, bool)
    unknown[0, 0, 1, 0] = True  # read as 0 = expected, but X
    c = compare("conv", expected, actual, unknown)
    assert (c.mismatches, c.first, c.expected, c.actual, c.max_abs_diff) == (2, (0, 0, 1, 0), 0, None, 5)
    assert "got X" in str(c)
    assert compare("conv", expected, expected, np.zeros(expected.shape, bool)).ok
