"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright): it loads from
disk with no console errors and no network, shows one table row per layer with failing layers first,
sorts, filters, draws its plots and pictures, links the failing layer's waveform; a screenshot is kept
at build/regress/dashboard-test.png."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from regress.dashboard import write_dashboard
from regress.store import RunInfo, Store

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("no Chromium on PATH: install Debian's `chromium` (apt-get install chromium; .ci/run does)")


@pytest.fixture
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=_chromium(),
                                                   headless=True, args=CHROMIUM_ARGS,
                                                   viewport={"width": 1400, "height": 900})
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


@pytest.mark.slow(minutes=3)  # the two regress runs it is the first to ask for, most often
def test_dashboard_in_headless_chromium(two_runs, browser_page, tmp_path):
    db, _ = two_runs
    page_file = write_dashboard(db, tmp_path / "dashboard.html")
    with Store(db) as s:
        latest = s.runs()[-1]
        layers = s.layers(latest["id"])
    assert latest["status"] == "fail"
    page = browser_page
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")

    rows = page.locator("#layer-table tbody tr")
    assert rows.count() == len(layers) == 27
    assert rows.nth(0).locator("td").nth(1).inner_text() == "enc1.l2"  # failing layers first
    assert rows.nth(0).get_attribute("data-verdict") == "fail"
    assert page.locator("#shown").inner_text() == f"27 of 27 layers shown"

    # the failing layer: coordinates and a link to a waveform that exists beside the page
    link = page.locator("#failing a.wave")
    assert link.count() == 1
    target = Path(unquote(urlparse(link.evaluate("a => a.href")).path))
    assert target.suffix == ".fst" and target.is_file()
    first = "(" + ", ".join(map(str, next(l for l in layers if l["verdict"] == "fail")["first_diff"])) + ")"
    assert first in page.locator("#failing").inner_text()

    # filter and sort
    page.fill("#filter", "avgpool")
    assert page.locator("#layer-table tbody tr:visible").count() == sum(l["op"] == "avgpool" for l in layers)
    page.fill("#filter", "")
    page.check("#failonly")
    assert page.locator("#layer-table tbody tr:visible").count() == 1
    page.uncheck("#failonly")
    page.click("#layer-table th:nth-child(8)")  # RTL cycles, ascending
    cycles = [int(v) for v in page.locator("#layer-table tbody tr td:nth-child(8)").evaluate_all(
        "tds => tds.map(td => td.getAttribute('data-v'))")]
    assert cycles == sorted(l["cycles"] for l in layers)

    # pictures decoded, trend of the two runs drawn
    sizes = page.locator("#labels img").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[128, 64]] * 3
    assert page.locator("#trends .js-plotly-plot").count() == 1
    assert "2 comparable run(s)" in page.locator("#trends").inner_text()

    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests  # no network
    shot = REPO / "build" / "regress" / "dashboard-test.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.click("#layer-table th:nth-child(1)")  # back to network order for the picture
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    assert problems == []


def test_dashboard_of_an_isolated_run_without_labels(tmp_path):
    """An isolated run of some layers (no argmax) has no RTL labels: the page says so instead of failing."""
    db = tmp_path / "results.db"
    with Store(db) as s:
        rid = s.start_run(RunInfo(config_name="tiny", config_json='{"rows": 4, "cols": 4}', config_hash="tiny-x",
                                  model="tiny_int8.onnx", model_sha256="0" * 64, crop="f@0,0+8x8",
                                  simulator="verilator", mode="isolated"))
        s.add_layer(rid, dict(idx=9, name="enc1.l2", op="conv", in_shape=[1, 8, 8, 8], out_shape=[1, 8, 8, 8],
                              macs=4608, cycles=900, verdict="pass", mismatches=0, elements=512))
        s.add_image(rid, "crop", b"\x89PNG-crop")
        s.add_image(rid, "ort_labels", b"\x89PNG-ort")
        s.finish_run(rid, "pass")
    html = write_dashboard(db, tmp_path / "dashboard.html").read_text()
    assert "no RTL labels in this run" in html and html.count('alt="onnxruntime labels"') == 1
