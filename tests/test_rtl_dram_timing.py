"""The bench's DRAM with real timing (tb/hdl/dram_timing_model.v) against its Python timing model
(tb/dram_timing.py): the cycle of every handshake and every read beat's data (tb/test_dram_timing.py),
the Verilog's default parameters against the datasheet's numbers, Verilator lint.

The random sequences' seed is pytest's --seed (default 1), printed.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from hwspec.bus import DMA, DRAM_MAP
from tb.dram_timing import DDR4_3200, DEFAULT, DramStats, DramTiming, Request, simulate
from tb.runner import ROOT, run_cocotb, setup_verilator
from tests.test_rtl_axi import _assert_passed

MODEL = ROOT / "tb" / "hdl" / "dram_timing_model.v"
WORDS = 1 << 14  # 1 MiB: 16 rows of every bank


def test_verilog_defaults_are_the_datasheets():
    """The model's default parameters are DramTiming.from_part(DDR4_3200), and the header names each."""
    text = MODEL.read_text()
    found = {k: int(v) for k, v in re.findall(r"parameter (\w+) = (\d+)", text)}
    want = DramTiming.from_part(DDR4_3200).verilog_parameters()
    assert want == DEFAULT.verilog_parameters()
    assert {k: found.get(k) for k in want} == want
    for k, v in want.items():
        assert re.search(rf"//.*\b{k}\s*= .*\b{v}\b", text), f"the header comment should give {k} = ... {v}"


def test_timing_from_the_datasheet():
    """ns to 2 ns cycles rounded up (13.75 ns -> 7, 7.5 ns -> 4, 1.25 ns -> 1), exact multiples kept."""
    t = DramTiming.from_part(DDR4_3200, clock_ns=2)
    assert (t.cl, t.trcd, t.trp, t.twtr, t.trtw) == (7, 7, 7, 4, 1)
    assert (t.trefi, t.trfc, t.cwl) == (3900, 175, 5)
    assert DramTiming.from_part(DDR4_3200, clock_ns=1).cl == 14  # 13.75 ns at 1 GHz
    with pytest.raises(ValueError, match="DramTiming depth must be an integer >= 1, not 0"):
        DramTiming(**{**asdict(DEFAULT), "depth": 0})


def test_python_model_latencies():
    """The first read's first beat: the request and response paths plus tRCD + CL (a closed bank);
    a second read of the same row streams on; one of another row in that bank pays tRP + tRCD + CL
    after the first burst's last beat."""
    t = DEFAULT
    row = 1 << (t.col_bits + t.bank_bits)
    s = simulate(t, [Request(False, 0, 16), Request(False, 1024, 16), Request(False, row, 16)])
    assert s[0].accept == 1 and s[0].first == 1 + 2 * t.t_ctrl + t.trcd + t.cl and s[0].last == s[0].first + 15
    assert s[1].first == s[0].last + 1
    assert s[2].first == s[1].last + 1 + t.trp + t.trcd + t.cl + t.t_ctrl


def test_python_model_counts_where_the_cycles_went():
    """The reads of test_python_model_latencies: the first waits for both paths and CL (latency) and
    tRCD (row), the hit for nothing, the conflict's whole access on its bank's last beat (row). A
    read, a write and a read of one row, offered at once: the bus turns (tRTW, then tWTR + CL)."""
    t = DEFAULT
    row = 1 << (t.col_bits + t.bank_bits)
    st = DramStats()
    simulate(t, [Request(False, 0, 16), Request(False, 1024, 16), Request(False, row, 16)], stats=st)
    assert (st.read_bursts, st.read_beats, st.write_bursts, st.write_beats) == (3, 48, 0, 0)
    assert (st.row_misses, st.row_hits, st.row_conflicts, st.refreshes) == (1, 1, 1, 0)
    assert (st.wait_latency, st.wait_row) == (2 * t.t_ctrl + t.cl - 1, t.trcd + t.trp + t.trcd + t.cl + t.t_ctrl)
    assert (st.wait_turnaround, st.wait_refresh) == (0, 0)
    st = DramStats()
    s = simulate(t, [Request(False, 0, 16), Request(True, 1024, 4), Request(False, 2048, 16)], stats=st)
    assert [x.slot for x in s] == [35, 52, 67]  # the write after the read's last slot 50; the read after 55
    assert (st.read_bursts, st.read_beats, st.write_bursts, st.write_beats) == (2, 32, 1, 4)
    assert (st.row_misses, st.row_hits, st.row_conflicts) == (1, 2, 0)
    assert (st.wait_latency, st.wait_row) == (2 * t.t_ctrl + t.cl - 1, t.trcd)
    assert st.wait_turnaround == t.trtw + t.twtr + t.cl
    assert st.idle(s[2].slot + 16) == 2  # edges 0 (no address taken out of reset) and 1 (the first's accept)


def test_lint():
    setup_verilator()
    r = subprocess.run(["verilator", "--lint-only", f"-GDATA_W={DMA.data_bits}", str(MODEL)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr


def test_dram_timing_model(sim, tmp_path, seed):
    rng = random.Random(seed)
    image, dump = tmp_path / "dram_in.hex", tmp_path / "dram_out.hex"
    image.write_text("".join(f"{rng.getrandbits(DMA.data_bits):0{DMA.data_bits // 4}x}\n" for _ in range(WORDS)))
    params = dict(DATA_W=DMA.data_bits, WORDS=WORDS, **DEFAULT.verilog_parameters())
    res = run_cocotb(sim=sim, block="dram_timing", cfg=SimpleNamespace(key="ddr4"), sources=[MODEL],
                     toplevel="dram_timing_model", test_module="tb.test_dram_timing", parameters=params,
                     env=dict(DRAM_TIMING=json.dumps(asdict(DEFAULT)), DRAM_SEED=str(seed), DRAM_IN=str(image),
                              DRAM_OUT=str(dump)),
                     plusargs=[f"+DRAM_IN={image}", f"+DRAM_OUT={dump}"])
    _assert_passed(res)


def test_accel_run_refuses_stalls_on_the_dram_with_timing(capsys):
    """--stall is the ideal model's random back-pressure: with --dram timing it is one line, status 2."""
    from tb import accel_run

    rc = accel_run.main(["--dram", "timing", "--stall", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert err.startswith("error: ") and "--stall applies to --dram model, not --dram timing" in err, err


def test_the_layouts_dram_map_is_the_models():
    """The activation layout places planes by hwspec.bus.DRAM_MAP: it must map addresses as this model does."""
    assert (DRAM_MAP.row_bytes, DRAM_MAP.banks) == (1 << DEFAULT.col_bits, 1 << DEFAULT.bank_bits)


def test_padded_planes_hide_the_channel_switch():
    """Two bursts from each of 16 channel planes of 128 KB (a 256x512 tensor), read in channel order:
    packed, every plane starts in one bank and each switch waits for that bank's precharge and
    activate; at DRAM_MAP.plane_pitch the planes start in consecutive banks and only the first
    access waits for its row."""
    n = 128 * 1024
    stats = {}
    for pitch in (n, DRAM_MAP.plane_pitch(n)):
        st = stats[pitch] = DramStats()
        simulate(DEFAULT, [Request(False, c * pitch + k * 1024, 16) for c in range(16) for k in range(2)], stats=st)
    packed, padded = stats[n], stats[DRAM_MAP.plane_pitch(n)]
    assert packed.row_conflicts == 15 and packed.wait_row >= 15 * (DEFAULT.trp + DEFAULT.trcd), packed
    assert padded.wait_row == DEFAULT.trcd and padded.wait_latency == packed.wait_latency, padded
