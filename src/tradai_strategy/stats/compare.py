"""Which of two model versions predicts better: a paired test on their daily IC.

Both versions are scored on the same days (same candles, same realised returns), so the
day-by-day IC difference removes what the market did that day. :func:`paired_ic_test` runs
the paired t-test (:func:`scipy.stats.ttest_rel`, two-sided) on the days both series have,
and the Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`) as a robustness check that
does not assume normal differences. :func:`recommend` applies the promotion rule: prefer the
new version when its mean IC is higher by more than ``min_delta`` and ``p < alpha``.

The t-test treats days as independent; labels that reach past midnight make neighbouring
days' ICs slightly correlated, which makes the p-value somewhat optimistic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: fewest common days the test runs on
MIN_DAYS = 3


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of two daily IC series (``new`` minus ``old``).

    ``delta_ic``: mean daily IC difference; ``t_stat``/``p_value``: paired t-test
    (two-sided); ``n_days``: common days with both ICs; ``wilcoxon_p``: two-sided Wilcoxon
    signed-rank p-value (NaN when every difference is zero); ``ic_new``/``ic_old``: mean
    daily IC of each version over the common days.
    """

    delta_ic: float
    t_stat: float
    p_value: float
    n_days: int
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


def align_daily(new: pd.Series, old: pd.Series) -> pd.DataFrame:
    """The days both series have a finite IC, as columns ``new`` and ``old`` (sorted)."""
    for what, s in (("new", new), ("old", old)):
        if s.index.has_duplicates:
            dup = s.index[s.index.duplicated()][0]
            raise ValueError(f"{what} daily IC has day {dup} twice: one value per day")
    both = pd.concat({"new": new.astype(float), "old": old.astype(float)}, axis=1, join="inner")
    both = both[np.isfinite(both.to_numpy()).all(axis=1)]
    return both.sort_index()


def paired_ic_test(new: pd.Series, old: pd.Series) -> PairedTest:
    """Paired t-test (and Wilcoxon) of two daily IC series aligned on their dates.

    Examples
    --------
    >>> days = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    >>> old = pd.Series([0.01, 0.03, -0.02, 0.00, 0.02, 0.01], index=days)
    >>> new = old + pd.Series([0.05, 0.04, 0.06, 0.05, 0.03, 0.05], index=days)
    >>> t = paired_ic_test(new, old)
    >>> round(t.delta_ic, 4), t.n_days, t.p_value < 0.001
    (0.0467, 6, True)
    """
    both = align_daily(new, old)
    n = len(both)
    if n < MIN_DAYS:
        raise ValueError(
            f"only {n} day(s) with an IC for both versions: the paired test needs at least "
            f"{MIN_DAYS}; use a longer --timerange"
        )
    diff = (both["new"] - both["old"]).to_numpy()
    if np.all(diff == diff[0]):  # no variation: t is undefined, the sign is certain
        t_stat = 0.0 if diff[0] == 0 else math.copysign(math.inf, diff[0])
        p_value = 1.0 if diff[0] == 0 else 0.0
    else:
        res = stats.ttest_rel(both["new"], both["old"])
        t_stat, p_value = float(res.statistic), float(res.pvalue)
    wilcoxon_p = float("nan")
    if np.any(diff != 0):
        wilcoxon_p = float(stats.wilcoxon(both["new"], both["old"]).pvalue)
    return PairedTest(
        delta_ic=float(diff.mean()),
        t_stat=t_stat,
        p_value=p_value,
        n_days=n,
        wilcoxon_p=wilcoxon_p,
        ic_new=float(both["new"].mean()),
        ic_old=float(both["old"].mean()),
    )


def recommend(test: PairedTest, *, min_delta: float = 0.01, alpha: float = 0.05) -> str:
    """``"promote"`` when ``delta_ic > min_delta`` and ``p_value < alpha``, else ``"keep"``.

    >>> recommend(PairedTest(delta_ic=0.03, t_stat=3.1, p_value=0.004, n_days=40))
    'promote'
    >>> recommend(PairedTest(delta_ic=0.03, t_stat=1.1, p_value=0.28, n_days=40))
    'keep'
    >>> recommend(PairedTest(delta_ic=0.005, t_stat=4.0, p_value=0.001, n_days=400))
    'keep'
    """
    if not (0 < alpha < 1):
        raise ValueError(f"alpha={alpha} must be between 0 and 1, e.g. 0.05")
    if test.delta_ic > min_delta and test.p_value < alpha:
        return "promote"
    return "keep"
