"""``python -m perf`` (``nox -s perf``): our design, SCALE-Sim and the reference chip side by side,
the design-space sweep, Yosys gate counts and the onnxruntime CPU benchmark. ``--help`` for options."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from golden.cli import ArgumentParser, command_line, float_in, int_in, onnx_file
from hwspec.bus import DMA
from hwspec.config import CLOCK_HZ, CONFIGS, get_config

from perf import reference
from perf.losses import CAUSES
from perf.model import DEFAULT_MODEL, VARIANT_MODEL, frame_estimate

OUT = Path(__file__).resolve().parent.parent / "build" / "perf"
MANIFEST = Path(__file__).resolve().parent.parent / "onnx_models" / "manifest.json"
SECTIONS = ("model", "variant", "scalesim", "sweep", "gates", "ort")


# the configurations the RTL tests simulate (tests/test_perf_model.py holds the model equal to their counters)
SIMULATED_CONFIGS = ("tiny", "sim", "tall", "asic")


def log(msg=""):
    print(msg, flush=True)


def header(title):
    log()
    log("=" * 100)
    log(title)
    log("=" * 100)


def section_model(args, hw):
    header(f"1. Our design: config {hw.name!r} ({hw.rows}x{hw.cols} = {hw.macs} MACs) at {args.clock / 1e6:.0f} MHz, "
           f"{args.size[1]}x{args.size[0]} frame, compiler.estimate")
    f = frame_estimate(hw, tuple(args.size), args.model, args.clock)
    if f.compiled_as_is:
        log(f"  compile_graph(graph, {hw.name}) accepts every layer.")
    else:
        log(f"  compile_graph(graph, {hw.name}) REFUSES the frame: {len(f.refused)} conv layers do not fit the "
            f"config's buffers:")
        for m in f.refused:
            log(f"    - {m}")
        log(f"  Those layers alone are tiled below for the smallest power-of-two activation buffer that holds one "
            f"band (per layer in the 'note' column); every other layer uses {hw.name!r} as is.")
    log()
    log(f"  {'layer':14s} {'op':8s} {'cin':>4s} {'cout':>4s} {'k':>1s}/{'s':1s} {'out':>10s} {'GMACs':>6s} "
        f"{'cycles':>11s} {'engine':>10s} {'util':>6s} {'eng.util':>8s} {'rd MB':>7s} {'wr MB':>7s}  note")
    for l in f.layers:
        eu = l.macs / (l.engine_cycles * f.pes) if l.engine_cycles else 0
        log(f"  {l.name:14s} {l.op:8s} {l.cin:4d} {l.cout:4d} {l.kernel}/{l.stride} {l.ho:4d}x{l.wo:<5d} "
            f"{l.macs / 1e9:6.3f} {l.cycles:11d} {l.engine_cycles:10d} {l.utilization(f.pes):6.1%} {eu:8.1%} "
            f"{l.bytes_read / 1e6:7.2f} {l.bytes_written / 1e6:7.2f}  {l.fallback}")
    log()
    log(f"  cycles per frame      {f.cycles:,}  ({f.cycles / 1e6:.2f}M)")
    log(f"  frames per second     {f.fps:.3f} at {args.clock / 1e6:.0f} MHz")
    log("  ASSUMES               the bench's ideal DRAM (tb/hdl/axi_ram_model.v: the first beat 1-2 cycles after the")
    log("                        address, no banks, refresh or read/write turnaround); with DDR4 timing")
    log("                        (tb/hdl/dram_timing_model.v) the RTL takes more cycles: nox -s dram_latency measures how many")
    if hw.name not in SIMULATED_CONFIGS:
        log(f"  NOT SIMULATED         config {hw.name!r}: the suite simulates {', '.join(SIMULATED_CONFIGS)}; this frame is the")
        log("                        model's figure for a configuration whose RTL the suite does not run")
    else:
        log(f"  MODEL                 equal to the RTL's counters on config {hw.name!r} for the crops of")
        log("                        tests/test_perf_model.py; this network at this size is the model's figure, not simulated")
    log(f"  MACs per frame        {f.macs / 1e9:.2f} G (convolutions)")
    log(f"  MAC utilization       {f.utilization:.2%} overall = macs / (cycles * {f.pes})")
    log(f"  engine cycles only    {f.engine_cycles:,} ({f.engine_cycles / 1e6:.2f}M): {args.clock / f.engine_cycles:.1f} fps, "
        f"{f.macs / (f.engine_cycles * f.pes):.1%} utilization if DRAM streaming cost nothing")
    log(f"  where the engine's cycles go (MAC slots / {f.pes}, perf/losses.py):")
    for cause, slots in f.losses.items():
        log(f"    {CAUSES[cause]:40s} {slots / f.pes / 1e6:6.2f}M  {slots / (f.engine_cycles * f.pes):6.1%}")
    log(f"  DRAM per frame        {(f.bytes_read + f.bytes_written) / 1e6:.1f} MB ({f.bytes_read / 1e6:.1f} MB read, "
        f"{f.bytes_written / 1e6:.1f} MB written)")
    log(f"  DRAM bandwidth @60fps {f.bandwidth_at(60) / 1e9:.2f} GB/s")
    log(f"  model computation     {f.seconds:.2f} s (compile + estimate of the {len(f.layers)} layers; ONNX "
        f"parsing excluded)")
    log()
    log("  The cycle model (compiler.estimate) equals the RTL's counters on every layer the RTL simulates")
    log(f"  (tests/test_perf_model.py). The controller moves a bus beat ({DMA.beat_bytes} B) per cycle, re-reads the")
    log("  3x3 halo of every tile and writes every layer to DRAM; of the frame's "
        f"{f.cycles / 1e6:.1f}M cycles the engine runs {f.engine_cycles / 1e6:.1f}M ({f.engine_cycles / f.cycles:.0%}),")
    log(f"  the rest is DRAM streaming the engine does not hide: "
        f"{'the array' if f.engine_cycles >= f.cycles / 2 else 'DRAM streaming'} dominates.")
    return f


def _sqnr(model) -> str:
    """The model's int8-vs-float logits SQNR on its calibration crops (onnx_models/manifest.json)."""
    entry = json.loads(MANIFEST.read_text()).get(Path(model).name.removesuffix("_int8.onnx"), {})
    db = entry.get("sqnr_db_int8_vs_float")
    return f"{' / '.join(f'{x:.2f}' for x in db)} dB" if db else "not in the manifest"


def _summary(f, clock) -> list[str]:
    return [f"{f.params / 1e6:.2f}M weights, {f.macs / 1e9:.2f} GMACs",
            f"{f.cycles / 1e6:.2f}M cycles, {f.fps:.2f} fps, {f.utilization:.1%} MAC utilization",
            f"engine only {f.engine_cycles / 1e6:.2f}M: {clock / f.engine_cycles:.1f} fps, "
            f"{f.macs / (f.engine_cycles * f.pes):.1%}",
            f"{(f.bytes_read + f.bytes_written) / 1e6:.1f} MB DRAM ({f.bandwidth_at(60) / 1e9:.2f} GB/s at 60 fps)"]


def section_variant(args, hw, ours):
    header(f"1b. Hardware-friendly variant ({Path(args.variant).name}): every width rounded to the nearest divisor "
           f"or multiple of 72 (ties down), same config and frame")
    v = frame_estimate(hw, tuple(args.size), args.variant, args.clock)
    pub = {l.name: l.cout for l in ours.layers if l.op == "conv"}
    changed = [f"{l.name} {pub[l.name]}->{l.cout}" for l in v.layers if l.op == "conv" and pub.get(l.name) != l.cout]
    log(f"  widths changed ({len(changed)} of {len(pub)} convs, published -> variant):")
    line = "   "
    for c in changed:
        if len(line) + len(c) > 98:
            log(line)
            line = "   "
        line += " " + c
    log(line)
    log(f"  {'':28s} {'published':>40s}   {'variant':>40s}")
    for a, b in zip(_summary(ours, args.clock), _summary(v, args.clock)):
        log(f"  {'':28s} {a:>40s}   {b:>40s}")
    log(f"  {'int8 vs float logits SQNR':28s} {_sqnr(args.model):>40s}   {_sqnr(args.variant):>40s}")
    log("  (per calibration crop; untrained weights: a proxy, see onnx_models/README.md)")
    log(f"  where the variant's engine cycles go (MAC slots / {v.pes}):")
    for cause, slots in v.losses.items():
        log(f"    {CAUSES[cause]:40s} {slots / v.pes / 1e6:6.2f}M  {slots / (v.engine_cycles * v.pes):6.1%}"
            f"   (published {ours.losses.get(cause, 0) / ours.pes / 1e6:.2f}M)")
    return v


def section_scalesim(args, hw, ours):
    from perf import scalesim as ss
    from perf.model import frame_estimate as fe

    small = tuple(args.scalesim_size)
    R, C = ss.array_shape(hw)  # our array transposed: SCALE-Sim's OS puts pixels on rows
    header(f"2. SCALE-Sim 3.0, output stationary, {R}x{C} (pixels x channels: our {hw.rows}x{hw.cols}), SRAM (KB) ifmap/filter/ofmap "
           f"{'/'.join(map(str, ss.sram_kb(hw)))}: simulated per layer at {small[1]}x{small[0]}, "
           f"extrapolated to {args.size[1]}x{args.size[0]} with its closed form")
    layers_small = ss.conv_layers(fe(hw, small, args.model, args.clock).layers)
    layers_full = ss.conv_layers(ours.layers)
    t0 = time.time()
    sim = ss.run_layers(layers_small, hw, budget_s=args.scalesim_budget, log=log)
    log(f"  SCALE-Sim wall time this run: {time.time() - t0:.1f} s")
    match = mism = 0
    for l in layers_small:
        r = sim.get(l.name)
        if r is None:
            continue
        if r["cycles"] == ss.os_compute_cycles(l, R, C):
            match += 1
        else:
            mism += 1
            log(f"    MISMATCH {l.name}: SCALE-Sim {r['cycles']} vs formula {ss.os_compute_cycles(l, R, C)}")
    missing = [l.name for l in layers_small if l.name not in sim]
    log(f"  formula ceil(P/R)*ceil(Cout/C)*(k*k*Cin+R+C-2)-1 vs SCALE-Sim compute cycles at {small[1]}x{small[0]}: "
        f"{match} layers equal, {mism} differ, {len(missing)} not simulated"
        + (f" (formula used for: {', '.join(missing)})" if missing else ""))
    pes = hw.rows * hw.cols
    cyc_small = sum(sim[l.name]["cycles"] if l.name in sim else ss.os_compute_cycles(l, R, C)
                    for l in layers_small)
    macs_small = sum(l.macs for l in layers_small)
    cyc_full = sum(ss.os_compute_cycles(l, R, C) for l in layers_full)
    macs_full = sum(l.macs for l in layers_full)
    log(f"  {small[1]}x{small[0]}: {cyc_small:,} compute cycles, {macs_small / (cyc_small * pes):.1%} utilization")
    log(f"  {args.size[1]}x{args.size[0]} (formula): {cyc_full:,} cycles ({cyc_full / 1e6:.2f}M), "
        f"{args.clock / cyc_full:.1f} fps at {args.clock / 1e6:.0f} MHz, {macs_full / (cyc_full * pes):.1%} utilization")
    log("  (SCALE-Sim ignores pooling, upsampling, concat and bias, and counts compute cycles only.)")
    per_layer = {l.name: ss.os_compute_cycles(l, R, C) for l in layers_full}
    return {"cycles": cyc_full, "macs": macs_full, "util": macs_full / (cyc_full * pes), "per_layer": per_layer,
            "small": small, "small_sim": sim, "layers_small": layers_small, "match": match, "mismatch": mism}


def _design_column(f, clock, network: str) -> list[str]:
    """Our design's column of the side-by-side table for frame figures ``f`` (the published network
    or the variant)."""
    return [f"{f.pes}", f"{clock / 1e6:.0f} MHz", f"{f.cycles / 1e6:.2f}M (engine only {f.engine_cycles / 1e6:.2f}M)",
            f"{f.fps:.2f} (engine only {clock / f.engine_cycles:.1f})",
            f"{f.utilization:.2%} (engine only {f.macs / (f.engine_cycles * f.pes):.1%})",
            f"{(f.bytes_read + f.bytes_written) / 1e6:.0f} MB", f"{f.macs / 1e9:.1f}", "compiler.estimate",
            f"{network}, {f.params / 1e6:.2f}M weights"]


def side_by_side(args, ours, ssim, variant=None):
    header("4. Side by side: FC-HarDNet-70, 2048x1024, 9216 MACs at 500 MHz")
    ref, net = reference.REFERENCE_CHIP, reference.REFERENCE_NETWORK
    labels = ["MACs", "clock", "cycles per frame", "fps", "MAC utilization", "DRAM per frame", "GMACs counted", "source",
              "network"]
    columns = [("our design (asic)", 44, _design_column(ours, args.clock, "published"))]
    if variant is not None:  # the hardware-friendly variant on the same chip
        columns.append(("our design, HW variant", 44, _design_column(variant, args.clock, "widths to 72s")))
    columns.append(("SCALE-Sim OS", 34, [
        f"{ours.pes}", f"{args.clock / 1e6:.0f} MHz", f"{ssim['cycles'] / 1e6:.2f}M" if ssim else "n/a",
        f"{args.clock / ssim['cycles']:.1f}" if ssim else "n/a", f"{ssim['util']:.1%}" if ssim else "n/a",
        "not modelled", f"{ssim['macs'] / 1e9:.1f}" if ssim else "n/a", "closed form, checked per layer", "published"]))
    columns.append(("reference chip", 28, [
        f"{ref['macs']}", f"{ref['clock_hz'] / 1e6:.0f} MHz", f"{ref['cycles_per_frame'] / 1e6:.3f}M", f"~{ref['fps']}",
        f"{ref['mac_utilization']:.0%}", "not published", f"{reference.FCHARDNET70_PUBLISHED['gmacs']} (published)",
        "published", f"{net['params'] / 1e6:.1f}M params, {net['layers']} layers"]))
    log("  " + "".ljust(18) + "".join(title.ljust(n) for title, n, _ in columns))
    for i, label in enumerate(labels):
        log("  " + label.ljust(18) + "".join(str(cells[i]).ljust(n) for _, n, cells in columns))
    log("  GPU figures (published): FC-HarDNet-70 53 fps on a 1080 Ti; reference PoC 80 fps on a V100.")


def plots(args, hw, ours, ssim):
    try:
        from perf.plots import plot_utilization
    except ImportError:
        log("  matplotlib missing: no plots")
        return
    from perf.model import frame_estimate as fe

    convs = [l for l in ours.layers if l.op == "conv"]
    names = [l.name for l in convs]
    p = OUT / f"utilization_{args.size[1]}x{args.size[0]}.png"
    plot_utilization(p, names, [l.utilization(ours.pes) for l in convs],
                     [l.macs / (ssim["per_layer"][l.name] * ours.pes) for l in convs] if ssim else [0] * len(convs),
                     [l.macs / (l.engine_cycles * ours.pes) for l in convs],
                     title=f"FC-HarDNet-70 {args.size[1]}x{args.size[0]}, {hw.rows}x{hw.cols}: per-layer MAC utilization "
                           "(SCALE-Sim: closed form, checked per layer at the small size)")
    log(f"  plot: {p}")
    if ssim:
        small = fe(hw, ssim["small"], args.model, args.clock)
        sconvs = [l for l in small.layers if l.op == "conv"]
        sims = ssim["small_sim"]
        p = OUT / f"utilization_{ssim['small'][1]}x{ssim['small'][0]}.png"
        plot_utilization(p, [l.name for l in sconvs], [l.utilization(small.pes) for l in sconvs],
                         [l.macs / (sims[l.name]["cycles"] * small.pes) if l.name in sims else 0 for l in sconvs],
                         [l.macs / (l.engine_cycles * small.pes) for l in sconvs],
                         title=f"{ssim['small'][1]}x{ssim['small'][0]}: our cycle model vs SCALE-Sim simulated")
        log(f"  plot: {p}")


def section_sweep(args):
    from perf.sweep import run_sweep, smallest

    header(f"5. Design-space sweep (cycle model only), {args.size[1]}x{args.size[0]} at {args.clock / 1e6:.0f} MHz")
    t0 = time.time()
    pts = run_sweep(tuple(args.size), log=log)
    log(f"  {len(pts)} configurations in {time.time() - t0:.1f} s")
    best = smallest(pts, 60, args.clock)
    if best:
        log(f"  smallest array sustaining 60 fps: {best.rows}x{best.cols} ({best.macs} MACs), buffers {best.buffers}")
    else:
        fastest = max(pts, key=lambda p: p.fps(args.clock))
        log(f"  smallest array sustaining 60 fps: NONE in the current design: the best point, {fastest.rows}x{fastest.cols} "
            f"buffers {fastest.buffers}, reaches {fastest.fps(args.clock):.2f} fps, its engine busy "
            f"{fastest.engine_cycles / fastest.cycles:.0%} of the frame; the rest is DRAM streaming (a {DMA.beat_bytes}-byte "
            "beat a cycle, every layer through DRAM, tile halos re-read)")
    eng = smallest(pts, 60, args.clock, engine_only=True)
    if eng:
        log(f"  if DRAM streaming were fully hidden (engine cycles only): {eng.rows}x{eng.cols} ({eng.macs} MACs), buffers "
            f"{eng.buffers}: {eng.engine_fps(args.clock):.1f} fps")
    else:
        log("  even on engine cycles alone no swept array reaches 60 fps")
    try:
        from perf.plots import plot_sweep

        p = OUT / "sweep.png"
        plot_sweep(p, pts, args.clock, title=f"FC-HarDNet-70 {args.size[1]}x{args.size[0]}: fps vs array size")
        log(f"  plot: {p}")
    except ImportError:
        log("  matplotlib missing: no plot")
    (OUT / "sweep.json").write_text(json.dumps([p.__dict__ for p in pts], indent=1))
    if "variant" in args.todo:
        t0 = time.time()
        vpts = run_sweep(tuple(args.size), model=args.variant)
        vbest = smallest(vpts, 60, args.clock)
        asic = next((p for p in vpts if (p.rows, p.cols, p.buffers) == (72, 128, "asic")), None)
        log(f"  hardware-friendly variant ({len(vpts)} configurations in {time.time() - t0:.1f} s): smallest array "
            f"sustaining 60 fps: " + (f"{vbest.rows}x{vbest.cols} ({vbest.macs} MACs), buffers {vbest.buffers}, "
                                      f"{vbest.fps(args.clock):.1f} fps" if vbest else "none")
            + (f"; 72x128 asic: {asic.fps(args.clock):.1f} fps" if asic else ""))
        (OUT / "sweep_variant.json").write_text(json.dumps([p.__dict__ for p in vpts], indent=1))
    return pts


def section_gates(args, hw):
    from perf.gates import GE, GE_DFF, GE_DFF_EXTRA, YosysMissing, gate_report

    header(f"6. Gates: Yosys generic synthesis (rtl/generated/tiny), extrapolated to {hw.name} "
           f"({hw.rows}x{hw.cols} PEs + {hw.rows} PPUs)")
    try:
        t0 = time.time()
        g = gate_report("tiny", hw.rows, hw.cols, log=log)
    except YosysMissing as e:
        log(f"  YOSYS MISSING: {e}. No gate counts.")
        return None
    r, c = g["array_shape"]
    log(f"  per PE in the {r}x{c} array (flattened, row logic shared): {g['per_pe_cells']:.0f} cells, "
        f"{g['per_pe_ge']:.0f} GE")
    log(f"  {hw.name}: {g['cells'] / 1e6:.2f}M cells, {g['ge'] / 1e6:.2f}M GE (array {hw.rows * hw.cols} x "
        f"{g['per_pe_ge']:.0f} GE + {hw.rows} PPUs x {g['ppu'].ge:.0f} GE); SRAMs, feeders, controller, DMAs not counted")
    log(f"  GE weights (NAND2 = 1): {', '.join(f'{k[2:-1]} {v}' for k, v in GE.items() if v)}, DFF {GE_DFF}, "
        f"DFF with enable/reset {GE_DFF_EXTRA}; Yosys time {time.time() - t0:.1f} s")
    return g


def section_ort(args):
    from perf.ort_bench import MODELS, bench, providers_report

    header(f"7. onnxruntime benchmark, FC-HarDNet-70 at {args.size[1]}x{args.size[0]} "
           f"({args.ort_iters} iterations after 1 warm-up)")
    avail, gpu = providers_report()
    log(f"  providers available: {', '.join(avail)}")
    if not gpu:
        log("  no CUDA or TensorRT execution provider here (no GPU): CPU only")
    import os

    res = {}
    for kind, path in MODELS.items():
        for prov in ["CPUExecutionProvider", *gpu]:
            r = bench(path, tuple(args.size), iters=args.ort_iters, provider=prov)
            res[(kind, prov)] = r
            log(f"  {kind:5s} {prov:28s} {r['fps']:6.2f} fps ({r['mean_s'] * 1e3:.0f} ms/frame mean, "
                f"{r['min_s'] * 1e3:.0f} ms min, {os.cpu_count()} CPU cores)")
    log("  reference PoC: 80 fps on a V100 (published); FC-HarDNet-70: 53 fps on a 1080 Ti (published)")
    return res


@command_line
def main(argv=None):
    ap = ArgumentParser(prog="python -m perf", description=__doc__)
    ap.add_argument("--model", type=onnx_file, default=str(DEFAULT_MODEL), help="int8 QDQ model (default FC-HarDNet-70)")
    ap.add_argument("--variant", type=onnx_file, default=str(VARIANT_MODEL),
                    help="the hardware-friendly variant reported beside it (default: %(default)s)")
    ap.add_argument("--config", default="asic", choices=CONFIGS, help="hardware config (hwspec.config)")
    ap.add_argument("--size", nargs=2, type=int_in(1), default=[1024, 2048], metavar=("H", "W"))
    ap.add_argument("--clock", type=float_in(0, exclusive=True), default=CLOCK_HZ)
    ap.add_argument("--scalesim-size", nargs=2, type=int_in(1), default=[256, 512], metavar=("H", "W"),
                    help="size SCALE-Sim simulates per layer (default 256 512)")
    ap.add_argument("--scalesim-budget", type=float_in(0), default=900, help="seconds for uncached SCALE-Sim layers")
    ap.add_argument("--ort-iters", type=int_in(1), default=3)
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], help="skip these sections")
    args = ap.parse_args(argv)
    todo = [s for s in (args.only or SECTIONS) if s not in args.skip]
    args.todo = todo
    OUT.mkdir(parents=True, exist_ok=True)
    hw = get_config(args.config)
    t_all = time.time()
    times = {}

    def timed(name, fn, *a):
        t0 = time.time()
        try:
            return fn(*a)
        finally:
            times[name] = time.time() - t0

    ours = timed("model", section_model, args, hw)  # the table and the plots need it
    variant = timed("variant", section_variant, args, hw, ours) if "variant" in todo else None
    ssim = timed("scalesim", section_scalesim, args, hw, ours) if "scalesim" in todo else None
    header("3. Reference figures (published)")
    reference.print_reference()
    side_by_side(args, ours, ssim, variant)
    plots(args, hw, ours, ssim)
    if "sweep" in todo:
        timed("sweep", section_sweep, args)
    if "gates" in todo:
        timed("gates", section_gates, args, hw)
    if "ort" in todo:
        timed("ort", section_ort, args)
    header("Run time")
    log("  " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()) + f"; total {time.time() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
