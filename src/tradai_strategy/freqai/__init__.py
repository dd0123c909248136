"""TradAI's FreqAI models; freqtrade finds them through tradai_strategy/freqaimodels/."""

from tradai_strategy.freqai.catboost_models import CatboostClassifier, CatboostRegressor
from tradai_strategy.freqai.training_model import TrainingClassifierModel, TrainingPredictionModel

__all__ = [
    "CatboostClassifier",
    "CatboostRegressor",
    "TrainingClassifierModel",
    "TrainingPredictionModel",
]
