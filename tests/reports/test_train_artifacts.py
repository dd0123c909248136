"""The report's candles come from the same loader as the features (spot or futures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType

from tradai_strategy.reports.train_artifacts import base_candles


def test_base_candles_of_a_futures_config_are_the_futures_candles(tmp_path: Path) -> None:
    pair = "BTC/USDT:USDT"
    dates = pd.date_range("2025-01-01", periods=48, freq="1h", tz="UTC")
    close = 100 + np.arange(48, dtype=float)
    frame = pd.DataFrame(
        {"date": dates, "open": close, "high": close, "low": close, "close": close, "volume": 1.0}
    )
    get_datahandler(tmp_path, "feather").ohlcv_store(pair, "1h", frame, CandleType.FUTURES)
    cfg = {
        "timeframe": "1h",
        "datadir": str(tmp_path),
        "dataformat_ohlcv": "feather",
        "trading_mode": "futures",
        "freqai": {"enabled": True, "feature_parameters": {}},
    }
    got = base_candles(cfg, [pair], None)
    assert list(got) == [pair] and len(got[pair]) == 48
    assert got[pair]["close"].tolist() == close.tolist()
