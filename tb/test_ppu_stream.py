"""cocotb test: ce_ppu on many random cases vs golden.contract.requantize_float32 (onnxruntime's
float32 reference), streamed from a RAM by tb/ppu_stream.v. CE_PPU_N cases, seed CE_SEED."""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from golden.contract import requantize_float32
from rtl.models import ppu_model, random_ppu_cases


def float_reference(c):
    out = np.empty(len(c["acc"]), np.int8)
    keys = np.stack([c["yzp"], c["qmin"], c["qmax"]], axis=1)
    s = c["acc"] + c["bias"]
    for key in np.unique(keys, axis=0):
        sel = np.all(keys == key, axis=1)
        out[sel] = requantize_float32(s[sel], c["m"][sel], *map(int, key))
    return out


@cocotb.test()
async def ppu_random(dut):
    n = int(os.environ["CE_PPU_N"])
    c = random_ppu_cases(n, np.random.default_rng(int(os.environ.get("CE_SEED", "1"))))
    want = float_reference(c)
    assert np.array_equal(want, ppu_model(c["acc"], c["bias"], c["mant"], c["exp"], c["yzp"], c["qmin"], c["qmax"]))
    m = lambda a, bits: (np.asarray(a, np.int64) & ((1 << bits) - 1)).astype(object)  # noqa: E731
    word = ((m(c["acc"], 32) << 90) | (m(c["bias"], 32) << 58) | (m(c["mant"], 24) << 34) | (m(c["exp"], 10) << 24)
            | (m(c["yzp"], 8) << 16) | (m(c["qmin"], 8) << 8) | m(c["qmax"], 8))
    with open("ppu_in.hex", "w") as f:
        f.write("\n".join(f"{int(x):031x}" for x in word) + "\n")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.n.value = n
    dut.go.value = 0
    await Timer(20, "ns")
    dut.go.value = 1
    await RisingEdge(dut.done)
    with open("ppu_out.hex") as f:
        lines = [ln.split("//")[0].strip() for ln in f]  # Icarus adds "// 0x..." address comments
        got = np.array([int(w, 16) for ln in lines for w in ln.split()], np.uint8).view(np.int8)
    bad = np.nonzero(got != want)[0]
    dut._log.info("PPU: %d cases, %d with |acc| >= 2**24, %d mismatches", n,
                  int(np.sum(np.abs(c["acc"] + c["bias"]) >= 2**24)), len(bad))
    assert len(bad) == 0, [(int(i), int(c["acc"][i] + c["bias"][i]), float(c["m"][i]), int(got[i]), int(want[i])) for i in bad[:5]]
