"""Shim so freqtrade's `--freqaimodel TrainingPredictionModel` finds the class (defined here)."""

from tradai_strategy.freqai import TrainingPredictionModel as _TrainingPredictionModel


class TrainingPredictionModel(_TrainingPredictionModel):
    """See :class:`tradai_strategy.freqai.TrainingPredictionModel`."""
