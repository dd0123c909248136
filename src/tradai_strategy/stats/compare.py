"""Which of two model versions predicts better: a paired test on their per-candle IC.

Both versions are scored on the same candles (same pairs, same realised returns), so the
candle-by-candle difference of their cross-sectional ICs
(:func:`tradai_strategy.stats.live_ic.cross_sectional_ic`) removes what the market did at
that candle. Neighbouring candles share ``h - 1`` of their ``h`` label candles, so the
differences are autocorrelated up to lag ``h - 1``: :func:`paired_ic_test` takes the mean
difference, its overlap-aware standard error (:func:`~tradai_strategy.stats.live_ic.overlap_se`)
and a two-sided p-value from Student's t with ``n / h - 1`` degrees of freedom (``n / h``:
the non-overlapping label periods). A Wilcoxon signed-rank test on the means of
consecutive non-overlapping ``h``-candle blocks checks the sign without assuming normal
differences. :func:`recommend` applies the promotion rule: prefer the new version when its
mean IC is higher by more than ``min_delta`` and ``p < alpha``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.stats.live_ic import candle_step, on_grid, overlap_se

#: fewest non-overlapping label periods (candles / horizon) the test runs on
MIN_PERIODS = 10


class PairedTestError(MonitoringError):
    """Too few common candles, or a malformed IC series, for the paired test."""


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of two per-candle IC series (``new`` minus ``old``).

    ``delta_ic``: mean IC difference over the common candles; ``se``: its overlap-aware
    standard error; ``t_stat``/``p_value``: two-sided t-test with ``n_periods - 1``
    degrees of freedom; ``n``: common candles; ``n_periods``: ``n / horizon``;
    ``wilcoxon_p``: Wilcoxon signed-rank p-value on non-overlapping block means (NaN when
    every difference is zero or too few blocks); ``ic_new``/``ic_old``: mean IC of each.
    """

    delta_ic: float
    se: float
    t_stat: float
    p_value: float
    n: int
    n_periods: float
    horizon: int = 1
    wilcoxon_p: float = float("nan")
    ic_new: float = float("nan")
    ic_old: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(asdict(self))


def finite_or_none(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with NaN/inf floats as None (JSON has no NaN)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, inf or not a number).

    >>> finite_float("0.5"), finite_float(float("nan")), finite_float(None)
    (0.5, None, None)
    """
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def align(new: pd.Series, old: pd.Series) -> pd.DataFrame:
    """The candles both series have a finite IC, as columns ``new`` and ``old`` (sorted)."""
    for what, s in (("new", new), ("old", old)):
        if s.index.has_duplicates:
            dup = s.index[s.index.duplicated()][0]
            raise PairedTestError(f"{what} IC series has {dup} twice: one value per candle")
    both = pd.concat({"new": new.astype(float), "old": old.astype(float)}, axis=1, join="inner")
    both = both[np.isfinite(both.to_numpy()).all(axis=1)]
    return both.sort_index()


def _block_wilcoxon(diff: pd.Series, step: pd.Timedelta, horizon: int) -> float:
    grid = on_grid(diff, step).to_numpy(float)
    blocks = len(grid) // horizon
    if blocks < 2:
        return float("nan")
    means = np.nanmean(grid[: blocks * horizon].reshape(blocks, horizon), axis=1)
    # rounded: blocks equal up to floating-point noise must tie in the signed ranks
    means = np.round(means[np.isfinite(means)], 12)
    if len(means) < 2 or not np.any(means != 0):
        return float("nan")
    return float(stats.wilcoxon(means).pvalue)


def paired_ic_test(new: pd.Series, old: pd.Series, horizon: int) -> PairedTest:
    """Paired test of two per-candle IC series (UTC candle index) at label ``horizon``.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=240, freq="h", tz="UTC")
    >>> rng = np.random.default_rng(0)
    >>> old = pd.Series(rng.normal(0.0, 0.5, 240), index=t)
    >>> new = old + 0.2 + pd.Series(rng.normal(0.0, 0.1, 240), index=t)
    >>> res = paired_ic_test(new, old, horizon=4)
    >>> round(res.delta_ic, 2), res.n, res.n_periods, res.p_value < 0.001
    (0.2, 240, 60.0, True)
    """
    if horizon < 1:
        raise PairedTestError(f"horizon: must be >= 1 candle, got {horizon}")
    both = align(new, old)
    n = len(both)
    periods = n / horizon
    if periods < MIN_PERIODS:
        raise PairedTestError(
            f"only {n} candle(s) with an IC for both versions ({periods:.1f} non-overlapping "
            f"{horizon}-candle periods): the paired test needs at least {MIN_PERIODS}; "
            "use a longer --timerange"
        )
    diff = both["new"] - both["old"]
    step = candle_step(pd.DatetimeIndex(both.index))
    mean = float(diff.mean())
    se = overlap_se(on_grid(diff, step).to_numpy(float), horizon)
    # no variation (up to rounding: 0.05 - 0.02 is not one number in floating point): t is
    # undefined, the sign is certain
    if not se > 1e-12 * max(1.0, abs(mean)):
        se = 0.0
        t_stat = 0.0 if abs(mean) <= 1e-12 else math.copysign(math.inf, mean)
        p_value = 1.0 if abs(mean) <= 1e-12 else 0.0
    else:
        t_stat = mean / se
        p_value = float(2 * stats.t.sf(abs(t_stat), df=max(periods - 1, 1)))
    return PairedTest(
        delta_ic=mean,
        se=se,
        t_stat=t_stat,
        p_value=p_value,
        n=n,
        n_periods=periods,
        horizon=horizon,
        wilcoxon_p=_block_wilcoxon(diff, step, horizon),
        ic_new=float(both["new"].mean()),
        ic_old=float(both["old"].mean()),
    )


def recommend(test: PairedTest, *, min_delta: float = 0.01, alpha: float = 0.05) -> str:
    """``"promote"`` when ``delta_ic > min_delta`` and ``p_value < alpha``, else ``"keep"``.

    >>> recommend(PairedTest(0.03, 0.01, 3.1, 0.004, n=480, n_periods=40))
    'promote'
    >>> recommend(PairedTest(0.03, 0.027, 1.1, 0.28, n=480, n_periods=40))
    'keep'
    >>> recommend(PairedTest(0.005, 0.00125, 4.0, 0.001, n=4800, n_periods=400))
    'keep'
    """
    if not (0 < alpha < 1):
        raise PairedTestError(f"alpha={alpha} must be between 0 and 1, e.g. 0.05")
    if test.delta_ic > min_delta and test.p_value < alpha:
        return "promote"
    return "keep"
