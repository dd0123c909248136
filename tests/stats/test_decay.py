"""The IC triggers (plain and with confidence) and the error-drift ratio,
against scipy and hand cases; the confident triggers also on zero-skill random walks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.data.synthetic_signal import simulate_log_returns
from tradai_strategy.stats.decay import (
    confident_triggers,
    error_drift_ratio,
    ic_triggers,
)
from tradai_strategy.stats.live_ic import rolling_window_ic, row_spearman, window_ic


def _days(values: list[float], start: str = "2025-03-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", tz="UTC"))


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


# ------------------------------------------------------------- confident_triggers


def _table(ic: list[float], se: float | list[float] = 0.01) -> pd.DataFrame:
    ses = se if isinstance(se, list) else [se] * len(ic)
    index = pd.date_range("2025-03-01", periods=len(ic), freq="D", tz="UTC")
    return pd.DataFrame({"ic": ic, "se": ses}, index=index)


Z99 = float(stats.norm.ppf(0.99))


def test_confident_retrain_fires_on_the_day_the_run_reaches_its_length() -> None:
    # reference 0.05, se 0.01: ic 0.01 has upper bound 0.033 (below), ic 0.03 0.053 (not)
    assert 0.01 + Z99 * 0.01 < 0.05 < 0.03 + Z99 * 0.01
    nine = _table([0.03] * 4 + [0.01] * 9)
    decision = confident_triggers(nine, confidence=0.99, reference=0.05)
    assert not decision.retrain and decision.retrain_run == 9
    ten = _table([0.03] * 4 + [0.01] * 10 + [0.03])
    decision = confident_triggers(ten, confidence=0.99, reference=0.05)
    assert decision.retrain and decision.retrain_at == ten.index[13]
    assert decision.retrain_run == 0 and not decision.retire
    # confidence 0.5: z = 0, the bound is the IC itself
    assert confident_triggers(nine, confidence=0.5, reference=0.04).retrain_run == 13


def test_confident_run_broken_by_nan_ic_or_se() -> None:
    ic = [0.01] * 5 + [np.nan] + [0.01] * 5
    assert not confident_triggers(_table(ic), confidence=0.99, reference=0.05).retrain
    se = [0.01] * 5 + [np.nan] + [0.01] * 5
    assert not confident_triggers(_table([0.01] * 11, se), confidence=0.99, reference=0.05).retrain
    assert confident_triggers(_table([0.01] * 11), confidence=0.99, reference=0.05).retrain


def test_reference_se_widens_the_retrain_bound_only() -> None:
    table = _table([-0.03] * 30)
    plain = confident_triggers(table, confidence=0.99, reference=0.05)
    assert plain.retrain and plain.retire and plain.retire_at == table.index[29]
    # sqrt(0.01^2 + 0.04^2) * 2.33 = 0.096: bound 0.066 > 0.05, no longer below
    wide = confident_triggers(table, confidence=0.99, reference=0.05, reference_se=0.04)
    assert not wide.retrain and wide.retrain_run == 0
    assert wide.retire and wide.retire_at == plain.retire_at  # retire ignores the reference
    # retire judges ic + z * se against retire_below: -0.03 + 0.023 < 0, but not < -0.01
    assert not confident_triggers(table, confidence=0.99, reference=0.05, retire_below=-0.01).retire


@pytest.mark.parametrize("confidence", [0.3, 1.0, 1.5, float("nan")])
def test_confident_triggers_reject_invalid_confidence(confidence: float) -> None:
    with pytest.raises(MonitoringError, match="confidence"):
        confident_triggers(_table([0.0] * 3), confidence=confidence, reference=0.02)


def test_confident_triggers_reject_a_bad_reference() -> None:
    for ref, ref_se in ((float("nan"), 0.0), (0.02, -0.01), (0.02, float("inf"))):
        with pytest.raises(MonitoringError, match="reference IC"):
            confident_triggers(
                _table([0.0] * 3), confidence=0.99, reference=ref, reference_se=ref_se
            )


# ------------------------------------------- false triggers on zero-skill markets

H = 12
REFERENCE_DAYS, LIVE_DAYS, SEEDS, PAIRS = 120, 120, 40, 8


def _zero_skill_tables(seed: int) -> tuple[pd.Series, pd.Series]:
    """Per-candle cross-sectional IC of a zero-skill predictor on 8 random walks, for the
    reference period and the live period that follows. The style rotates with the seed:
    mean reversion to the 20-candle mean, 24-candle momentum, random noise."""
    rng = np.random.default_rng([15, 2, seed])
    warm, n = 24, (REFERENCE_DAYS + LIVE_DAYS) * 24
    ret = [simulate_log_returns(rng, warm + n + H, 0.008, False, 0.0)[0] for _ in range(PAIRS)]
    logp = np.cumsum(np.column_stack(ret), axis=0)
    label = np.column_stack([forward_mean_return(np.exp(c), H) for c in logp.T])
    frame = pd.DataFrame(logp)
    style = seed % 3
    if style == 0:
        pred = -(frame - frame.rolling(20).mean())
    elif style == 1:
        pred = frame - frame.shift(24)
    else:
        pred = pd.DataFrame(rng.normal(size=logp.shape))
    index = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    p = pd.DataFrame(pred.to_numpy()[warm : warm + n], index=index)
    ic = row_spearman(p, pd.DataFrame(label[warm : warm + n], index=index))
    split = REFERENCE_DAYS * 24
    return ic.iloc[:split], ic.iloc[split:]


def test_confident_triggers_rarely_fire_on_zero_skill_random_walks() -> None:
    retrain = retire = 0
    for seed in range(SEEDS):
        before, live = _zero_skill_tables(seed)
        reference = window_ic(before, H)
        candles = pd.DataFrame({"ic": live, "pairs": float(PAIRS)}).dropna()
        table = rolling_window_ic(candles, H, 30)
        assert len(table) == LIVE_DAYS
        decision = confident_triggers(
            table, confidence=0.99, reference=reference.ic, reference_se=reference.se
        )
        retrain += decision.retrain
        retire += decision.retire
    assert retrain / SEEDS <= 0.1, retrain
    assert retire / SEEDS <= 0.05, retire
