"""Test strategy: TradAIStrategy with its own regression target ``&-fwd_logret`` (the log
return over the label horizon) instead of the built-in ``&-s_close``; nothing else of
TradAI is told the name."""

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class CustomTargetStrategy(TradAIStrategy):
    timeframe = "1h"
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08}
    stoploss = -0.06

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        close = dataframe["close"]
        dataframe["&-fwd_logret"] = np.log(close.shift(-self.label_period_candles) / close)
        return dataframe
