"""A minimal spot backtest config freqtrade accepts, shared by the data tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def spot_backtest_config(pairs: list[str], datadir: str | Path, **overrides: Any) -> dict[str, Any]:
    """Minimal config freqtrade 2026.9 accepts for a spot backtest of ``pairs``."""
    config: dict[str, Any] = {
        "exchange": {"name": "binance", "pair_whitelist": pairs, "pair_blacklist": []},
        "stake_currency": "USDT",
        "stake_amount": 100,
        "dry_run_wallet": 1000,
        "max_open_trades": 2,
        "timeframe": "1h",
        "dry_run": True,
        "trading_mode": "spot",
        "margin_mode": "",
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": False},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "dataformat_ohlcv": "feather",
        "datadir": datadir,
    }
    config.update(overrides)
    return config


def strategy_load_config(
    strategy: str, strategy_path: str | Path, userdir: Path, freqai: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The least config ``StrategyResolver.load_strategy`` takes for ``strategy``."""
    config: dict[str, Any] = {
        "strategy": strategy,
        "strategy_path": str(strategy_path),
        "timeframe": "1h",
        "stake_currency": "USDT",
        "stake_amount": 100,
        "dry_run": True,
        "user_data_dir": userdir,
        "exchange": {"name": "binance", "pair_whitelist": ["BTC/USDT"]},
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {},
        "exit_pricing": {},
    }
    if freqai is not None:
        config["freqai"] = freqai
    return config
