"""Shim so `--freqaimodel CatboostClassifier` resolves: freqtrade only finds classes defined here."""

from tradai_strategy.freqai import CatboostClassifier as _CatboostClassifier


class CatboostClassifier(_CatboostClassifier):
    """See :class:`tradai_strategy.freqai.CatboostClassifier`."""
