"""cocotb test: conv layers through ce_engine vs golden.contract.conv_int8, every element equal.

Reads the layers from the .npz named by CE_LAYERS, the config from CE_CONFIG; writes per-layer
results (mismatches, first differing coordinate, cycles, busy, MACs) as JSON to CE_RESULT."""

import json
import os

import cocotb
import numpy as np

from engine_tb import EngineTB
from hwspec.config import get_config
from rtl.layout import Layer, program, unpack_output


def load_layers(path):
    z = np.load(path, allow_pickle=True)
    return [Layer(**d) for d in z["layers"]]


@cocotb.test()
async def conv_layers(dut):
    cfg = get_config(os.environ["CE_CONFIG"])
    tb = EngineTB(dut)
    results = []
    for L in load_layers(os.environ["CE_LAYERS"]):
        await tb.reset()
        prog = program(cfg, L)
        await tb.load(prog)
        cycles, busy = await tb.run()
        y = unpack_output(cfg, L, await tb.read(prog["read_words"]))
        ref = L.reference()
        bad = np.argwhere(y != ref)
        r = dict(name=L.name, mismatches=int(len(bad)), total=int(ref.size),
                 first=[int(v) for v in bad[0]] if len(bad) else None,
                 got=int(y[tuple(bad[0])]) if len(bad) else None, want=int(ref[tuple(bad[0])]) if len(bad) else None,
                 cycles=cycles, busy=busy, macs=L.macs, util=L.macs / (cycles * cfg.macs),
                 ideal=L.macs / cfg.macs)
        dut._log.info("%s", r)
        np.savez(os.environ["CE_RESULT"] + f".{L.name}.npz", got=y, want=ref)
        results.append(r)
    with open(os.environ["CE_RESULT"], "w") as f:
        json.dump(results, f, indent=1)
    assert all(r["mismatches"] == 0 for r in results), [r for r in results if r["mismatches"]]
