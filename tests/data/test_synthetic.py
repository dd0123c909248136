"""Tests for the deterministic synthetic market generator."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType
from scipy import stats

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.synthetic import (
    DEFAULT_STRENGTH,
    SIGNAL_WINDOW,
    generate_ohlcv,
    ideal_ic,
    write_synthetic_data,
)
from tradai_strategy.data.synthetic_signal import forward_mean_return, oracle_feature

PAIRS = [
    "BTC/USDT",
    "ETH/USDT",
    "SOL/USDT",
    "XRP/USDT",
    "ADA/USDT",
    "DOGE/USDT",
    "BNB/USDT",
    "LTC/USDT",
]
H = 12


def _log_returns(df: pd.DataFrame) -> np.ndarray:
    return np.diff(np.log(df["close"].to_numpy()))


def _acf(x: np.ndarray, lag: int) -> float:
    x = x - x.mean()
    return float((x[lag:] * x[:-lag]).sum() / (x * x).sum())


def _pooled_ic(signal: str, seed: int, feature: str) -> tuple[float, int]:
    """Spearman IC pooled over PAIRS, every H-th row (non-overlapping forward labels)."""
    feats, labels = [], []
    for pair in PAIRS:
        close = generate_ohlcv(pair, "1h", 120, seed, signal)["close"].to_numpy()
        if feature == "oracle":
            feat = oracle_feature(close)
        else:  # past-H log return, negated like the oracle
            feat = np.full(close.shape, np.nan)
            feat[H:] = -np.log(close[H:] / close[:-H])
        label = forward_mean_return(close, H)
        rows = slice(max(H, SIGNAL_WINDOW), None, H)
        feats.append(feat[rows])
        labels.append(label[rows])
    f, y = np.concatenate(feats), np.concatenate(labels)
    ok = np.isfinite(f) & np.isfinite(y)
    return float(stats.spearmanr(f[ok], y[ok]).statistic), int(ok.sum())


# --- determinism -------------------------------------------------------------------------


def test_same_inputs_give_byte_identical_frames() -> None:
    a = generate_ohlcv("ETH/USDT", "1h", 20, 7, "planted")
    b = generate_ohlcv("ETH/USDT", "1h", 20, 7, "planted")
    pd.testing.assert_frame_equal(a, b)
    assert (
        a.drop(columns="date").to_numpy().tobytes() == b.drop(columns="date").to_numpy().tobytes()
    )


@pytest.mark.parametrize(
    "other",
    [
        {"seed": 8},
        {"pair": "BTC/USDT"},
        {"pair": "ETH/BTC"},
        {"timeframe": "4h"},
        {"start": "2024-02-01"},
        {"signal": "planted"},
    ],
)
def test_changing_an_input_changes_the_path(other: dict[str, str | int]) -> None:
    args: dict = {"pair": "ETH/USDT", "timeframe": "1h", "days": 20, "seed": 7, "signal": "none"}
    base = generate_ohlcv(**args)
    changed = generate_ohlcv(**{**args, **other})
    n = min(len(base), len(changed))
    assert not np.allclose(base["close"].to_numpy()[:n], changed["close"].to_numpy()[:n])


def test_longer_span_extends_the_same_path() -> None:
    short = generate_ohlcv("SOL/USDT", "1h", 10, 3, "planted")
    long = generate_ohlcv("SOL/USDT", "1h", 30, 3, "planted")
    pd.testing.assert_frame_equal(short, long.iloc[: len(short)])


def test_planted_is_none_plus_the_documented_causal_drift() -> None:
    none = generate_ohlcv("BTC/USDT", "1h", 30, 11, "none")
    planted = generate_ohlcv("BTC/USDT", "1h", 30, 11, "planted")
    eps = _log_returns(none)
    drift = DEFAULT_STRENGTH * oracle_feature(planted["close"])[:-1]  # known at t-1
    r = _log_returns(planted)
    ok = np.isfinite(drift)
    assert ok.sum() == len(r) - (SIGNAL_WINDOW - 1)
    np.testing.assert_allclose(r[ok], drift[ok] + eps[ok], rtol=0, atol=1e-12)


# --- candle shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe", "minutes"), [("5m", 5), ("1h", 60), ("4h", 240), ("1d", 1440)]
)
def test_candles_are_consistent_and_gap_free(timeframe: str, minutes: int) -> None:
    df = generate_ohlcv("XRP/USDT", timeframe, 30, 1, "planted")
    assert list(df.columns) == ["date", "open", "high", "low", "close", "volume"]
    assert len(df) == 30 * 1440 // minutes
    assert isinstance(df["date"].dtype, pd.DatetimeTZDtype) and str(df["date"].dt.tz) == "UTC"
    assert df["date"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert (df["date"].diff().iloc[1:] == pd.Timedelta(minutes=minutes)).all()
    values = df.drop(columns="date")
    assert (values.dtypes == np.float64).all() and np.isfinite(values.to_numpy()).all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
    assert (df["low"] <= df[["open", "close"]].min(axis=1)).all()
    assert (df["low"] > 0).all() and (df["volume"] > 0).all()
    np.testing.assert_array_equal(df["open"].to_numpy()[1:], df["close"].to_numpy()[:-1])


def test_price_levels_and_volatility_are_realistic() -> None:
    assert generate_ohlcv("BTC/USDT", "1h", 1, 0)["open"].iloc[0] == 60_000.0
    assert generate_ohlcv("ETH/USDT:USDT", "1h", 1, 0)["open"].iloc[0] == 3_000.0
    for pair in ("SOL/USDT", "FOO/BAR", "1000SHIB/USDT"):
        assert 1.0 <= generate_ohlcv(pair, "1h", 1, 0)["open"].iloc[0] <= 200.0
    hourly = _log_returns(generate_ohlcv("BTC/USDT", "1h", 240, 2)).std()
    five_min = _log_returns(generate_ohlcv("BTC/USDT", "5m", 60, 2)).std()
    assert 0.0045 < hourly < 0.008
    assert 0.0045 < five_min * math.sqrt(12) < 0.008


def test_volume_follows_abs_return_and_the_daily_cycle() -> None:
    df = generate_ohlcv("ETH/USDT", "1h", 120, 4)
    quote_volume = (df["volume"] * df["close"]).to_numpy()[1:]
    abs_ret = np.abs(_log_returns(df))
    assert stats.spearmanr(quote_volume, abs_ret).statistic > 0.3
    by_hour = pd.Series(quote_volume).groupby(df["date"].dt.hour.to_numpy()[1:]).mean()
    assert 13 <= by_hour.idxmax() <= 17
    assert by_hour.max() / by_hour.min() > 1.5


# --- return dynamics ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_volatility_clusters_but_returns_are_uncorrelated(seed: int) -> None:
    r = _log_returns(generate_ohlcv("ETH/USDT", "1h", 365, seed, "none"))
    assert np.mean([_acf(r * r, lag) for lag in range(1, 6)]) > 0.04
    # heteroskedasticity-robust standard error of a return autocorrelation
    se = math.sqrt(float((r[1:] ** 2 * r[:-1] ** 2).sum())) / float((r * r).sum())
    for lag in range(1, 6):
        assert abs(_acf(r, lag)) < 4 * se


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("feature", ["oracle", "past_return"])
def test_no_predictability_without_a_planted_signal(seed: int, feature: str) -> None:
    ic, n = _pooled_ic("none", seed, feature)
    assert n > 1800
    assert abs(ic) < 3 / math.sqrt(n)


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_signal_reaches_the_ideal_ic(seed: int) -> None:
    ic, n = _pooled_ic("planted", seed, "oracle")
    assert ic > 5 / math.sqrt(n)
    assert abs(ic - ideal_ic(H)) < 3 / math.sqrt(n)


def test_ideal_ic_is_documented_and_cached() -> None:
    assert ideal_ic(12, 0.0) == 0.0
    values = [ideal_ic(h) for h in (1, 6, 12, 24)]
    np.testing.assert_allclose(values, [0.101, 0.187, 0.215, 0.204], atol=0.0015)
    assert ideal_ic(12) is ideal_ic(12)  # lru_cache hands back the same float object
    assert ideal_ic(12, 0.02) < ideal_ic(12) < ideal_ic(12, 0.1)


# --- freqtrade files ---------------------------------------------------------------------


def test_written_files_load_back_through_freqtrade(tmp_path: Path) -> None:
    pairs = ["BTC/USDT", "ETH/USDT"]
    paths = write_synthetic_data(pairs, "1h", 10, 5, "planted", tmp_path)
    assert paths == [tmp_path / "BTC_USDT-1h.feather", tmp_path / "ETH_USDT-1h.feather"]
    for pair, path in zip(pairs, paths, strict=True):
        assert path.is_file()
        loaded = load_pair_history(
            pair=pair, timeframe="1h", datadir=tmp_path, data_format="feather"
        )
        expected = generate_ohlcv(pair, "1h", 10, 5, "planted")
        pd.testing.assert_frame_equal(loaded.reset_index(drop=True), expected)


def test_futures_files_go_where_freqtrade_looks(tmp_path: Path) -> None:
    (path,) = write_synthetic_data(
        ["BTC/USDT:USDT"], "5m", 2, 5, "none", str(tmp_path), trading_mode="futures"
    )
    assert path == tmp_path / "futures" / "BTC_USDT_USDT-5m-futures.feather"
    loaded = load_pair_history(
        pair="BTC/USDT:USDT",
        timeframe="5m",
        datadir=tmp_path,
        data_format="feather",
        candle_type=CandleType.FUTURES,
    )
    assert len(loaded) == 2 * 288


# --- bad inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"signal": "strong"}, "signal"),
        ({"timeframe": "1M"}, "timeframe"),
        ({"timeframe": "1s"}, "timeframe"),
        ({"timeframe": "0m"}, "timeframe"),
        ({"timeframe": "hourly"}, "timeframe"),
        ({"days": 0}, "days"),
        ({"days": 1.5}, "days"),
        ({"days": 1, "timeframe": "1w"}, "days"),
        ({"seed": -1}, "seed"),
        ({"pair": "BTCUSDT"}, "pair"),
        ({"pair": "BTC-USDT"}, "pair"),
        ({"pair": "BTC/USDT:"}, "pair"),
        ({"start": "yesterday-ish"}, "start"),
        ({"start": "2024-01-01 00:30"}, "start"),
        ({"strength": -0.1}, "strength"),
        ({"strength": float("nan")}, "strength"),
    ],
)
def test_bad_inputs_raise_one_line_value_errors(kwargs: dict, field: str) -> None:
    args: dict = {"pair": "BTC/USDT", "timeframe": "1h", "days": 2, "seed": 0, "signal": "none"}
    with pytest.raises(TradAIConfigError, match=rf"^{field}: ") as info:
        generate_ohlcv(**{**args, **kwargs})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("pairs", "mode", "field"),
    [
        (["BTC/USDT"], "options", "trading_mode"),
        (["BTC/USDT"], "futures", "pair"),
        (["BTC/USDT:USDT"], "spot", "pair"),
        ([], "spot", "pairs"),
        ("BTC/USDT", "spot", "pairs"),
    ],
)
def test_bad_write_arguments_raise(tmp_path: Path, pairs: list[str], mode: str, field: str) -> None:
    with pytest.raises(TradAIConfigError, match=rf"^{field}: "):
        write_synthetic_data(pairs, "1h", 2, 0, "none", tmp_path, trading_mode=mode)
    assert not any(tmp_path.iterdir())


def test_ideal_ic_rejects_bad_horizon() -> None:
    with pytest.raises(ValueError, match=r"^horizon: "):
        ideal_ic(0)
