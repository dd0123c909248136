"""Planted lookahead: the next candle's close as a feature (``close.shift(-1)``)."""

from typing import Any

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class LookaheadShiftStrategy(TradAIStrategy):
    def feature_engineering_expand_basic(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = super().feature_engineering_expand_basic(dataframe, metadata, **kwargs)
        dataframe["%-next_close"] = dataframe["close"].shift(-1)
        return dataframe
