"""cocotb test of the whole accelerator: DRAM in, program runs, DRAM and counters out.

Driven by environment variables (set by tests/test_rtl_accel.py through tb.accel_run):
  ACC_MODE     "model" or "timing": DUT is tb/hdl/accel_tb_top.v, DRAM is its Verilog AXI memory,
               the ideal one or the one with DDR4 timing (backdoor loaded from ACC_DRAM_IN, dumped
               to ACC_DRAM_OUT through plusargs);
               "axiram": DUT is the accelerator itself, DRAM is cocotbext-axi's AxiRam.
  ACC_RUNS     JSON list of program-header addresses, run one after another (one start each)
  ACC_CNT_BASE counter record base
  ACC_NBYTES   DRAM bytes to return
  ACC_RESULT   JSON file written with the status and total counters of every run
  ACC_TIMEOUT_CYCLES  per run
  ACC_RESET_AFTER     if set: start the first run, assert reset this many cycles later, then go on
  ACC_PROGRESS_S      during a run, a progress line (layer, cycles, simulation rate) at most this often
                      (wall seconds; 0: none)
  ACC_LAYER_NAMES     JSON list of the program's layer names, by descriptor index (for progress lines)
With the timing DRAM, each run's record has "dram": where the DRAM's data path cycles went during
the run (tb/dram_timing.py DramStats, read from the model's counters, and "cycles"), in total and
per layer, split at the cycle the controller latches each layer's counter record.
A run during which the Verilog DRAM model saw an address past its end has that address as
"dram_out_of_range" in its record (the model answers it with SLVERR: the run stops with a DRAM error).
Python only drives the AXI-Lite register accesses; during a run it waits on the interrupt, reading
STATUS and CYCLES for a progress line every ACC_PROGRESS_S seconds of a long run.
"""

from __future__ import annotations

import json
import logging
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from hwspec.formats import STATUS, error_code
from tb.accel_host import CTRL_IRQ_EN, CTRL_START, REGS
from tb.dram_timing import DramStats
from hwspec.config import CLOCK_NS

PERIOD_NS = CLOCK_NS
DRAM_ERRORS = (error_code("dram_read"), error_code("dram_write"))


async def reset(dut):
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


def dram_out_of_range(dut, mode) -> dict:
    """The DRAM model's first out-of-range address, if it has seen one (sticky)."""
    if mode != "axiram" and dut.dram_oob.value:
        return dict(dram_out_of_range=int(dut.dram_oob_addr.value))
    return {}


def dram_counters(dut) -> dict[str, int]:
    """The timing DRAM model's counters now, and its cycle count."""
    dram = dut.timing.dram
    return dict(cycles=int(dram.now.value), **{k: int(getattr(dram, k).value) for k in DramStats.names()})


def _minus(a: dict, b: dict) -> dict:
    return {k: a[k] - b[k] for k in a}


class DramWatch:
    """Snapshots of the timing DRAM's counters at every layer's end (the controller's counter record
    latch, ``c_rec_latch``) during a run: where its data path cycles went, per layer."""

    def __init__(self, dut):
        self.dut, self.marks = dut, []
        cocotb.start_soon(self._watch())

    async def _watch(self):
        ctrl = self.dut.dut
        while True:
            await RisingEdge(ctrl.c_rec_latch)
            await ReadOnly()
            self.marks.append((int(ctrl.cur_layer.value), dram_counters(self.dut)))

    def start_run(self):
        self.marks, self.start = [], dram_counters(self.dut)

    def run_record(self) -> dict:
        end, layers, prev = dram_counters(self.dut), [], self.start
        for layer, snap in self.marks:
            layers.append(dict(layer=layer, **_minus(snap, prev)))
            prev = snap
        return dict(total=_minus(end, self.start), layers=layers)


PROGRESS_SLICE = 20_000  # cycles simulated between looks at the wall clock during a run


class Progress:
    """Prints where a long run is (layer, cycles, simulation rate) at most every ``every_s`` wall seconds."""

    def __init__(self, every_s: float, names: list[str], n_runs: int):
        self.every_s, self.names, self.n_runs = every_s, names, n_runs
        self.t0 = self.last = self.run_t0 = time.monotonic()

    def start_run(self):
        self.run_t0 = time.monotonic()  # CYCLES restarts with each run: so does the rate

    def due(self) -> bool:
        return self.every_s > 0 and time.monotonic() - self.last >= self.every_s

    def show(self, run: int, status: int, cycles: int):
        now = time.monotonic()
        self.last = now
        layer = STATUS.unpack_int(status)["layer"]
        name = self.names[layer] if layer < len(self.names) else "?"
        rate = cycles / max(now - self.run_t0, 1e-9)
        print(f"progress: run {run + 1}/{self.n_runs}, layer {layer + 1}/{len(self.names)} {name}, "
              f"{cycles:,} cycles, {rate:,.0f} cycles/s, {now - self.t0:,.0f} s", flush=True)


async def wait_run(dut, axil, timeout: int, progress: Progress, run: int) -> bool:
    """Waits for the interrupt (True) or ``timeout`` cycles (False), showing progress on the way."""
    left = timeout
    progress.start_run()
    while not dut.irq.value:
        if left <= 0:
            return False
        step = min(left, PROGRESS_SLICE) if progress.every_s > 0 else left
        fired = await First(RisingEdge(dut.irq), Timer(step * PERIOD_NS, unit="ns"))
        if isinstance(fired, RisingEdge):
            return True
        left -= step
        if progress.due():
            progress.show(run, await axil.read_dword(REGS["STATUS"]), await axil.read_dword(REGS["CYCLES"]))
    return True


@cocotb.test()
async def run_program(dut):
    mode = os.environ.get("ACC_MODE", "model")
    runs = json.loads(os.environ["ACC_RUNS"])
    nbytes = int(os.environ["ACC_NBYTES"])
    timeout = int(os.environ.get("ACC_TIMEOUT_CYCLES", "200000000"))
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    ram = None
    if mode == "axiram":
        ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), dut.clk, dut.rst, size=nbytes + 4096)
        ram.write(0, open(os.environ["ACC_DRAM_IN"], "rb").read())
    else:
        dut.load.value = 0
        dut.dump.value = 0
    await reset(dut)
    if mode != "axiram":
        dut.load.value = 1
        await ClockCycles(dut.clk, 2)
        dut.load.value = 0
    # the host's register accesses (the progress lines' too) are not news: warnings only
    logging.getLogger(f"cocotb.{dut._name}.s_axil").setLevel(logging.WARNING)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
    results = []
    reset_after = int(os.environ.get("ACC_RESET_AFTER", "0"))
    if reset_after:  # start, reset in the middle of the work, then run normally
        # the counter records go where the run's do (CNT_BASE resets to 0: the program's header)
        await axil.write_dword(REGS["CNT_BASE"], int(os.environ["ACC_CNT_BASE"]))
        await axil.write_dword(REGS["PROG_BASE"], runs[0])
        await axil.write_dword(REGS["CTRL"], CTRL_START)
        await ClockCycles(dut.clk, reset_after)
        busy = (await axil.read_dword(REGS["STATUS"])) & 1
        await reset(dut)
        status = await axil.read_dword(REGS["STATUS"])
        results.append(dict(reset_after=reset_after, busy_before_reset=busy, status_after_reset=status))
    await axil.write_dword(REGS["CNT_BASE"], int(os.environ["ACC_CNT_BASE"]))
    progress = Progress(float(os.environ.get("ACC_PROGRESS_S", "0")), json.loads(os.environ.get("ACC_LAYER_NAMES", "[]")),
                        len(runs))
    watch = DramWatch(dut) if mode == "timing" else None
    for i, base in enumerate(runs):
        await axil.write_dword(REGS["PROG_BASE"], base)
        if watch:
            watch.start_run()
        await axil.write_dword(REGS["CTRL"], CTRL_START | CTRL_IRQ_EN)
        if not await wait_run(dut, axil, timeout, progress, i):
            results.append(dict(prog_base=base, timeout=True, **dram_out_of_range(dut, mode)))
            break
        dram = dict(dram=watch.run_record()) if watch else {}
        regs = {name: await axil.read_dword(off) for name, off in REGS.items() if off >= REGS["STATUS"]}
        await axil.write_dword(REGS["IRQ_ACK"], 1)
        results.append(dict(prog_base=base, **regs, **dram, **dram_out_of_range(dut, mode)))
        # a refused descriptor ends its run only: the next run starts; after a DRAM error the DMAs may
        # still hold the failed command's bytes (reset first), so the host stops there and reports it
        status = STATUS.unpack_int(regs["STATUS"])
        if status["err"] and status["error"] in DRAM_ERRORS or "dram_out_of_range" in results[-1]:
            break
    if mode != "axiram":
        dut.dump.value = 1
        await ClockCycles(dut.clk, 2)
        dut.dump.value = 0
        await ClockCycles(dut.clk, 2)
    else:
        with open(os.environ["ACC_DRAM_OUT"], "wb") as f:
            f.write(ram.read(0, nbytes))
    with open(os.environ["ACC_RESULT"], "w") as f:
        json.dump(results, f)
