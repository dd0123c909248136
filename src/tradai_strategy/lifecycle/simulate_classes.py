"""A policy replay of a classifier of more than two classes (the regime model).

Such a model has no numeric score: the IC rules, the IC gate and the paired IC shadow test
have nothing to read. The replay judges it as the live lifecycle does:

* **gate** (:func:`holdout_gate`): the candidate's holdout class predictions go through
  :func:`~tradai_strategy.stats.classification.accuracy_gate` per pair, with the policy's
  ``[validation] min_accuracy`` and ``accuracy_margin`` (what ``tradai validate`` applies
  to a retrained regime version); it passes when every pair passes, as the validation's
  verdict does;
* **live accuracy** (:func:`served_accuracy`): the served model's class predictions whose
  forward window has closed, over ``accuracy_window_days``, scored by
  :func:`~tradai_strategy.monitoring.class_accuracy.live_accuracy` (non-overlapping rows,
  s.e. clustered by candle) — the figure the accuracy rule of
  :func:`~tradai_strategy.lifecycle.decide.decide` reads live from the prediction log;
* **shadow test** (:func:`shadow_accuracy_test`): challenger against served model on the
  labelled shadow candles, per candle the share of pairs each got right, paired and
  overlap-aware (:func:`~tradai_strategy.stats.compare.paired_ic_test`, one-sided);
* **scoring** (:func:`arm_accuracy`): each arm's accuracy over the replayed range with the
  same live statistic, next to persistence (the regime known at ``t``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.policy import RetrainPolicy
    from tradai_strategy.monitoring.class_accuracy import LiveAccuracy
    from tradai_strategy.validation.runner import PairData

#: the columns :func:`~tradai_strategy.monitoring.class_accuracy.live_accuracy` reads
LOG_COLUMNS = ["time", "pair", "model", "version", "role", "horizon", "predicted", "realised"]


def labels_of(p: PairData) -> pd.Series:
    """The pair's class labels by candle time (strings)."""
    return pd.Series(p.y.astype(str), index=pd.DatetimeIndex(p.dates), dtype=object)


def holdout_gate(
    data: Sequence[PairData],
    windows: Sequence[npt.NDArray[np.bool_]],
    holds: Sequence[npt.NDArray[np.bool_]],
    classes: Sequence[npt.NDArray[Any]],
    horizon: int,
    rules: RetrainPolicy,
) -> tuple[bool, str, float]:
    """(passed, text, mean holdout accuracy) of the accuracy gate on each pair's holdout
    class predictions ``classes`` (the rows ``holds``; persistence reads the training
    ``windows``' labels before them)."""
    from tradai_strategy.stats.classification import ALPHA, ClassificationError, accuracy_gate

    verdicts, texts = [], []
    for p, window, hold, pred in zip(data, windows, holds, classes, strict=True):
        labels = labels_of(p)[window]
        guess = pd.Series(np.asarray(pred).astype(str), index=labels_of(p).index[hold])
        try:
            v = accuracy_gate(
                labels,
                guess,
                horizon,
                min_accuracy=rules.min_accuracy,
                margin=rules.accuracy_margin,
            )
        except ClassificationError as err:  # too few holdout periods: refused, said why
            verdicts.append((False, float("nan")))
            texts.append(f"{p.pair}: {err}")
            continue
        verdicts.append((v.passed, v.accuracy))
        p_ = v.persistence
        failed = []
        if not v.accuracy > rules.min_accuracy:
            failed.append(f"not above {rules.min_accuracy:.2f}")
        if not (p_.delta > rules.accuracy_margin and p_.p_value < ALPHA):
            failed.append(f"persistence not beaten by {rules.accuracy_margin:.2f} at p < {ALPHA}")
        texts.append(
            f"{p.pair} {v.accuracy:.3f} vs persistence {p_.baseline_accuracy:.3f} "
            f"({p_.delta:+.3f} ± {p_.se:.3f}, p {p_.p_value:.2g})"
            + (f" [{', '.join(failed)}]" if failed else "")
        )
    passed = all(ok for ok, _ in verdicts)
    accuracy = float(np.nanmean([a for _, a in verdicts])) if verdicts else float("nan")
    return passed, "holdout accuracy " + "; ".join(texts), accuracy


def class_frame(
    data: Sequence[PairData],
    dates: Sequence[pd.DatetimeIndex],
    rows: Sequence[npt.NDArray[np.bool_]],
    predicted: Sequence[npt.NDArray[Any]],
    horizon: int,
) -> pd.DataFrame:
    """Prediction-log-like rows (:data:`LOG_COLUMNS`) of the given rows of each pair."""
    parts = [
        pd.DataFrame(
            {
                "time": dates[i][r],
                "pair": p.pair,
                "model": "",
                "version": "",
                "role": "champion",
                "horizon": horizon,
                "predicted": pred,
                "realised": p.y[r].astype(str),
            }
        )
        for i, (p, r, pred) in enumerate(zip(data, rows, predicted, strict=True))
        if r.any()
    ]
    if not parts:
        return pd.DataFrame(columns=LOG_COLUMNS)
    return pd.concat(parts, ignore_index=True).sort_values("time", kind="stable")


def served_accuracy(
    data: Sequence[PairData],
    dates: Sequence[pd.DatetimeIndex],
    served: Sequence[npt.NDArray[Any]],
    begin: pd.Timestamp,
    known_before: pd.Timestamp,
    at: pd.Timestamp,
    horizon: int,
    window_days: int,
) -> LiveAccuracy | None:
    """Live accuracy at ``at`` of the served class predictions (``served``, None where no
    model served) of the rows opened in ``[begin, known_before)``."""
    from tradai_strategy.monitoring.class_accuracy import live_accuracy

    rows = [
        np.asarray((d >= begin) & (d < known_before)) & pd.notna(s)
        for d, s in zip(dates, served, strict=True)
    ]
    frame = class_frame(data, dates, rows, [s[r] for s, r in zip(served, rows, strict=True)], 1)
    if frame.empty:
        return None
    return live_accuracy(frame.assign(horizon=horizon), window_days, now=at, horizon=horizon)


def shadow_accuracy_test(
    data: Sequence[PairData],
    dates: Sequence[pd.DatetimeIndex],
    challenger: Sequence[npt.NDArray[Any]],
    served: Sequence[npt.NDArray[Any]],
    rows: Sequence[npt.NDArray[np.bool_]],
    horizon: int,
) -> tuple[bool, str]:
    """(promote?, reason): challenger vs served accuracy on ``rows``, per candle the share
    of pairs right, paired overlap-aware test; promoted when better with one-sided
    p < 0.05."""
    from tradai_strategy.stats.compare import PairedTestError, paired_ic_test

    hits: dict[str, list[pd.Series]] = {"new": [], "old": []}
    for i, p in enumerate(data):
        r = rows[i] & pd.notna(served[i])
        truth = p.y[r].astype(str)
        for key, pred in (("new", challenger[i][r]), ("old", served[i][r])):
            hits[key].append(
                pd.Series((np.asarray(pred).astype(str) == truth).astype(float), dates[i][r])
            )
    new = pd.concat(hits["new"]).groupby(level=0).mean()
    old = pd.concat(hits["old"]).groupby(level=0).mean()
    try:
        test = paired_ic_test(new, old, horizon)
    except PairedTestError as err:
        return False, f"shadow accuracy test: {err.args[0].split(':')[0]}"
    one_sided = test.p_value / 2 if test.t_stat > 0 else 1.0 - test.p_value / 2
    text = (
        f"shadow accuracy {float(new.mean()):.3f} vs {float(old.mean()):.3f}: "
        f"Δ {test.delta_ic:+.3f} ± {test.se:.3f}, one-sided p {one_sided:.3g} over "
        f"{test.n} candles"
    )
    return bool(test.delta_ic > 0 and one_sided < 0.05), text


def arm_accuracy(frame: pd.DataFrame, arm: str, horizon: int) -> dict[str, float]:
    """Accuracy, its s.e., balanced accuracy and scored rows of class column ``arm`` of a
    prediction frame (columns date, pair, label, ``arm``) over the whole frame."""
    from tradai_strategy.monitoring.class_accuracy import live_accuracy

    rows = frame[["date", "pair", arm, "label"]].dropna()
    empty = {"accuracy": float("nan"), "accuracy_se": float("nan")}
    if rows.empty:
        return {**empty, "balanced_accuracy": float("nan"), "n_scored": 0}
    log = pd.DataFrame(
        {
            "time": rows["date"],
            "pair": rows["pair"],
            "horizon": horizon,
            "predicted": rows[arm].astype(str),
            "realised": rows["label"].astype(str),
        }
    )
    span = (log["time"].max() - log["time"].min()) / pd.Timedelta(days=1) + 2
    live = live_accuracy(log, span, now=log["time"].max(), horizon=horizon)
    if live is None:
        return {**empty, "balanced_accuracy": float("nan"), "n_scored": 0}
    return {
        "accuracy": live.accuracy,
        "accuracy_se": live.se,
        "balanced_accuracy": live.balanced_accuracy,
        "n_scored": live.n,
    }


def persistence_column(
    data: Sequence[PairData], in_range: Sequence[npt.NDArray[np.bool_]], h: int
) -> list[npt.NDArray[Any]]:
    """The persistence forecast (label of ``t - h``) of each pair's in-range rows."""
    from tradai_strategy.stats.classification import persistence_baseline

    return [
        persistence_baseline(labels_of(p), h).to_numpy(dtype=object)[r]
        for p, r in zip(data, in_range, strict=True)
    ]
