"""HTML reports: pure series checked by hand and against scipy, then a real training run
registered in a sqlite MLflow store, reported through ``tradai report``."""

from __future__ import annotations

import html
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from report_helpers import EXPECTED_PLOTS, NAME, PAIRS, make_registry, validation_report
from scipy import stats
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.reports.curves import drift_by_day, equity_curve
from tradai_strategy.reports.ic_sections import ROLLING_DAYS, compare_section, rolling_section
from tradai_strategy.reports.importance import (
    bundle_importance,
    generic_name,
    importance_drift,
    mean_shares,
    top_bottom,
)
from tradai_strategy.reports.model_report import build_report, write_validation_report
from tradai_strategy.reports.oos_table import candle_ic, ic_by_horizon, usable_pairs
from tradai_strategy.stats.metrics import ic_decay

runner = CliRunner()


# ---- pure series ------------------------------------------------------------------------
def test_equity_curve_and_drawdown_by_hand() -> None:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    trades = pd.DataFrame(
        {
            "open_date": [t, t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=2)],
            "close_date": [t + pd.Timedelta(hours=h) for h in (3, 1, 5)],
            "profit_abs": [-30.0, 50.0, 10.0],
        }
    )
    curve = equity_curve(trades, 1000.0)
    # closed in order +50 (h1), -30 (h3), +10 (h5): 1000 -> 1050 -> 1020 -> 1030
    assert curve["equity"].tolist() == [1000.0, 1050.0, 1020.0, 1030.0]
    assert curve["drawdown"].tolist() == pytest.approx([0, 0, 1020 / 1050 - 1, 1030 / 1050 - 1])
    assert curve["date"].iloc[0] == t
    assert equity_curve(trades.iloc[:0], 1000.0).empty


def _table(
    n_days: int = 12, seed: int = 3, strengths: tuple[float, ...] = (0.6, 0.0)
) -> pd.DataFrame:
    """One pair per strength: prediction = strength * realised + noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, strength in enumerate(strengths):
        n = 24 * n_days
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        realised = rng.normal(0, 1, n)
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
                    "pair": f"{'ABCDEFGH'[k] * 3}/USDT",
                    "prediction": strength * realised + rng.normal(0, 1, n),
                    "do_predict": 1,
                    "realised": realised,
                    "close": close,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _version(table: pd.DataFrame | None, version: str = "2", horizon: str | None = "12") -> Any:
    from tradai_strategy.registry.client import VersionInfo
    from tradai_strategy.reports.sources import VersionData

    params = {"label_period_candles": horizon} if horizon is not None else {}
    return VersionData(VersionInfo(NAME, version, ()), params=params, predictions=table)


def test_candle_ic_is_spearman_across_pairs_of_usable_rows() -> None:
    table = _table(strengths=(0.5, 0.5, 0.5))
    table.loc[(table["pair"] == "AAA/USDT") & (table.index == 7), "do_predict"] = 0
    got = candle_ic(table)
    assert len(got) == 24 * 12 and got["pairs"].iloc[7] == 2 and got["pairs"].iloc[8] == 3
    for i in (7, 100):
        rows = table[(table["date"] == got.index[i]) & (table["do_predict"] == 1)]
        want = stats.spearmanr(rows["prediction"], rows["realised"]).statistic
        assert got["ic"].iloc[i] == pytest.approx(want)
    assert usable_pairs(table) == ["AAA/USDT", "BBB/USDT", "CCC/USDT"]
    assert candle_ic(_table(strengths=(0.5,))).empty  # one pair: nothing to rank


def test_rolling_section_draws_the_window_ic_with_its_band() -> None:
    from tradai_strategy.stats.live_ic import rolling_window_ic, window_ic

    table = _table(n_days=40, strengths=(0.5, 0.5, 0.5, 0.5))
    sec = rolling_section(_version(table))
    assert sec.key == "rolling-ic" and sec.figure is not None
    title = f"{ROLLING_DAYS}-day cross-sectional IC (Spearman across pairs per candle) ± 2 s.e."
    assert sec.figure.layout.title.text == title and html.escape(title) in sec.body
    want = rolling_window_ic(candle_ic(table), 12, ROLLING_DAYS).dropna(subset=["ic"])
    lower, upper, line = sec.figure.data
    assert np.allclose(line.y, want["ic"]) and len(line.y) == 40 - ROLLING_DAYS // 3 + 1
    assert np.allclose(upper.y, want["ic"] + 2 * want["se"])
    assert np.allclose(lower.y, want["ic"] - 2 * want["se"]) and upper.fill == "tonexty"
    assert 0.25 < float(np.mean(line.y)) < 0.6  # planted: strength 0.5 on every pair
    whole = window_ic(candle_ic(table)["ic"], 12)
    assert html.escape(whole.text()) in sec.body and "4 pairs" in sec.body


def test_rolling_section_says_why_it_is_empty() -> None:
    one = rolling_section(_version(_table(strengths=(0.5,))))
    assert one.figure is None and not one.body
    assert "only 1 pair(s) (AAA/USDT)" in one.missing and "needs >= 2" in one.missing
    assert "exchange.pair_whitelist" in one.missing
    nameless = rolling_section(_version(_table(), horizon=None))
    assert nameless.figure is None and "no label_period_candles param" in nameless.missing
    assert "oos/predictions.parquet" in rolling_section(_version(None)).missing
    short = rolling_section(_version(_table(n_days=5)))  # fewer than 10 days: no window
    assert short.figure is None and "no rolling figure" in short.body


def test_compare_section_runs_the_paired_cross_sectional_test() -> None:
    from tradai_strategy.stats.compare import paired_ic_test

    old_table = _table(n_days=20, seed=4, strengths=(0.0, 0.0, 0.0, 0.0))
    noise = np.random.default_rng(9).normal(size=len(old_table))
    new_table = old_table.assign(prediction=0.8 * old_table["realised"] + noise)
    sec = compare_section(_version(new_table, "2"), _version(old_table, "1"))
    want = paired_ic_test(candle_ic(new_table)["ic"], candle_ic(old_table)["ic"], 12)
    assert want.p_value < 1e-6 and want.delta_ic > 0.3
    assert "paired cross-sectional IC test" in sec.body and sec.figure is not None
    for cell in (f"{want.delta_ic:.4g}", f"{want.se:.4g}", f"{want.p_value:.4g}", "promote"):
        assert f"<td>{html.escape(cell)}</td>" in sec.body
    assert f"{want.n_periods - 1:.0f} df" in sec.body and f"<td>{want.n}</td>" in sec.body
    short = compare_section(_version(new_table.iloc[:100], "2"), _version(old_table, "1"))
    assert "significance: not tested: only" in short.body
    other_h = compare_section(_version(new_table, "2"), _version(old_table, "1", horizon="6"))
    assert "label horizons differ (6 vs 12 candles)" in other_h.body


def test_ic_by_horizon_pools_pairs_n_weighted() -> None:
    table = _table()
    table.loc[table.index % 7 == 0, "do_predict"] = 0
    got = ic_by_horizon(table, [1, 6])
    for h in (1, 6):
        parts = []
        for _, rows in table.groupby("pair"):
            pred = np.where(rows["do_predict"] == 1, rows["prediction"], np.nan)
            parts.append(ic_decay(pred, rows["close"].to_numpy(), [h])[h])
        want = sum(r.ic * r.n for r in parts) / sum(r.n for r in parts)
        row = got.set_index("horizon").loc[h]
        assert row["ic"] == pytest.approx(want)
        assert row["n"] == sum(r.n for r in parts) and row["se"] == pytest.approx(row["n"] ** -0.5)


def _bundle(tmp: Path, seed: int, signal_col: int) -> Path:
    """A minimal two-pair bundle folder with LightGBM models whose target uses one column."""
    rng = np.random.default_rng(seed)
    pairs: dict[str, Any] = {}
    for pair in PAIRS:
        features = [f"%-f{i}_{pair}_1h" for i in range(6)]
        x = rng.normal(size=(600, 6))
        y = 2.0 * x[:, signal_col] + 0.1 * rng.normal(size=600)
        booster = lgb.train(
            {"num_leaves": 7, "verbose": -1, "num_threads": 1, "seed": seed},
            lgb.Dataset(x, y),
            num_boost_round=30,
        )
        folder = tmp / "pairs" / pair.replace("/", "_")
        folder.mkdir(parents=True)
        booster.save_model(str(folder / "model.lgb.txt"))
        pairs[pair] = {
            "estimator": "lightgbm",
            "features": features,
            "dir": f"pairs/{pair.replace('/', '_')}",
            "model_file": "model.lgb.txt",
        }
    (tmp / "tradai_bundle.json").write_text(json.dumps({"pairs": pairs}))
    return tmp


def test_importance_finds_the_planted_feature_and_its_drift(tmp_path: Path) -> None:
    assert generic_name("%-rsi-period_10_BTC/USDT_1h", "BTC/USDT") == "%-rsi-period_10_1h"
    assert generic_name("%-day_of_week", "BTC/USDT") == "%-day_of_week"
    table = bundle_importance(_bundle(tmp_path / "a", 1, signal_col=2))
    booster = lgb.Booster(model_file=str(tmp_path / "a/pairs/BTC_USDT/model.lgb.txt"))
    gain = booster.feature_importance("gain")
    btc = table[table["pair"] == "BTC/USDT"]
    assert btc["share"].to_numpy() == pytest.approx(gain / gain.sum())
    shares = mean_shares(table)
    assert shares.index[0] == "%-f2_1h" and shares.iloc[0] > 0.9
    assert shares.sum() == pytest.approx(1.0)
    top, bottom = top_bottom(shares, 2)
    assert list(top.index) == list(shares.index[:2]) and set(top.index).isdisjoint(bottom.index)
    moved = mean_shares(bundle_importance(_bundle(tmp_path / "b", 2, signal_col=4)))
    drift, rho = importance_drift(moved, shares)
    assert set(drift.index[:2]) == {"%-f2_1h", "%-f4_1h"}
    assert drift.loc["%-f4_1h", "delta"] > 0.8 and drift.loc["%-f2_1h", "delta"] < -0.8
    both = pd.concat({"o": shares, "n": moved}, axis=1).fillna(0)
    assert rho == pytest.approx(stats.spearmanr(both["o"], both["n"]).statistic)


def test_drift_by_day_is_scipy_ks_and_finds_a_planted_shift() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    dates = pd.date_range("2024-02-01", periods=24 * 4, freq="h", tz="UTC")
    cur = pd.DataFrame({"date": dates, "a": rng.normal(size=96), "b": rng.normal(size=96)})
    cur.loc[48:71, "b"] += 3.0  # day 3 of feature b moved
    cur.loc[95, "a"] = np.nan
    ks = lambda r, c: stats.ks_2samp(r, c).statistic  # noqa: E731
    m = drift_by_day(ref, cur, ["a", "b"], ks)
    assert m.shape == (2, 4) and list(m.index) == ["a", "b"]
    assert m.loc["b"].iloc[2] == pytest.approx(ks(ref["b"], cur.loc[48:71, "b"]))
    assert m.loc["a"].iloc[3] == pytest.approx(ks(ref["a"], cur.loc[72:94, "a"]))
    assert m.loc["b"].iloc[2] > 0.8 and m.loc["b"].drop(m.columns[2]).max() < 0.45
    assert drift_by_day(ref, cur.iloc[:5], ["a"], ks).empty  # fewer rows than min_rows


# ---- a real training run ----------------------------------------------------------------
@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_registry(tmp_path_factory.mktemp("report"))


def plot_divs(page: str) -> set[str]:
    """Section keys with a plot div (the browser test checks that the plots have data)."""
    return set(re.findall(r'id="plot-([\w-]+)"', page))


@pytest.mark.e2e
def test_train_logs_oos_artifacts_and_writes_a_report(registry: dict[str, Any]) -> None:
    from tradai_strategy.registry.client import RegistryClient

    reg = RegistryClient(registry["uri"])
    run_id = str(reg.version(NAME, 1).run_id)
    oos = {a.path for a in reg.client.list_artifacts(run_id, "oos")}
    assert oos == {
        "oos/tradai_metrics.json", "oos/predictions.parquet", "oos/feature_history.parquet",
    }  # fmt: skip
    assert [a.path for a in reg.client.list_artifacts(run_id, "report")] == ["report/report.html"]
    local = next((registry["user_data"] / "tradai_runs").glob("report-*/report.html"))
    assert local.stat().st_size < 10e6
    table = pd.read_parquet(next(local.parent.glob("oos/predictions.parquet")))
    assert set(table["pair"]) == set(PAIRS) and table["realised"].notna().mean() > 0.9


@pytest.mark.e2e
def test_report_cli_full_report_with_comparison(registry: dict[str, Any]) -> None:
    out = registry["tmp"] / "cli" / "v2.html"
    res = runner.invoke(
        app,
        ["report", "--model", NAME, "--version", "2", "--compare", "1", "--out", str(out),
         "--tracking-uri", registry["uri"]],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in " ".join(res.output.split())
    page = out.read_text()
    assert set(EXPECTED_PLOTS) <= plot_divs(page)
    assert "no data" not in page
    assert page.count("plotly.js v") == 1  # the library inlined once
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page)  # offline
    assert "verdict: FAIL" in page and "IC too weak" in page  # the attached verdict's reasons
    assert "promote @production" in page and "first model" in page  # audit timeline
    assert "paired cross-sectional IC test" in page and "recommendation" in page
    assert html.escape(f"{ROLLING_DAYS}-day cross-sectional IC (Spearman across pairs") in page


@pytest.mark.e2e
def test_report_of_the_production_alias_is_fast_small_and_logged(registry: dict[str, Any]) -> None:
    from tradai_strategy.registry.client import RegistryClient

    out = registry["tmp"] / "prod.html"
    started = time.perf_counter()
    path = build_report(NAME, out=out, tracking_uri=registry["uri"])
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"report took {elapsed:.1f} s"
    assert path.stat().st_size < 10e6
    assert "TradAI report: rad-report v1" in path.read_text()  # @production is v1
    reg = RegistryClient(registry["uri"])
    logged = [a.path for a in reg.client.list_artifacts(str(reg.version(NAME, 1).run_id), "report")]
    assert "report/prod.html" in logged


@pytest.mark.e2e
def test_a_version_without_sources_renders_no_data(registry: dict[str, Any]) -> None:
    from tradai_strategy.lifecycle.promotion import Lifecycle, retire
    from tradai_strategy.registry.client import RegistryClient
    from tradai_strategy.reports import sources

    reg = RegistryClient(registry["uri"])
    src = registry["tmp"] / "empty-model"
    src.mkdir(exist_ok=True)
    reg.client.create_registered_model("bare")
    for _ in range(2):
        reg.client.create_model_version("bare", src.as_uri())
    retire(Lifecycle.open(reg.uri), "bare", "2", reason="broken features")
    out = build_report("bare", "1", out=registry["tmp"] / "bare.html", tracking_uri=reg.uri)
    page = out.read_text()
    assert page.count('class="nodata"') >= 7
    assert plot_divs(page) == {"timeline"}  # registrations and the retirement are events
    events = sources.timeline(reg, "bare")
    assert events[["action", "version"]].values.tolist() == [
        ["trained", "1"], ["trained", "2"], ["retire", "2"],
    ]  # fmt: skip
    assert "broken features" in events["detail"].iloc[-1] and "broken features" in page
    reg.client.create_registered_model("empty")
    res = runner.invoke(app, ["report", "-m", "empty", "--tracking-uri", reg.uri])
    assert res.exit_code == 2 and "model 'empty' has no versions" in res.output


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "nope"], "model 'nope' is not registered"),
        (["--model", NAME, "--version", "9"], "has no version 9"),
        (["--model", NAME, "--version", "1", "--alias", "production"], "pass one of them"),
        (["--model", NAME, "--alias", "staging"], "has no @staging version"),
        (["--model", NAME, "--alias", "best"], "alias 'best' is unknown"),
        ([], "--model is missing"),
    ],
)
def test_report_cli_bad_input_one_line(
    registry: dict[str, Any], extra: list[str], message: str
) -> None:
    out = registry["tmp"] / "bad.html"
    res = runner.invoke(
        app, ["report", *extra, "--out", str(out), "--tracking-uri", registry["uri"]]
    )
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert not out.exists()


def test_validation_page_from_object_and_json(tmp_path: Path) -> None:
    report = validation_report()
    page = write_validation_report(report, tmp_path / "v.html").read_text()
    assert {"validation", "splits", "ic-decay"} <= plot_divs(page)
    for reason in report.verdict.reasons:
        assert reason.split(":")[0] in page
    json_file = tmp_path / "v.json"
    json_file.write_text(json.dumps(report.to_dict()))
    res = runner.invoke(
        app, ["report", "--validation-json", str(json_file), "--out", str(tmp_path / "j.html")]
    )
    assert res.exit_code == 0, res.output
    assert math.isclose(
        (tmp_path / "j.html").stat().st_size, (tmp_path / "v.html").stat().st_size, rel_tol=0.01
    )
    json_file.write_text("{}")
    res = runner.invoke(app, ["report", "--validation-json", str(json_file)])
    assert res.exit_code == 2 and "not a `tradai validate --json` file" in res.output


def test_page_escapes_text_and_says_why_a_section_is_empty() -> None:
    from tradai_strategy.reports.html import Section, kv_table, render_page

    assert "<script>" not in kv_table([("reason", "<script>alert(1)</script>")])
    page = render_page("t", "s", [Section("x", "X", missing="no <b>file</b>")], ["note <i>"])
    assert "no data: no &lt;b&gt;file&lt;/b&gt;" in page and "note &lt;i&gt;" in page
    assert 'data-has-plot="false"' in page
