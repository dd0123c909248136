"""Bench diagnostic: RadStrategy fed straight from a prediction table, with no FreqAI at all.

The floor for *this* strategy's trades: same signals (so the same trade list) as
RadStrategy with TradAIPredictionModel, but nothing of FreqAI is loaded. The table path is
the config key ``tradai_bench_predictions``. Keep the attributes in sync with
``user_data/strategies/RadStrategy.py`` (the bench checks the trade lists are equal).
"""

from typing import Any, ClassVar

import pandas as pd

from tradai_strategy.data.prediction_table import read_predictions
from tradai_strategy.serving.prediction_source import attach_predictions
from tradai_strategy.strategy import TradAIStrategy


class RadTableStrategy(TradAIStrategy):
    timeframe = "1h"
    can_short = False
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08, "1440": 0.03, "4320": 0.0}
    stoploss = -0.06
    entry_zscore = 0.1
    exit_zscore = 0.0
    _by_pair: ClassVar[dict[str, Any]] = {}

    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        if not self._by_pair:
            table = read_predictions(self.config["tradai_bench_predictions"])
            self._by_pair.update({str(p): rows for p, rows in table.groupby("pair")})
        return attach_predictions(dataframe, self._by_pair[metadata["pair"]])
