"""One estimator fit of ``tradai validate``, run inside a worker process.

Kept free of freqtrade imports so a fresh worker starts quickly (it only needs numpy,
pandas and the estimator library).
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tradai_strategy.models.estimators import Task, build_estimator, fit_estimator


@dataclass(frozen=True)
class FitTask:
    """One estimator fit: pair x split x seed."""

    pair: int
    split: int
    seed: int


@dataclass
class FitResult:
    """Predictions of one fit on its test rows and (for the overfitting gap) on the scored
    subset of its train rows (the non-overlapping grid: the only train rows metrics use)."""

    task: FitTask
    test_pred: npt.NDArray[np.float64]
    train_pred: npt.NDArray[np.float64]
    fit_seconds: float
    test_class: npt.NDArray[Any] | None = None
    #: classifiers: class probabilities of the test rows, columns in ``classes`` order
    test_proba: npt.NDArray[np.float64] | None = None
    classes: tuple[str, ...] = ()


def predict_scores(model: Any, X: npt.NDArray[np.float64], task: Task) -> tuple[Any, Any]:
    """Numeric score (regression prediction, or P(up) - 0.5) and, for classifiers, classes."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float).ravel(), None
    proba = np.asarray(model.predict_proba(X))
    classes = [str(c) for c in model.classes_]
    up = classes.index("up") if "up" in classes else len(classes) - 1
    return proba[:, up] - 0.5, np.asarray(model.classes_)[proba.argmax(axis=1)]


def fit_one(
    task: FitTask,
    kind: Task,
    estimator: str,
    params: dict[str, Any],
    X: npt.NDArray[np.float64],
    y: npt.NDArray[Any],
    train: npt.NDArray[np.int64],
    test: npt.NDArray[np.int64],
    train_scored: npt.NDArray[np.int64],
) -> FitResult:
    """Fit the estimator (one thread) on ``train`` rows; predict ``test`` and ``train_scored``."""
    started = time.perf_counter()
    model = build_estimator(estimator, kind, params, seed=task.seed, threads=1)
    data = {
        "train_features": X[train],
        "train_labels": y[train],
        "train_weights": np.ones(len(train)),
    }
    fit_estimator(model, data, early_stopping_rounds=0)
    seconds = time.perf_counter() - started
    test_pred, test_class = predict_scores(model, X[test], kind)
    train_pred, _ = predict_scores(model, X[train_scored], kind)
    if kind == "regression":
        return FitResult(task, test_pred, train_pred, seconds)
    proba = np.asarray(model.predict_proba(X[test]), dtype=np.float64)
    classes = tuple(str(c) for c in model.classes_)
    return FitResult(task, test_pred, train_pred, seconds, test_class, proba, classes)


#: the library each estimator name needs (imported once per worker)
ESTIMATOR_MODULES = {
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "random_forest": "sklearn.ensemble",
}


def worker_ready(estimator: str) -> int:
    """Import the estimator library in a worker (pool warm-up); returns the worker's pid."""
    importlib.import_module(ESTIMATOR_MODULES.get(estimator, estimator))
    return os.getpid()
