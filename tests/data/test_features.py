"""build_features gives the features FreqAI itself trains on."""

from __future__ import annotations

import json

import pytest
from freqai_helpers import STRATEGIES, run_training_backtest, timerange
from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.features import build_features, load_candles, load_strategy
from tradai_strategy.data.synthetic import write_synthetic_data

pytestmark = pytest.mark.e2e


def test_same_feature_list_as_freqai(tmp_path):
    data = tmp_path / "d"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 70, seed=4, signal="none", datadir=data)
    _, _, model_dir = run_training_backtest(tmp_path, data, identifier="feat", tr=timerange(40, 60))
    trained = json.loads(next(model_dir.glob("sub-train-BTC*/*_metadata.json")).read_text())
    cfg = Configuration(
        {
            "config": [str(tmp_path / "feat.json")],
            "strategy": "RadStrategy",
            "strategy_path": str(STRATEGIES),
            "user_data_dir": str(tmp_path / "user_data"),
            "datadir": str(data),
        },
        RunMode.BACKTEST,
    ).get_config()
    strategy = load_strategy(cfg)
    candles = load_candles(cfg, ["BTC/USDT"])
    ff = build_features(cfg, strategy, "BTC/USDT", candles)
    assert ff.features == trained["training_features_list"]
    assert ff.labels == ["&-s_close"]
    assert len(ff.frame) == len(candles[("BTC/USDT", "1h")])
    with pytest.raises(TradAIDataError, match="DOGE/USDT 1h"):
        load_candles(cfg, ["DOGE/USDT"])


@pytest.mark.parametrize("period", [10, 20])
def test_rad_features_equal_talib_abstract_definitions(period):
    """The strategy computes its indicators on numpy arrays in one pass (it runs on every
    live candle); they must be TA-Lib's abstract-API indicators, number for number."""
    import numpy as np
    import pandas as pd
    import talib.abstract as ta

    from tradai_strategy.data.synthetic import generate_ohlcv
    from tradai_strategy.strategy.base import TradAIStrategy

    df = generate_ohlcv("BTC/USDT", "1h", days=30, seed=3, signal="none")
    df.loc[5:9, "volume"] = 0.0  # zero-volume candles: the relative volume's 0/0 guard
    out = TradAIStrategy.feature_engineering_expand_all(
        TradAIStrategy.__new__(TradAIStrategy), df.copy(), period, {}
    )
    close = df["close"]
    bands = ta.BBANDS(df, timeperiod=period, nbdevup=2.0, nbdevdn=2.0)
    width = (bands["upperband"] - bands["lowerband"]).replace(0, np.nan)
    expected = {
        "%-rsi-period": ta.RSI(df, timeperiod=period),
        "%-mfi-period": ta.MFI(df, timeperiod=period),
        "%-adx-period": ta.ADX(df, timeperiod=period),
        "%-roc-period": ta.ROC(df, timeperiod=period),
        "%-natr-period": ta.NATR(df, timeperiod=period),
        "%-dist_sma-period": close / ta.SMA(df, timeperiod=period) - 1,
        "%-dist_ema-period": close / ta.EMA(df, timeperiod=period) - 1,
        "%-bb_width-period": width / bands["middleband"],
        "%-bb_pos-period": (close - bands["lowerband"]) / width,
        "%-relative_volume-period": df["volume"]
        / df["volume"].rolling(period).mean().replace(0, np.nan),
    }
    assert list(out.columns) == [*df.columns, *expected]
    for name, values in expected.items():
        pd.testing.assert_series_equal(out[name], pd.Series(values, name=name), rtol=0, atol=0)


def test_updown_strategy_neither_enters_nor_exits_on_candles_without_a_prediction():
    import pandas as pd

    from tradai_strategy.strategy.base import TradAIStrategy

    strategy = TradAIStrategy.__new__(TradAIStrategy)
    strategy.config = {"freqai": {"tradai": {"target": "updown"}}}
    strategy.can_short = False
    df = pd.DataFrame(
        {
            "up": [0.8, 0.2, 0.0, 0.6],  # the third candle has no prediction (all zeros)
            "down": [0.2, 0.8, 0.0, 0.4],
            "do_predict": [1, 1, 0, 1],
        }
    )
    out = strategy.populate_exit_trend(strategy.populate_entry_trend(df.copy(), {}), {})
    assert out["enter_long"].fillna(0).tolist() == [1, 0, 0, 1]
    assert out["exit_long"].fillna(0).tolist() == [0, 1, 0, 0]
