"""Shim so `--freqaimodel TrainingClassifierModel` resolves: freqtrade only finds classes defined here."""

from tradai_strategy.freqai import TrainingClassifierModel as _TrainingClassifierModel


class TrainingClassifierModel(_TrainingClassifierModel):
    """See :class:`tradai_strategy.freqai.TrainingClassifierModel`."""
