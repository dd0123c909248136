"""Planted lookahead: a centred rolling mean (half its window lies in the future)."""

from typing import Any

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class LookaheadCenteredStrategy(TradAIStrategy):
    def feature_engineering_standard(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = super().feature_engineering_standard(dataframe, metadata, **kwargs)
        smooth = dataframe["close"].rolling(24, center=True).mean()
        dataframe["%-dist_centered_mean"] = dataframe["close"] / smooth - 1
        return dataframe
