"""Test strategy: a custom class target ``&-fwd_up`` (True when the close ``label_period_candles``
ahead is higher, a bool label) traded on P(True); the classifier is chosen by ``target``."""

from typing import Any, ClassVar

import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class CustomClassTargetStrategy(TradAIStrategy):
    timeframe = "1h"
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08}
    stoploss = -0.06
    target = "updown"
    long_class = "True"

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        ahead = dataframe["close"].shift(-self.label_period_candles)
        dataframe["&-fwd_up"] = (ahead > dataframe["close"]).where(ahead.notna())
        return dataframe
