"""The post-processing unit: >= 1,000,000 random cases vs onnxruntime's float32 reference on
Verilator (fewer on Icarus), and MyHDL's simulation vs the converted Verilog on the same vectors."""

import numpy as np

from hwspec.config import get_config
from rtl.models import ppu_model, random_ppu_cases
from rtl.myhdl_sim import sim_ppu
from tb.runner import ROOT, generated_dir, run_cocotb

CASES = {"verilator": 1_000_000, "icarus": 20_000}


def test_ppu_random_vs_float32_reference(sim, seed, tmp_path):
    cfg = get_config("tiny")
    run_cocotb(sim=sim, block="ppu_stream", cfg=cfg, toplevel="ppu_stream", test_module="test_ppu_stream",
               sources=[generated_dir("tiny") / "ce_ppu.v", ROOT / "tb" / "ppu_stream.v"],
               env=dict(CE_PPU_N=str(CASES[sim]), CE_SEED=str(seed)), test_dir=tmp_path)  # its ppu_in/out.hex


def test_ppu_myhdl_equals_model(seed):
    """MyHDL's own simulation of the PPU on the first 3,000 of the cases the Icarus run streams."""
    cases = random_ppu_cases(CASES["icarus"], np.random.default_rng(seed))
    c = {k: a[:3000] for k, a in cases.items()}
    got = np.array(sim_ppu(c), np.int8)
    want = ppu_model(c["acc"], c["bias"], c["mant"], c["exp"], c["yzp"], c["qmin"], c["qmax"])
    assert np.array_equal(got, want), np.nonzero(got != want)[0][:10]
