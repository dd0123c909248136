"""Planted leak: a %-feature built from the &-target (added next to it)."""

from typing import Any

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class LookaheadTargetFeatureStrategy(TradAIStrategy):
    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = super().set_freqai_targets(dataframe, metadata, **kwargs)
        dataframe["%-target_in_bp"] = dataframe["&-s_close"] * 10_000
        return dataframe
