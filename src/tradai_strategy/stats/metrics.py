"""Out-of-sample metrics of a model's predictions: IC family, classifier scores, strategy returns.

All functions are pure and take aligned 1-D arrays in time order; rows where an input is not
finite are left out. Feed them *non-overlapping* rows (every ``h``-th row for an ``h``-candle
label, see :mod:`tradai_strategy.stats.ic`) when the number of rows matters (t-stats,
Sharpe ratios, PSR/DSR): overlapping forward returns are not independent observations.

Sharpe ratios here are per period (one period = one label horizon) unless
``periods_per_year`` is given; the probabilistic and deflated Sharpe ratios
(:mod:`tradai_strategy.stats.overfitting`) take per-period values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.stats.ic import ICResult, non_overlapping_ic

FloatArray = npt.NDArray[np.float64]
NAN = float("nan")


def _finite_pair(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"inputs must have the same length, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def information_coefficient(pred: npt.ArrayLike, realised: npt.ArrayLike) -> float:
    """Pearson correlation of prediction and realised return (IC).

    Examples
    --------
    >>> round(information_coefficient([1, 2, 3, 4], [1, 3, 2, 4]), 3)
    0.8
    """
    x, y = _finite_pair(pred, realised)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return NAN
    xd, yd = x - x.mean(), y - y.mean()
    return float((xd @ yd) / math.sqrt((xd @ xd) * (yd @ yd)))


def rank_ic(pred: npt.ArrayLike, realised: npt.ArrayLike) -> float:
    """Spearman rank correlation (RankIC): the IC of the ranks (ties get their mean rank).

    Examples
    --------
    >>> rank_ic([1, 2, 3, 4], [10, 30, 20, 40])
    0.8
    """
    x, y = _finite_pair(pred, realised)
    return information_coefficient(stats.rankdata(x), stats.rankdata(y))


@dataclass(frozen=True)
class ICSeriesSummary:
    """Mean, dispersion and significance of a series of per-period ICs."""

    mean: float
    std: float
    icir: float
    tstat: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def ic_summary(ics: Sequence[float] | npt.ArrayLike) -> ICSeriesSummary:
    """ICIR = mean(IC) / std(IC) and the t-statistic ``ICIR * sqrt(n)`` of a series of ICs.

    Examples
    --------
    >>> s = ic_summary([0.1, 0.2, 0.3])
    >>> round(s.icir, 3), round(s.tstat, 3)
    (2.0, 3.464)
    """
    arr = np.asarray(ics, dtype=float)
    arr = arr[np.isfinite(arr)]
    n = len(arr)
    if n < 2:
        return ICSeriesSummary(float(arr.mean()) if n else NAN, NAN, NAN, NAN, n)
    mean, std = float(arr.mean()), float(arr.std(ddof=1))
    icir = mean / std if std > 0 else NAN
    return ICSeriesSummary(mean, std, icir, icir * math.sqrt(n), n)


def hit_rate(pred: npt.ArrayLike, realised: npt.ArrayLike) -> float:
    """Share of rows where the prediction has the sign of the realised return (zeros left out).

    Examples
    --------
    >>> hit_rate([1, -1, 1, 0], [0.5, 0.2, 0.1, 0.3])
    0.6666666666666666
    """
    x, y = _finite_pair(pred, realised)
    ok = (x != 0) & (y != 0)
    return float(np.mean(np.sign(x[ok]) == np.sign(y[ok]))) if ok.any() else NAN


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Share of correct class predictions.

    Examples
    --------
    >>> accuracy(["up", "down", "up"], ["up", "up", "up"])
    0.6666666666666666
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or len(t) == 0:
        raise ValueError(f"accuracy needs two non-empty arrays of one length, got {t.shape}")
    return float(np.mean(t == p))


def auc(positive: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """ROC AUC from the Mann-Whitney U statistic: P(score of a positive > score of a negative).

    Examples
    --------
    >>> auc([True, False, True, False], [0.9, 0.1, 0.4, 0.6])
    0.75
    """
    pos = np.asarray(positive, dtype=bool)
    s = np.asarray(score, dtype=float)
    if pos.shape != s.shape:
        raise ValueError(f"auc: labels {pos.shape} and scores {s.shape} differ in length")
    ok = np.isfinite(s)
    pos, s = pos[ok], s[ok]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return NAN
    u = stats.mannwhitneyu(s[pos], s[~pos], alternative="two-sided").statistic
    return float(u) / (n_pos * n_neg)


def ks_statistic(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two ECDFs.

    Examples
    --------
    >>> round(ks_statistic([1, 2, 3], [2, 3, 4]), 4)
    0.3333
    """
    x = np.sort(np.asarray(a, dtype=float)[np.isfinite(np.asarray(a, dtype=float))])
    y = np.sort(np.asarray(b, dtype=float)[np.isfinite(np.asarray(b, dtype=float))])
    if len(x) == 0 or len(y) == 0:
        return NAN
    grid = np.concatenate((x, y))
    cdf_x = np.searchsorted(x, grid, side="right") / len(x)
    cdf_y = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.max(np.abs(cdf_x - cdf_y)))


@dataclass(frozen=True)
class StrategyReturns:
    """Per-period returns of the sign-of-prediction strategy."""

    gross: FloatArray
    net: FloatArray
    turnover: FloatArray

    @property
    def mean_turnover(self) -> float:
        return float(self.turnover.mean()) if len(self.turnover) else NAN

    @property
    def turnover_adjusted_return(self) -> float:
        """Mean net return per period: mean gross return minus cost x mean turnover."""
        return float(self.net.mean()) if len(self.net) else NAN


def sign_strategy_returns(
    pred: npt.ArrayLike, forward_return: npt.ArrayLike, cost: float = 0.0, long_only: bool = False
) -> StrategyReturns:
    """Hold ``sign(pred)`` (or ``max(sign, 0)`` long-only) for one period, pay ``cost`` per unit
    of position change (a flip from long to short is 2 units).

    Examples
    --------
    >>> r = sign_strategy_returns([1, 1, -1], [0.02, -0.01, -0.03], cost=0.001)
    >>> r.net.round(4).tolist(), r.turnover.tolist()
    ([0.019, -0.01, 0.028], [1.0, 0.0, 2.0])
    """
    if cost < 0:
        raise ValueError(f"cost must be >= 0 (a fraction per unit traded), got {cost}")
    p, r = _finite_pair(pred, forward_return)
    pos = np.sign(p)
    if long_only:
        pos = np.maximum(pos, 0.0)
    turnover = np.abs(np.diff(np.concatenate(([0.0], pos))))
    gross = pos * r
    return StrategyReturns(gross=gross, net=gross - cost * turnover, turnover=turnover)


def sharpe_ratio(returns: npt.ArrayLike, periods_per_year: float = 1.0) -> float:
    """Mean over standard deviation (ddof=1), times ``sqrt(periods_per_year)``.

    Examples
    --------
    >>> round(sharpe_ratio([0.01, 0.02, 0.03]), 3)
    2.0
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return NAN
    sd = float(r.std(ddof=1))
    return float(r.mean()) / sd * math.sqrt(periods_per_year) if sd > 0 else NAN


def sortino_ratio(returns: npt.ArrayLike, periods_per_year: float = 1.0) -> float:
    """Mean over downside deviation ``sqrt(mean(min(r, 0)^2))``, times ``sqrt(periods_per_year)``.

    Examples
    --------
    >>> round(sortino_ratio([0.02, -0.01, 0.03, -0.02]), 3)
    0.447
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 2:
        return NAN
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return float(r.mean()) / downside * math.sqrt(periods_per_year) if downside > 0 else NAN


def ic_decay(
    pred: npt.ArrayLike, close: npt.ArrayLike, horizons: Sequence[int]
) -> dict[int, ICResult]:
    """Non-overlapping RankIC of the same predictions against forward mean returns over
    several horizons (how fast the signal fades).

    Examples
    --------
    >>> close = np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 400)))
    >>> sorted(ic_decay(np.arange(400.0), close, [1, 4]))
    [1, 4]
    """
    c = np.asarray(close, dtype=float)
    p = np.asarray(pred, dtype=float)
    return {int(h): non_overlapping_ic(p, forward_mean_return(c, int(h)), int(h)) for h in horizons}


def _up_auc(pred: npt.ArrayLike, realised: npt.ArrayLike) -> float:
    x, y = _finite_pair(pred, realised)
    return auc(y > 0, x)


#: Metrics of (prediction, realised return) by name.
METRICS: dict[str, Callable[[npt.ArrayLike, npt.ArrayLike], float]] = {
    "rank_ic": rank_ic,
    "ic": information_coefficient,
    "hit_rate": hit_rate,
    "auc": _up_auc,
}
#: Columns of :func:`score_predictions`, selectable by name.
SCORE_NAMES = (*METRICS, "sharpe", "sortino", "turnover", "net_return")


def get_metric(name: str) -> Callable[[npt.ArrayLike, npt.ArrayLike], float]:
    """The (prediction, realised) metric called ``name``; a clear error otherwise.

    Examples
    --------
    >>> get_metric("rank_ic")([1, 2, 3], [3, 4, 5])
    1.0
    """
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}: use one of {', '.join(METRICS)}") from None


def check_metric_names(names: Sequence[str]) -> tuple[str, ...]:
    """Validate names of :func:`score_predictions` columns.

    Examples
    --------
    >>> check_metric_names(["rank_ic", "sharpe"])
    ('rank_ic', 'sharpe')
    """
    unknown = [n for n in names if n not in SCORE_NAMES]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}: use one of {', '.join(SCORE_NAMES)}")
    return tuple(names)


def score_predictions(
    pred: npt.ArrayLike,
    realised: npt.ArrayLike,
    forward_return: npt.ArrayLike,
    cost: float = 0.0,
) -> dict[str, float]:
    """Every :data:`SCORE_NAMES` metric of one set of non-overlapping rows.

    IC family against ``realised`` (the label), the sign strategy (per-period Sharpe and
    Sortino net of ``cost``, mean turnover, mean net return) against ``forward_return``.

    Examples
    --------
    >>> s = score_predictions([1, -1, 2, -2], [0.1, -0.2, 0.3, 0.1], [0.1, -0.2, 0.3, 0.1])
    >>> round(s["rank_ic"], 3), s["hit_rate"], s["turnover"]
    (0.632, 0.75, 1.75)
    """
    p = np.asarray(pred, dtype=float)
    out = {name: fn(p, realised) for name, fn in METRICS.items()}
    strat = sign_strategy_returns(p, forward_return, cost)
    out["sharpe"] = sharpe_ratio(strat.net)
    out["sortino"] = sortino_ratio(strat.net)
    out["turnover"] = strat.mean_turnover
    out["net_return"] = strat.turnover_adjusted_return
    out["n"] = float(len(strat.net))
    return out
