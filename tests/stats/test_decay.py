"""Daily/rolling IC, the IC triggers and the error-drift ratio, against scipy and hand cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.stats.decay import (
    daily_ic,
    error_drift_ratio,
    ic_triggers,
    rolling_ic,
)


def _days(values: list[float], start: str = "2025-03-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", tz="UTC"))


def test_daily_ic_equals_scipy_spearman_per_utc_day() -> None:
    rng = np.random.default_rng(0)
    # non-UTC input times: days are cut in UTC
    t = pd.date_range("2025-01-01 05:00", periods=24 * 6, freq="h", tz="Europe/Berlin")
    pred = rng.normal(size=len(t))
    frame = pd.DataFrame({"time": t, "p": pred, "r": 0.3 * pred + rng.normal(size=len(t))})
    frame.loc[5, "r"] = np.nan
    got = daily_ic(frame, pred="p", realised="r", date="time")
    utc_day = t.tz_convert("UTC").floor("D")
    clean = frame.dropna()
    for day, value in got.items():
        rows = clean[utc_day[clean.index] == day]
        assert value == pytest.approx(stats.spearmanr(rows["p"], rows["r"]).statistic)
    assert len(got) == utc_day.nunique()


def test_daily_ic_sparse_or_constant_day_is_nan() -> None:
    t = pd.to_datetime(
        [
            "2025-01-01 01:00",
            "2025-01-01 02:00",
            "2025-01-02 01:00",
            "2025-01-02 02:00",
            "2025-01-02 03:00",
        ],
        utc=True,
    )
    frame = pd.DataFrame({"date": t, "p": [1.0, 2.0, 1.0, 1.0, 1.0], "r": [1, 2, 3, 4, 5.0]})
    got = daily_ic(frame, pred="p", realised="r")
    assert got.isna().all() and len(got) == 2


def test_rolling_ic_is_trailing_calendar_mean() -> None:
    daily = _days([0.1, 0.2, 0.3, 0.4])
    daily = daily.drop(daily.index[2])  # a missing day
    got = rolling_ic(daily, 2, min_days=1)
    assert got.tolist() == pytest.approx([0.1, 0.15, 0.2, 0.4])
    assert len(got) == 4


def test_retrain_fires_on_exactly_the_tenth_day_below() -> None:
    ic = _days([0.05] * 5 + [0.01] * 9)
    assert not ic_triggers(ic).retrain and ic_triggers(ic).retrain_run == 9
    ic = _days([0.05] * 5 + [0.01] * 10 + [0.03])
    decision = ic_triggers(ic)
    assert decision.retrain and decision.retrain_at == ic.index[14]
    assert decision.retrain_run == 0 and not decision.retire
    # exactly at the threshold is not below
    assert not ic_triggers(_days([0.02] * 20)).retrain


def test_run_broken_by_a_good_day_nan_or_gap() -> None:
    assert not ic_triggers(_days([0.0] * 5 + [0.05] + [0.0] * 5)).retrain
    assert not ic_triggers(_days([0.0] * 5 + [np.nan] + [0.0] * 5)).retrain
    gap = _days([0.0] * 11).drop(pd.Timestamp("2025-03-06", tz="UTC"))
    assert not ic_triggers(gap).retrain


def test_retire_after_thirty_days_below_zero() -> None:
    ic = _days([0.03] * 3 + [-0.01] * 29)
    assert not ic_triggers(ic).retire
    ic = _days([0.03] * 3 + [-0.01] * 30)
    decision = ic_triggers(ic)
    assert decision.retire and decision.retire_at == ic.index[32]
    assert decision.retrain_at == ic.index[12] and decision.retire_run == 30


def test_triggers_reject_unsorted_or_empty() -> None:
    ic = _days([0.1, 0.2, 0.3]).iloc[[0, 2, 1]]
    with pytest.raises(MonitoringError, match="out of order"):
        ic_triggers(ic)
    with pytest.raises(MonitoringError, match="empty"):
        ic_triggers(pd.Series([], dtype=float))


def test_error_drift_ratio_hand_computed() -> None:
    t = pd.date_range("2025-01-01", periods=14, freq="D", tz="UTC")
    errors = pd.Series([1.0] * 7 + [3.0] * 7, index=t)
    # window (last - 7 days, last] holds the last 7 values: MAE 3 over baseline 2
    assert error_drift_ratio(errors, 2.0) == pytest.approx(1.5)
    assert error_drift_ratio(errors, 1.0, window_days=14) == pytest.approx(2.0)
    with pytest.raises(MonitoringError, match="baseline MAE"):
        error_drift_ratio(errors, 0.0)
    with pytest.raises(MonitoringError, match="out of order"):
        error_drift_ratio(errors.iloc[::-1], 1.0)
    with pytest.raises(MonitoringError, match="no prediction error"):
        error_drift_ratio(errors * np.nan, 1.0)
