"""Offline markets, data pre-flight checks and in-process freqtrade runs."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import freqtrade.exchange as ft_exchange_pkg
import numpy as np
import pandas as pd
import pytest
from config_helpers import spot_backtest_config
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType, RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.exchange import Exchange
from freqtrade.resolvers import ExchangeResolver

from tradai_strategy.data.freqtrade_runner import FreqtradeRunError, run_freqtrade
from tradai_strategy.data.offline import (
    PATCHED_EXCHANGE_METHODS,
    build_market,
    offline_markets,
    offline_markets_active,
    pairs_in_datadir,
)
from tradai_strategy.data.preflight import (
    MissingDataError,
    TimerangeOutsideDataError,
    check_backtest_data,
    required_data,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]
START = pd.Timestamp("2024-01-01", tz="UTC")
DAYS = 40


def write_random_walk(
    datadir: Path,
    pairs: list[str],
    *,
    timeframe: str = "1h",
    days: int = DAYS,
    candle_type: CandleType = CandleType.SPOT,
    seed: int = 7,
) -> None:
    """Geometric random-walk candles stored with freqtrade's feather data handler."""
    (datadir / "futures").mkdir(parents=True, exist_ok=True)
    handler = get_datahandler(datadir, "feather")
    rng = np.random.default_rng(seed)
    freq = pd.Timedelta(timeframe.replace("m", "min"))
    dates = pd.date_range(START, START + pd.Timedelta(days=days), freq=freq, inclusive="left")
    for i, pair in enumerate(pairs):
        close = (100.0 * (i + 1)) * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
        open_ = np.r_[close[0], close[:-1]]
        wick = rng.uniform(0, 0.004, (2, len(dates)))
        df = pd.DataFrame(
            {
                "date": dates,
                "open": open_,
                "high": np.maximum(open_, close) * (1 + wick[0]),
                "low": np.minimum(open_, close) * (1 - wick[1]),
                "close": close,
                "volume": rng.uniform(10, 100, len(dates)),
            }
        )
        handler.ohlcv_store(pair, timeframe, df, candle_type)


def backtest_config(tmp_path: Path, pairs: list[str], **overrides: Any) -> dict[str, Any]:
    """Minimal config freqtrade 2026.9 accepts for a spot backtest."""
    return spot_backtest_config(pairs, str(tmp_path / "data"), **overrides)


def write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({k: v for k, v in config.items() if k != "datadir"}))
    return path


def preflight_config(tmp_path: Path, pairs: list[str], **overrides: Any) -> dict[str, Any]:
    config = backtest_config(tmp_path, pairs, **overrides)
    config["datadir"] = Path(config["datadir"])
    return config


# ----------------------------------------------------------------------------- markets
def test_build_market_spot_shape() -> None:
    market = build_market("BTC/USDT")
    assert market["symbol"] == "BTC/USDT"
    assert (market["id"], market["base"], market["quote"]) == ("BTCUSDT", "BTC", "USDT")
    assert (market["baseId"], market["quoteId"], market["settle"]) == ("BTC", "USDT", None)
    assert market["type"] == "spot" and market["spot"] and market["active"]
    assert not (market["swap"] or market["future"] or market["option"] or market["contract"])
    assert market["taker"] == market["maker"] == 0.001
    assert market["precision"]["price"] > 1e-11  # freqtrade treats tinier ticks as untradable
    assert market["limits"]["cost"]["min"] < 100
    assert set(market["limits"]) >= {"amount", "cost", "price", "leverage"}
    assert market["info"] == {}


def test_build_market_futures_shape() -> None:
    market = build_market("BTC/USDT", "futures")
    assert market["symbol"] == "BTC/USDT:USDT"
    assert market["settle"] == market["settleId"] == "USDT"
    assert market["type"] == "swap" and market["swap"] and market["contract"]
    assert market["linear"] is True and market["inverse"] is False and not market["spot"]
    assert market["contractSize"] == 1.0
    assert build_market("ETH/USDT:USDT", "futures")["symbol"] == "ETH/USDT:USDT"


def test_build_market_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="futures symbol"):
        build_market("BTC/USDT:USDT", "spot")
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        build_market("BTCUSDT")


def test_patch_is_scoped_nested_and_restored_on_error() -> None:
    originals = {name: Exchange.__dict__[name] for name in PATCHED_EXCHANGE_METHODS}
    assert not offline_markets_active()
    with offline_markets(["BTC/USDT"]) as outer:
        assert Exchange._load_async_markets is not originals["_load_async_markets"]
        with offline_markets(["ETH/USDT"]) as inner:
            assert "ETH/USDT:USDT" in inner and "BTC/USDT" in outer
        assert offline_markets_active()  # outer still active after inner exit
        assert Exchange._load_async_markets is not originals["_load_async_markets"]
    assert {n: Exchange.__dict__[n] for n in PATCHED_EXCHANGE_METHODS} == originals
    with pytest.raises(RuntimeError), offline_markets(["BTC/USDT"]):
        raise RuntimeError("boom")
    assert Exchange.__dict__["_load_async_markets"] is originals["_load_async_markets"]
    assert not offline_markets_active()


def test_no_exchange_subclass_overrides_patched_methods() -> None:
    """Class-level patches only work if no freqtrade exchange overrides these methods."""
    for _, cls in inspect.getmembers(ft_exchange_pkg, inspect.isclass):
        if issubclass(cls, Exchange) and cls is not Exchange:
            assert not set(PATCHED_EXCHANGE_METHODS) & set(vars(cls)), cls.__name__


def test_pairs_in_datadir(tmp_path: Path) -> None:
    datadir = tmp_path / "data"
    write_random_walk(datadir, PAIRS, days=2)
    write_random_walk(datadir, ["SOL/USDT:USDT"], days=2, candle_type=CandleType.FUTURES)
    assert pairs_in_datadir(datadir) == PAIRS
    assert pairs_in_datadir(datadir, "futures") == ["SOL/USDT:USDT"]
    assert pairs_in_datadir(tmp_path / "nope") == []


def _exchange_config(tmp_path: Path, trading_mode: str) -> dict[str, Any]:
    pricing = {"price_side": "same", "use_order_book": True, "order_book_top": 1}
    return {
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT:USDT"]},
        "dry_run": False,  # live-like: binance would query private account settings
        "runmode": RunMode.BACKTEST,
        "stake_currency": "USDT",
        "trading_mode": trading_mode,
        "margin_mode": "isolated",
        "timeframe": "1h",
        "entry_pricing": pricing,
        "exit_pricing": pricing,
        "datadir": tmp_path,
    }


@pytest.mark.usefixtures("no_network")
def test_futures_exchange_initialises_offline(tmp_path: Path) -> None:
    config = _exchange_config(tmp_path, "futures")
    with offline_markets(["BTC/USDT", "SYNTH/USDT:USDT"]):
        exchange = ExchangeResolver.load_exchange(config, load_leverage_tiers=True)
        try:
            assert "BTC/USDT:USDT" in exchange.markets
            assert exchange.market_is_future(exchange.markets["SYNTH/USDT:USDT"])
            assert exchange.get_max_leverage("SYNTH/USDT:USDT", 100.0) >= 1.0
            assert exchange.get_maintenance_ratio_and_amt("BTC/USDT:USDT", 1000.0)[0] > 0
            assert exchange.get_fee("BTC/USDT:USDT") == 0.001
        finally:
            exchange.close()


@pytest.fixture
def close_failed_exchanges(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close exchanges whose __init__ raised (freqtrade leaves their ccxt sessions open)."""
    created: list[Exchange] = []
    original = Exchange._init_async_loop

    def record(self: Exchange) -> Any:
        created.append(self)
        return original(self)

    monkeypatch.setattr(Exchange, "_init_async_loop", record)
    yield
    for exchange in created:
        exchange.close()


@pytest.mark.usefixtures("no_network", "close_failed_exchanges")
def test_exchange_without_patch_cannot_load_markets(tmp_path: Path) -> None:
    config = _exchange_config(tmp_path, "futures")
    started = time.monotonic()
    with pytest.raises(OperationalException, match="Could not load markets"):
        ExchangeResolver.load_exchange(config, load_leverage_tiers=True)
    assert time.monotonic() - started < 20


# ------------------------------------------------------------------------ end to end
@pytest.mark.e2e
@pytest.mark.usefixtures("no_network")
def test_backtest_runs_offline_in_process(tmp_path: Path, offline_freqtrade: Any) -> None:
    config = backtest_config(tmp_path, PAIRS)
    write_random_walk(Path(config["datadir"]), PAIRS)
    started = time.monotonic()
    result = offline_freqtrade(
        write_config(tmp_path, config), "SampleNonMLStrategy", datadir=config["datadir"]
    )
    elapsed = time.monotonic() - started
    print(f"2-pair x {DAYS}d offline backtest: {elapsed:.2f}s")
    assert len(result.trades) > 0
    assert set(result.trades["pair"]) <= set(PAIRS)
    assert result.stats["total_trades"] == len(result.trades)
    assert result.stats["stake_currency"] == "USDT"
    assert result.results_path.is_file() and result.results_path.suffix == ".zip"
    assert Exchange.__dict__["_load_async_markets"].__module__ == "freqtrade.exchange.exchange"


@pytest.mark.e2e
@pytest.mark.usefixtures("no_network", "close_failed_exchanges")
def test_backtest_without_offline_mode_fails(tmp_path: Path) -> None:
    config = backtest_config(tmp_path, PAIRS)
    write_random_walk(Path(config["datadir"]), PAIRS, days=5)
    argv = [
        "backtesting",
        *("--config", str(write_config(tmp_path, config))),
        *("--strategy", "SampleNonMLStrategy"),
        *("--strategy-path", str(Path(__file__).resolve().parents[1] / "strategies")),
        *("--datadir", config["datadir"], "--userdir", str(tmp_path)),
    ]
    started = time.monotonic()
    with pytest.raises(FreqtradeRunError, match="could not load the exchange's markets") as err:
        run_freqtrade(argv, offline=False)
    assert "\n" not in str(err.value) and "pass --offline" in str(err.value)  # the fix named
    assert time.monotonic() - started < 20


def test_run_freqtrade_rejects_bad_arguments() -> None:
    with pytest.raises(FreqtradeRunError, match="unrecognized arguments: --bogus"):
        run_freqtrade(["backtesting", "--bogus"])


# ------------------------------------------------------------------------ pre-flight
def test_missing_data_lists_files_and_download_command(tmp_path: Path) -> None:
    config = preflight_config(
        tmp_path, [*PAIRS, "XRP/USDT"], timerange="20240110-20240201", startup_candle_count=48
    )
    write_random_walk(config["datadir"], PAIRS)
    with pytest.raises(MissingDataError) as err:
        check_backtest_data(config)
    message = str(err.value)
    missing = config["datadir"] / "XRP_USDT-1h.feather"
    assert f"\n  {missing}\n" in message and "BTC_USDT" not in message
    assert "freqtrade download-data --exchange binance --pairs XRP/USDT --timeframes 1h" in message
    assert "--timerange 20240108-20240201" in message  # 48 startup candles before the start
    assert f"--datadir {config['datadir']}" in message
    assert err.value.missing == [missing]


def test_missing_freqai_timeframes_and_corr_pairs(tmp_path: Path) -> None:
    freqai = {
        "enabled": True,
        "train_period_days": 10,
        "feature_parameters": {
            "include_timeframes": ["1h", "4h"],
            "include_corr_pairlist": ["SOL/USDT"],
            "indicator_periods_candles": [10, 20],
        },
    }
    config = preflight_config(tmp_path, PAIRS, freqai=freqai)
    write_random_walk(config["datadir"], PAIRS)
    with pytest.raises(MissingDataError) as err:
        check_backtest_data(config)
    names = sorted(p.name for p in err.value.missing)
    assert names == ["BTC_USDT-4h.feather", "ETH_USDT-4h.feather", "SOL_USDT-1h.feather",
                     "SOL_USDT-4h.feather"]  # fmt: skip
    assert "--pairs BTC/USDT ETH/USDT --timeframes 4h" in str(err.value)
    assert "--pairs SOL/USDT --timeframes 1h 4h" in str(err.value)


def test_futures_requirements_include_funding_and_mark(tmp_path: Path) -> None:
    config = preflight_config(tmp_path, ["BTC/USDT:USDT"], trading_mode="futures")
    reqs = {(r.timeframe, r.candle_type): r.path.name for r in required_data(config)}
    assert reqs == {
        ("1h", CandleType.FUTURES): "BTC_USDT_USDT-1h-futures.feather",
        ("1h", CandleType.FUNDING_RATE): "BTC_USDT_USDT-1h-funding_rate.feather",
        ("1h", CandleType.MARK): "BTC_USDT_USDT-1h-mark.feather",
    }
    with pytest.raises(MissingDataError, match="--trading-mode futures"):
        check_backtest_data(config)


def test_timerange_outside_data(tmp_path: Path) -> None:
    config = preflight_config(tmp_path, PAIRS, timerange="20231215-20240301")
    write_random_walk(config["datadir"], PAIRS)
    with pytest.raises(TimerangeOutsideDataError) as err:
        check_backtest_data(config)
    message = str(err.value)
    assert "\n" not in message
    assert "BTC/USDT 1h covers 2024-01-01 00:00 to 2024-02-10 00:00" in message
    assert "--timerange 20240101-20240210" in message
    assert "freqtrade download-data" in message


def test_timerange_inside_data_passes_unless_freqai_training_needs_more(tmp_path: Path) -> None:
    config = preflight_config(tmp_path, PAIRS, timerange="20240120-20240205")
    write_random_walk(config["datadir"], PAIRS)
    check_backtest_data(config)  # plain backtest: covered
    config["freqai"] = {
        "enabled": True,
        "train_period_days": 30,
        "feature_parameters": {"include_timeframes": ["1h"], "indicator_periods_candles": [10]},
    }
    with pytest.raises(TimerangeOutsideDataError, match="train_period_days=30") as err:
        check_backtest_data(config)
    assert "--timerange 20240131-20240210" in str(err.value)


def test_preflight_runs_before_freqtrade(tmp_path: Path) -> None:
    config = backtest_config(tmp_path, ["XRP/USDT"])
    Path(config["datadir"]).mkdir(parents=True)
    argv = [
        "backtesting",
        *("--config", str(write_config(tmp_path, config))),
        *("--strategy", "SampleNonMLStrategy", "--datadir", config["datadir"]),
        *("--strategy-path", str(Path(__file__).resolve().parents[1] / "strategies")),
        *("--userdir", str(tmp_path)),
    ]
    with pytest.raises(FreqtradeRunError, match=r"XRP_USDT-1h\.feather") as err:
        run_freqtrade(argv, offline=True)
    assert "freqtrade download-data" in str(err.value)


# ------------------------------------------------------------------------- real data
@pytest.mark.real_data
@pytest.mark.e2e
@pytest.mark.usefixtures("no_network")
def test_real_data_backtest_offline(
    tmp_path: Path, real_datadir: Path, offline_freqtrade: Any
) -> None:
    config = backtest_config(tmp_path, PAIRS)
    result = offline_freqtrade(
        write_config(tmp_path, config),
        "SampleNonMLStrategy",
        datadir=real_datadir,
        timerange="20250101-20250701",
    )
    assert len(result.trades) > 0
    assert set(result.trades["pair"]) <= set(PAIRS)
    assert str(result.stats["backtest_start"]).startswith("2025-01-0")


@pytest.mark.real_data
def test_real_data_timerange_before_download(tmp_path: Path, real_datadir: Path) -> None:
    config = preflight_config(tmp_path, PAIRS, timerange="20200101-20250101")
    config["datadir"] = real_datadir
    with pytest.raises(TimerangeOutsideDataError, match="BTC/USDT 1h covers 2024-"):
        check_backtest_data(config)
