"""Test strategy: ``label_columns`` declares ``&-fwd_ret`` but ``set_freqai_targets`` creates
``&-fwd_logret`` (the mismatch must be one line naming both)."""

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class MislabeledTargetStrategy(TradAIStrategy):
    timeframe = "1h"
    startup_candle_count = 100
    label_columns: ClassVar[tuple[str, ...]] = ("&-fwd_ret",)

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        close = dataframe["close"]
        dataframe["&-fwd_logret"] = np.log(close.shift(-self.label_period_candles) / close)
        return dataframe
