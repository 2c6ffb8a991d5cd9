"""The regression dashboard: one static, self-contained HTML page generated from the results store.

Everything is inlined (plotly.js, the page's CSS and its small table script, the pictures as base64
PNGs), so the page opens from disk with no server and no network. Sections: the latest run's summary
and per-layer table (sortable, filterable, failing layers first), cycles and MAC utilization, DRAM
bytes and SQNR per layer, the failing layers (first differing coordinates, waveform link), the crop
with the RTL's and onnxruntime's labels, each hardware configuration's trend across runs, and every
run in the store.

    python -m regress dashboard --db build/regress/results.db --out build/regress/dashboard.html
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

from regress.store import Store

__all__ = ["write_dashboard", "render_dashboard", "pick_latest"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PASS_COLOR, FAIL_COLOR, MISSING_COLOR = "#2e9d4f", "#d62728", "#d9d9d9"


def pick_latest(store: Store) -> dict | None:
    """The run the page is about: the newest finished run with layers, else the newest run with layers."""
    runs = store.runs()
    with_layers = [r for r in runs if store.layers(r["id"])]
    finished = [r for r in with_layers if r["status"] in ("pass", "fail")]
    pool = finished or with_layers
    return pool[-1] if pool else None


def _when(t) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else ""


def _fig_html(fig, div_id: str) -> str:
    fig.update_layout(template="plotly_white", margin=dict(l=60, r=30, t=50, b=120), height=420,
                      font=dict(size=11))
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _layer_figures(layers: list[dict]) -> dict[str, str]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [l["name"] for l in layers]
    colors = [FAIL_COLOR if l["verdict"] == "fail" else "#1f77b4" for l in layers]
    f1 = make_subplots(specs=[[{"secondary_y": True}]])
    f1.add_trace(go.Bar(x=names, y=[l["cycles"] for l in layers], name="RTL cycles", marker_color=colors,
                        customdata=[[l["op"], l["verdict"]] for l in layers],
                        hovertemplate="%{x} (%{customdata[0]}, %{customdata[1]})<br>%{y:,} cycles<extra></extra>"),
                 secondary_y=False)
    f1.add_trace(go.Scatter(x=names, y=[(l["utilization"] or 0) * 100 for l in layers], name="MAC utilization",
                            mode="lines+markers", line=dict(color="#ff7f0e"),
                            hovertemplate="%{x}<br>%{y:.1f} % of the array<extra></extra>"), secondary_y=True)
    f1.update_yaxes(title_text="cycles", secondary_y=False)
    f1.update_yaxes(title_text="MAC utilization (%)", secondary_y=True, rangemode="tozero")
    f1.update_layout(title="RTL cycles and MAC utilization per layer (macs / (cycles x rows x cols))",
                     legend=dict(orientation="h", y=1.1))
    f2 = go.Figure([go.Bar(x=names, y=[l["bytes_read"] for l in layers], name="DRAM read"),
                    go.Bar(x=names, y=[l["bytes_written"] for l in layers], name="DRAM written")])
    f2.update_layout(title="DRAM bytes per layer (RTL counters)", barmode="group", yaxis_title="bytes",
                     legend=dict(orientation="h", y=1.1))
    f3 = go.Figure([go.Scatter(x=names, y=[l["sqnr_db"] for l in layers], mode="lines+markers", name="SQNR",
                               marker=dict(color=colors),
                               hovertemplate="%{x}<br>%{y:.1f} dB<extra></extra>")])
    f3.update_layout(title="SQNR of each layer's int8 output (RTL, dequantized) against the float model",
                     yaxis_title="dB")
    return dict(cycles=_fig_html(f1, "fig-cycles"), dram=_fig_html(f2, "fig-dram"), sqnr=_fig_html(f3, "fig-sqnr"))


def _trend_groups(store: Store, runs: list[dict]) -> list[dict]:
    """Per hardware configuration (newest first): the runs of the same model and crop as its newest run."""
    by_cfg: dict[str, list[dict]] = {}
    for r in runs:
        by_cfg.setdefault(r["config_hash"], []).append(r)
    groups = []
    for key, rs in sorted(by_cfg.items(), key=lambda kv: -kv[1][-1]["id"]):
        last = rs[-1]
        same = [r for r in rs if r["model_sha256"] == last["model_sha256"] and r["crop"] == last["crop"]]
        groups.append(dict(config=key, name=last["config_name"], model=Path(last["model"]).name, crop=last["crop"],
                           runs=same[-30:], total=len(rs)))
    return groups


def _trend_figure(store: Store, group: dict, idx: int) -> str:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    runs = group["runs"]
    per_run = {r["id"]: {l["name"]: l for l in store.layers(r["id"])} for r in runs}
    names: list[str] = []
    for r in runs:
        for n in sorted(per_run[r["id"]], key=lambda n: per_run[r["id"]][n]["idx"]):
            if n not in names:
                names.append(n)
    xs = [f"#{r['id']} {(r['git_commit'] or '?')[:7]}{'+' if r['dirty'] else ''}" for r in runs]
    z, text, cyc = [], [], []
    for n in names:
        zr, tr, cr = [], [], []
        for r in runs:
            l = per_run[r["id"]].get(n)
            zr.append(None if l is None else (1 if l["verdict"] == "pass" else 0))
            tr.append("not run" if l is None else f"{l['verdict']}, {l['cycles']:,} cycles")
            cr.append(None if l is None else l["cycles"])
        z.append(zr)
        text.append(tr)
        cyc.append(cr)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.12,
                        subplot_titles=("verdict per layer and run", "RTL cycles per layer across runs"))
    fig.add_trace(go.Heatmap(z=z, x=xs, y=names, text=text, zmin=0, zmax=1, showscale=False, xgap=1, ygap=1,
                             colorscale=[[0, FAIL_COLOR], [0.5, FAIL_COLOR], [0.5, PASS_COLOR], [1, PASS_COLOR]],
                             hovertemplate="%{y} in run %{x}: %{text}<extra></extra>"), row=1, col=1)
    for n, cr in zip(names, cyc):
        fig.add_trace(go.Scatter(x=xs, y=cr, mode="lines+markers", name=n, showlegend=False,
                                 hovertemplate=f"{n}<br>run %{{x}}: %{{y:,}} cycles<extra></extra>"), row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(type="log", title_text="cycles", row=1, col=2)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_xaxes(type="category", row=1, col=2)
    fig.update_layout(title=f"{group['name']} ({group['config']}): {group['model']} on {group['crop']}, "
                            f"{len(runs)} run(s)")
    html = _fig_html(fig, f"fig-trend-{idx}")
    return html.replace("height:420px", f"height:{max(420, 16 * len(names) + 180)}px")


def _fmt_int(v) -> str:
    return "" if v is None else f"{int(v):,}"


def _layer_view(l: dict, page_dir: Path) -> dict:
    wave = l.get("waveform")
    href = None
    if wave:
        try:
            href = Path(os.path.relpath(wave, page_dir)).as_posix()
        except ValueError:
            href = Path(wave).as_uri()
    return dict(l, in_shape_s="x".join(map(str, l["in_shape"] or [])), out_shape_s="x".join(map(str, l["out_shape"] or [])),
                first_s="" if not l["first_diff"] else "(" + ", ".join(map(str, l["first_diff"])) + ")",
                util_s="" if l["utilization"] is None else f"{100 * l['utilization']:.1f}",
                sqnr_s="" if l["sqnr_db"] is None else f"{l['sqnr_db']:.1f}", wave_href=href,
                macs_s=_fmt_int(l["macs"]), cycles_s=_fmt_int(l["cycles"]), rd_s=_fmt_int(l["bytes_read"]),
                wr_s=_fmt_int(l["bytes_written"]))


def render_dashboard(store: Store, page_dir: Path) -> str:
    import jinja2
    import plotly.offline

    runs = store.runs()
    latest = pick_latest(store)
    layers = store.layers(latest["id"]) if latest else []
    ordered = sorted(layers, key=lambda l: (l["verdict"] != "fail", l["idx"]))
    images = {k: base64.b64encode(v).decode() for k, v in (store.images(latest["id"]) if latest else {}).items()}
    summary = None
    if latest:
        fails = sum(l["verdict"] == "fail" for l in layers)
        cfg = json.loads(latest["config_json"])
        summary = dict(latest, started_s=_when(latest["started"]), ended_s=_when(latest["ended"]), fails=fails,
                       passes=len(layers) - fails, cycles=sum(l["cycles"] or 0 for l in layers),
                       rd=sum(l["bytes_read"] or 0 for l in layers), wr=sum(l["bytes_written"] or 0 for l in layers),
                       array=f"{cfg.get('rows')}x{cfg.get('cols')}", model_name=Path(latest["model"]).name)
    run_rows = []
    for r in reversed(runs):
        ls = store.layers(r["id"])
        run_rows.append(dict(r, started_s=_when(r["started"]), n=len(ls), fails=sum(l["verdict"] == "fail" for l in ls),
                             cycles=_fmt_int(sum(l["cycles"] or 0 for l in ls)), model_name=Path(r["model"]).name,
                             commit_s=(r["git_commit"] or "?")[:10] + ("+dirty" if r["dirty"] else "")))
    groups = _trend_groups(store, [r for r in runs if r["status"] != "running"])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("dashboard.html.j2").render(
        generated=_when(dt.datetime.now().timestamp()), db=str(store.path), summary=summary,
        layers=[_layer_view(l, page_dir) for l in ordered],
        failing=[_layer_view(l, page_dir) for l in ordered if l["verdict"] == "fail"],
        figs=_layer_figures(layers) if layers else {}, images=images, runs=run_rows,
        trends=[dict(g, html=_trend_figure(store, g, i)) for i, g in enumerate(groups)],
        plotly_js=plotly.offline.get_plotlyjs())


def write_dashboard(db, out) -> Path:
    """Render the store ``db`` (opened read-only) into the HTML file ``out`` (written atomically); returns
    its path."""
    out = Path(out)
    with Store(db, readonly=True) as store:
        out.parent.mkdir(parents=True, exist_ok=True)
        html = render_dashboard(store, out.parent.resolve())
    tmp = out.with_suffix(".tmp.html")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
