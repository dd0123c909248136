"""A live classifier's accuracy from the prediction log, the honest kind.

The realised class of candle ``t`` is the label of its forward window ``t+1 .. t+h``:
neighbouring candles share ``h - 1`` of their ``h`` future candles, so their hits are far
from independent, and a day of hourly rows holds only ``24 / h`` independent outcomes per
pair. Accuracy is therefore taken on *non-overlapping* rows only (:func:`non_overlapping`):
the candles whose number since the epoch is a multiple of ``h`` (a fixed grid, so a day's
rows do not depend on when the log starts). Pairs scored at the same candle share one
market, so the standard error treats each candle as one cluster (the ratio estimator's
cluster-robust variance): with one pair it is the binomial ``sqrt(p (1 - p) / n)``.

:func:`daily_accuracy` gives one row per UTC day, :func:`live_accuracy` one figure over the
last days with :func:`~tradai_strategy.stats.classification.classification_report`'s
balanced accuracy and kappa beside it. Rows come from
:meth:`~tradai_strategy.monitoring.prediction_log.PredictionLog.class_frame`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.stats.classification import as_text, classification_report
from tradai_strategy.stats.live_ic import candle_step

#: fewest non-overlapping scored rows a live accuracy is judged on
MIN_ROWS = 20


@dataclass(frozen=True)
class LiveAccuracy:
    """Accuracy of the scored non-overlapping rows of a window, with its s.e."""

    accuracy: float
    se: float
    n: int
    candles: int
    pairs: int
    horizon: int
    days: float
    balanced_accuracy: float
    kappa: float

    def text(self) -> str:
        return (
            f"live accuracy {self.accuracy:.1%} ± {self.se:.1%} (n = {self.n} non-overlapping "
            f"rows, {self.pairs} pair(s), {self.days:g} days, h = {self.horizon})"
        )


def log_horizon(frame: pd.DataFrame) -> int:
    """The label horizon the rows were logged with (the most frequent one)."""
    found = frame["horizon"] if "horizon" in frame.columns else pd.Series(dtype=float)
    values = pd.to_numeric(found, errors="coerce").dropna()
    if values.empty:
        raise MonitoringError(
            "the prediction log rows carry no label horizon: they were not logged by a "
            "classifier (tradai-strategy with multi-class logging)"
        )
    return int(values.mode().iloc[0])


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with both a predicted and a realised class, ``hit`` added."""
    pred, real = as_text(frame["predicted"]), as_text(frame["realised"])
    ok = (pred.notna() & real.notna()).to_numpy()
    out = frame.loc[ok].copy()
    out["hit"] = (pred[ok] == real[ok]).to_numpy(dtype=float)
    return out


def non_overlapping(frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """The rows whose candle number since the epoch is a multiple of ``horizon``."""
    if horizon < 1:
        raise MonitoringError(f"horizon: must be >= 1 candle, got {horizon}")
    if frame.empty:
        return frame
    times = pd.DatetimeIndex(pd.to_datetime(frame["time"], utc=True))
    step = candle_step(pd.DatetimeIndex(times.unique().sort_values()))
    number = times.as_unit("ns").asi8 // pd.Timedelta(step).as_unit("ns").value
    return frame.loc[np.asarray(number % horizon == 0)]


def clustered_accuracy(rows: pd.DataFrame) -> tuple[float, float, int]:
    """(accuracy, s.e., candles) of scored rows, each candle one cluster."""
    if rows.empty:
        return float("nan"), float("nan"), 0
    per = rows.groupby("time")["hit"].agg(["sum", "count"])
    total = float(per["count"].sum())
    acc = float(per["sum"].sum()) / total
    k = len(per)
    if k < 2:
        return acc, float("nan"), k
    resid = per["sum"].to_numpy(float) - acc * per["count"].to_numpy(float)
    se = math.sqrt(float((resid**2).sum()) * k / (k - 1)) / total
    return acc, se, k


def daily_accuracy(frame: pd.DataFrame, horizon: int | None = None) -> pd.DataFrame:
    """One row per UTC day of the scored non-overlapping rows: day, n, candles, accuracy,
    se (a day of ``h = 12`` hourly candles holds 2 per pair: the s.e. is wide, as it must be)."""
    h = horizon or log_horizon(frame)
    rows = scored(non_overlapping(frame, h))
    columns = ["day", "n", "candles", "accuracy", "se"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    days = pd.to_datetime(rows["time"], utc=True).dt.floor("D")
    out = []
    for day, part in rows.groupby(days):
        acc, se, k = clustered_accuracy(part)
        out.append({"day": day, "n": len(part), "candles": k, "accuracy": acc, "se": se})
    return pd.DataFrame(out, columns=columns)


def live_accuracy(
    frame: pd.DataFrame,
    days: float = 30,
    *,
    now: pd.Timestamp | None = None,
    horizon: int | None = None,
) -> LiveAccuracy | None:
    """Accuracy over the last ``days`` before ``now`` (default: the newest realised row) of
    the scored non-overlapping rows; None with fewer than :data:`MIN_ROWS` of them."""
    if frame.empty:
        return None
    h = horizon or log_horizon(frame)
    rows = scored(non_overlapping(frame, h))
    if rows.empty:
        return None
    times = pd.to_datetime(rows["time"], utc=True)
    end = pd.Timestamp(now) if now is not None else times.max()
    rows = rows.loc[(times > end - pd.Timedelta(days=days)).to_numpy()]
    if len(rows) < MIN_ROWS:
        return None
    acc, se, k = clustered_accuracy(rows)
    index = pd.RangeIndex(len(rows))
    fixed = {"time", "pair", "model", "version", "role", "horizon", "predicted", "realised", "hit"}
    seen = set(as_text(rows["predicted"])) | set(as_text(rows["realised"]))
    classes = sorted(seen | {str(c) for c in rows.columns if c not in fixed})
    with warnings.catch_warnings():  # one class only: kappa undefined (NaN), said by NaN
        warnings.simplefilter("ignore")
        report = classification_report(
            pd.Series(rows["realised"].to_numpy(), index=index),
            pd.Series(rows["predicted"].to_numpy(), index=index),
            classes=classes,
        )
    return LiveAccuracy(
        accuracy=acc,
        se=se,
        n=len(rows),
        candles=k,
        pairs=int(rows["pair"].nunique()),
        horizon=h,
        days=days,
        balanced_accuracy=report.balanced_accuracy,
        kappa=report.kappa,
    )
