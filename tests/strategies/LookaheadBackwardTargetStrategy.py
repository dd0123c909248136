"""Planted mistake: a target that looks backward (the past 12-candle return)."""

from typing import Any

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class LookaheadBackwardTargetStrategy(TradAIStrategy):
    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe["&-s_close"] = dataframe["close"].pct_change(self.label_period_candles)
        return dataframe
