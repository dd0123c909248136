"""CatBoost models for FreqAI (FreqAI 2026.9 no longer ships them).

Drop-in FreqAI models like upstream's former ones: FreqAI's own split and pipelines, the
eval part used for monitoring and, when ``early_stopping_rounds`` is among
``model_training_parameters``, for early stopping. For purged training use
``TrainingPredictionModel`` with ``freqai.tradai.estimator = "catboost"``.
"""

from __future__ import annotations

from typing import Any

from freqtrade.freqai.base_models.BaseClassifierModel import BaseClassifierModel
from freqtrade.freqai.base_models.BaseRegressionModel import BaseRegressionModel
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.models.estimators import build_estimator, fit_estimator


class CatboostRegressor(BaseRegressionModel):
    """CatBoost regressor for FreqAI."""

    def fit(self, data_dictionary: dict, dk: FreqaiDataKitchen, **kwargs: Any) -> Any:
        params = dict(self.model_training_parameters)
        rounds = int(params.pop("early_stopping_rounds", 0))
        threads = self.config["freqai"].get("data_kitchen_thread_count")
        model = build_estimator("catboost", "regression", params, seed=0, threads=threads)
        return fit_estimator(model, data_dictionary, rounds)


class CatboostClassifier(BaseClassifierModel):
    """CatBoost classifier for FreqAI."""

    def fit(self, data_dictionary: dict, dk: FreqaiDataKitchen, **kwargs: Any) -> Any:
        params = dict(self.model_training_parameters)
        rounds = int(params.pop("early_stopping_rounds", 0))
        threads = self.config["freqai"].get("data_kitchen_thread_count")
        model = build_estimator("catboost", "classification", params, seed=0, threads=threads)
        return fit_estimator(model, data_dictionary, rounds)
