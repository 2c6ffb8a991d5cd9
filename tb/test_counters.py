"""cocotb module for ce_counters: the stream bench of tb/test_pe.py (tests/test_rtl_counters.py drives it)."""

from test_pe import stream  # noqa: F401  (the cocotb test, discovered in this module)
