"""Test strategy: the regime target with its crisis class moved to a chosen span.

Every ``crisis`` label becomes ``high_vol``, and every labelled row between the two dates of
the config's ``tradai_test_crisis_span`` becomes ``crisis``: a test places the class in a
training window's eval part only, or on a handful of its training rows."""

from typing import Any, ClassVar

import pandas as pd

from tradai_strategy.core.regimes import REGIME_LABEL
from tradai_strategy.strategy import TradAIStrategy


class RegimeRareClassStrategy(TradAIStrategy):
    timeframe = "1h"
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08}
    stoploss = -0.06
    target = "regime"

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = TradAIStrategy.set_freqai_targets(self, dataframe, metadata, **kwargs)
        start, end = (pd.Timestamp(d, tz="UTC") for d in self.config["tradai_test_crisis_span"])
        dates = pd.to_datetime(dataframe["date"], utc=True)
        label = dataframe[REGIME_LABEL]
        inside = (dates >= start) & (dates <= end) & label.notna()
        dataframe[REGIME_LABEL] = label.mask(label == "crisis", "high_vol").mask(inside, "crisis")
        return dataframe
