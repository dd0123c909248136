"""Shim so freqtrade's `--freqaimodel CatboostClassifier` finds the class (defined here)."""

from tradai_strategy.freqai import CatboostClassifier as _CatboostClassifier


class CatboostClassifier(_CatboostClassifier):
    """See :class:`tradai_strategy.freqai.CatboostClassifier`."""
