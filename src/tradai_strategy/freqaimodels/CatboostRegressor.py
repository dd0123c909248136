"""Shim so freqtrade's `--freqaimodel CatboostRegressor` finds the class (defined here)."""

from tradai_strategy.freqai import CatboostRegressor as _CatboostRegressor


class CatboostRegressor(_CatboostRegressor):
    """See :class:`tradai_strategy.freqai.CatboostRegressor`."""
