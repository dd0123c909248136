"""The candle pre-flight: candle files freqtrade would silently repair are refused.

Each failure mode first shows what freqtrade's own loader does with the file today (merges,
forward-fills, invents candles, no error), then that ``tradai backtest`` refuses it with one
line naming the file, the problem and the fix (exit 2, nothing run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from config_helpers import spot_backtest_config
from freqtrade.data.history import load_pair_history
from typer.testing import CliRunner, Result

from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.candle_check import (
    DEFAULT_MAX_GAP_CANDLES,
    CandleDataError,
    allow_gaps,
    check_candles,
)
from tradai_strategy.data.candle_scan import on_candle_grid, scan_candles
from tradai_strategy.data.features import load_candles
from tradai_strategy.data.freqtrade_runner import ensure_userdir
from tradai_strategy.data.preflight import check_backtest_data
from tradai_strategy.data.synthetic import write_synthetic_data

TESTS = Path(__file__).resolve().parents[1]
PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = "20240115-20240220"  # synthetic candles: 2024-01-01 .. 2024-03-01
AT = pd.Timestamp("2024-02-01 05:00", tz="UTC")  # inside the timerange


def _config(datadir: Path, **overrides: Any) -> dict[str, Any]:
    return spot_backtest_config(PAIRS, datadir, **overrides)


@pytest.fixture
def datadir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_synthetic_data(PAIRS, "1h", 60, seed=5, signal="none", datadir=data)
    return data


def _edit(datadir: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """Rewrite BTC/USDT's candle file with ``edit`` applied (raw rows, as a bad file has)."""
    path = datadir / "BTC_USDT-1h.feather"
    edit(pd.read_feather(path)).reset_index(drop=True).to_feather(path)
    return path


def _freqtrade_view(datadir: Path) -> pd.DataFrame:
    """BTC/USDT as freqtrade's loader hands it to a backtest (after its cleaning)."""
    return load_pair_history(pair="BTC/USDT", timeframe="1h", datadir=datadir)


def _backtest(tmp_path: Path, datadir: Path, *extra: str) -> Result:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({k: v for k, v in _config(datadir).items() if k != "datadir"}))
    ensure_userdir(tmp_path / "user_data")
    argv = [
        "backtest",
        "--offline",
        *extra,
        *("--config", str(cfg), "--strategy", "SampleNonMLStrategy"),
        *("--strategy-path", str(TESTS / "strategies"), "--datadir", str(datadir)),
        *("--userdir", str(tmp_path / "user_data"), "--timerange", TIMERANGE),
    ]
    return CliRunner().invoke(app, argv)


def _refused(res: Result, path: Path) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"BTC/USDT 1h ({path})" in res.output  # the file and the pair
    assert "ETH/USDT 1h" not in res.output  # the clean file is not listed
    return " ".join(res.output.split())


def test_duplicate_timestamps_are_refused(tmp_path: Path, datadir: Path) -> None:
    three = slice(AT, AT + pd.Timedelta(hours=2))
    path = _edit(datadir, lambda df: pd.concat([df, df.set_index("date").loc[three].reset_index()]))
    raw = pd.read_feather(path)
    # today: freqtrade merges the repeated rows, no error
    assert len(_freqtrade_view(datadir)) == len(raw) - 3 == raw["date"].nunique()
    out = _refused(_backtest(tmp_path, datadir), path)
    assert "3 duplicate timestamp(s) (identical rows, first 2024-02-01 05:00)" in out
    assert "re-download it" in out and "freqtrade download-data" in out and "--erase" in out


def test_conflicting_duplicates_are_refused_by_name(tmp_path: Path, datadir: Path) -> None:
    def conflict(df: pd.DataFrame) -> pd.DataFrame:
        other = df[df["date"] == AT].assign(close=lambda d: d["close"] * 1.5)
        return pd.concat([df, other])

    path = _edit(datadir, conflict)
    raw = pd.read_feather(path)
    # today: freqtrade keeps the last close of the two and says nothing
    merged = _freqtrade_view(datadir).set_index("date").loc[AT, "close"]
    assert merged == raw.loc[raw["date"] == AT, "close"].iloc[-1]
    out = _refused(_backtest(tmp_path, datadir), path)
    assert (
        "1 conflicting duplicate timestamp(s) (rows with different OHLCV for the same candle, "
        "first 2024-02-01 05:00)" in out
    )
    assert "--allow-gaps" not in _refused(_backtest(tmp_path, datadir, "--allow-gaps"), path)


def test_nan_close_is_refused(tmp_path: Path, datadir: Path) -> None:
    def nan_close(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df["date"] == AT, "close"] = np.nan
        return df

    path = _edit(datadir, nan_close)
    # today: freqtrade forward-fills the previous close into the candle
    seen = _freqtrade_view(datadir).set_index("date")["close"]
    assert np.isfinite(seen.loc[AT]) and seen.loc[AT] == seen.loc[AT - pd.Timedelta(hours=1)]
    out = _refused(_backtest(tmp_path, datadir, "--allow-gaps"), path)  # never allowed
    assert "1 candle(s) with NaN/inf or non-positive close (first 2024-02-01 05:00)" in out


def test_five_day_gap_is_refused_unless_allowed(tmp_path: Path, datadir: Path) -> None:
    hole = (pd.Timestamp("2024-02-03", tz="UTC"), pd.Timestamp("2024-02-08", tz="UTC"))
    path = _edit(datadir, lambda df: df[(df["date"] < hole[0]) | (df["date"] >= hole[1])])
    # today: freqtrade fills the 120 candles with flat zero-volume ones, no error
    seen = _freqtrade_view(datadir).set_index("date")
    filled = seen.loc[hole[0] : hole[1] - pd.Timedelta(hours=1)]
    assert len(filled) == 120 and (filled["volume"] == 0).all()
    out = _refused(_backtest(tmp_path, datadir), path)
    assert (
        "1 gap(s) of more than 3 missing candle(s) (first: 120 candles (5 d) missing after "
        "2024-02-02 23:00)" in out
    )
    assert "--allow-gaps to let freqtrade fill them" in out and "max_gap_candles" in out
    res = _backtest(tmp_path, datadir, "--allow-gaps")
    assert res.exit_code == 0, res.output  # the backtest ran on the filled candles
    assert "BACKTESTING REPORT" in res.output or "SUMMARY METRICS" in res.output


# ---- the rules, without a backtest ------------------------------------------------------


def test_only_the_rows_the_run_reads_count(datadir: Path) -> None:
    _edit(datadir, lambda df: df.drop(index=range(100, 124)))  # a day missing on Jan 5
    config = _config(datadir, timerange="20240201-20240220")
    check_backtest_data(config)  # Jan 5 is before the rows the backtest reads
    with pytest.raises(CandleDataError, match="24 candles"):
        check_backtest_data({**config, "timerange": "20240103-20240220"})


def test_gap_limit_short_gaps_and_config(datadir: Path) -> None:
    config = _config(datadir)
    _edit(datadir, lambda df: df.drop(index=range(100, 100 + DEFAULT_MAX_GAP_CANDLES)))
    (btc, eth) = check_candles(config, [("BTC/USDT", "1h"), ("ETH/USDT", "1h")])
    assert [g.missing for g in btc.scan.gaps] == [3] and not eth.scan.gaps
    _edit(datadir, lambda df: df.drop(index=range(300, 310)))
    with pytest.raises(CandleDataError, match=r"10 candles \(10 h\) missing"):
        check_candles(config, [("BTC/USDT", "1h")])
    with allow_gaps():
        check_candles(config, [("BTC/USDT", "1h")])
    raised = {**config, "freqai": {"tradai": {"max_gap_candles": 10}}}
    check_candles(raised, [("BTC/USDT", "1h")])
    with pytest.raises(TradAIConfigError, match=r"max_gap_candles must be a non-negative"):
        check_candles({**config, "freqai": {"tradai": {"max_gap_candles": "3"}}}, [])


def test_load_candles_runs_the_preflight(datadir: Path) -> None:
    """Validation, the lookahead check and TradAI's hyperopt load candles this way."""

    def zero_low(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df["date"] == AT, "low"] = 0.0
        return df

    path = _edit(datadir, zero_low)
    config = _config(
        datadir, freqai={"enabled": True, "feature_parameters": {"include_timeframes": ["1h"]}}
    )
    with pytest.raises(CandleDataError) as err:
        load_candles(config, PAIRS, TIMERANGE)
    assert str(path) in str(err.value) and "non-positive low" in str(err.value)
    load_candles(config, ["ETH/USDT"], TIMERANGE)


def test_scan_counts_and_grid() -> None:
    dates = pd.date_range("2024-01-01", periods=10, freq="1h", tz="UTC")
    frame = pd.DataFrame({"date": dates, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0})
    frame["volume"] = 1.0
    odd = frame.copy()
    odd.loc[2, "date"] += pd.Timedelta(minutes=30)
    odd.loc[4, "volume"] = -1.0
    odd.loc[5, "high"] = np.inf
    scan = scan_candles(pd.concat([odd, odd.iloc[[7, 7]]]), "1h")
    assert (scan.duplicates, scan.conflicting, scan.off_grid) == (1, 0, 1)
    assert (scan.bad_prices, scan.bad_price_columns, scan.bad_volume) == (1, ("high",), 1)
    assert scan.corrupt and scan_candles(frame, "1h").corrupt is False
    weekly = pd.to_datetime(["2024-01-01 00:00", "2024-01-04 00:00", "2024-01-08 01:00"], utc=True)
    assert on_candle_grid(weekly, "1w").tolist() == [True, False, False]
    monthly = pd.to_datetime(["2024-02-01", "2024-02-02"], utc=True)
    assert on_candle_grid(monthly, "1M").tolist() == [True, False]
    months = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-04-01"], utc=True)})
    assert [g.missing for g in scan_candles(months.assign(close=1.0), "1M").gaps] == [2]


# ---- real data ----------------------------------------------------------------------------


@pytest.mark.real_data
def test_real_binance_candles_pass_the_default_preflight(real_datadir: Path) -> None:
    files = sorted(real_datadir.glob("*-*.feather"))
    series = [(f.stem.rsplit("-", 1)[0].replace("_", "/"), f.stem.rsplit("-", 1)[1]) for f in files]
    config = _config(real_datadir)
    scans = check_candles(config, series, allow_gaps=False)
    assert len(scans) == len(files) >= 10
    assert all(s.scan.rows > 1000 for s in scans)
