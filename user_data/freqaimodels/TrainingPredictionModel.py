"""Shim so `--freqaimodel TrainingPredictionModel` resolves: freqtrade only finds classes defined here."""

from tradai_strategy.freqai import TrainingPredictionModel as _TrainingPredictionModel


class TrainingPredictionModel(_TrainingPredictionModel):
    """See :class:`tradai_strategy.freqai.TrainingPredictionModel`."""
