"""AXI bus blocks: read DMA, write DMA, AXI-Lite register file.

cocotb benches (tb/test_axi_*.py) against cocotbext-axi's RAM and AXI-Lite master models with
random pauses and back-pressure, checked exactly against tb/axi_models.py; the models' own
invariants; Verilator -Wall lint of the generated Verilog. One build per (block, config, simulator).
"""

from __future__ import annotations

import filecmp
import os
import random
import shutil
import subprocess
import tempfile

import pytest

from hwspec.bus import AxiDmaConfig
from rtl.axi_rd import DEFAULT
from rtl.axi_rd import build as build_rd
from rtl.axi_wr import build as build_wr
from rtl.axil_regs import AxilRegsConfig
from rtl.axil_regs import build as build_regs
from tb.axi_models import bursts, random_commands, regs_model, write_beats
from tb.axi_myhdl import sim_rd, sim_wr
from tb.runner import ROOT, run_cocotb, setup_verilator

SMALL = AxiDmaConfig(name="axi32", data_bits=32, max_burst=8, outstanding=2)
DMA_CONFIGS = {DEFAULT.name: DEFAULT, SMALL.name: SMALL}  # the accelerator's width, and a narrow one
REGS = AxilRegsConfig(n_rw=6, n_ro=5, addr_bits=8)
N_CMDS = {"verilator": 24, "icarus": 12}


def _generate(block, cfg, builder):
    """Convert into build/axi/<block>-<key>/ (rewritten only when it changed, so the simulator's
    build cache survives); returns the Verilog path."""
    dest = ROOT / "build" / "axi" / f"{block}-{cfg.key}"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = builder(cfg, tmp)
        name = os.path.basename(path)
        if not (dest / name).exists() or not filecmp.cmp(path, dest / name, shallow=False):
            shutil.copyfile(path, dest / f"{name}.{os.getpid()}")
            os.replace(dest / f"{name}.{os.getpid()}", dest / name)  # a test on another worker never reads half
    return dest / name


BUILDERS = {"ce_axi_rd": build_rd, "ce_axi_wr": build_wr, "ce_axil_regs": build_regs}


# ---------------------------------------------------------------- models


def test_burst_model_invariants():
    rng = random.Random(3)
    for db, mb in ((16, 16), (4, 8), (64, 4)):
        for addr, length in random_commands(rng, 200, 1 << 20, db) + [(4095, 2), (0, 1), (4096 - db, db + 1)]:
            bs = bursts(addr, length, db, mb)
            assert bs[0][0] == addr - addr % db
            assert bs[-1][0] + bs[-1][1] * db >= addr + length > bs[-1][0] + (bs[-1][1] - 1) * db
            for (a, n), (a2, _) in zip(bs, bs[1:]):
                assert a + n * db == a2
            assert all(1 <= n <= mb and (a % 4096) + n * db <= 4096 for a, n in bs)


def test_write_beat_model():
    data = bytes(range(1, 40))
    beats = write_beats(4093, data, 16)
    assert [(a, s) for a, _, s in beats] == [(4080, 0xE000), (4096, 0xFFFF), (4112, 0xFFFF), (4128, 0x000F)]
    assert sum(bin(s).count("1") for *_, s in beats) == len(data)
    assert beats[0][1] == (1 | 2 << 8 | 3 << 16) << (13 * 8)


def test_regs_model():
    m = regs_model(2, 1)
    assert m.write(4, 0x11223344, 0b0101) == 1 and m.read(4) == 0x00220044
    assert m.write(8, 5) is None and m.read(8) == 0 and m.read(0xFC) == 0


# ---------------------------------------------------------------- lint


@pytest.mark.parametrize("block", sorted(BUILDERS))
def test_lint_wall(block):
    setup_verilator()
    cfg = REGS if block == "ce_axil_regs" else DEFAULT
    path = _generate(block, cfg, BUILDERS[block])
    r = subprocess.run(["verilator", "--lint-only", "-Wall", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr


# ---------------------------------------------------------------- cocotb


@pytest.mark.slow(minutes=1)
@pytest.mark.parametrize("config", sorted(DMA_CONFIGS))
def test_axi_rd(sim, config, seed):
    cfg = DMA_CONFIGS[config]
    src = _generate("ce_axi_rd", cfg, build_rd)
    res = run_cocotb(sim=sim, block="axi_rd", cfg=cfg, sources=[src], toplevel="ce_axi_rd", test_module="test_axi_rd",
                     env=dict(AXI_N=str(N_CMDS[sim]), AXI_SEED=str(seed), AXI_MAX_BURST=str(cfg.max_burst)))
    _assert_passed(res)


@pytest.mark.slow(minutes=1)
@pytest.mark.parametrize("config", sorted(DMA_CONFIGS))
def test_axi_wr(sim, config, seed):
    cfg = DMA_CONFIGS[config]
    src = _generate("ce_axi_wr", cfg, build_wr)
    res = run_cocotb(sim=sim, block="axi_wr", cfg=cfg, sources=[src], toplevel="ce_axi_wr", test_module="test_axi_wr",
                     env=dict(AXI_N=str(N_CMDS[sim]), AXI_SEED=str(seed + 1), AXI_MAX_BURST=str(cfg.max_burst)))
    _assert_passed(res)


def test_axil_regs(sim, seed):
    src = _generate("ce_axil_regs", REGS, build_regs)
    res = run_cocotb(sim=sim, block="axil_regs", cfg=REGS, sources=[src], toplevel="ce_axil_regs",
                     test_module="test_axil_regs", env=dict(AXI_SEED=str(seed + 2), N_RW=str(REGS.n_rw), N_RO=str(REGS.n_ro)))
    _assert_passed(res)


def _assert_passed(results_xml):
    """cocotb 2's runner returns the results file; fail the pytest entry on any failed test."""
    from cocotb_tools.runner import get_results

    n, failed = get_results(results_xml)
    assert n > 0 and failed == 0, f"{failed} of {n} cocotb tests failed (see {results_xml})"


# ---------------------------------------------------------------- MyHDL's simulation (before conversion)

MYHDL_CMDS = [(5, 1), (4090, 13), (33, 70), (4096 - 40, 300), (7, 16)]


@pytest.mark.parametrize("config", sorted(DMA_CONFIGS))
def test_axi_rd_myhdl_equals_model(config):
    cfg = DMA_CONFIGS[config]
    rng = random.Random(11)
    mem = bytes(rng.getrandbits(8) for _ in range(1 << 14))
    for (addr, length), (got, lasts, ars) in zip(MYHDL_CMDS, sim_rd(cfg, mem, MYHDL_CMDS)):
        assert got == mem[addr:addr + length] and lasts == [length - 1], (addr, length)
        assert ars == bursts(addr, length, cfg.beat_bytes, cfg.max_burst), (addr, length)


@pytest.mark.parametrize("config", sorted(DMA_CONFIGS))
def test_axi_wr_myhdl_equals_model(config):
    cfg = DMA_CONFIGS[config]
    rng = random.Random(12)
    mem = bytearray(rng.getrandbits(8) for _ in range(1 << 14))
    want = bytearray(mem)
    cmds = [(a, bytes(rng.getrandbits(8) for _ in range(n))) for a, n in MYHDL_CMDS]
    for (addr, data), (dones, aws) in zip(cmds, sim_wr(cfg, mem, cmds)):
        want[addr:addr + len(data)] = data
        assert dones == 1 and aws == bursts(addr, len(data), cfg.beat_bytes, cfg.max_burst), (addr, len(data))
    assert mem == want
