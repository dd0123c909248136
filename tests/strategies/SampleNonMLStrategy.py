"""A tiny plain (non-ML) strategy: EMA crossover with an RSI filter.

Used by the tests as a fast, deterministic freqtrade strategy and by the benchmark as the
floor every ML strategy has to beat.  Spot only, long only, 1h candles.
"""

from __future__ import annotations

import talib.abstract as ta
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class SampleNonMLStrategy(IStrategy):
    """Go long when the fast EMA crosses above the slow EMA and RSI is not overbought."""

    INTERFACE_VERSION = 3

    timeframe = "1h"
    can_short = False
    minimal_roi = {"0": 0.10, "720": 0.03, "1440": 0.0}
    stoploss = -0.08
    trailing_stop = False
    process_only_new_candles = True
    use_exit_signal = True
    startup_candle_count = 40

    fast_period = 12
    slow_period = 26
    rsi_period = 14
    rsi_entry_max = 70.0

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        """EMA(12), EMA(26) and RSI(14) on the close."""
        dataframe["ema_fast"] = ta.EMA(dataframe, timeperiod=self.fast_period)
        dataframe["ema_slow"] = ta.EMA(dataframe, timeperiod=self.slow_period)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=self.rsi_period)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        """Enter on a bullish crossover unless RSI says the move is already overbought."""
        above = dataframe["ema_fast"] > dataframe["ema_slow"]
        crossed_up = above & ~above.shift(1, fill_value=True)
        dataframe.loc[
            crossed_up & (dataframe["rsi"] < self.rsi_entry_max) & (dataframe["volume"] > 0),
            ["enter_long", "enter_tag"],
        ] = (1, "ema_cross_up")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        """Exit on the bearish crossover."""
        below = dataframe["ema_fast"] < dataframe["ema_slow"]
        crossed_down = below & ~below.shift(1, fill_value=True)
        dataframe.loc[crossed_down & (dataframe["volume"] > 0), ["exit_long", "exit_tag"]] = (
            1,
            "ema_cross_down",
        )
        return dataframe
