"""TradAI's FreqAI models. Freqtrade finds them through the shims in user_data/freqaimodels/."""

from tradai_strategy.freqai.catboost_models import CatboostClassifier, CatboostRegressor
from tradai_strategy.freqai.training_model import TrainingClassifierModel, TrainingPredictionModel

__all__ = [
    "CatboostClassifier",
    "CatboostRegressor",
    "TrainingClassifierModel",
    "TrainingPredictionModel",
]
