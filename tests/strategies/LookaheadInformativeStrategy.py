"""Planted leak: a 4h candle merged on its open time, i.e. before it closes.

``merge_asof`` on ``date`` hands the 1h rows 12:00-15:00 the 4h candle that opens at 12:00
and closes at 16:00. freqtrade's ``merge_informative_pair`` shifts it to 15:00 instead.
"""

from typing import Any

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class LookaheadInformativeStrategy(TradAIStrategy):
    def informative_pairs(self) -> list[tuple[str, str]]:
        return [(pair, "4h") for pair in self.dp.current_whitelist()]

    def feature_engineering_standard(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = super().feature_engineering_standard(dataframe, metadata, **kwargs)
        inf = self.dp.get_pair_dataframe(metadata["pair"], "4h")
        inf = inf[["date", "close"]].rename(columns={"close": "close_4h"})
        merged = pd.merge_asof(dataframe, inf, on="date")
        dataframe["%-close_vs_4h"] = (merged["close"] / merged["close_4h"] - 1).to_numpy()
        return dataframe
