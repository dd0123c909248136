"""Model decay: the IC retrain/retire triggers and the error-drift ratio.

Which series the triggers watch
-------------------------------
:func:`ic_triggers` counts consecutive **calendar days** of the series it is given.
TradAI's retrain check and policy replay give it, through :func:`confident_triggers`, the
upper confidence bounds of the ``ic_window_days`` window IC of
:func:`tradai_strategy.stats.live_ic.rolling_window_ic` (the per-candle cross-sectional IC
averaged over the window, with its overlap-aware s.e.)::

    table = rolling_window_ic(cross_sectional_ic(log), horizon, 30)
    decision = confident_triggers(table, confidence=0.99, reference=ic, reference_se=se)

so "below for 10 consecutive days" means ten consecutive days on which the window IC was
below the line with 99 % one-sided confidence. A day with no value (NaN or a missing date)
breaks a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tradai_strategy.core.errors import MonitoringError

#: MAE over the last 7 days above this multiple of the validation MAE means error drift.
ERROR_DRIFT_THRESHOLD = 1.5


@dataclass(frozen=True)
class ICDecision:
    """Outcome of :func:`ic_triggers`.

    ``retrain_at``/``retire_at``: the first day a run of consecutive days below the
    threshold reached its required length (that day is the ``retrain_days``-th day of the
    run); ``None`` when it never did. ``retrain_run``/``retire_run``: length of the run still
    going on the series' last day (0 when the last day is not below).
    ``retrain_run_at``/``retire_run_at``: the day that *current* run reached its required
    length; ``None`` when the run still going is shorter (an earlier run does not count).
    """

    retrain: bool
    retire: bool
    retrain_at: pd.Timestamp | None
    retire_at: pd.Timestamp | None
    retrain_run: int = 0
    retire_run: int = 0
    retrain_run_at: pd.Timestamp | None = None
    retire_run_at: pd.Timestamp | None = None


def _utc_days(values: pd.Series | pd.Index, what: str) -> pd.DatetimeIndex:
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    except (TypeError, ValueError) as err:
        raise MonitoringError(f"{what}: not timestamps ({err}): pass UTC datetimes") from None
    return stamps.floor("D")


def _check_sorted(index: pd.DatetimeIndex, what: str) -> None:
    if not index.is_monotonic_increasing:
        pos = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise MonitoringError(
            f"{what}: timestamps out of order ({index[pos]} after {index[pos - 1]}): "
            "sort by time first"
        )
    if index.has_duplicates:
        raise MonitoringError(
            f"{what}: duplicate day {index[index.duplicated()][0].date()}: one value per day"
        )


def _first_run(below: np.ndarray, length: int) -> tuple[int | None, int]:
    """Index where a run of ``length`` consecutive Trues is first reached; trailing run."""
    run, first = 0, None
    for i, flag in enumerate(below):
        run = run + 1 if flag else 0
        if first is None and run == length:
            first = i
    return first, run


def _current_run_at(index: pd.DatetimeIndex, run: int, length: int) -> pd.Timestamp | None:
    """The day the run still going on ``index[-1]`` (``run`` days long) reached ``length``."""
    return index[len(index) - 1 - (run - length)] if run >= length else None


def _calendar(series: pd.Series, what: str) -> pd.Series:
    index = _utc_days(series.index, f"{what} index")
    _check_sorted(index, what)
    return pd.Series(series.to_numpy(float), index=index).reindex(
        pd.date_range(index[0], index[-1], freq="D")
    )


def ic_triggers(
    ic: pd.Series,
    *,
    retrain_below: float = 0.02,
    retrain_days: int = 10,
    retire_below: float = 0.0,
    retire_days: int = 30,
    retire_ic: pd.Series | None = None,
) -> ICDecision:
    """Retrain when ``ic < retrain_below`` on ``retrain_days`` consecutive days; retire when
    ``retire_ic`` (default ``ic``) ``< retire_below`` on ``retire_days`` consecutive days.

    Each series has one value per UTC day (TradAI passes the upper confidence bounds of
    :func:`confident_triggers`). Missing calendar days and NaN values break a run. The
    trigger fires on the day the run reaches its length: with the defaults, the 10th
    consecutive day below 0.02.
    """
    if retrain_days < 1 or retire_days < 1:
        raise MonitoringError("retrain_days and retire_days must be >= 1 day")
    if ic.empty:
        raise MonitoringError("the IC series is empty: log predictions and realised values first")
    full = _calendar(ic, "IC series")
    retire = full if retire_ic is None else _calendar(retire_ic, "retire IC series")
    retire = retire.reindex(full.index)
    with np.errstate(invalid="ignore"):
        r_first, r_run = _first_run(full.to_numpy(float) < retrain_below, retrain_days)
        x_first, x_run = _first_run(retire.to_numpy(float) < retire_below, retire_days)
    return ICDecision(
        retrain=r_first is not None,
        retire=x_first is not None,
        retrain_at=full.index[r_first] if r_first is not None else None,
        retire_at=full.index[x_first] if x_first is not None else None,
        retrain_run=r_run,
        retire_run=x_run,
        retrain_run_at=_current_run_at(full.index, r_run, retrain_days),
        retire_run_at=_current_run_at(full.index, x_run, retire_days),
    )


def confident_triggers(
    window: pd.DataFrame,
    *,
    confidence: float,
    reference: float,
    reference_se: float = 0.0,
    retrain_days: int = 10,
    retire_below: float = 0.0,
    retire_days: int = 30,
) -> ICDecision:
    """The IC triggers on a daily table of window ICs (columns ``ic`` and ``se``, e.g.
    :func:`tradai_strategy.stats.live_ic.rolling_window_ic`), judged with confidence.

    * retrain: the IC is below ``reference`` with one-sided ``confidence``: the upper bound
      ``ic + z * sqrt(se^2 + reference_se^2)`` is below ``reference`` on ``retrain_days``
      consecutive days (``reference``: the version's validated IC and its s.e., or a fixed
      line with ``reference_se = 0``);
    * retire: the upper bound ``ic + z * se`` is below ``retire_below`` on ``retire_days``
      consecutive days (the model is confidently worse than that line).

    ``z`` is the standard normal quantile of ``confidence`` (2.33 for 0.99).
    """
    if not 0.5 <= confidence < 1:
        raise MonitoringError(f"confidence: must be in [0.5, 1), got {confidence}: e.g. 0.99")
    if not (np.isfinite(reference) and np.isfinite(reference_se) and reference_se >= 0):
        raise MonitoringError(
            f"reference IC {reference} ± {reference_se}: must be finite with a s.e. >= 0"
        )
    z = float(stats.norm.ppf(confidence))
    ic, se = window["ic"].astype(float), window["se"].astype(float)
    return ic_triggers(
        ic + z * np.sqrt(se**2 + reference_se**2),
        retrain_below=reference,
        retrain_days=retrain_days,
        retire_below=retire_below,
        retire_days=retire_days,
        retire_ic=ic + z * se,
    )


def error_drift_ratio(abs_errors: pd.Series, baseline_mae: float, *, window_days: int = 7) -> float:
    """MAE of the last ``window_days`` days over the validation (baseline) MAE.

    ``abs_errors``: absolute prediction errors indexed by time (sorted); the window is
    ``(last time - window_days, last time]``. Above :data:`ERROR_DRIFT_THRESHOLD` (1.5)
    is error drift.
    """
    if not np.isfinite(baseline_mae) or baseline_mae <= 0:
        raise MonitoringError(
            f"baseline MAE must be a positive number, got {baseline_mae}: take it from the "
            "version's validation metrics"
        )
    if window_days <= 0:
        raise MonitoringError(f"window_days: must be > 0, got {window_days}")
    errors = abs_errors.dropna()
    if errors.empty:
        raise MonitoringError(
            "no prediction error to measure: no realised value yet in the prediction log"
        )
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(errors.index, utc=True))
    except (TypeError, ValueError):
        raise MonitoringError("abs_errors must be indexed by timestamps") from None
    if not stamps.is_monotonic_increasing:
        raise MonitoringError("abs_errors: timestamps out of order: sort by time first")
    if (errors.to_numpy(float) < 0).any():
        raise MonitoringError(
            "abs_errors has negative values: pass absolute errors |pred - realised|"
        )
    keep = stamps > stamps[-1] - pd.Timedelta(days=window_days)
    return float(errors.to_numpy(float)[keep].mean() / baseline_mae)
