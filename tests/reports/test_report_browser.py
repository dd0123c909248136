"""The report opened in real headless Chromium (Debian's /usr/bin/chromium via Playwright):
no console errors, no network request, every expected plot drawn with data; a screenshot is
kept in the test's folder and in ``test-artifacts/report.png``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from report_helpers import EXPECTED_PLOTS, NAME, make_registry

from tradai_strategy.reports.model_report import build_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip

#: per plot div: the number of values of each drawn trace (heatmap: rows of z)
TRACE_POINTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
    id: gd.id,
    svg: gd.querySelectorAll('.main-svg').length,
    points: (gd._fullData || []).filter(t => t.visible !== false).map(t => {
        const values = t.type === 'heatmap' ? t.z : (t.y || t.x);
        return values ? Array.from(values).filter(v => v !== null).length : 0;
    }),
}))"""


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser) to run")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    reg = make_registry(tmp_path_factory.mktemp("browser"))
    out = reg["tmp"] / "report.html"
    return build_report(NAME, "2", compare="1", out=out, tracking_uri=reg["uri"])


def _open(
    path: Path, user_dir: Path, shot: Path
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Plots, console errors and outside requests of the page; saves a full-page shot."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(user_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = ctx.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(path.resolve().as_uri(), wait_until="load")
            n = len(EXPECTED_PLOTS)
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}",
                timeout=30_000,
            )
            plots = page.evaluate(TRACE_POINTS)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            ctx.close()
    return plots, errors, requests


@pytest.mark.e2e
def test_report_renders_in_chromium(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    plots, errors, requests = _open(report_file, tmp_path / "chromium-profile", shot)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "report.png")
    assert errors == []
    assert requests == []  # self-contained: nothing fetched from the network
    by_id = {p["id"].removeprefix("plot-"): p for p in plots}
    assert set(EXPECTED_PLOTS) <= set(by_id)
    for key in EXPECTED_PLOTS:
        plot = by_id[key]
        assert plot["svg"] >= 1, f"{key}: not drawn"
        assert plot["points"] and max(plot["points"]) > 0, f"{key}: no trace with data"
    assert shot.stat().st_size > 50_000  # a real full-page picture, not a blank page
