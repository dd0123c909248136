"""Lookahead guard: planted leaks are caught and named, clean strategies pass clean."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, TEST_STRATEGIES
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.freqtrade_runner import resolve_config
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.validation import lookahead_checks as checks
from tradai_strategy.validation.lookahead import LookaheadReport, check_lookahead
from tradai_strategy.validation.lookahead_data import Cut

PAIRS = ["BTC/USDT", "ETH/USDT"]
DAYS = 60
runner = CliRunner()


@pytest.fixture(scope="module")
def datadir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 days of synthetic 1h candles and the 4h candles resampled from them."""
    d = tmp_path_factory.mktemp("lookahead-data")
    write_synthetic_data(PAIRS, "1h", DAYS, seed=5, signal="none", datadir=d)
    handler = get_datahandler(d, "feather")
    for pair in PAIRS:
        hourly = handler.ohlcv_load(pair, "1h", candle_type=CandleType.SPOT)
        four = (
            hourly.resample("4h", on="date")
            .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
            .reset_index()
        )
        handler.ohlcv_store(pair, "4h", four, CandleType.SPOT)
    return d


def _config(tmp_path: Path, datadir: Path, strategy: str, **meta: Any) -> dict[str, Any]:
    cfg = build_training_config(StrategyMeta(pairs=PAIRS, datadir=str(datadir), **meta))
    path = tmp_path / f"{strategy}.json"
    path.write_text(json.dumps(cfg))
    userdir = tmp_path / "user_data"
    userdir.mkdir(exist_ok=True)
    args = {
        "config": [str(path)],
        "strategy": strategy,
        "strategy_path": str(STRATEGIES if strategy == "RadStrategy" else TEST_STRATEGIES),
        "datadir": str(datadir),
        "user_data_dir": str(userdir),
        "command": "backtesting",
    }
    return resolve_config(args)


def _check(tmp_path: Path, datadir: Path, strategy: str, **meta: Any) -> LookaheadReport:
    return check_lookahead(_config(tmp_path, datadir, strategy, **meta), samples=12)


def _flagged(report: LookaheadReport, kind: str) -> set[str]:
    return {f.column for f in report.findings if f.kind == kind}


@pytest.mark.parametrize(
    ("meta", "target"),
    [
        ({}, "&-s_close"),
        ({"include_timeframes": ["1h", "4h"], "include_corr_pairlist": ["ETH/USDT"]}, "&-s_close"),
        ({"target": "updown"}, "&-s_updown"),
    ],
)
def test_rad_strategy_is_clean(tmp_path, datadir, meta, target):
    report = _check(tmp_path, datadir, "RadStrategy", **meta)
    assert report.ok, report.summary_line()
    assert report.targets == [target] and report.features > 60
    assert report.cuts == {"BTC/USDT": 12, "ETH/USDT": 12}
    assert report.summary_line().startswith("no lookahead found in RadStrategy")


def test_broken_feature_strategy_has_no_lookahead(tmp_path, datadir):
    assert _check(tmp_path, datadir, "BrokenFeatureStrategy").ok


def test_freqtrade_example_strategy_is_clean(tmp_path, datadir):
    """freqtrade's FreqAI template: raw prices, EMA-200, 4h and correlated-pair features."""
    from freqtrade.templates.FreqaiExampleStrategy import FreqaiExampleStrategy

    cfg = _config(
        tmp_path,
        datadir,
        "RadStrategy",
        include_timeframes=["1h", "4h"],
        include_corr_pairlist=["ETH/USDT"],
    )
    report = check_lookahead(cfg, strategy=FreqaiExampleStrategy(cfg), samples=8)
    assert report.ok, report.summary_line()
    assert report.strategy == "FreqaiExampleStrategy" and report.targets == ["&-s_close"]


def test_next_close_feature(tmp_path, datadir):
    report = _check(tmp_path, datadir, "LookaheadShiftStrategy")
    cols = {f"%-next_close_gen_{p}_1h" for p in PAIRS}
    assert _flagged(report, "feature_lookahead") == cols
    assert _flagged(report, "feature_equals_future_close") == cols
    # its shifted copies (close itself, close one candle back) are causal and not reported
    assert not any("_shift-" in f.column for f in report.findings)
    leak = next(f for f in report.findings if f.kind == "feature_lookahead")
    assert leak.details["looks_ahead_candles"] == 1 and leak.details["cuts_leaked"] == 12
    assert leak.date is not None and leak.row is not None
    ahead = next(f for f in report.findings if f.kind == "feature_equals_future_close")
    assert ahead.details["candles_ahead"] == 1 and ahead.difference > 0.999
    assert "%-next_close_gen_BTC/USDT_1h" in report.summary_line()


def test_centered_rolling_mean(tmp_path, datadir):
    report = _check(tmp_path, datadir, "LookaheadCenteredStrategy")
    assert report.offending_columns() == ["%-dist_centered_mean"]
    (leak, _) = report.findings
    assert leak.kind == "feature_lookahead"
    # pandas centres an even window of 24 on rows t-12..t+11: it reads 11 candles ahead
    assert leak.details["looks_ahead_candles"] == 11


def test_feature_built_from_target(tmp_path, datadir):
    report = _check(tmp_path, datadir, "LookaheadTargetFeatureStrategy")
    assert report.offending_columns() == ["%-target_in_bp"]
    assert {f.kind for f in report.findings} == {"feature_lookahead", "feature_equals_target"}
    copy = next(f for f in report.findings if f.kind == "feature_equals_target")
    assert copy.details["target"] == "&-s_close" and copy.difference == pytest.approx(1.0)


def test_informative_candle_merged_before_close(tmp_path, datadir):
    # FreqAI's own 4h features (include_timeframes) are merged correctly and stay clean
    report = _check(
        tmp_path, datadir, "LookaheadInformativeStrategy", include_timeframes=["1h", "4h"]
    )
    assert report.offending_columns() == ["%-close_vs_4h"], report.summary_line()
    assert {f.kind for f in report.findings} == {"informative_merge_early"}
    assert all(f.details["timeframe"] == "4h" for f in report.findings)
    assert "merge_informative_pair" in report.findings[0].message


def test_target_not_forward(tmp_path, datadir):
    report = _check(tmp_path, datadir, "LookaheadBackwardTargetStrategy")
    assert report.offending_columns() == ["&-s_close"]
    assert {(f.kind, f.pair) for f in report.findings} == {("target_not_forward", p) for p in PAIRS}


def test_report_is_json_and_deterministic(tmp_path, datadir):
    cfg = _config(tmp_path, datadir, "LookaheadCenteredStrategy")
    first = check_lookahead(cfg, pairs=["ETH/USDT"], samples=5, seed=3).to_dict()
    second = check_lookahead(cfg, pairs=["ETH/USDT"], samples=5, seed=3).to_dict()
    first.pop("elapsed_s"), second.pop("elapsed_s")
    assert json.loads(json.dumps(first)) == second
    assert first["findings"][0]["kind"] == "feature_lookahead"


def test_bad_inputs_give_one_line(tmp_path, datadir):
    cfg = _config(tmp_path, datadir, "RadStrategy")
    cases = [
        (TradAIConfigError, {"samples": 0}, "samples must be at least 1"),
        (TradAIConfigError, {"pairs": []}, "pair_whitelist is empty"),
        (TradAIDataError, {"pairs": ["DOGE/USDT"]}, "DOGE/USDT 1h"),
        (TradAIDataError, {"timerange": "20240101-20240104"}, "widen --timerange"),
    ]
    for error, kwargs, text in cases:
        with pytest.raises(error, match=text) as exc:
            check_lookahead(cfg, **kwargs)
        assert "\n" not in str(exc.value)
    non_ml = _config(tmp_path, datadir, "SampleNonMLStrategy")
    with pytest.raises(TradAIDataError, match="no %-feature columns"):
        check_lookahead(non_ml)


def test_merge_early_classification():
    t = pd.Timestamp("2025-01-01", tz="UTC")
    cuts = [Cut(row=i, time=t, aligned=("4h",) if i % 2 == 0 else ()) for i in range(8)]
    assert checks.merge_early_timeframe({1, 3, 5, 7}, cuts, ["4h"]) == "4h"
    assert checks.merge_early_timeframe({0, 1, 3, 5, 7}, cuts, ["4h"]) is None
    assert checks.merge_early_timeframe({1}, cuts, ["4h"]) is None  # too sparse: generic leak


def test_future_close_scan_ignores_price_levels():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 500)))
    ema = pd.Series(close).ewm(span=10).mean().to_numpy()
    x = np.c_[close, ema, np.r_[close[2:], np.nan, np.nan] / close - 1]
    found = checks.copies_of_future_close(x, ["close", "ema", "fwd2"], close, 12)
    assert found == {"fwd2": (2, "return", pytest.approx(1.0))}


def _cli_args(tmp_path: Path, datadir: Path, strategy: str) -> list[str]:
    cfg = build_training_config(StrategyMeta(pairs=PAIRS, datadir=str(datadir)))
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(cfg))
    (tmp_path / "ud").mkdir(exist_ok=True)
    return [
        "check-leakage", "--config", str(path), "--strategy", strategy,
        "--strategy-path", str(TEST_STRATEGIES), "--datadir", str(datadir),
        "--userdir", str(tmp_path / "ud"), "--samples", "6",
    ]  # fmt: skip


def test_cli_reports_and_fails(tmp_path, datadir):
    out = tmp_path / "report.json"
    args = _cli_args(tmp_path, datadir, "LookaheadCenteredStrategy")
    res = runner.invoke(app, [*args, "--json", str(out)])
    assert res.exit_code == 1, res.output
    assert "%-dist_centered_mean" in res.output
    assert json.loads(out.read_text())["findings"][0]["column"] == "%-dist_centered_mean"


def test_cli_clean_and_bad_input(tmp_path, datadir):
    res = runner.invoke(app, _cli_args(tmp_path, datadir, "BrokenFeatureStrategy"))
    assert res.exit_code == 0, res.output
    assert "no lookahead found" in res.output
    res = runner.invoke(app, _cli_args(tmp_path, datadir, "NoSuchStrategy"))
    assert res.exit_code == 2 and "NoSuchStrategy" in res.output
    assert res.output.strip().count("\n") == 0, res.output
    res = runner.invoke(app, ["check-leakage", "--config", str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "missing.json" in res.output
    res = runner.invoke(app, [*_cli_args(tmp_path, datadir, "RadStrategy"), "--samples", "0"])
    assert res.exit_code == 2 and "samples must be at least 1" in res.output


@pytest.mark.real_data
def test_real_data_four_pairs_six_months(tmp_path, real_datadir):
    cfg = build_training_config(
        StrategyMeta(
            pairs=["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"], datadir=str(real_datadir)
        )
    )
    path = tmp_path / "real.json"
    path.write_text(json.dumps(cfg))
    (tmp_path / "ud").mkdir()
    config = resolve_config(
        {
            "config": [str(path)],
            "strategy": "RadStrategy",
            "strategy_path": str(STRATEGIES),
            "datadir": str(real_datadir),
            "user_data_dir": str(tmp_path / "ud"),
            "command": "backtesting",
        }
    )
    started = time.perf_counter()
    report = check_lookahead(config, timerange="20250101-20250701", samples=20)
    elapsed = time.perf_counter() - started
    assert report.ok, report.summary_line()
    assert sum(report.cuts.values()) == 80
    assert elapsed < 60, f"{elapsed:.1f} s"
