"""One (pair, window) fit of the pre-training pass, run in a worker process.

The worker runs the training model's real code: FreqAI's ``train`` (filtering, pipelines)
with TradAI's purged split and ``fit``, then FreqAI's ``predict`` and
``get_predictions_to_append``. It builds the model object without
``IFreqaiModel.__init__`` (which opens the model folder's data drawer and writes run records)
and writes no file: the driver (:mod:`tradai_strategy.freqai.pretrain`) writes what FreqAI's
loop would have written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from freqtrade.freqai.base_models.BaseClassifierModel import BaseClassifierModel
from freqtrade.freqai.base_models.BaseRegressionModel import BaseRegressionModel
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.core.settings import TradAISettings
from tradai_strategy.freqai.purged_training import PurgedTrainingMixin
from tradai_strategy.models.estimators import Task
from tradai_strategy.registry.faults import fault_point


class RegressionFit(PurgedTrainingMixin, BaseRegressionModel):
    """The training side of ``TrainingPredictionModel`` (same classes, same order)."""

    task = "regression"


class ClassificationFit(PurgedTrainingMixin, BaseClassifierModel):
    """The training side of ``TrainingClassifierModel``."""

    task = "classification"


@dataclass
class WindowTask:
    """Everything one fit needs; picklable, without the strategy or the exchange config."""

    pair: str
    window: int
    train_range: str
    task: Task
    model_name: str
    settings: TradAISettings
    config: dict[str, Any]
    dk: FreqaiDataKitchen
    train_df: pd.DataFrame
    backtest_df: pd.DataFrame

    def label(self) -> str:
        return f"{self.name()} (training {self.train_range})"

    def name(self) -> str:
        return f"{self.pair} window {self.window}"


@dataclass
class WindowResult:
    """The fitted model, the data kitchen it leaves (pipelines, training features), its
    ``dk.data`` as training left it and what prediction added, and the rows FreqAI appends
    to the pair's predictions."""

    pair: str
    window: int
    model: Any
    dk: FreqaiDataKitchen
    train_data: dict[str, Any]
    predict_data: dict[str, Any]
    append_df: pd.DataFrame
    seconds: float


def training_model(
    task: Task, config: dict[str, Any], settings: TradAISettings, name: str = ""
) -> Any:
    """A training model with the attributes ``train``/``fit``/``predict`` read, set from
    ``config`` as ``IFreqaiModel.__init__`` sets them; backtest mode, nothing saved. ``name``:
    the class name its messages use (the user's model class, not the worker's)."""
    base: type[Any] = RegressionFit if task == "regression" else ClassificationFit
    cls: type[Any] = type(name, (base,), {}) if name else base
    model: Any = object.__new__(cls)
    freqai = config["freqai"]
    model.config = config
    model.freqai_info = freqai
    model.data_split_parameters = freqai.get("data_split_parameters", {})
    model.model_training_parameters = freqai.get("model_training_parameters", {})
    model.ft_params = freqai["feature_parameters"]
    model.CONV_WIDTH = freqai.get("conv_width", 1)
    model.class_names = []
    model.live = False
    model.save_backtest_models = False  # the driver saves the model and its native copy
    model.tradai = settings
    model._fatal = None
    return model


def fit_window(task: WindowTask) -> WindowResult:
    """Train the window's model and predict its backtest rows, as FreqAI's loop does."""
    started = time.perf_counter()
    model = training_model(task.task, task.config, task.settings, task.model_name)
    dk = task.dk
    fault_point("during_fit", task.name())  # crash tests: the worker dies in this fit
    try:
        fitted = model.train(task.train_df, task.pair, dk)
    except Exception:
        if model._fatal is not None:  # the one-line TradAIError train() keeps for FreqAI
            raise model._fatal from None
        raise
    train_data = dict(dk.data)  # FreqAI saves the metadata before it predicts
    model.model = fitted
    pred_df, do_preds = model.predict(task.backtest_df, dk)
    predict_data = {k: v for k, v in dk.data.items() if train_data.get(k, dk) is not v}
    append_df = dk.get_predictions_to_append(pred_df, do_preds, task.backtest_df)
    # what dd.save_data reads; the rest would only be shipped back
    keep = ("train_features", "train_dates")
    dk.data_dictionary = {k: v for k, v in dk.data_dictionary.items() if k in keep}
    seconds = time.perf_counter() - started
    return WindowResult(
        task.pair, task.window, fitted, dk, train_data, predict_data, append_df, seconds
    )
