"""Feature and prediction drift: two-sample KS statistic and PSI, per feature, pair and overall.

Everything here is a pure function on arrays/frames. The KS statistic is computed for all
columns at once (one sort of the stacked samples), which is what makes a check over
100 features x 10 pairs take milliseconds; it equals ``scipy.stats.ks_2samp(...).statistic``
(tested). NaNs are dropped column by column.

Levels come from the KS statistic: ``ok`` <= ``warn`` < ``warn`` <= ``critical`` <
``critical`` (defaults 0.1 and 0.2; ``critical`` is the retrain threshold). PSI is
reported beside it (rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large shift).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradai_strategy.core.errors import MonitoringError

#: Proportion used in place of an empty PSI bin (in either sample), so PSI stays finite.
PSI_EPSILON = 1e-4
LEVELS = ("ok", "warn", "critical")
OVERALL = "ALL"


def _as_matrix(x: npt.ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise MonitoringError(f"{what}: expected a 1-D sample or a 2-D rows x features array")
    return arr


def _clean_rows(x: np.ndarray) -> np.ndarray:
    """Columns as contiguous rows, non-finite values as NaN (they sort last)."""
    return np.ascontiguousarray(np.where(np.isfinite(x), x, np.nan).T)


def ks_columns(reference: npt.ArrayLike, current: npt.ArrayLike) -> np.ndarray:
    """Two-sample KS statistic of every column pair, non-finite values dropped per column.

    ``sup_x |F_ref(x) - F_cur(x)|``, evaluated at every distinct value of the pooled sample:
    one stable argsort of the stacked columns, then cumulative counts of each sample.
    A column with no finite value in one of the samples gets NaN.
    """
    ref = _as_matrix(reference, "reference")
    cur = _as_matrix(current, "current")
    if ref.shape[1] != cur.shape[1]:
        raise MonitoringError(
            f"reference has {ref.shape[1]} columns, current {cur.shape[1]}: pass the same features"
        )
    return _ks_rows(_clean_rows(ref), _clean_rows(cur))


def _ks_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """KS per row of (features x samples) arrays holding NaN for missing values.

    One argsort of each row of the pooled samples (NaNs last), cumulative counts of each
    sample, and the largest CDF gap at the end of every run of tied values; no Python loop
    over features.
    """
    n = np.sum(~np.isnan(ref), axis=1)
    m = np.sum(~np.isnan(cur), axis=1)
    pooled = np.concatenate([ref, cur], axis=1)
    order = np.argsort(pooled, axis=1)  # the order inside a run of ties does not matter
    values = np.take_along_axis(pooled, order, axis=1)
    from_ref = order < ref.shape[1]
    cum_ref = np.cumsum(from_ref, axis=1)
    cum_cur = np.arange(1, pooled.shape[1] + 1) - cum_ref
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(cum_ref / n[:, None] - cum_cur / m[:, None])
    end_of_run = np.ones(values.shape, dtype=bool)
    end_of_run[:, :-1] = values[:, 1:] != values[:, :-1]
    end_of_run &= ~np.isnan(values)
    out = np.where(end_of_run, gap, 0.0).max(axis=1, initial=0.0)
    out[(n == 0) | (m == 0)] = np.nan
    return np.asarray(out, dtype=np.float64)


def _sorted_quantiles(sorted_rows: np.ndarray, counts: np.ndarray, q: np.ndarray) -> np.ndarray:
    """numpy's default (linear) quantiles of each sorted row's first ``counts`` values."""
    top = np.maximum(counts, 1) - 1
    pos = q[None, :] * top[:, None]
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, top[:, None])
    v_lo = np.take_along_axis(sorted_rows, lo, axis=1)
    v_hi = np.take_along_axis(sorted_rows, hi, axis=1)
    return np.asarray(v_lo + (pos - lo) * (v_hi - v_lo), dtype=np.float64)


def _psi_terms(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.where(p > 0, p, PSI_EPSILON)
    q = np.where(q > 0, q, PSI_EPSILON)
    return np.asarray(np.sum((q - p) * np.log(q / p), axis=-1), dtype=np.float64)


def _psi_rows(ref: np.ndarray, cur: np.ndarray, bins: int) -> np.ndarray:
    """PSI per row of (features x samples) arrays holding NaN for missing values."""
    n = np.sum(~np.isnan(ref), axis=1)
    m = np.sum(~np.isnan(cur), axis=1)
    rs, cs = np.sort(ref, axis=1), np.sort(cur, axis=1)  # NaNs last
    inner = _sorted_quantiles(rs, n, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    out = np.full(len(rs), np.nan)
    for j in range(len(rs)):
        r, c = rs[j, : n[j]], cs[j, : m[j]]
        if not (r.size and c.size):
            continue
        if r[0] == r[-1]:  # constant reference: below / equal to / above its value
            lo, hi = np.searchsorted(c, r[0], "left"), np.searchsorted(c, r[0], "right")
            q = np.array([lo, hi - lo, c.size - hi]) / c.size
            out[j] = _psi_terms(np.array([0.0, 1.0, 0.0]), q)
            continue
        # bins (-inf, e1], ..., (e_k-1, inf); repeated edges give bins empty in both samples
        p = np.diff(np.searchsorted(r, inner[j], "right"), prepend=0, append=r.size) / r.size
        q = np.diff(np.searchsorted(c, inner[j], "right"), prepend=0, append=c.size) / c.size
        out[j] = _psi_terms(p, q)
    return out


def ks_statistic(reference: npt.ArrayLike, current: npt.ArrayLike) -> float:
    """Two-sample Kolmogorov-Smirnov statistic of two 1-D samples (NaNs dropped).

    >>> ks_statistic([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    0.5
    """
    ref = np.asarray(reference, dtype=np.float64).ravel()
    cur = np.asarray(current, dtype=np.float64).ravel()
    _require_values(ref, "reference")
    _require_values(cur, "current")
    return float(ks_columns(ref, cur)[0])


def _require_values(x: np.ndarray, what: str) -> None:
    if not np.isfinite(x).any():
        raise MonitoringError(
            f"{what} sample is empty (no finite values): widen the window or check the data"
        )


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, *, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are the reference's ``bins``-quantiles: ``(-inf, e1], (e1, e2], ..., (e_{k-1}, inf)``
    (repeated edges leave bins that are empty in both samples and add nothing). An empty
    bin's proportion is replaced by :data:`PSI_EPSILON` (1e-4). ``PSI = sum((q - p) ln(q/p))``
    with ``p`` the reference and ``q`` the current proportions. A constant reference uses
    three bins: below, equal to and above its value.

    >>> round(psi([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 4.0], bins=2), 6)
    0.274653
    """
    if bins < 2:
        raise MonitoringError(f"bins: must be >= 2, got {bins}")
    ref = np.asarray(reference, dtype=np.float64).ravel()
    cur = np.asarray(current, dtype=np.float64).ravel()
    _require_values(ref, "reference")
    _require_values(cur, "current")
    return float(_psi_rows(_clean_rows(ref[:, None]), _clean_rows(cur[:, None]), bins)[0])


def drift_level(ks: float | np.ndarray, *, warn: float = 0.1, critical: float = 0.2) -> np.ndarray:
    """``ok``/``warn``/``critical`` for KS values (strictly above the thresholds)."""
    if not 0 <= warn <= critical <= 1:
        raise MonitoringError(f"thresholds: need 0 <= warn ({warn}) <= critical ({critical}) <= 1")
    k = np.atleast_1d(np.asarray(ks, dtype=np.float64))
    return np.where(k > critical, "critical", np.where(k > warn, "warn", "ok"))


def _notes(ref: np.ndarray, cur: np.ndarray) -> list[str]:
    """Constant-feature notes per row of (features x samples) NaN-holding arrays."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows are reported elsewhere
        r_lo, r_hi = np.nanmin(ref, axis=1), np.nanmax(ref, axis=1)
        c_lo, c_hi = np.nanmin(cur, axis=1), np.nanmax(cur, axis=1)
    out = []
    for rl, rh, cl, ch in zip(r_lo, r_hi, c_lo, c_hi, strict=True):
        if rl == rh and cl == ch:
            out.append("constant in both" + (" (same value)" if rl == cl else ""))
        elif rl == rh:
            out.append("constant in reference")
        elif cl == ch:
            out.append("constant in current window")
        else:
            out.append("")
    return out


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    warn: float = 0.1,
    critical: float = 0.2,
    bins: int = 10,
    features: Sequence[str] | None = None,
    pair: str | None = None,
) -> pd.DataFrame:
    """KS, PSI and level of each feature: index ``feature``, columns ks, psi, level, note.

    :param features: default: the reference's columns (except ``pair``). Each must be in
        both frames.
    :param pair: name of a pair column in both frames: the result then has one row per pair
        and feature plus the pooled rows of pair ``ALL`` (all pairs together), and a
        ``pair`` column.
    :raises MonitoringError: empty reference or window, missing feature, a feature with
        no finite value in one of the frames.
    """
    if pair is not None:
        return _feature_drift_by_pair(
            reference, current, pair, warn=warn, critical=critical, bins=bins, features=features
        )
    if reference is None or len(reference) == 0:
        raise MonitoringError(
            "the drift reference is empty or missing: register a bundle with reference features "
            "(tradai train writes them)"
        )
    if current is None or len(current) == 0:
        raise MonitoringError("the current window has no rows: widen --days or update the data")
    cols = list(features) if features is not None else list(reference.columns)
    for name, frame in (("reference", reference), ("current window", current)):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise MonitoringError(
                f"the {name} lacks {len(missing)} feature(s) ({', '.join(map(str, missing[:3]))}"
                "): compute the current features with the strategy the model was trained with"
            )
    ref = _clean_rows(reference[cols].to_numpy(dtype=np.float64))
    cur = _clean_rows(current[cols].to_numpy(dtype=np.float64))
    ks = _ks_rows(ref, cur)
    bad = [cols[j] for j in np.flatnonzero(np.isnan(ks))]
    if bad:
        raise MonitoringError(
            f"feature {bad[0]} has no finite value in the reference or the current window"
            f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}: drop it or fix the data"
        )
    if bins < 2:
        raise MonitoringError(f"bins: must be >= 2, got {bins}")
    psis = _psi_rows(ref, cur, bins)
    out = pd.DataFrame(
        {
            "ks": ks,
            "psi": psis,
            "level": drift_level(ks, warn=warn, critical=critical),
            "note": _notes(ref, cur),
        },
        index=pd.Index(cols, name="feature"),
    )
    return out


def _feature_drift_by_pair(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    pair: str,
    **kwargs: Any,
) -> pd.DataFrame:
    for name, frame in (("reference", reference), ("current window", current)):
        if frame is None or pair not in frame.columns:
            raise MonitoringError(f"the {name} has no {pair!r} column: pass pair=None or add it")
    if kwargs.get("features") is None:
        kwargs["features"] = [c for c in reference.columns if c != pair]
    refs = {str(k): g.drop(columns=pair) for k, g in reference.groupby(pair, sort=False)}
    curs = {str(k): g.drop(columns=pair) for k, g in current.groupby(pair, sort=False)}
    parts = []
    for name in curs:
        if name not in refs:
            raise MonitoringError(f"no reference rows for pair {name}: check only trained pairs")
        try:
            table = feature_drift(refs[name], curs[name], **kwargs)
        except MonitoringError as err:
            raise MonitoringError(f"{name}: {err}") from None
        parts.append(table.assign(pair=name))
    pooled = feature_drift(reference.drop(columns=pair), current.drop(columns=pair), **kwargs)
    parts.append(pooled.assign(pair=OVERALL))
    return pd.concat(parts)[["pair", "ks", "psi", "level", "note"]]


def pair_drift(
    reference: dict[str, pd.DataFrame],
    current: dict[str, pd.DataFrame],
    *,
    warn: float = 0.1,
    critical: float = 0.2,
    bins: int = 10,
) -> pd.DataFrame:
    """:func:`feature_drift` for each pair: columns pair, feature, ks, psi, level, note.

    :raises MonitoringError: a pair of ``current`` without reference (or the reverse).
    """
    if not reference:
        raise MonitoringError(
            "no drift reference: the bundle has no reference features; retrain and register it"
        )
    missing = sorted(set(current) - set(reference))
    if missing:
        raise MonitoringError(
            f"no reference for pair(s) {', '.join(missing)}: check only the bundle's pairs "
            f"({', '.join(reference)})"
        )
    parts = []
    for pair, cur in current.items():
        try:
            table = feature_drift(reference[pair], cur, warn=warn, critical=critical, bins=bins)
        except MonitoringError as err:
            raise MonitoringError(f"{pair}: {err}") from None
        parts.append(table.reset_index().assign(pair=pair))
    if not parts:
        raise MonitoringError("no pair to check: pass at least one pair with current features")
    cols = ["pair", "feature", "ks", "psi", "level", "note"]
    return pd.concat(parts, ignore_index=True)[cols]


def drift_summary(table: pd.DataFrame, *, warn: float = 0.1, critical: float = 0.2) -> pd.DataFrame:
    """Per pair and overall (pair ``ALL``): features checked, warn/critical counts, max KS,
    mean PSI, worst feature and level (the level of the max KS)."""
    rows = []
    groups = [(p, g) for p, g in table.groupby("pair", sort=False)] + [(OVERALL, table)]
    for pair, g in groups:
        worst = g.loc[g["ks"].idxmax()]
        rows.append(
            {
                "pair": pair,
                "features": len(g),
                "warn": int((g["level"] == "warn").sum()),
                "critical": int((g["level"] == "critical").sum()),
                "max_ks": float(worst["ks"]),
                "mean_psi": float(g["psi"].mean()),
                "worst_feature": str(worst["feature"]),
                "level": str(drift_level(worst["ks"], warn=warn, critical=critical)[0]),
            }
        )
    return pd.DataFrame(rows).set_index("pair")


def prediction_drift(
    reference: npt.ArrayLike,
    current: npt.ArrayLike,
    *,
    warn: float = 0.1,
    critical: float = 0.2,
    bins: int = 10,
) -> dict[str, float | str]:
    """Drift of the model's output distribution: ``{"ks", "psi", "level"}``."""
    ks = ks_statistic(reference, current)
    return {
        "ks": ks,
        "psi": psi(reference, current, bins=bins),
        "level": str(drift_level(ks, warn=warn, critical=critical)[0]),
    }


def worst_level(levels: Sequence[str] | pd.Series) -> str:
    """The most severe of ``levels`` (``ok`` when empty)."""
    found = set(levels)
    return next((lv for lv in reversed(LEVELS) if lv in found), "ok")


def last_days(frame: pd.DataFrame, days: float, *, date: str = "date") -> pd.DataFrame:
    """Rows of the last ``days`` days of ``frame`` (``date`` > last date - days).

    :raises MonitoringError: no ``date`` column, timestamps out of order, no rows.
    """
    if date not in frame.columns:
        raise MonitoringError(f"no {date!r} column in the frame: pass candles with their dates")
    if len(frame) == 0:
        raise MonitoringError("the current window has no rows: update the data or widen --days")
    stamps = pd.to_datetime(frame[date], utc=True)
    if not stamps.is_monotonic_increasing:
        bad = int(np.argmax(stamps.diff().dt.total_seconds().to_numpy()[1:] < 0)) + 1
        raise MonitoringError(
            f"timestamps out of order in {date!r} at row {bad} ({stamps.iloc[bad]} after "
            f"{stamps.iloc[bad - 1]}): sort the candles by date"
        )
    if days <= 0:
        raise MonitoringError(f"--days: must be > 0, got {days}")
    keep = stamps > stamps.iloc[-1] - pd.Timedelta(days=days)
    return frame.loc[keep.to_numpy()]
