"""Shim so `--freqaimodel CatboostRegressor` resolves: freqtrade only finds classes defined here."""

from tradai_strategy.freqai import CatboostRegressor as _CatboostRegressor


class CatboostRegressor(_CatboostRegressor):
    """See :class:`tradai_strategy.freqai.CatboostRegressor`."""
