"""How often the live-accuracy rule fires: planted Bernoulli hits (2 pairs sharing each
candle's hit, ``h = 12``, 30-day window, one check a day for a year).

The daily upper bounds are computed by cumulative sums (fast); on a few seeds every day's
decision is checked equal to the rule itself (:func:`tradai_strategy.lifecycle.decide.decide`
on a snapshot holding :func:`~tradai_strategy.monitoring.class_accuracy.clustered_accuracy`
figures). The printed rates are the table of docs/regime-lifecycle.md (1000 seeds there).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.lifecycle.decide import decide
from tradai_strategy.lifecycle.decision import Snapshot
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.monitoring.class_accuracy import LiveAccuracy, clustered_accuracy

H, PAIRS, DAYS, WINDOW = 12, 2, 365, 30
PER_DAY = 24 // H
K = WINDOW * PER_DAY
TIMES = pd.date_range("2025-01-01", periods=DAYS * PER_DAY, freq=f"{H}h", tz="UTC")


def hits(rate: np.ndarray, seed: int) -> np.ndarray:
    """Hits per candle summed over the pairs (they share each candle's outcome)."""
    return (np.random.default_rng(seed).random(len(rate)) < rate).astype(float) * PAIRS


def daily(s: np.ndarray) -> list[tuple[float, float] | None]:
    """(accuracy, clustered s.e.) of the window ending with each day; None below 20 rows."""
    c1, c2 = np.r_[0, np.cumsum(s)], np.r_[0, np.cumsum(s**2)]
    out: list[tuple[float, float] | None] = []
    for d in range(DAYS):
        hi = (d + 1) * PER_DAY
        lo = max(0, hi - K)
        k, total = hi - lo, (hi - lo) * PAIRS
        if total < 20:
            out.append(None)
            continue
        s1, s2 = c1[hi] - c1[lo], c2[hi] - c2[lo]
        a = s1 / total
        ss = s2 - 2 * a * PAIRS * s1 + a * a * PAIRS * PAIRS * k
        out.append((a, float(np.sqrt(max(ss, 0.0) * k / (k - 1)) / total)))
    return out


def fired(figures: list[tuple[float, float] | None], line: float, run: int) -> list[int]:
    """Days on which ``run`` consecutive daily upper 99 % bounds below ``line`` complete."""
    z = stats.norm.ppf(0.99)
    days, n = [], 0
    for d, f in enumerate(figures):
        n = n + 1 if f is not None and f[0] + z * f[1] < line else 0
        if n == run:
            days.append(d)
    return days


def _live(f: tuple[float, float] | None) -> LiveAccuracy | None:
    if f is None:
        return None
    return LiveAccuracy(f[0], f[1], 120, 60, PAIRS, H, WINDOW, float("nan"), float("nan"))


def test_the_fast_figures_are_the_package_estimator_and_the_rule() -> None:
    s = hits(np.full(len(TIMES), 0.7), 0)
    figures = daily(s)
    hi = 100 * PER_DAY
    rows = pd.DataFrame(
        {
            "time": np.repeat(TIMES[hi - K : hi], PAIRS),
            "hit": np.repeat(s[hi - K : hi] / PAIRS, PAIRS),
        }
    )
    acc, se, _ = clustered_accuracy(rows)
    assert figures[99] == pytest.approx((acc, se), abs=1e-12)
    policy = RetrainPolicy()
    z = stats.norm.ppf(0.99)
    for seed in range(3):
        figures = daily(hits(np.where(np.arange(len(TIMES)) < 120, 0.85, 0.6), seed))
        below = [f is not None and f[0] + z * f[1] < 0.75 for f in figures]
        expected = {d for d in range(4, DAYS) if all(below[d - 4 : d + 1])}
        got = set()
        for d in range(4, DAYS):
            history = tuple(_live(f) for f in figures[d - 4 : d + 1])
            snap = Snapshot(
                policy,
                TIMES[0] + pd.Timedelta(days=d + 1),
                "m",
                production="1",
                multiclass=True,
                accuracy=history[-1],
                accuracy_days=history,
            )
            finding = next(f for f in decide(snap).findings if f.rule == "accuracy")
            if finding.status == "trigger":
                got.add(d)
        assert expected and got == expected
        assert min(fired(figures, 0.75, 5)) == min(expected)


@pytest.mark.parametrize(
    ("line", "run", "low", "high"), [(0.75, 1, 0.25, 0.45), (0.75, 5, 0.06, 0.22)]
)
def test_false_firing_rate_of_a_model_exactly_on_the_line(
    line: float, run: int, low: float, high: float
) -> None:
    seeds = 300
    rate = sum(
        bool(fired(daily(hits(np.full(len(TIMES), line), s)), line, run)) for s in range(seeds)
    )
    print(f"\non the {line:.0%} line, {run} day(s) in a row: {rate / seeds:.1%} of years fire")
    assert low < rate / seeds < high


def test_a_drop_is_caught_within_months() -> None:
    rate = np.where(np.arange(len(TIMES)) < 60 * PER_DAY, 0.85, 0.60)
    delays, early = [], 0
    for s in range(300):
        days = fired(daily(hits(rate, s)), 0.75, 5)
        early += any(d < 60 for d in days)
        after = [d - 60 for d in days if d >= 60]
        delays.append(after[0] if after else 999)
    print(
        f"\n0.85 -> 0.60: median {np.median(delays):.0f} d, p90 {np.percentile(delays, 90):.0f} d"
    )
    assert early == 0 and 20 <= np.median(delays) <= 50 and np.percentile(delays, 90) < 150
