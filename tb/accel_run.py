"""Run a network (or single layers) through the accelerator RTL and compare every layer.

    python -m tb.accel_run --model onnx_models/tiny_int8.onnx --height 64 --width 128 --config sim

compiles the model for the hardware configuration, captures onnxruntime's golden on the crop,
simulates the whole accelerator (controller, DMAs, engine) with the DRAM image, reads every
tensor back and prints a per-layer table: verdict, mismatches, first differing coordinates, RTL
cycles and DRAM bytes from the counter records, and the compiler's estimate beside them.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from compiler.estimate import estimate
from compiler.program import Program, compile_graph
from golden.capture import Capture, capture
from golden.cityscapes import Crop
from golden.cli import ArgumentParser, UserError, command_line, int_in, onnx_file
from golden.qgraph import load_qgraph
from onnx_models import model_path
from hwspec.bus import DMA
from hwspec.config import CLOCK_NS, CONFIGS, get_config
from tb.accel_host import (LayerResult, compare_layers, dram_image, layout_run, read_hex, run_failed, status_text,
                           write_hex)
from tb.dram_timing import DEFAULT as DEFAULT_TIMING, DramStats
from tb.runner import ROOT, generated_dir, run_cocotb

__all__ = ["RunResult", "run_accel", "build_sources", "dram_model_words", "DramModelTooSmall", "STALL_STEPS",
           "print_dram"]

# The bench's Verilog DRAM models: "model" the ideal one (tb/hdl/axi_ram_model.v), "timing" the one with
# DDR4 timing (tb/hdl/dram_timing_model.v); the top (accel_tb_top.v) instantiates one of them.
VERILOG_DRAMS = ("model", "timing")
DRAMS = VERILOG_DRAMS + ("axiram",)

# The bench's Verilog DRAM model is sized for each run (its MEM_WORDS
# parameter): the next power of two of the words the run's layout uses, at least 64 MiB, so that
# a few builds of the bench serve every run; at most what the DMAs' addresses reach.
DRAM_MODEL_MIN_WORDS = 1 << 20
DRAM_MODEL_MAX_BYTES = 1 << DMA.addr_bits
PROGRESS_S = 30  # wall seconds between a run's progress lines


def dram_t_ctrl(added_ns: int) -> int:
    """The timing DRAM's controller latency (cycles, each way) with ``added_ns`` more of read round trip
    (request and data: half each way, rounded up to whole cycles) than its default."""
    return DEFAULT_TIMING.t_ctrl + -(-added_ns // (2 * CLOCK_NS))


def added_round_trip_ns(added_ns: int) -> int:
    """The read round trip that ``dram_t_ctrl(added_ns)`` actually adds (whole cycles each way)."""
    return 2 * (dram_t_ctrl(added_ns) - DEFAULT_TIMING.t_ctrl) * CLOCK_NS


class DramModelTooSmall(ValueError):
    """A run's DRAM layout is larger than the bench's DRAM model can be (a user error)."""


def dram_model_words(nbytes: int) -> int:
    """Words (DMA beats) of the bench's DRAM model for a run whose layout uses ``nbytes``."""
    need, most = -(-nbytes // DMA.beat_bytes), DRAM_MODEL_MAX_BYTES // DMA.beat_bytes
    if need > most:
        raise DramModelTooSmall(f"the run's DRAM layout needs {nbytes:,} bytes; the bench's DRAM model holds at most "
                                f"{DRAM_MODEL_MAX_BYTES:,} bytes (the DMAs' {DMA.addr_bits}-bit addresses)")
    return min(max(DRAM_MODEL_MIN_WORDS, 1 << max(need - 1, 0).bit_length()), most)


# The DRAM model stalls a cycle when its LFSR's low byte is below +DRAM_STALL's low byte
# (tb/hdl/axi_ram_model.v: `lfsr[7:0] >= stall[7:0]`): a chance of stall/256, so 256 means no stalls.
STALL_STEPS = 256


@dataclass
class RunResult:
    mode: str
    layers: list[LayerResult]
    runs: list[dict]  # status and total counters per start
    wall_s: float
    waves: Path | None = None
    dram_bytes: int = 0  # the size of the bench's DRAM model ("model" and "timing" runs)

    @property
    def ok(self) -> bool:
        return all(not run_failed(r) and "dram_out_of_range" not in r for r in self.runs) and all(l.ok for l in self.layers)

    def first_failure(self) -> LayerResult | None:
        return next((l for l in self.layers if not l.ok), None)


def build_sources(config: str, with_dram_model: bool) -> list[Path]:
    d = generated_dir(config)
    srcs = sorted(d.glob("*.v"))
    if with_dram_model:
        top = ROOT / "tb" / "hdl" / "accel_tb_top.v"
        if f".DATA_W({DMA.data_bits})" not in top.read_text():
            raise RuntimeError(f"{top}: its DRAM model's DATA_W is not the accelerator's bus width {DMA.data_bits} "
                               "(hwspec.bus.DMA): update the bench's data widths")
        srcs += [ROOT / "tb" / "hdl" / "axi_ram_model.v", ROOT / "tb" / "hdl" / "dram_timing_model.v", top]
    return srcs


def run_accel(program: Program, golden: Capture, *, config: str, sim: str = "verilator", isolated: bool = False,
              layers: list[str] | None = None, dram: str = "model", stall: int = 0, seed: int = 1,
              reset_after: int = 0, waves: bool = False, workdir: Path | None = None,
              expected: Capture | None = None, dram_latency_ns: int = 0, progress_s: float = PROGRESS_S) -> RunResult:
    """Simulate ``program`` on the RTL. ``isolated``: every layer runs alone from golden inputs (all
    golden tensors preloaded, layers run last to first so no run overwrites another's input);
    otherwise the whole network runs from the input tensor in one start. ``dram``: "model" (fast
    Verilog AXI memory, ``stall``/STALL_STEPS random stall chance), "timing" (the Verilog DRAM with DDR4
    timing, tb/dram_timing.py) or "axiram" (cocotbext-axi AxiRam).
    ``layers`` limits an isolated run to those layers. ``reset_after``: assert reset that many cycles
    into the first run, then run everything again from the start (the reset-mid-layer check).
    ``waves``: build with FST tracing; the waveform is left in the build directory (``RunResult.waves``).
    The "model" and "timing" DRAMs are sized from the run's layout (``dram_model_words``; ``DramModelTooSmall`` beyond
    its limit, before anything is simulated); an access past its end ends the run with a DRAM error
    and ``dram_out_of_range`` (the address) in that run's record.
    ``expected``: the tensors the outputs are compared with (default ``golden``, which always gives the inputs).
    ``dram_latency_ns``: with dram="timing", that much more read round trip (``dram_t_ctrl``).
    ``progress_s``: during a run, a progress line (layer, cycles, simulation rate) at most this often (0: none)."""
    if not 0 <= stall < STALL_STEPS:
        raise ValueError(f"DRAM stall chance must be 0..{STALL_STEPS - 1} (/{STALL_STEPS}), not {stall}")
    if dram not in DRAMS:
        raise ValueError(f"DRAM must be one of {DRAMS}, not {dram!r}")
    if stall and dram != "model":
        raise ValueError(f"a DRAM stall chance is the ideal DRAM model's (dram='model'), not dram={dram!r}'s")
    if dram_latency_ns and dram != "timing":
        raise ValueError(f"an added DRAM latency is the timing DRAM's (dram='timing'), not dram={dram!r}'s")
    cfg = get_config(config)
    layout = layout_run(program, isolated)
    if dram in VERILOG_DRAMS:
        dram_model_words(layout.size)  # refuse before the golden images are built
    names = [d.name for d in program.descriptors]
    if isolated:
        tensors = {n: golden[program.output_name(n)].data for n in [program.graph.input.name] + names}
        picked = [i for i, n in enumerate(names) if layers is None or n in layers]
        if layers is not None and len(picked) != len(set(layers)):
            raise ValueError(f"unknown layers {sorted(set(layers) - set(names))}; the program has {names}")
        runs = [layout.header_addr(i) for i in reversed(picked)]
    else:
        tensors = {program.graph.input.name: golden["input"].data}
        runs = [0]
    img = dram_image(layout, tensors)
    # DRAM images live in a temporary directory removed after the run (hundreds of runs in a suite,
    # up to 128 MB each, once filled /tmp); ``workdir`` keeps them
    tmp = Path(workdir or tempfile.mkdtemp(prefix="accel-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        return _run_in(tmp, program, expected or golden, layout, img, runs, cfg, config=config, sim=sim,
                       isolated=isolated, layers=layers, dram=dram, stall=stall, seed=seed, reset_after=reset_after, waves=waves,
                       dram_latency_ns=dram_latency_ns, progress_s=progress_s)
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_in(tmp, program, golden, layout, img, runs, cfg, *, config, sim, isolated, layers, dram, stall, seed,
            reset_after, waves, dram_latency_ns, progress_s) -> RunResult:
    dram_in, dram_out, result = tmp / "dram_in", tmp / "dram_out", tmp / "result.json"
    env = dict(ACC_MODE=dram, ACC_RUNS=json.dumps(runs), ACC_CNT_BASE=str(layout.counters),
               ACC_NBYTES=str(layout.size), ACC_RESULT=str(result), ACC_DRAM_OUT=str(dram_out),
               ACC_RESET_AFTER=str(reset_after), ACC_PROGRESS_S=str(progress_s),
               ACC_LAYER_NAMES=json.dumps([d.name for d in program.descriptors]))
    plusargs, parameters, dram_bytes = [], {}, 0
    if dram in VERILOG_DRAMS:
        parameters = dict(MEM_WORDS=dram_model_words(layout.size))
        if dram == "timing":
            parameters.update(TIMING_DRAM=1)
        dram_bytes = parameters["MEM_WORDS"] * DMA.beat_bytes
        write_hex(img, dram_in)
        plusargs = [f"+DRAM_IN={dram_in}", f"+DRAM_OUT={dram_out}", f"+DRAM_STALL={stall}", f"+DRAM_SEED={seed}",
                    f"+DRAM_WORDS={-(-layout.size // DMA.beat_bytes)}",  # dump only what the run uses
                    f"+DRAM_T_CTRL={dram_t_ctrl(dram_latency_ns)}"]  # the timing DRAM's, at run time
        toplevel = "accel_tb_top"
    else:
        dram_in.write_bytes(bytes(img))
        env["ACC_DRAM_IN"] = str(dram_in)
        toplevel = "ce_accel"
    t0 = time.time()
    run_cocotb(sim=sim, block=f"accel-{dram}", cfg=cfg, sources=build_sources(config, dram in VERILOG_DRAMS),
               toplevel=toplevel, test_module="tb.test_accel", env=env, plusargs=plusargs, waves=waves,
               parameters=parameters)
    wall = time.time() - t0
    runs_out = json.loads(result.read_text()) if result.exists() else [dict(timeout=True)]
    unknown = bytearray() if dram in VERILOG_DRAMS else None  # X or Z bytes of the dump (Icarus)
    out = read_hex(dram_out, layout.size, unknown=unknown) if dram in VERILOG_DRAMS else dram_out.read_bytes()
    results = compare_layers(layout, out, golden, unknown)
    if isolated and layers is not None:
        results = [r for r in results if r.name in layers]
    res = RunResult("isolated" if isolated else "chained", results, runs_out, wall, dram_bytes=dram_bytes)
    if waves:
        fst = sorted((ROOT / "build" / sim).glob(f"accel-{dram}-{cfg.key}-*-waves/*.fst"), key=lambda p: p.stat().st_mtime)
        res.waves = fst[-1] if fst else None
    return res


def debug_failure(program: Program, golden: Capture, res: RunResult, *, config: str, sim: str = "verilator",
                  keep_dir: Path | None = None) -> Path | None:
    """Rerun the first mismatching layer alone with FST tracing; returns the kept waveform."""
    bad = res.first_failure()
    if bad is None:
        return None
    again = run_accel(program, golden, config=config, sim=sim, isolated=True, layers=[bad.name], waves=True)
    if again.waves is None:
        return None
    dest = Path(keep_dir or ROOT / "build" / "waves") / f"{bad.name}.fst"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(again.waves.read_bytes())
    return dest


def print_table(res: RunResult, estimate=None, file=None):
    out = file or sys.stdout
    print(f"{'#':>3} {'layer':<16} {'op':<8} {'verdict':<8} {'mismatch':>9} {'first':<16} {'cycles':>10} "
          f"{'engine':>10} {'DRAM rd':>10} {'DRAM wr':>10}" + (f" {'est cyc':>10} {'est rd':>10}" if estimate else ""),
          file=out)
    for l in res.layers:
        c = l.comparison
        row = (f"{l.index:>3} {l.name:<16} {l.op:<8} {'pass' if c.ok else 'FAIL':<8} {c.mismatches:>9} "
               f"{str(c.first or ''):<16} {l.counters.get('cycles', 0):>10} {l.counters.get('engine_cycles', 0):>10} "
               f"{l.counters.get('bytes_read', 0):>10} {l.counters.get('bytes_written', 0):>10}")
        if estimate:
            e = estimate[l.index]
            row += f" {e.cycles:>10} {e.bytes_read:>10}"
        print(row, file=out)
    for r in res.runs:
        if r.get("timeout"):
            print(f"run at header {r.get('prog_base')}: TIMEOUT", file=out)
        elif run_failed(r):
            print(f"run at header {r['prog_base']}: {status_text(r['STATUS'])}", file=out)
        if "dram_out_of_range" in r:
            print(f"run at header {r.get('prog_base')}: DRAM access at 0x{r['dram_out_of_range']:x}, past the end of "
                  f"the bench's DRAM model ({res.dram_bytes:,} bytes)", file=out)
    total = sum(l.counters.get("cycles", 0) for l in res.layers)
    bad = [l for l in res.layers if not l.ok]
    print(f"{res.mode}: {len(res.layers) - len(bad)}/{len(res.layers)} layers bit-exact, {total:,} cycles, "
          f"simulated in {res.wall_s:.1f} s", file=out)


def _stats(d: dict) -> DramStats:
    return DramStats(**{k: d[k] for k in DramStats.names()})


def print_dram(res: RunResult, file=None):
    """Where the timing DRAM's data path cycles went (its counters, tb/dram_timing.py DramStats), per
    layer (between the layers' counter record latches) and per run: beats moved, waits for a
    scheduled burst's first beat by cause, idle (nothing to schedule), row hits of all bursts."""
    out = file or sys.stdout
    names = {l.index: l.name for l in res.layers}
    print("timing DRAM: where its data path's cycles went (beats; waits for a burst's first beat; idle)", file=out)
    print(f"{'#':>3} {'layer':<16} {'cycles':>10} {'rd beats':>10} {'wr beats':>9} {'latency':>9} {'row':>8} "
          f"{'turn':>8} {'refresh':>8} {'idle':>10} {'hits':>5}", file=out)

    def row(label: str, d: dict):
        st = _stats(d)
        bursts = st.read_bursts + st.write_bursts
        print(f"{label:<20} {d['cycles']:>10,} {st.read_beats:>10,} {st.write_beats:>9,} "
              f"{st.wait_latency:>9,} {st.wait_row:>8,} {st.wait_turnaround:>8,} {st.wait_refresh:>8,} "
              f"{st.idle(d['cycles']):>10,} {st.row_hits / max(bursts, 1):>5.0%}", file=out)

    for r in res.runs:
        if "dram" not in r:
            continue
        for d in r["dram"]["layers"]:
            row(f"{d['layer']:>3} {names.get(d['layer'], '?'):<16}", d)
        t = r["dram"]["total"]
        row(f"run at {r['prog_base']:#x}", t)
        st = _stats(t)
        print(f"  {st.read_bursts:,} read and {st.write_bursts:,} write bursts; rows: {st.row_hits:,} hits, "
              f"{st.row_misses:,} misses, {st.row_conflicts:,} conflicts; {st.refreshes:,} refreshes; the data "
              f"path moved a beat in {st.beats / max(t['cycles'], 1):.1%} of the run's cycles", file=out)


@command_line
def main(argv=None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=onnx_file, default=str(model_path("tiny")))
    ap.add_argument("--frame", default=Crop.frame)
    ap.add_argument("--top", type=int_in(0), default=384)
    ap.add_argument("--left", type=int_in(0), default=768)
    ap.add_argument("--height", type=int_in(1), default=64)
    ap.add_argument("--width", type=int_in(1), default=128)
    ap.add_argument("--config", default="sim", choices=CONFIGS, help="hardware configuration (hwspec/config.py)")
    ap.add_argument("--sim", default="verilator", choices=("verilator", "icarus"))
    ap.add_argument("--isolated", action="store_true", help="each layer alone from golden inputs")
    ap.add_argument("--layers", type=lambda v: [n for n in v.split(",") if n], metavar="NAME[,NAME...]",
                    help="only these layers, each alone from golden inputs (implies --isolated)")
    ap.add_argument("--dram", default="model", choices=DRAMS,
                    help="model: the ideal Verilog DRAM; timing: the Verilog DRAM with DDR4 timing; axiram: cocotbext-axi")
    ap.add_argument("--stall", type=int_in(0, STALL_STEPS - 1), default=0,
                    help=f"random DRAM stall chance /{STALL_STEPS} (model DRAM)")
    ap.add_argument("--dram-latency-ns", type=int_in(0, 10_000), default=0,
                    help="timing DRAM: this much more read round trip than its default (half each way)")
    ap.add_argument("--progress", type=int_in(0, 86_400), default=PROGRESS_S, metavar="SECONDS",
                    help=f"a progress line at most this often during a run (default {PROGRESS_S}; 0: none)")
    args = ap.parse_args(argv)
    if args.stall and args.dram != "model":
        ap.error(f"--stall applies to --dram model, not --dram {args.dram}")
    if args.dram_latency_ns and args.dram != "timing":
        ap.error(f"--dram-latency-ns applies to --dram timing, not --dram {args.dram}")
    isolated = args.isolated or args.layers is not None
    crop = Crop(args.frame, args.top, args.left, args.height, args.width)
    gold = capture(args.model, crop)
    graph = load_qgraph(args.model, gold.input_size)
    prog = compile_graph(graph, get_config(args.config))
    if args.layers is not None:
        names = [d.name for d in prog.descriptors]
        unknown = [n for n in args.layers if n not in names]
        if not args.layers:
            raise UserError(f"--layers names no layer; {args.model}'s program has: {', '.join(names)}")
        if unknown:
            raise UserError(f"--layers: {', '.join(unknown)} not in {args.model}'s program; "
                            f"its layers: {', '.join(names)}")
    try:
        res = run_accel(prog, gold, config=args.config, sim=args.sim, isolated=isolated, layers=args.layers,
                        dram=args.dram, stall=args.stall, dram_latency_ns=args.dram_latency_ns,
                        progress_s=args.progress)
    except DramModelTooSmall as e:
        raise UserError(f"--model {args.model} on a {args.height}x{args.width} crop"
                        f"{' (--isolated)' if isolated else ''}: {e}") from None
    print_table(res, estimate(prog, get_config(args.config)))
    print_dram(res)
    bad = res.first_failure()
    if bad is not None:
        fst = debug_failure(prog, gold, res, config=args.config, sim=args.sim)
        print(f"first mismatching layer {bad.index} {bad.name}: {bad.comparison}; waveform of that layer: {fst}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
