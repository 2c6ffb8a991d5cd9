"""SCALE-Sim (PyPI ``scalesim`` 3.0, output stationary) on the same conv layers and array.

SCALE-Sim crashes with numpy >= 2.3, so it lives in its own venv (build/perf/scalesim-venv, numpy
2.2.x) and runs as a subprocess, one layer per run (each layer a one-row topology), two at a time,
under a time limit; every finished layer is cached as JSON under build/perf/scalesim/<H>x<W>/, so a
re-run only simulates what is missing. Its output-stationary compute cycles follow a closed form
(``os_compute_cycles``), which the session checks layer by layer and uses to extrapolate.

Topology: no padding in SCALE-Sim, so 3x3 layers get padded input sizes (H+2 at stride 1, H+1 at
stride 2: its ceil would add a row with H+2). It ignores pooling, upsampling, concat and bias.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ConvLayer", "array_shape", "os_compute_cycles", "padded_input", "topology_csv", "config_cfg", "LAYOUT_HEADER",
           "parse_compute_report", "ensure_venv", "run_layers", "conv_layers", "VENV", "CACHE"]

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "build" / "perf" / "scalesim-venv"
CACHE = ROOT / "build" / "perf" / "scalesim"

TOPOLOGY_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline "
                 "Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, IFMAP "
                 "Height Intraline Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height "
                 "Interline Order, IFMAP Width Interline Order, Channel Interline Order, Num Filter Intraline Order, "
                 "Channel Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, Num Filter "
                 "Interline Order, Channel Interline Order, Filter Height Interline Order, Filter Width Interline "
                 "Order,\n")


@dataclass(frozen=True)
class ConvLayer:
    name: str
    h: int  # unpadded input
    w: int
    kernel: int
    cin: int
    cout: int
    stride: int

    @property
    def ho(self) -> int:
        return -(-self.h // self.stride)

    @property
    def wo(self) -> int:
        return -(-self.w // self.stride)

    @property
    def macs(self) -> int:
        return self.ho * self.wo * self.cout * self.cin * self.kernel * self.kernel


def conv_layers(program_layers) -> list[ConvLayer]:
    """ConvLayers from perf.model.LayerPerf rows (convs only)."""
    return [ConvLayer(l.name, l.h, l.w, l.kernel, l.cin, l.cout, l.stride) for l in program_layers if l.op == "conv"]


def padded_input(layer: ConvLayer) -> tuple[int, int]:
    """Input size to give SCALE-Sim (it has no padding) so its output is ho x wo."""
    if layer.kernel == 1:
        return layer.h, layer.w
    extra = layer.kernel - 1 if layer.stride == 1 else layer.kernel - 2
    return layer.h + extra, layer.w + extra


def os_compute_cycles(layer: ConvLayer, rows: int, cols: int) -> int:
    """SCALE-Sim's output-stationary compute cycles: output pixels on rows, output channels on
    columns: ceil(P/R) * ceil(Cout/C) * (k*k*Cin + R + C - 2) - 1."""
    p = layer.ho * layer.wo
    return -(-p // rows) * -(-layer.cout // cols) * (layer.kernel * layer.kernel * layer.cin + rows + cols - 2) - 1


def topology_csv(layers) -> str:
    """SCALE-Sim conv topology (rows need the trailing comma)."""
    lines = [TOPOLOGY_HEADER]
    for l in layers:
        hp, wp = padded_input(l)
        lines.append(f"{l.name}, {hp}, {wp}, {l.kernel}, {l.kernel}, {l.cin}, {l.cout}, {l.stride},")
    return "\n".join(lines) + "\n"


def config_cfg(rows: int, cols: int, ifmap_kb: int, filter_kb: int, ofmap_kb: int, run_name="hardnet70") -> str:
    return f"""[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : {ifmap_kb}
FilterSramSzkB : {filter_kb}
OfmapSramSzkB : {ofmap_kb}
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : 16
Dataflow : os
ReadRequestBuffer : 32
WriteRequestBuffer : 32

[layout]
IfmapCustomLayout : False
FilterCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 10
IfmapSRAMBankPort : 2
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 10
FilterSRAMBankPort : 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""


def parse_compute_report(text: str) -> list[dict]:
    """Rows of SCALE-Sim's COMPUTE_REPORT.csv: layer id, total cycles with and without prefetch,
    stall cycles, overall / mapping / compute utilization (%)."""
    out = []
    lines = [l for l in text.splitlines() if l.strip()]
    for line in lines[1:]:
        f = [x.strip() for x in line.split(",") if x.strip() != ""]
        out.append({"layer": int(f[0]), "cycles_with_prefetch": int(float(f[1])), "cycles": int(float(f[2])),
                    "stall_cycles": int(float(f[3])), "overall_util": float(f[4]), "mapping_eff": float(f[5]),
                    "compute_util": float(f[6])})
    return out


def array_shape(hw) -> tuple[int, int]:
    """SCALE-Sim's (rows, cols) for our array: its output-stationary dataflow puts output pixels on
    the rows and output channels on the columns, ours the channels on rows and the pixels on
    columns, so the same PEs doing the same mapping are our config transposed (a 72x128 asic is
    SCALE-Sim's 128x72; a square array is itself)."""
    return hw.cols, hw.rows


def sram_kb(hw) -> tuple[int, int, int]:
    """SCALE-Sim SRAM sizes from an EngineConfig: the activation buffer (shared by the columns;
    the same bytes), the weight banks and the output banks of all rows."""
    return hw.act_depth // 1024, hw.rows * hw.wgt_depth // 1024, hw.rows * hw.out_depth // 1024


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(log=print) -> Path | None:
    """Create build/perf/scalesim-venv with scalesim and numpy 2.2.x if missing; None if it fails."""
    py = _python()
    if py.exists() and subprocess.run([py, "-c", "import scalesim, numpy"], capture_output=True).returncode == 0:
        return py
    log(f"  creating {VENV.relative_to(ROOT)} (scalesim, numpy==2.2.*) ...")
    VENV.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "scalesim", "numpy==2.2.*"], check=True)
    except (subprocess.CalledProcessError, OSError) as e:
        log(f"  SCALE-Sim install failed: {e}")
        return None
    return py


_RUNNER = """
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1], topology=sys.argv[2], layout=sys.argv[3],
             input_type_gemm=False)
s.run_scale(top_path=sys.argv[4])
"""


def _cache_file(layer: ConvLayer, cfg: str) -> Path:
    key = hashlib.sha256((json.dumps(asdict(layer), sort_keys=True) + cfg).encode()).hexdigest()[:12]
    return CACHE / f"{layer.h}x{layer.w}" / f"{layer.name}-{key}.json"


def _run_one(py, layer: ConvLayer, cfg: str, timeout: float) -> dict:
    cache = _cache_file(layer, cfg)
    work = cache.with_suffix("")
    work.mkdir(parents=True, exist_ok=True)
    (work / "scale.cfg").write_text(cfg)
    (work / "topology.csv").write_text(topology_csv([layer]))
    (work / "layout.csv").write_text(LAYOUT_HEADER)
    t0 = time.time()
    r = subprocess.run([str(py), "-c", _RUNNER, "scale.cfg", "topology.csv", "layout.csv", "out"], cwd=work,
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        raise RuntimeError(f"SCALE-Sim failed on {layer.name}: {r.stderr[-600:]}")
    report = next((work / "out").rglob("COMPUTE_REPORT.csv"))
    row = parse_compute_report(report.read_text())[0]
    row.update(name=layer.name, seconds=round(time.time() - t0, 1))
    cache.write_text(json.dumps(row, indent=1))
    return row


def run_layers(layers, hw, budget_s: float = 900, workers: int = 2, log=print) -> dict[str, dict]:
    """SCALE-Sim compute report per layer name (cached ones first); layers not finished within
    ``budget_s`` are left out (the caller uses the formula for them and says so)."""
    cfg = config_cfg(*array_shape(hw), *sram_kb(hw))
    results, todo = {}, []
    for l in layers:
        c = _cache_file(l, cfg)
        if c.exists():
            results[l.name] = json.loads(c.read_text())
        else:
            todo.append(l)
    log(f"  SCALE-Sim: {len(results)} of {len(layers)} layers cached under {CACHE.relative_to(ROOT)}; "
        f"{len(todo)} to simulate (budget {budget_s:.0f} s, {workers} at a time)")
    if not todo:
        return results
    py = ensure_venv(log)
    if py is None:
        return results
    deadline = time.time() + budget_s
    # the biggest layers last: the budget finishes as many layers as it can
    todo.sort(key=lambda l: l.macs)
    with cf.ThreadPoolExecutor(workers) as pool:
        futures = {}
        pending = list(todo)

        def submit():
            while pending and len(futures) < workers:
                l = pending.pop(0)
                left = deadline - time.time()
                if left <= 5:
                    pending.clear()
                    return
                futures[pool.submit(_run_one, py, l, cfg, left)] = l

        submit()
        while futures:
            done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
            for f in done:
                l = futures.pop(f)
                try:
                    row = f.result()
                    results[l.name] = row
                    log(f"    {l.name}: {row['cycles']} cycles ({row['seconds']} s)")
                except subprocess.TimeoutExpired:
                    log(f"    {l.name}: time limit reached, not simulated")
                except Exception as e:  # noqa: BLE001 - report and go on with the other layers
                    log(f"    {l.name}: {e}")
            submit()
    return results
