"""Shim so freqtrade's `--freqaimodel TrainingClassifierModel` finds the class (defined here)."""

from tradai_strategy.freqai import TrainingClassifierModel as _TrainingClassifierModel


class TrainingClassifierModel(_TrainingClassifierModel):
    """See :class:`tradai_strategy.freqai.TrainingClassifierModel`."""
