"""Reports of a multi-class (regime) version: the confusion matrix and the accuracy tables
drawn from a validation section by hand, then the whole pipeline on a planted regime market
(``tradai train`` -> ``validate`` -> ``promote --force`` -> TradAIMLflowModel backtest with
RegimeStrategy -> ``tradai report``), the pages checked against the validation's JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from freqai_helpers import timerange
from regime_report_helpers import (
    IC_SECTIONS,
    NAME,
    PAIRS,
    backtest_trades,
    check_regime_pages,
    page_sections,
    regime_pipeline,
)

from tradai_strategy.data.synthetic_regimes import write_regime_data
from tradai_strategy.reports import class_sections as cs
from tradai_strategy.reports.html import render_page
from tradai_strategy.reports.model_report import build_report, validation_sections

CLASSES = ["bear", "bull", "crisis"]
#: rows realised, columns predicted; crisis never happened (an empty row)
CONFUSION = [[6, 3, 1], [2, 8, 0], [0, 0, 0]]


def _section(passed: bool = False) -> dict[str, Any]:
    """A validation classification section as ``validation.classes.score_classes`` writes
    it (numbers chosen by hand)."""

    def scores(acc: float, bal: float, kappa: float, loss: float | None) -> dict[str, Any]:
        return {"accuracy": acc, "balanced_accuracy": bal, "kappa": kappa, "log_loss": loss}

    pair = {
        "model": scores(0.7, 0.6, 0.4, 0.9),
        "majority": scores(0.5, 0.33, 0.0, None),
        "persistence": scores(0.6, 0.55, 0.3, None),
        "vs_persistence": {"delta": 0.1, "se": 0.03, "p_value": 0.01},
        "gate_runs": 2,
        "gate_passed": 2 if passed else 0,
        "passed": passed,
        "gate": "passed: OOS accuracy 0.700 > 0.650" if passed else "refused: OOS accuracy",
        "failures": "" if passed else "OOS accuracy 0.700 is not above min_accuracy 0.750",
        "unseen": [],
    }
    return {
        "classes": CLASSES,
        "min_accuracy": 0.75,
        "margin": 0.02,
        "alpha": 0.05,
        "pairs": {"BTC/USDT": pair},
        "overall": {k: pair[k] for k in cs.PREDICTORS},
        "confusion": CONFUSION,
    }


def test_confusion_rows_are_realised_columns_predicted_with_row_shares() -> None:
    matrix = np.asarray(CONFUSION, dtype=float)
    shares = cs.row_shares(matrix)
    assert shares[0].tolist() == pytest.approx([0.6, 0.3, 0.1])
    assert shares[1].tolist() == pytest.approx([0.2, 0.8, 0.0])
    assert np.isnan(shares[2]).all()  # a class that never happened has no shares
    fig = cs.confusion_figure(CLASSES, CONFUSION)
    trace = fig.data[0]
    assert list(trace.y) == CLASSES and list(trace.x) == CLASSES
    assert trace.text[0][1] == "3<br>30%" and trace.text[1][0] == "2<br>20%"
    assert trace.text[2][0] == "0<br>-"
    assert np.asarray(trace.customdata).tolist() == CONFUSION
    assert fig.layout.yaxis.title.text == "realised" and fig.layout.xaxis.title.text == "predicted"
    assert cs.confusion_figure(CLASSES, [[0] * 3] * 3) is None
    text = page_sections(render_page("t", "s", [cs.confusion_section(_section())]))["confusion"]
    assert "bear 6 (60%) 3 (30%) 1 (10%) 10" in text and "crisis 0 (-) 0 (-) 0 (-) 0" in text
    assert "recall on the diagonal: bear 0.60, bull 0.80, crisis -" in text


def test_each_pairs_matrix_is_one_menu_entry_away() -> None:
    section = _section()
    mine = [[1, 1, 0], [0, 4, 0], [0, 0, 0]]
    section["pairs"]["BTC/USDT"]["confusion"] = mine
    fig = cs.confusion_section(section).figure
    assert [t.name for t in fig.data] == ["all pairs", "BTC/USDT"]
    assert [t.visible for t in fig.data] == [True, False]
    assert np.asarray(fig.data[1].customdata).tolist() == mine
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["all pairs", "BTC/USDT"]
    assert menu.buttons[1].args[0] == {"visible": [False, True]}
    page = render_page("t", "s", [cs.confusion_section(section)])
    text = page_sections(page)["confusion"]
    assert "recall per pair bear bull crisis BTC/USDT 0.5 1 -" in text


def test_validation_page_of_a_regime_target_shows_scores_gate_and_no_ic() -> None:
    report = {
        "settings": {"strategy": "RegimeStrategy", "cv": "walkforward"},
        "splits": [{"split": 0, "rank_ic": 0.05}],
        "ic_decay": {"12": 0.02},
        "verdict": {
            "passed": False,
            "reasons": ["BTC/USDT: accuracy gate refused on 2 of 2 seed x path run(s): X"],
            "warnings": [],
            "metrics": {"accuracy": 0.7},
        },
        "classification": _section(),
    }
    sections = validation_sections(report)
    assert [s.key for s in sections] == ["validation", "classification", "confusion", "settings"]
    texts = page_sections(render_page("t", "s", sections))
    assert "verdict: FAIL" in texts["validation"]
    assert "refused on 2 of 2 seed x path run(s): X" in texts["validation"]
    rule = "out-of-sample accuracy > 0.750 and persistence is beaten by > 0.020"
    assert rule in texts["validation"]
    scores = texts["classification"]
    assert "BTC/USDT model 0.700 0.600 +0.400 0.900 majority 0.500 0.330 +0.000 -" in scores
    assert "persistence 0.600 0.550 +0.300 -" in scores
    assert "BTC/USDT +0.100 0.030 0.01 0/2" in scores and "mean of pairs model" in scores
    assert "No IC sections: the target has 3 classes" in scores
    fig = cs.accuracy_figure(report["classification"])
    assert {t.name for t in fig.data} == set(cs.PREDICTORS)
    assert [t.y for t in fig.data[:3]] == [(0.7, 0.7), (0.5, 0.5), (0.6, 0.6)]
    assert not IC_SECTIONS & set(texts)
    passed = validation_sections({**report, "classification": _section(passed=True)})
    gate = page_sections(render_page("t", "s", passed))["validation"]
    assert "BTC/USDT: passed on 2 of 2 run(s); passed: OOS accuracy 0.700 > 0.650" in gate


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pipeline's outputs on a planted regime market (130 days, 2 pairs)."""
    tmp = tmp_path_factory.mktemp("regime-report")
    data = tmp / "data"
    write_regime_data(PAIRS, "1h", 130, seed=1, datadir=data)
    out = regime_pipeline(
        tmp, data, train_range=timerange(45, 105), backtest_range=timerange(105, 125)
    )
    print(f"\nseconds per step: {out['seconds']}")
    return out


@pytest.mark.e2e
def test_regime_pipeline_report_on_a_planted_market(planted: dict[str, Any]) -> None:
    out, tmp_path = planted, planted["tmp"]
    assert "tradai.validation_status=failed" in out["validate"]  # the 0.75 floor
    assert "@production: unset -> 1" in out["promote"]
    assert len(backtest_trades(out["backtest_results"])) > 0
    section = check_regime_pages(out)
    assert set(section["pairs"]) == set(PAIRS)
    assert sum(map(sum, section["confusion"])) > 2 * 500  # 2 pairs x ~40 days of 1h rows
    # --compare of two regime versions: no paired IC test, the validations side by side
    page = build_report(
        NAME, "1", compare="1", out=tmp_path / "c.html", tracking_uri=out["uri"], log_artifact=False
    ).read_text()
    compare = page_sections(page)["compare"]
    acc = section["overall"]["model"]["accuracy"]
    assert f"validation model accuracy {acc:.4g} {acc:.4g}" in compare
    assert "No paired IC test" in compare and not IC_SECTIONS & set(page_sections(page))


@pytest.mark.e2e
def test_regime_report_draws_in_chromium(planted: dict[str, Any], tmp_path: Path) -> None:
    """Headless Chromium (as tests/reports/test_report_browser.py): no console error, the
    accuracy bars and the 5 x 5 confusion matrix drawn, the menu shows a pair's matrix."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip(f"{chromium} is missing: install Debian's chromium (make browser) to run")
    sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    errors: list[str] = []
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
            )
            page.goto(planted["report_html"].resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "document.querySelectorAll('#plot-confusion .main-svg').length > 0"
            )
            drawn = page.evaluate(
                "() => ['plot-classification', 'plot-confusion'].map(id => "
                "document.getElementById(id).data.map(t => [t.name, t.visible, t.y.length]))"
                ".concat([document.getElementById('plot-confusion')._fullData[0].z.length])"
            )
            menu = page.locator("#confusion")
            menu.locator(".updatemenu-header").click()
            menu.locator(".updatemenu-item-text", has_text="ETH/USDT").click(force=True)
            page.wait_for_function(
                "document.getElementById('plot-confusion').data[2].visible === true"
            )
            page.locator("#confusion").screenshot(path=str(tmp_path / "confusion.png"))
        finally:
            browser.close()
    assert not errors, errors
    bars, heatmaps, drawn_rows = drawn
    assert drawn_rows == 5  # the visible matrix's z as plotly.js drew it
    assert len(bars) == 6 and all(n == 3 for _, _, n in bars)  # 2 scores x 3 predictors
    assert heatmaps == [["all pairs", True, 5], ["BTC/USDT", False, 5], ["ETH/USDT", False, 5]]
