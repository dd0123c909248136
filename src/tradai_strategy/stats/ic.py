"""Information coefficient measured the honest way.

Forward labels over ``h`` candles overlap for adjacent rows, so inside one short window
they share one future path and almost any price-level feature "predicts" their ranking.
The headline figure therefore pools all out-of-sample rows of a pair, keeps every
``h``-th row (non-overlapping labels) and takes one Spearman correlation over those rows;
its standard error is about ``1/sqrt(n)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats


@dataclass(frozen=True)
class ICResult:
    """Spearman IC with its sample size and approximate standard error."""

    ic: float
    n: int
    se: float

    @property
    def tstat(self) -> float:
        return self.ic / self.se if self.se > 0 and math.isfinite(self.ic) else float("nan")

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "tstat": self.tstat}


def spearman_ic(pred: npt.ArrayLike, realised: npt.ArrayLike) -> ICResult:
    """Spearman rank correlation over the rows where both values are finite.

    >>> r = spearman_ic([1, 2, 3, 4], [10, 20, 30, 40])
    >>> r.ic, r.n
    (1.0, 4)
    """
    p = np.asarray(pred, dtype=float)
    y = np.asarray(realised, dtype=float)
    ok = np.isfinite(p) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3 or np.ptp(p[ok]) == 0 or np.ptp(y[ok]) == 0:
        return ICResult(ic=float("nan"), n=n, se=float("nan"))
    rho = float(stats.spearmanr(p[ok], y[ok]).statistic)
    return ICResult(ic=rho, n=n, se=1.0 / math.sqrt(n))


def non_overlapping_ic(
    pred: npt.ArrayLike, realised: npt.ArrayLike, horizon: int, offset: int = 0
) -> ICResult:
    """Spearman IC over every ``horizon``-th row (rows already in time order).

    Keeping every ``horizon``-th row makes the forward labels of the kept rows disjoint,
    so the rows are close to independent and ``se = 1/sqrt(n)`` holds.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    p = np.asarray(pred, dtype=float)[offset::horizon]
    y = np.asarray(realised, dtype=float)[offset::horizon]
    return spearman_ic(p, y)
