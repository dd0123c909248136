"""Honest classification statistics: metrics next to naive baselines, and an accuracy gate.

Metrics (:func:`classification_report`): accuracy, balanced accuracy (mean recall over the
classes present in the truth), Cohen's kappa, log loss (when class probabilities are
given) and the confusion matrix (rows: truth, columns: prediction), all from
``sklearn.metrics`` on the rows where truth and prediction are both known.

Baselines
---------
* majority (:func:`majority_baseline`): always the most frequent class of the *training*
  labels (the test labels' majority would use the answer);
* persistence (:func:`persistence_baseline`): "the next label equals the current one". A
  label over the forward window ``t+1 .. t+h`` is known only once that window has passed, so
  the label known at ``t`` is the one of row ``t - h`` (its window ended at ``t``). Using row
  ``t - 1`` would read ``h - 1`` future candles; with overlapping windows it shares them
  with the label it "predicts" and looks excellent for that reason alone.

Beating a baseline (:func:`beats_baseline`)
-------------------------------------------
On the rows where model, baseline and truth are all known, the per-row hit indicators
``m_t = [model_t == y_t]`` and ``b_t = [baseline_t == y_t]`` are compared with
:func:`tradai_strategy.stats.compare.paired_ic_test` applied to ``m_t - margin`` and
``b_t``: its mean is ``accuracy_model - accuracy_baseline - margin``, its standard error is
overlap-aware (neighbouring rows share ``h - 1`` label candles, so their hits are
correlated up to lag ``h - 1``) and ``t`` has ``n / h - 1`` degrees of freedom. The
one-sided p-value tests ``H0: delta <= margin`` against ``delta > margin``.

The gate (:func:`accuracy_gate`): OOS accuracy ``> min_accuracy`` *and* the model beats
persistence by more than ``margin`` with one-sided ``p < alpha``; the verdict lists each
condition that failed, with its numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.stats.compare import MIN_PERIODS, finite_or_none, paired_ic_test
from tradai_strategy.stats.live_ic import candle_step

#: the gate's defaults
MIN_ACCURACY = 0.75
MARGIN = 0.02
ALPHA = 0.05


class ClassificationError(MonitoringError):
    """Labels or predictions cannot be scored; the one-line message names what and the fix."""


@dataclass(frozen=True)
class ClassificationReport:
    """Scores of one set of class predictions (``log_loss``: NaN without probabilities)."""

    n: int
    classes: tuple[str, ...]
    accuracy: float
    balanced_accuracy: float
    kappa: float
    log_loss: float
    confusion: pd.DataFrame = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, object]:
        out = finite_or_none(
            {
                "n": self.n,
                "accuracy": self.accuracy,
                "balanced_accuracy": self.balanced_accuracy,
                "kappa": self.kappa,
                "log_loss": self.log_loss,
            }
        )
        out["classes"] = list(self.classes)
        out["confusion"] = self.confusion.to_numpy().tolist()
        return out


def as_text(values: pd.Series) -> pd.Series:
    """Class labels as text, missing ones as None (``1`` and ``"1"`` are one class)."""
    text = values.astype(object).map(str).to_numpy(dtype=object)
    return pd.Series(np.where(values.notna(), text, None), index=values.index, dtype=object)


def classification_report(
    y_true: pd.Series,
    y_pred: pd.Series,
    proba: pd.DataFrame | None = None,
    classes: Sequence[str] | None = None,
) -> ClassificationReport:
    """Accuracy, balanced accuracy, kappa, log loss and confusion matrix of ``y_pred``
    against ``y_true`` on the index rows where both are known.

    ``proba`` (optional): one column per class, rows on the same index. ``classes``: the
    order of the confusion matrix (default: sorted union of the labels seen).

    >>> t = pd.Series(["a", "a", "b", "b", None])
    >>> r = classification_report(t, pd.Series(["a", "b", "b", "b", "a"]))
    >>> r.n, r.accuracy, r.balanced_accuracy, round(r.kappa, 3)
    (4, 0.75, 0.75, 0.5)
    """
    truth, pred = as_text(y_true), as_text(y_pred.reindex(y_true.index))
    ok = (truth.notna() & pred.notna()).to_numpy()
    if not ok.any():
        raise ClassificationError(
            "no row has both a realised label and a prediction: check that the predictions "
            "cover the labelled candles (the last label_period_candles rows have no label)"
        )
    t, p = truth[ok].to_numpy(dtype=str), pred[ok].to_numpy(dtype=str)
    seen = sorted(set(t) | set(p) | set(map(str, proba.columns if proba is not None else [])))
    labels = list(classes) if classes is not None else seen
    missing = sorted(set(seen) - set(labels))
    if missing:
        raise ClassificationError(
            f"labels/predictions hold class(es) {', '.join(missing)} not in the class list "
            f"{', '.join(labels)}: pass every class"
        )
    with warnings.catch_warnings():  # a class predicted but never true: recall undefined
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(metrics.balanced_accuracy_score(t, p))
    loss = float("nan")
    if proba is not None:
        prob = proba.reindex(index=y_true.index, columns=labels).to_numpy(float)[ok]
        if not np.isfinite(prob).all():
            raise ClassificationError(
                "class probabilities are missing on rows with a prediction: give one column "
                f"per class ({', '.join(labels)})"
            )
        prob = np.clip(prob, 1e-15, 1.0)
        prob = prob / prob.sum(axis=1, keepdims=True)
        # sklearn reads the probability columns in sorted class order
        order = np.argsort(labels)
        loss = float(metrics.log_loss(t, prob[:, order], labels=sorted(labels)))
    confusion = pd.DataFrame(
        metrics.confusion_matrix(t, p, labels=labels),
        index=pd.Index(labels, name="true"),
        columns=pd.Index(labels, name="predicted"),
    )
    kappa = float(metrics.cohen_kappa_score(t, p, labels=labels))
    return ClassificationReport(
        n=int(ok.sum()),
        classes=tuple(labels),
        accuracy=float(metrics.accuracy_score(t, p)),
        balanced_accuracy=balanced,
        kappa=kappa if math.isfinite(kappa) else float("nan"),
        log_loss=loss,
        confusion=confusion,
    )


def majority_baseline(train_labels: pd.Series, index: pd.Index) -> pd.Series:
    """The most frequent class of ``train_labels`` on every row of ``index`` (ties: the
    first in sorted order).

    >>> majority_baseline(pd.Series(["b", "a", "b", None]), pd.RangeIndex(2)).tolist()
    ['b', 'b']
    """
    counts = as_text(train_labels).dropna().value_counts()
    if counts.empty:
        raise ClassificationError("the training labels are all missing: no majority class")
    top = sorted(counts.index[counts == counts.max()])[0]
    return pd.Series(top, index=index, dtype=object)


def persistence_baseline(labels: pd.Series, horizon: int) -> pd.Series:
    """The label known at each candle: the label of the candle ``horizon`` candles earlier
    (by time, so a gap in the candles never pairs the wrong rows); None where unknown.

    >>> t = pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC")
    >>> persistence_baseline(pd.Series(list("abcde"), index=t), 2).tolist()
    [None, None, 'a', 'b', 'c']
    """
    if horizon < 1:
        raise ClassificationError(f"horizon: must be >= 1 candle, got {horizon}")
    index = candle_index(labels)
    step = candle_step(index)
    shifted = as_text(labels).copy()
    shifted.index = index + horizon * step
    return as_text(shifted.reindex(index))


def candle_index(series: pd.Series) -> pd.DatetimeIndex:
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.has_duplicates:
        raise ClassificationError(
            "labels and predictions need the candle dates as a unique index (one pair at a "
            "time): set_index('date')"
        )
    return series.index


@dataclass(frozen=True)
class BaselineTest:
    """The model's accuracy against a baseline's on the same rows: ``delta`` = model minus
    baseline, ``se`` its overlap-aware s.e., ``p_value`` one-sided for ``delta > margin``."""

    accuracy: float
    baseline_accuracy: float
    delta: float
    margin: float
    se: float
    t_stat: float
    p_value: float
    n: int
    n_periods: float
    horizon: int

    def text(self) -> str:
        return (
            f"accuracy {self.accuracy:.3f} vs {self.baseline_accuracy:.3f}, delta "
            f"{self.delta:+.3f} ± {self.se:.3f} s.e. (margin {self.margin:.3f}, one-sided p = "
            f"{self.p_value:.3g}, n = {self.n}, {self.n_periods:.0f} non-overlapping periods)"
        )


def beats_baseline(
    y_true: pd.Series,
    y_pred: pd.Series,
    baseline: pd.Series,
    horizon: int,
    margin: float = 0.0,
) -> BaselineTest:
    """Is ``y_pred`` more accurate than ``baseline`` by more than ``margin``? (module
    docstring); rows where any of the three is missing are left out."""
    index = candle_index(y_true)
    truth = as_text(y_true)
    pred = as_text(y_pred.reindex(index))
    base = as_text(baseline.reindex(index))
    ok = truth.notna() & pred.notna() & base.notna()
    n = int(ok.sum())
    if n / max(horizon, 1) < MIN_PERIODS:
        raise ClassificationError(
            f"only {n} row(s) have a label, a prediction and a baseline ({n / max(horizon, 1):.1f}"
            f" non-overlapping {horizon}-candle periods): the comparison needs at least "
            f"{MIN_PERIODS}; score a longer out-of-sample period"
        )
    hit_model = (pred[ok] == truth[ok]).astype(float)
    hit_base = (base[ok] == truth[ok]).astype(float)
    test = paired_ic_test(hit_model - margin, hit_base, horizon)
    two_sided = test.p_value
    one_sided = two_sided / 2 if test.t_stat > 0 else 1.0 - two_sided / 2
    return BaselineTest(
        accuracy=float(hit_model.mean()),
        baseline_accuracy=float(hit_base.mean()),
        delta=test.delta_ic + margin,
        margin=margin,
        se=test.se,
        t_stat=test.t_stat,
        p_value=float(one_sided),
        n=n,
        n_periods=test.n_periods,
        horizon=horizon,
    )


@dataclass(frozen=True)
class GateVerdict:
    """The accuracy gate's decision: ``passed`` only when ``failures`` is empty."""

    passed: bool
    failures: tuple[str, ...]
    accuracy: float
    n: int
    min_accuracy: float
    alpha: float
    persistence: BaselineTest

    def text(self) -> str:
        if self.passed:
            return (
                f"passed: OOS accuracy {self.accuracy:.3f} > {self.min_accuracy:.3f} and beats "
                f"persistence: {self.persistence.text()}"
            )
        return "refused: " + "; ".join(self.failures)


def accuracy_gate(
    labels: pd.Series,
    predictions: pd.Series,
    horizon: int,
    *,
    min_accuracy: float = MIN_ACCURACY,
    margin: float = MARGIN,
    alpha: float = ALPHA,
) -> GateVerdict:
    """Gate OOS class ``predictions`` against the realised ``labels`` (candle-date index).

    ``labels`` may reach back before the first prediction: persistence at the first
    predicted rows reads the labels ``horizon`` candles earlier. Accuracy is taken on every
    predicted row with a label; the persistence comparison on the rows that also have a
    persistence forecast.
    """
    if not 0.0 < alpha < 1.0:
        raise ClassificationError(f"alpha={alpha} must be between 0 and 1, e.g. 0.05")
    if not 0.0 <= min_accuracy < 1.0:
        raise ClassificationError(f"min_accuracy={min_accuracy} must be in [0, 1), e.g. 0.75")
    candle_index(predictions)
    truth = labels.reindex(predictions.index)
    report = classification_report(truth, predictions)
    persistence = persistence_baseline(labels, horizon).reindex(predictions.index)
    test = beats_baseline(truth, predictions, persistence, horizon, margin)
    failures = []
    if not report.accuracy > min_accuracy:
        failures.append(
            f"OOS accuracy {report.accuracy:.3f} is not above min_accuracy {min_accuracy:.3f} "
            f"(n = {report.n})"
        )
    if not (test.delta > margin and test.p_value < alpha):
        failures.append(
            f"does not beat persistence by {margin:.3f} with one-sided p < {alpha:g}: "
            + test.text()
        )
    return GateVerdict(
        passed=not failures,
        failures=tuple(failures),
        accuracy=report.accuracy,
        n=report.n,
        min_accuracy=min_accuracy,
        alpha=alpha,
        persistence=test,
    )


#: a class with fewer training rows than this in a window is reported: the window's model
#: cannot learn it (LightGBM's default leaf needs 20 rows; its probability stays near its
#: share of the training rows)
MIN_CLASS_ROWS = 10


@dataclass(frozen=True)
class WindowClasses:
    """Rows per class of one training window: the part the model fits on and its eval part.

    >>> w = window_classes(pd.Series(list("aaab")), pd.Series(list("ac")))
    >>> w.unseen(), w.rare(3)
    ({'c': 1}, {'b': 1})
    """

    train: dict[str, int]
    eval: dict[str, int]

    def unseen(self) -> dict[str, int]:
        """Classes of the eval part with no training row (eval rows of each)."""
        return {c: n for c, n in self.eval.items() if self.train.get(c, 0) == 0}

    def rare(self, min_rows: int = MIN_CLASS_ROWS) -> dict[str, int]:
        """Classes with at least one but fewer than ``min_rows`` training rows."""
        return {c: n for c, n in self.train.items() if n < min_rows}


def window_classes(train: pd.Series, eval_part: pd.Series | None = None) -> WindowClasses:
    """Count the classes of a window's training labels and (optional) eval labels."""

    def counts(values: pd.Series | None) -> dict[str, int]:
        if values is None:
            return {}
        return {str(k): int(v) for k, v in as_text(values).dropna().value_counts().items()}

    return WindowClasses(counts(train), counts(eval_part))
