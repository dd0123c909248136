"""The IC that live decisions read: cross-sectional, with an overlap-aware standard error.

Why not the Spearman IC of all rows of a day
--------------------------------------------
Forward labels over ``h`` candles overlap: neighbouring rows of one pair share ``h - 1`` of
their ``h`` future returns. Inside a short window the rows of a pair therefore see one
future path, and a predictor built from the price level (mean reversion, momentum) "ranks"
it because the window's own mean is part of both columns. On pure random walks a daily
time-series IC averages +0.13 for a zero-skill mean-reversion predictor and -0.12 for a
zero-skill momentum one; a 30-day window of non-overlapping rows still carries that bias
(it shrinks like 1/n, with a constant that grows with the predictor's persistence).

The cross-sectional IC
----------------------
:func:`cross_sectional_ic` ranks the pairs against each other at one candle: Spearman
correlation, across the pairs, of the predictions made at the close of candle ``t`` and
the realised forward returns from ``t``. Everything a prediction knows happened before
``t``; the realised returns of every pair happen after it. Under no skill, the expected
IC of every candle is therefore exactly 0 whatever the predictor's persistence, and so is
the mean over any window: no in-window centring enters. It needs at least two pairs (with
two it is the sign agreement of the spread prediction and the spread return) and is the
usual definition of an IC in cross-sectional equity research.

Its size for a real signal depends on the number of pairs ``n``: the expected sample
Spearman is ``((n - 2) rho_s + 3 tau) / (n + 1)`` (Kendall and Gibbons), about 64 % of
the population rank correlation for two pairs, 80 % for four and 89 % for eight. Compare
a version only with figures measured by the same statistic on the same pairs
(:func:`tradai_strategy.lifecycle.reference` stores it at training).

The standard error
------------------
The IC of candle ``t`` and that of ``t + k`` share ``h - k`` label candles, so the series
is autocorrelated up to lag ``h - 1`` and ``1 / sqrt(n)`` would be far too small.
:func:`overlap_se` estimates the long-run variance of the series with the
Hansen-Hodrick sum of its autocovariances up to lag ``h - 1`` (exact for overlapping
``h``-candle labels) and never below the Newey-West (Bartlett) estimate, which is positive
by construction. Beyond lag ``h - 1`` the IC increments are martingale differences under
no skill (the later label starts after the earlier one is known), so no more lags are
needed. ``n_periods = n / h`` is the number of non-overlapping periods the window holds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from tradai_strategy.core.errors import MonitoringError

#: fewest pairs a cross-sectional IC is taken over
MIN_PAIRS = 2

CROSS_SECTIONAL = "cross-sectional Spearman IC per candle"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class WindowIC:
    """Mean of a per-candle IC series over a window, with its overlap-aware s.e.

    ``n``: candles with an IC; ``n_periods``: ``n / horizon``, the non-overlapping label
    periods they span; ``pairs``: mean number of pairs per candle.
    """

    ic: float
    se: float
    n: int
    n_periods: float
    pairs: float = float("nan")
    method: str = CROSS_SECTIONAL

    def upper(self, confidence: float) -> float:
        """Upper end of the one-sided ``confidence`` interval of the mean IC."""
        return self.ic + float(stats.norm.ppf(confidence)) * self.se

    @property
    def tstat(self) -> float:
        return self.ic / self.se if self.se > 0 else float("nan")

    def to_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "tstat": self.tstat}

    def text(self) -> str:
        """``+0.0123 ± 0.0210 (n 720, 60 periods)``."""
        return f"{self.ic:+.4f} ± {self.se:.4f} (n {self.n}, {self.n_periods:.0f} periods)"


def _columns(frame: pd.DataFrame, *cols: str) -> None:
    for col in cols:
        if col not in frame.columns:
            raise MonitoringError(
                f"no {col!r} column (have {', '.join(map(str, frame.columns))}): "
                "pass the prediction log frame or name the columns"
            )


def wide(
    frame: pd.DataFrame, value: str, *, time: str = "time", pair: str = "pair"
) -> pd.DataFrame:
    """``value`` as a candle x pair table (UTC time index, sorted); one row per candle and
    pair or a :class:`MonitoringError` naming the first duplicate."""
    _columns(frame, time, pair, value)
    keys = frame[[time, pair]]
    dup = keys.duplicated()
    if dup.any():
        first = keys[dup].iloc[0]
        raise MonitoringError(
            f"{first[pair]} has two rows at {first[time]}: one prediction per candle and pair"
        )
    table = frame.pivot(index=time, columns=pair, values=value).astype(float)
    table.index = pd.DatetimeIndex(pd.to_datetime(table.index, utc=True), name="time")
    return table.sort_index()


def row_spearman(
    pred: pd.DataFrame, realised: pd.DataFrame, min_pairs: int = MIN_PAIRS
) -> pd.Series:
    """Spearman correlation of each row of ``pred`` with the same row of ``realised``
    (aligned tables, pairs as columns) over the pairs where both are finite.

    A row with fewer than ``min_pairs`` such pairs, or with a constant column, is NaN.
    Ties take average ranks, as :func:`scipy.stats.spearmanr` does.
    """
    both = pred.notna() & realised.notna()
    p = pred.where(both).rank(axis=1)
    r = realised.where(both).rank(axis=1)
    p = p.sub(p.mean(axis=1), axis=0)
    r = r.sub(r.mean(axis=1), axis=0)
    num = (p * r).sum(axis=1)
    den = np.sqrt((p * p).sum(axis=1) * (r * r).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        ic = (num / den).where((den > 0) & (both.sum(axis=1) >= min_pairs))
    return ic.rename("ic")


def cross_sectional_ic(
    frame: pd.DataFrame,
    *,
    pred: str = "prediction",
    realised: str = "realised",
    time: str = "time",
    pair: str = "pair",
    min_pairs: int = MIN_PAIRS,
) -> pd.DataFrame:
    """Per candle: the Spearman IC across pairs (``ic``) and how many pairs it used (``pairs``).

    Index: the candle times (UTC, sorted) with an IC; candles with fewer than ``min_pairs``
    pairs holding both a prediction and a realised value are left out.
    """
    p = wide(frame, pred, time=time, pair=pair)
    r = wide(frame, realised, time=time, pair=pair).reindex_like(p)
    ic = row_spearman(p, r, min_pairs)
    pairs = (p.notna() & r.notna()).sum(axis=1)
    out = pd.DataFrame({"ic": ic, "pairs": pairs.astype(float)})
    return out[out["ic"].notna()]


def _autocov(dev: FloatArray, lag: int) -> float:
    """``sum_t dev_t * dev_{t+lag}`` over the grid (missing candles hold 0)."""
    return float(np.dot(dev[:-lag], dev[lag:])) if lag < len(dev) else 0.0


def overlap_se(values: npt.ArrayLike, horizon: int) -> float:
    """Standard error of the mean of a per-candle series whose neighbours up to
    ``horizon - 1`` candles apart are correlated (overlapping labels).

    ``values`` sits on a regular candle grid; NaN marks a candle without a value (it adds
    nothing to any sum). The long-run variance is the larger of the Hansen-Hodrick sum
    ``g0 + 2 * sum_{k<h} g_k`` and the Newey-West sum with Bartlett weights
    ``1 - k / h``; the s.e. is ``sqrt(lrv / n)``. NaN for fewer than 2 values.
    """
    if horizon < 1:
        raise MonitoringError(f"horizon: must be >= 1 candle, got {horizon}")
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    n = int(ok.sum())
    if n < 2:
        return float("nan")
    dev = np.where(ok, x - x[ok].mean(), 0.0)
    g0 = float(np.dot(dev, dev)) / n
    gammas = np.array([_autocov(dev, k) / n for k in range(1, horizon)])
    weights = 1.0 - np.arange(1, horizon) / horizon
    hansen_hodrick = g0 + 2.0 * float(gammas.sum())
    newey_west = g0 + 2.0 * float((weights * gammas).sum())
    lrv = max(hansen_hodrick, newey_west, 0.0)
    return math.sqrt(lrv / n)


def on_grid(series: pd.Series, step: pd.Timedelta) -> pd.Series:
    """``series`` (UTC time index) on the regular grid of ``step`` from its first to last
    time, NaN where a candle has no value."""
    if series.empty:
        return series
    grid = pd.date_range(series.index[0], series.index[-1], freq=step)
    return series.reindex(grid)


def candle_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The candle length of a time index: its most common positive gap (1 h when unknown)."""
    gaps = np.diff(index.values)
    gaps = gaps[gaps > np.timedelta64(0)]
    if gaps.size == 0:
        return pd.Timedelta(hours=1)
    values, counts = np.unique(gaps, return_counts=True)
    return pd.Timedelta(values[np.argmax(counts)])


def window_ic(
    ic: pd.Series, horizon: int, *, pairs: pd.Series | None = None, step: pd.Timedelta | None = None
) -> WindowIC:
    """Mean of the per-candle IC series ``ic`` (UTC time index) with :func:`overlap_se`."""
    values = ic.dropna()
    if values.empty:
        return WindowIC(float("nan"), float("nan"), 0, 0.0)
    index = pd.DatetimeIndex(values.index)
    step = step or candle_step(index)
    se = overlap_se(on_grid(values, step).to_numpy(float), horizon)
    n = len(values)
    mean_pairs = float(pairs.loc[values.index].mean()) if pairs is not None else float("nan")
    return WindowIC(float(values.mean()), se, n, n / horizon, mean_pairs)


def rolling_window_ic(
    per_candle: pd.DataFrame,
    horizon: int,
    window_days: int,
    *,
    min_days: int | None = None,
) -> pd.DataFrame:
    """Per UTC day ``d``: :func:`window_ic` of the candles in ``[d + 1 day - window_days,
    d + 1 day)`` (open times on the UTC days ``d - window_days + 1 .. d``), as columns
    ``ic``, ``se``, ``n``, ``n_periods``, ``pairs``.

    ``per_candle``: :func:`cross_sectional_ic`'s frame. A day whose window holds candles on
    fewer than ``min_days`` distinct days (default ``window_days // 3``, at least 1) is NaN.
    Index: every calendar day from the first candle's to the last one's.
    """
    if window_days < 1:
        raise MonitoringError(f"window_days: must be >= 1, got {window_days}")
    cols = ["ic", "se", "n", "n_periods", "pairs"]
    if per_candle.empty:
        return pd.DataFrame(columns=cols, index=pd.DatetimeIndex([], tz="UTC", name="day"))
    index = pd.DatetimeIndex(per_candle.index)
    step = candle_step(index)
    days = pd.date_range(index[0].floor("D"), index[-1].floor("D"), freq="D", name="day")
    need = max(1, window_days // 3) if min_days is None else min_days
    day_of = index.floor("D")
    rows = []
    for day in days:
        end = day + pd.Timedelta(days=1)
        lo = int(index.searchsorted(end - pd.Timedelta(days=window_days), "left"))
        hi = int(index.searchsorted(end, "left"))
        if hi - lo == 0 or day_of[lo:hi].nunique() < need:
            rows.append([float("nan")] * 5)
            continue
        part = per_candle.iloc[lo:hi]
        w = window_ic(part["ic"], horizon, pairs=part["pairs"], step=step)
        rows.append([w.ic, w.se, float(w.n), w.n_periods, w.pairs])
    return pd.DataFrame(rows, index=days, columns=cols)
