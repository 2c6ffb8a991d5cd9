"""cocotb module for ce_array: the stream bench of tb/test_pe.py (tests/test_rtl_array.py drives it)."""

from test_pe import stream  # noqa: F401  (the cocotb test, discovered in this module)
