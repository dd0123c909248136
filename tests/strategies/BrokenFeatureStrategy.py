"""RadStrategy variant with a feature column that is all NaN: must be refused clearly."""

from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.strategy import TradAIStrategy


class BrokenFeatureStrategy(TradAIStrategy):
    def feature_engineering_expand_basic(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe = super().feature_engineering_expand_basic(dataframe, metadata, **kwargs)
        dataframe["%-broken"] = np.nan
        return dataframe
