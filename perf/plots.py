"""matplotlib PNGs under build/perf/ (Agg backend; skipped with a message if matplotlib is missing)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_utilization", "plot_sweep"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_utilization(path: Path, names, ours, scalesim, ours_engine=None, title=""):
    """Per-layer MAC utilization (0..1) of our design (total and engine-only) and SCALE-Sim."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(16, 5))
    x = range(len(names))
    w = 0.28
    ax.bar([i - w for i in x], ours, w, label="our design (cycle model, total cycles)")
    if ours_engine is not None:
        ax.bar(list(x), ours_engine, w, label="our design (engine cycles only)")
    ax.bar([i + w for i in x], scalesim, w, label="SCALE-Sim OS (compute cycles)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_ylabel("MAC utilization")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_sweep(path: Path, points, clock_hz=500e6, target_fps=60.0, title=""):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = {"asic": "o", "2x": "s", "4x": "^"}
    for label, m in markers.items():
        pts = [p for p in points if p.buffers == label]
        if not pts:
            continue
        ax.scatter([p.macs for p in pts], [p.fps(clock_hz) for p in pts], marker=m, label=f"total cycles, buffers {label}")
        ax.scatter([p.macs for p in pts], [p.engine_fps(clock_hz) for p in pts], marker=m, facecolors="none",
                   edgecolors="C3", label=f"engine cycles only, buffers {label}")
    for p in points:
        if p.buffers == "asic":
            ax.annotate(f"{p.rows}x{p.cols}", (p.macs, p.engine_fps(clock_hz)), fontsize=6)
    ax.axhline(target_fps, color="k", ls="--", lw=1, label=f"{target_fps:.0f} fps")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs (rows x cols)")
    ax.set_ylabel(f"frames per second at {clock_hz / 1e6:.0f} MHz")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
