"""TrainingPredictionModel: FreqAI walk-forward training with purge, embargo and OOS metrics."""

from __future__ import annotations

from freqtrade.freqai.base_models.BaseClassifierModel import BaseClassifierModel
from freqtrade.freqai.base_models.BaseRegressionModel import BaseRegressionModel

from tradai_strategy.freqai.pretrain import PretrainMixin
from tradai_strategy.freqai.purged_training import PurgedTrainingMixin


class TrainingPredictionModel(PretrainMixin, PurgedTrainingMixin, BaseRegressionModel):
    """Regressor trained in every walk-forward window.

    Config (``freqai.tradai``): ``estimator`` (lightgbm | catboost), ``purge_candles``
    (default ``label_period_candles``), ``embargo_candles``, ``early_stopping_rounds``,
    ``seed``, ``executor`` (parallel training of the backtest's windows:
    docs/parallel-training.md). ``model_training_parameters`` go to the estimator unchanged.
    """

    task = "regression"


class TrainingClassifierModel(PretrainMixin, PurgedTrainingMixin, BaseClassifierModel):
    """Classifier counterpart of :class:`TrainingPredictionModel` (string class labels)."""

    task = "classification"
