"""The main job: compile, capture, simulate the whole network on the RTL, compare every layer, record.

Phases: compile (the model for the hardware configuration), capture (onnxruntime's int8 golden and
the float model's tensors of the same names on the crop), simulate (one chained run of the whole
network, or layer-isolated runs fanned out over worker processes), compare (every layer's output
read back from the simulated DRAM against the golden; verdict, RTL counters, MAC utilization,
SQNR of the int8 output against the float model), then the run is closed in the store.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from golden.cityscapes import Crop, crop_input, load_frame
from golden.cli import UserError
from regress.store import RunInfo, Store

__all__ = ["ModelFiles", "resolve_model", "float_reference", "sqnr_db", "git_state", "labels_png", "crop_png",
           "RegressResult", "run_regression", "split_layers", "run_isolated", "DEFAULT_CROPS"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Default crop per model (top, left, height, width): 128x256 for hardnet70 (the crop the chained
# network test uses; a few minutes of simulation on the `sim` configuration), 64x128 for tiny.
DEFAULT_CROPS = {"hardnet70": (384, 768, 128, 256), "hardnet70_hw": (384, 768, 128, 256), "tiny": (384, 768, 64, 128)}


# --- inputs ------------------------------------------------------------------------------------------
@dataclass
class ModelFiles:
    name: str
    int8: Path
    float: Path | None  # the float model of the same network (SQNR), if there is one

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.int8.read_bytes()).hexdigest()


def resolve_model(model: str) -> ModelFiles:
    """``hardnet70`` / ``hardnet70_hw`` / ``tiny`` (the committed models) or a path to an int8 QDQ model; its float model
    is the file of the same name with ``_float`` for ``_int8``, when it exists."""
    from onnx_models import model_path

    p = Path(model)
    if p.suffix != ".onnx":
        try:
            return ModelFiles(model, model_path(model, "int8"), model_path(model, "float"))
        except FileNotFoundError as exc:
            raise UserError(str(exc)) from None
    if not p.is_file():
        raise UserError(f"model file {p} does not exist")
    f = p.with_name(p.name.replace("_int8", "_float"))
    return ModelFiles(p.stem.replace("_int8", ""), p, f if f != p and f.is_file() else None)


def float_reference(float_model: Path, names: list[str], x: np.ndarray) -> dict[str, np.ndarray]:
    """The float model's tensors ``names`` on input ``x``: each name is exposed as a graph output (in the
    float model a conv's output is '<layer>.conv' before its ReLU and '<layer>' after it, the name the
    int8 model's layer carries). Names the float model does not have are left out."""
    import onnx
    import onnxruntime as ort

    from golden.qgraph import with_input_size

    m = with_input_size(onnx.load(str(float_model)), *x.shape[2:])
    have = {o for n in m.graph.node for o in n.output}
    outputs = {o.name for o in m.graph.output}
    wanted = [n for n in names if n in have]
    for n in wanted:
        if n not in outputs:
            m.graph.output.append(onnx.ValueInfoProto(name=n))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    got = sess.run(wanted, {m.graph.input[0].name: x.astype(np.float32)})
    return dict(zip(wanted, got))


def sqnr_db(reference: np.ndarray, q: np.ndarray, scale: float, zero_point: int) -> float | None:
    """SQNR (dB) of int8 ``q`` dequantized with (scale, zero_point) against float ``reference``."""
    ref = np.asarray(reference, np.float64)
    deq = (np.asarray(q, np.float64) - zero_point) * scale
    if ref.shape != deq.shape:
        raise ValueError(f"SQNR: int8 tensor of shape {deq.shape} against a float tensor of shape {ref.shape}")
    sig, noise = float(np.sum(ref * ref)), float(np.sum((ref - deq) ** 2))
    if sig == 0.0:
        return None
    if noise == 0.0:
        return float("inf")
    return 10.0 * np.log10(sig / noise)


def git_state(root: Path = REPO_ROOT) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it); (None, None) outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip() != ""
        return commit, dirty
    except (OSError, subprocess.CalledProcessError):
        return None, None


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb.astype(np.uint8))).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def labels_png(labels: np.ndarray) -> bytes:
    """Cityscapes colours (cityscapesscripts: trainId -> color) of an [H, W] trainId map; ids outside
    0..18 are black."""
    from cityscapesscripts.helpers.labels import trainId2label

    lut = np.zeros((256, 3), np.uint8)
    for tid, lab in trainId2label.items():
        if 0 <= tid < 255:
            lut[tid] = lab.color
    return _png(lut[np.clip(np.asarray(labels), 0, 255).astype(np.int64)])


def crop_png(crop: Crop) -> bytes:
    img = load_frame(crop.frame)
    return _png(img[crop.top: crop.top + crop.height, crop.left: crop.left + crop.width])


# --- simulation ----------------------------------------------------------------------------------------
def _simulate(program, golden, config, sim, isolated, names, workdir: Path, log: Path, expected=None):
    """One run_accel call with its simulator output in ``log``; returns (RunResult, RTL outputs).
    ``expected``: what the outputs are compared with, when not ``golden`` (which gives the inputs)."""
    from tb.accel_run import run_accel
    from tb.runner import output_to

    os.environ.pop("PYTEST_CURRENT_TEST", None)  # cocotb's runner would share one results file per test
    workdir.mkdir(parents=True, exist_ok=True)
    with output_to(log):
        res = run_accel(program, golden, config=config, sim=sim, isolated=isolated,
                        layers=list(names) if isolated else None, workdir=workdir, expected=expected)
    return res, {l.name: l.actual for l in res.layers}  # the tensors the RTL wrote, read back from DRAM


def _worker(args):
    program, golden, config, sim, names, workdir, log, expected = args
    res, outs = _simulate(program, golden, config, sim, True, names, Path(workdir), Path(log), expected)
    return names, res.layers, res.runs, res.wall_s, outs


def split_layers(names: list[str], weights: list[int], parts: int) -> list[list[str]]:
    """``names`` in at most ``parts`` groups of similar total weight (longest first onto the lightest
    group); each group keeps network order."""
    order = {n: i for i, n in enumerate(names)}
    groups = [[] for _ in range(max(1, min(parts, len(names))))]
    load = [0] * len(groups)
    for n, w in sorted(zip(names, weights), key=lambda t: (-t[1], order[t[0]])):
        i = load.index(min(load))
        groups[i].append(n)
        load[i] += w
    return [sorted(g, key=order.get) for g in groups if g]


def run_isolated(program, golden, *, config: str, sim: str, workers: int, layers: list[str] | None = None,
                 workdir: Path, log: Path, on_done=None, expected=None):
    """Layer-isolated runs of ``layers`` (default: all), fanned out over ``workers`` processes.

    The cheapest layer runs first in this process (it builds the simulator once, so workers never
    build the same directory at once); the rest are split into 2 x workers groups of similar estimated
    cycles. ``on_done(layer_results, outputs)`` is called as each group finishes. Returns
    (layer results in network order, RTL outputs by name, run records, simulation wall seconds).
    ``expected``: what the outputs are compared with, when not ``golden`` (which gives every input)."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing as mp

    from compiler.estimate import estimate
    from hwspec.config import get_config

    names = [d.name for d in program.descriptors]
    if layers is not None:
        unknown = sorted(set(layers) - set(names))
        if unknown:
            raise ValueError(f"unknown layers {unknown}; the program has {names}")
        names = [n for n in names if n in layers]
    est = {e.name: max(1, e.cycles) for e in estimate(program, get_config(config))}
    results, outputs, runs, wall = {}, {}, [], 0.0

    def take(group_layers, outs, rr, w):
        nonlocal wall
        for l in group_layers:
            results[l.name] = l
        outputs.update(outs)
        runs.extend(rr)
        wall += w
        if on_done:
            on_done(group_layers, outs)

    first = min(names, key=lambda n: (est[n], names.index(n)))
    res, outs = _simulate(program, golden, config, sim, True, [first], workdir / "warm", log, expected)
    take(res.layers, outs, res.runs, res.wall_s)
    rest = [n for n in names if n != first]
    if rest:
        groups = split_layers(rest, [est[n] for n in rest], 2 * max(1, workers) if workers > 1 else 1)
        jobs = [(program, golden, config, sim, g, str(workdir / f"group{i}"), str(log.with_suffix(f".{i}.log")),
                 expected) for i, g in enumerate(groups)]
        if workers <= 1:
            for j in jobs:
                _, ls, rr, w, o = _worker(j)
                take(ls, o, rr, w)
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
                for fut in as_completed([pool.submit(_worker, j) for j in jobs]):
                    _, ls, rr, w, o = fut.result()
                    take(ls, o, rr, w)
    return [results[n] for n in names], outputs, runs, wall


# --- the job ---------------------------------------------------------------------------------------------
@dataclass
class RegressResult:
    run_id: int
    status: str
    db: Path
    dashboard: Path | None
    layers: list[dict] = field(default_factory=list)


class _LayerLines:
    """The per-layer bar's interface without a terminal: one line per layer as it is compared."""

    def __init__(self, out, total: int, t0: float):
        self.out, self.total, self.n, self.postfix, self.t0 = out, total, 0, "", t0

    def set_postfix_str(self, text: str):
        self.postfix = text

    def update(self, n: int = 1):
        self.n += n
        print(f"[4/4] compare {self.n}/{self.total} {self.postfix} [{time.monotonic() - self.t0:.0f} s]".replace("  ", " "),
              file=self.out)
        self.postfix = ""


class _Progress:
    """Phase line and per-layer bar (tqdm) on the terminal, kept visible while the simulator's own
    output goes to a log file. Without a terminal (a log, CI), plain lines instead: each phase when it
    starts and how long it took, each layer as it is compared; no line is redrawn or repeated."""

    PHASES = ("compile", "capture", "simulate", "compare")

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.out = os.fdopen(os.dup(2), "w", buffering=1) if enabled else None
        self.tty = enabled and self.out.isatty()
        self.bar = None
        self._stop = threading.Event()
        self._thread = None
        self._phase = None  # without a terminal: (its line, start time)

    def phase(self, name: str, detail: str = ""):
        if not self.enabled:
            return
        self.end_phase()
        i = self.PHASES.index(name) + 1 if name in self.PHASES else 0
        if not self.tty:
            line = f"[{i}/{len(self.PHASES)}] {name}"
            print(f"{line}: {detail}", file=self.out)
            self._phase = (line, time.monotonic())
            return
        from tqdm import tqdm

        self.bar = tqdm(total=None, desc=f"[{i}/{len(self.PHASES)}] {name}: {detail}", file=self.out,
                        bar_format="{desc} [{elapsed}]")
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def _tick(self):
        while not self._stop.wait(1.0):
            if self.bar is not None:
                self.bar.refresh()

    def end_phase(self):
        if self._phase is not None:
            line, t0 = self._phase
            print(f"{line}: done in {time.monotonic() - t0:.0f} s", file=self.out)
            self._phase = None
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def layers(self, total: int):
        if not self.enabled:
            return None
        if not self.tty:  # the phase's time goes on in the layers' lines (isolated runs simulate then)
            t0 = self._phase[1] if self._phase else time.monotonic()
            self._phase = None
            return _LayerLines(self.out, total, t0)
        self.end_phase()
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc="[4/4] compare", unit="layer", file=self.out,
                        bar_format="{desc} {n_fmt}/{total_fmt} |{bar}|{postfix} [{elapsed}]")
        return self.bar

    def write(self, text: str):
        if self.enabled and not self.tty:
            print(text, file=self.out)
        elif self.enabled:
            from tqdm import tqdm

            tqdm.write(text, file=self.out)

    def close(self, *, erase: bool = False):
        """``erase``: clear the current phase's line (a refused input's error stands alone)."""
        if erase and self.bar is not None:
            self.bar.leave = False
        if erase:
            self._phase = None  # no "done" line under the error
        self.end_phase()
        if self.out:
            self.out.close()


def run_regression(*, model: str = "hardnet70", crop: Crop | None = None, config: str = "sim",
                   sim: str = "verilator", isolated: bool = False, workers: int = 1, layers: list[str] | None = None,
                   db: Path, out: Path, waves_on_fail: bool = True, inject_mismatch: str | None = None,
                   progress: bool = True, dashboard: bool = True) -> RegressResult:
    """Run ``model`` on ``crop`` through the RTL of hardware configuration ``config`` and record it in ``db``.

    ``isolated``: every layer alone from golden inputs (``layers`` limits them; ``workers`` processes);
    otherwise the whole network in one chained simulation. ``inject_mismatch``: change one element of
    that layer's golden before comparing (checks the failure path end to end: verdict, coordinates,
    waveform). The dashboard is regenerated into ``out`` afterwards."""
    from compiler.estimate import estimate
    from compiler.program import compile_graph
    from golden.capture import capture
    from golden.qgraph import load_qgraph
    from hwspec.config import CONFIGS, get_config
    from tb.accel_run import debug_failure

    if workers < 1:
        raise UserError(f"workers must be at least 1, not {workers}")
    if layers is not None and not isolated:
        raise UserError("--layers picks layers of an isolated run; a chained run runs the whole network")
    if config not in CONFIGS:
        raise UserError(f"unknown hardware configuration {config!r}; known: {', '.join(CONFIGS)}")
    hw = get_config(config)
    files = resolve_model(model)
    if crop is None:
        top, left, h, w = DEFAULT_CROPS.get(files.name, DEFAULT_CROPS["hardnet70"])
        crop = Crop(Crop.frame, top, left, h, w)
    db, out = Path(db), Path(out)
    prog = _Progress(progress)
    # Everything the user chose is checked before the run is inserted: a refused input leaves no row.
    try:
        prog.phase("compile", f"{files.int8.name} for {hw.key}")
        graph = load_qgraph(str(files.int8), (crop.height, crop.width))
        program = compile_graph(graph, hw)
        names = [d.name for d in program.descriptors]
        asked = {"--layers": layers or [], "--inject-mismatch": [] if inject_mismatch is None else [inject_mismatch]}
        for what, picked in asked.items():
            unknown = [n for n in picked if n not in names]
            if unknown:
                raise UserError(f"{what}: no layer {', '.join(map(repr, unknown))} in {files.int8.name}; "
                                f"its layers are {', '.join(names)}")
        crop_input(crop)  # the frame exists and holds the crop
    except BaseException:
        prog.close(erase=True)
        raise
    out.mkdir(parents=True, exist_ok=True)
    commit, dirty = git_state()
    info = RunInfo(config_name=hw.name, config_json=hw.to_json(), config_hash=hw.key, model=str(files.int8),
                   model_sha256=files.sha256, crop=crop.key, simulator=sim, mode="isolated" if isolated else "chained",
                   workers=workers, git_commit=commit, dirty=dirty, frame=crop.frame, crop_top=crop.top,
                   crop_left=crop.left, crop_height=crop.height, crop_width=crop.width)
    store = None
    try:
        store = Store(db)
        run_id = store.start_run(info)
    except BaseException:
        if store is not None:
            store.close()
        prog.close()
        raise
    work = out / "work" / f"run{run_id}"
    work.mkdir(parents=True, exist_ok=True)
    sim_log = work / "simulator.log"
    status, message, total_cycles, sim_wall = "incomplete", None, None, None
    rows: list[dict] = []
    wave_error = None
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        est = {e.name: e for e in estimate(program, hw)}
        prog.phase("capture", crop.key)
        golden = capture(str(files.int8), crop)
        floats = float_reference(files.float, names, golden.float_input) if files.float else {}
        # the golden, not the RTL, is wrong; in a copy, as the golden also gives isolated layers their inputs
        expected = _with_mismatch(golden, inject_mismatch) if inject_mismatch is not None else None
        store.add_image(run_id, "crop", crop_png(crop))
        if "labels" in golden:  # a network that ends in an argmax (a random one may not)
            store.add_image(run_id, "ort_labels", labels_png(golden["labels"].data[0]))

        bar = None
        descs = {d.name: d for d in program.descriptors}

        def record(layer_results, outs):
            for l in layer_results:
                if l.elided:  # its reader reads its input: no output of its own to compare here
                    prog.write(f"{l.name}: not written in a chained run (compiler.program.Program.elided); "
                               f"compared in isolated runs")
                    if bar is not None:
                        bar.set_postfix_str(f"{l.name} elided")
                        bar.update(1)
                    continue
                row = _layer_row(l, descs[l.name], program, golden, est[l.name], hw, outs.get(l.name), floats)
                store.add_layer(run_id, row)
                rows.append(row)
                if bar is not None:
                    bar.set_postfix_str(f"{l.name} {row['cycles']:,} cyc {row['verdict']}")
                    bar.update(1)
                if row["verdict"] == "fail":
                    prog.write(f"FAIL {l.name}: {l.comparison}")

        if isolated:
            picked = [n for n in names if layers is None or n in layers]
            prog.phase("simulate", f"{len(picked)} isolated layers on {workers} worker(s), log {sim_log}")
            bar = prog.layers(len(picked))
            _, outputs, runs, sim_wall = run_isolated(program, golden, config=config, sim=sim, workers=workers,
                                                      layers=layers, workdir=work, log=sim_log, on_done=record,
                                                      expected=expected)
        else:
            prog.phase("simulate", f"whole network ({len(names)} layers) chained, log {sim_log}")
            res, outputs = _simulate(program, golden, config, sim, False, names, work / "chained", sim_log, expected)
            runs, sim_wall = res.runs, res.wall_s
            bar = prog.layers(len(res.layers))
            record(res.layers, outputs)
        prog.end_phase()
        argmax = next((l for l in graph.layers if l.op == "argmax"), None)
        if argmax is not None and outputs.get(argmax.name) is not None:  # the labels the RTL wrote
            store.add_image(run_id, "rtl_labels", labels_png(outputs[argmax.name][0]))
        elif argmax is not None and outputs.get(argmax.inputs[0]) is not None:  # an argmax the host runs
            store.add_image(run_id, "rtl_labels", labels_png(np.argmax(outputs[argmax.inputs[0]][0], axis=0)))
        from tb.accel_host import run_failed

        run_errors = [r for r in runs if run_failed(r)]
        failing = [r for r in rows if r["verdict"] == "fail"]
        total_cycles = sum(r["cycles"] or 0 for r in rows)
        if failing and waves_on_fail:
            name = min(failing, key=lambda r: r["idx"])["name"]
            prog.phase("simulate", f"waveform of {name} (isolated, FST), log {sim_log}")
            from tb.accel_run import RunResult
            from tb.runner import output_to

            stub = RunResult("isolated", _as_results(rows, name), [], 0.0)
            try:
                with output_to(sim_log):
                    wave = debug_failure(program, golden, stub, config=config, sim=sim,
                                         keep_dir=out / "waves" / f"run{run_id}")
            except Exception as exc:  # the verdicts stand; only the waveform is missing
                wave = None
                prog.write(f"no waveform for {name}: {type(exc).__name__}: {exc} (see {sim_log})")
                wave_error = f"waveform of {name} failed: {type(exc).__name__}: {exc}"
            prog.end_phase()
            if wave is not None:
                store.set_waveform(run_id, name, str(Path(wave).resolve()))
                for r in rows:
                    if r["name"] == name:
                        r["waveform"] = str(Path(wave).resolve())
        status = "fail" if failing or run_errors else "pass"
        problems = [f"run at header {r.get('prog_base')}: " +
                    ("timeout" if r.get("timeout") else f"status {r.get('STATUS'):#x}") for r in run_errors]
        message = "; ".join(problems + ([wave_error] if wave_error else [])) or None
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        prog.close()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        store.finish_run(run_id, status, total_cycles=total_cycles, sim_wall_s=sim_wall, message=message)
        store.close()
    page = None
    if dashboard:
        from regress.dashboard import write_dashboard

        page = write_dashboard(db, out / "dashboard.html")
    return RegressResult(run_id, status, db, page, rows)


def _with_mismatch(golden, name: str):
    """``golden`` with one element of layer ``name``'s tensor changed (the other tensors shared)."""
    import dataclasses

    t = golden[name]
    data = t.data.copy()
    data.flat[data.size // 2] = np.int8(int(data.flat[data.size // 2]) ^ 1)
    return dataclasses.replace(golden, tensors={**golden.tensors, name: dataclasses.replace(t, data=data)})


class _Interrupted(KeyboardInterrupt):
    pass


def _raise_interrupt(signum, frame):
    raise _Interrupted(f"signal {signum}")


def _as_results(rows, name):
    """A LayerResult standing for the failing layer ``name`` (what debug_failure reads)."""
    from golden.intmodel import Comparison
    from tb.accel_host import LayerResult

    r = next(r for r in rows if r["name"] == name)
    return [LayerResult(r["idx"], r["name"], r["op"], Comparison(r["name"], r["elements"], r["mismatches"], None))]


def _layer_row(l, d, program, golden, est, hw, rtl_out, floats) -> dict:
    c, k = l.comparison, l.counters
    shape = program.output_shape(l.name)
    cycles = int(k.get("cycles", 0))
    macs = int(est.macs)
    gt = golden[program.output_name(l.name)]
    sq = None
    if l.name in floats and rtl_out is not None and gt.scale is not None:
        sq = sqnr_db(floats[l.name], rtl_out, gt.scale, gt.zero_point)
        if sq is not None and not np.isfinite(sq):
            sq = None
    return dict(idx=l.index, name=l.name, op=l.op, in_shape=[1, d.cin, d.h, d.w], out_shape=list(shape), macs=macs,
                cycles=cycles, engine_cycles=int(k.get("engine_cycles", 0)), mac_steps=int(k.get("mac_steps", 0)),
                utilization=(macs / (cycles * hw.rows * hw.cols)) if cycles and macs else (0.0 if cycles else None),
                bytes_read=int(k.get("bytes_read", 0)), bytes_written=int(k.get("bytes_written", 0)),
                load_stall=int(k.get("load_stall", 0)), store_stall=int(k.get("store_stall", 0)),
                verdict="pass" if c.ok else "fail", mismatches=int(c.mismatches), elements=int(c.elements),
                first_diff=list(c.first) if c.first else None, expected=c.expected, actual=c.actual,
                max_abs_diff=int(c.max_abs_diff), sqnr_db=sq, waveform=None)
