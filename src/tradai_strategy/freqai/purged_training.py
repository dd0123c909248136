"""What TradAI adds to FreqAI's training flow: a purged split, early stopping, OOS metrics.

:class:`PurgedTrainingMixin` goes in front of FreqAI's ``BaseRegressionModel`` or
``BaseClassifierModel``; the base class keeps owning filtering, pipelines and inverse
transforms, and the mixin only swaps the train/eval split, fits the configured estimator
and writes ``tradai_metrics.json`` beside the model after each pair's backtest.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError, TradAIError
from tradai_strategy.core.labels import describe_label, is_discrete_label
from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES
from tradai_strategy.core.settings import TradAISettings
from tradai_strategy.data.oos_metrics import (
    classification_metrics,
    regression_metrics,
    update_metrics_file,
)
from tradai_strategy.freqai.run_records import redact_run_records
from tradai_strategy.models.estimators import (
    Task,
    build_estimator,
    fit_estimator,
    save_native_model,
)
from tradai_strategy.stats.classification import MIN_CLASS_ROWS, window_classes
from tradai_strategy.stats.purged_split import purged_train_eval_indices

logger = logging.getLogger(__name__)


def check_feature_columns(df: pd.DataFrame, features: list[str], pair: str) -> None:
    """Raise when a feature column has no value at all in the training window."""
    present = [f for f in features if f in df.columns]
    empty = [f for f in present if df[f].isna().all()]
    if empty:
        raise TradAIDataError(
            f"{pair}: feature column(s) {', '.join(empty)} are all NaN in the training window: "
            "fix the feature_engineering_* function that builds them (indicator period longer "
            "than the window? division by zero?) or drop them"
        )


def check_label_task(
    df: pd.DataFrame, labels: list[str], task: Task, model: str, pair: str
) -> None:
    """Raise one line when the window has no ``&``-target, or a target the model cannot
    learn: a continuous label for a classifier, a class label for a regressor."""
    present = [lab for lab in labels if lab in df.columns]
    if not present:
        found = [str(c) for c in df.columns if not str(c).startswith("%")][:12]
        raise TradAIConfigError(
            f"{pair}: the training data has no &-target column (columns besides the features: "
            f"{', '.join(found)}): create one in the strategy's set_freqai_targets, e.g. "
            "dataframe['&-my_target'] = ..."
        )
    for label in present:
        values = df[label].dropna()
        discrete = is_discrete_label(values)
        if task == "classification" and not discrete:
            raise TradAIConfigError(
                f"{model} is a classifier but {label} is continuous ({describe_label(values)}): "
                "train it with TrainingPredictionModel (freqai.tradai.target: return), or make "
                "the label discrete (text, bool or a few integer classes)"
            )
        if task == "regression" and discrete:
            raise TradAIConfigError(
                f"{model} is a regressor but {label} is a class label ({describe_label(values)}): "
                "train it with TrainingClassifierModel (freqai.tradai.target: updown), or make "
                "the label numeric"
            )


def purged_datasets(
    dk: FreqaiDataKitchen,
    settings: TradAISettings,
    features: pd.DataFrame,
    labels: pd.DataFrame,
) -> dict[str, Any]:
    """Replacement for ``dk.make_train_test_datasets`` with purge and embargo."""
    split_params = dk.freqai_config.get("data_split_parameters", {})
    test_size = float(split_params.get("test_size", 0.1))
    n = len(features)
    try:
        split = purged_train_eval_indices(
            n,
            test_size,
            purge=settings.purge_candles,
            embargo=settings.embargo_candles,
            eval_position=settings.eval_position,
        )
    except ValueError as err:
        raise TradAIDataError(f"{dk.pair}: {err}") from err
    weight_factor = dk.freqai_config["feature_parameters"].get("weight_factor", 0)
    weights = (
        np.asarray(dk.set_weights_higher_recent(n), dtype=float)
        if weight_factor > 0
        else np.ones(n)
    )
    dates = getattr(dk, "train_dates", None)
    if dates is not None and len(dates) == n:
        d = pd.to_datetime(pd.Series(dates).reset_index(drop=True))
        dk.data["tradai_split"] = {
            "train_dates": [str(x) for x in d.iloc[split.train].agg(["min", "max"])],
            "eval_dates": [str(x) for x in d.iloc[split.eval].agg(["min", "max"])]
            if len(split.eval)
            else None,
            "purged_rows": len(split.purged),
            "embargoed_rows": len(split.embargoed),
        }
    if len(split.eval) == 0:
        return dk.build_data_dictionary(
            features, pd.DataFrame(), labels, np.zeros(2), weights, np.zeros(2)
        )
    return dk.build_data_dictionary(
        features.iloc[split.train],
        features.iloc[split.eval],
        labels.iloc[split.train],
        labels.iloc[split.eval],
        weights[split.train],
        weights[split.eval],
    )


def check_window_classes(data_dictionary: dict[str, Any], dk: FreqaiDataKitchen) -> None:
    """A class in the eval part with no training row stops with one line naming the class
    and the window (LightGBM and CatBoost fail on it with their own message); a class with
    fewer than ``MIN_CLASS_ROWS`` training rows is one warning line (the model trains; its
    probability for that class stays near the class's share). A regime absent from the
    window is one warning line: the window's model has no column for it."""
    span = (dk.data.get("tradai_split") or {}).get("train_dates")
    train = data_dictionary["train_labels"]
    where = f"{dk.pair}, training window {' .. '.join(span) if span else f'of {len(train)} rows'}"
    evals = data_dictionary.get("test_labels")
    for label in train.columns:
        part = evals[label] if isinstance(evals, pd.DataFrame) and label in evals else None
        counts = window_classes(train[label], part)
        for name, n in counts.unseen().items():
            raise TradAIDataError(
                f"{where}: class {name!r} of {label} has 0 training rows but {n} in the eval "
                "part, so the classifier cannot learn or score it: lengthen train_period_days "
                "(or shrink data_split_parameters.test_size)"
            )
        for name, n in counts.rare().items():
            logger.warning(
                "%s: class %r of %s has only %d training row(s) (< %d): this window's model "
                "cannot learn it, its probability stays near its share",
                where, name, label, n, MIN_CLASS_ROWS,
            )  # fmt: skip
        absent = [r for r in REGIMES if label == REGIME_LABEL and r not in counts.train]
        if absent:
            logger.warning(
                "%s: regime(s) %s have no training row: this window's model gives them no "
                "probability column (FreqAI fills 0)",
                where, ", ".join(absent),
            )  # fmt: skip


class PurgedTrainingMixin:
    """Mixin for a FreqAI base model class. Set ``task`` in the concrete class."""

    task: Task = "regression"
    # provided by IFreqaiModel
    config: dict[str, Any]
    model_training_parameters: dict[str, Any]
    full_path: Path

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # FreqAI's copies of the config (run_params.json, the result zip's) without passwords
        redact_run_records(kwargs.get("config", self.config), self.full_path)
        self.tradai = TradAISettings.from_config(self.config)
        self._fatal: TradAIError | None = None

    def train(
        self, unfiltered_df: pd.DataFrame, pair: str, dk: FreqaiDataKitchen, **kwargs: Any
    ) -> Any:
        if self._fatal is not None:
            raise self._fatal
        try:
            check_feature_columns(unfiltered_df, dk.training_features_list, pair)
            check_label_task(unfiltered_df, dk.label_list, self.task, type(self).__name__, pair)
            dk.make_train_test_datasets = lambda f, lab: purged_datasets(dk, self.tradai, f, lab)
            try:
                return super().train(unfiltered_df, pair, dk, **kwargs)  # type: ignore[misc]
            finally:
                del dk.make_train_test_datasets
        except Exception as err:
            if getattr(self, "live", False):
                raise  # live: FreqAI keeps serving the previous model and logs the failure
            # Backtesting: FreqAI logs a failed window and fills it with empty predictions,
            # which would make a whole backtest silently meaningless. Remember the error and
            # re-raise it once FreqAI's window loop returns (later windows fail fast).
            if self._fatal is None:
                self._fatal = (
                    err
                    if isinstance(err, TradAIError)
                    else TradAIDataError(
                        f"{pair}: training failed ({type(err).__name__}: {err}); "
                        "fix the cause and rerun — no backtest is reported on empty predictions"
                    )
                )
            raise

    def fit(self, data_dictionary: dict[str, Any], dk: FreqaiDataKitchen, **kwargs: Any) -> Any:
        if self.task == "classification":
            check_window_classes(data_dictionary, dk)
        model = build_estimator(
            self.tradai.estimator,
            self.task,
            self.model_training_parameters,
            seed=self.tradai.seed,
            threads=self.config["freqai"].get("data_kitchen_thread_count"),
        )
        model = fit_estimator(model, data_dictionary, self.tradai.early_stopping_rounds)
        # FreqAI pickles the model it keeps (live, or save_backtest_models); keep a copy in
        # the library's own format beside it, loadable without unpickling anything
        if getattr(self, "live", False) or getattr(self, "save_backtest_models", False):
            save_native_model(model, Path(dk.data_path), dk.model_filename)
        return model

    def _append_null_backtesting_predictions(self, dk: FreqaiDataKitchen, frame: Any) -> None:
        # FreqAI fills a failed window with neutral predictions and moves on; after our
        # failure there is nothing to fill: stop here with its one line (freqtrade 2026.9's
        # filler also breaks on a classifier's second failed window, hiding the cause)
        if self._fatal is not None and not getattr(self, "live", False):
            raise self._fatal
        super()._append_null_backtesting_predictions(dk, frame)  # type: ignore[misc]

    def start_backtesting(
        self, dataframe: pd.DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any
    ) -> FreqaiDataKitchen:
        dk = super().start_backtesting(dataframe, metadata, dk, strategy)  # type: ignore[misc]
        if self._fatal is not None:
            raise self._fatal
        try:
            write_pair_metrics(dataframe, metadata, dk, strategy, self.tradai.label_period_candles)
        except Exception:  # metrics must never break a backtest; say so loudly
            logger.exception("TradAI: could not write out-of-sample metrics for %s", metadata)
        return dk


def write_pair_metrics(
    dataframe: pd.DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any, horizon: int
) -> None:
    """Join the pair's backtest predictions with realised targets and update the metrics file."""
    ret = dk.return_dataframe
    ranges = dk.backtesting_timeranges
    if ret is None or not ranges:
        return
    windows = [(tr.startdt, tr.stopdt) for tr in ranges]
    realised = strategy.set_freqai_targets(dataframe.copy(), metadata=metadata)
    realised = realised.set_index("date")
    mask = (ret["date"] >= windows[0][0]) & (ret["date"] < windows[-1][1])
    oos_rows = ret.loc[mask].reset_index(drop=True)
    labels = [c for c in realised.columns if c.startswith("&") and c in oos_rows.columns]
    results = []
    for label in labels:
        oos = pd.DataFrame(
            {
                "date": oos_rows["date"],
                "pred": oos_rows[label],
                "realised": realised[label].reindex(oos_rows["date"]).to_numpy(),
                "do_predict": oos_rows["do_predict"],
            }
        )
        if not is_discrete_label(realised[label]):
            results.append(regression_metrics(oos, label, horizon, windows))
        else:
            results.append(classification_metrics(oos, label, horizon, windows))
    path = update_metrics_file(
        dk.full_path,
        metadata["pair"],
        {"labels": results, "n_windows": len(windows), "rows": int(mask.sum())},
    )
    logger.info("TradAI: out-of-sample metrics for %s written to %s", metadata["pair"], path)
