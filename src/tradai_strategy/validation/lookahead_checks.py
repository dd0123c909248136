"""Pure, vectorised comparisons behind the lookahead guard.

* :func:`prefix_differences` — which columns of a frame computed on truncated candles differ
  from the full-data frame on the rows both have (a causal feature never does);
* :func:`same_value` — whether a target's value at the last kept row survived truncation;
* :func:`masked_corr` and the two correlation scans — features that (nearly) equal a target,
  a forward return or a forward copy of the close;
* :func:`merge_early_timeframe` — whether a leak only shows when the cut falls inside an open
  higher-timeframe candle (an informative candle merged before it closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradai_strategy.validation.lookahead_data import Cut

#: relative tolerance (to a column's largest |value|) for float noise between two runs
RTOL = 1e-8
#: absolute tolerance on top of :data:`RTOL` (columns that are ~0 everywhere)
ATOL = 1e-12
#: |Pearson correlation| above which a feature counts as a copy of a target / future close
CORR_LIMIT = 0.99
#: rows with both values finite needed before a correlation is trusted
MIN_CORR_ROWS = 30
#: share of the cuts inside an open higher-timeframe candle that must leak (and none of the
#: cuts where it has just closed) to call a leak an early informative merge
MERGE_EARLY_SHARE = 0.8


@dataclass(frozen=True)
class ColumnDiff:
    """How one column differs between the full-data and the truncated frame.

    ``first_row`` is the first differing row (position in the full frame); ``max_abs`` the
    largest finite absolute difference; ``nan_rows`` rows where exactly one side is NaN;
    ``depth`` the number of rows from ``first_row`` to the cut (inclusive): how far ahead
    the column looks, at least.
    """

    column: str
    first_row: int
    max_abs: float
    max_rel: float
    nan_rows: int
    depth: int


def numeric_values(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """``frame[columns]`` as a float matrix; missing columns and non-numbers become NaN."""
    present = set(frame.columns)
    if all(c in present for c in columns) and all(
        pd.api.types.is_numeric_dtype(frame[c]) for c in columns
    ):
        return frame[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.full((len(frame), len(columns)), np.nan)
    for j, col in enumerate(columns):
        if col not in frame.columns:
            continue
        series = frame[col]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            series = pd.to_numeric(series, errors="coerce")
        out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _column_scale(values: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(values), np.abs(values), 0.0)
    return finite.max(axis=0) if len(values) else np.zeros(values.shape[1])


def prefix_differences(
    full: np.ndarray, cut: np.ndarray, columns: Sequence[str]
) -> list[ColumnDiff]:
    """Columns whose values differ between ``full[:len(cut)]`` and ``cut`` (same row order).

    Two NaNs are equal; NaN against a number is a difference; numbers differ when
    ``|a - b| > ATOL + RTOL * max|column|``.

    >>> full = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    >>> cut = np.array([[1.0, 1.0], [2.0, np.nan]])
    >>> [(d.column, d.first_row, d.nan_rows, d.depth) for d in prefix_differences(full, cut, "ab")]
    [('b', 1, 1, 1)]
    """
    k = len(cut)
    a = full[:k]
    scale = _column_scale(a)
    nan_a, nan_b = np.isnan(a), np.isnan(cut)
    with np.errstate(invalid="ignore"):
        gap = np.abs(a - cut)
    both = ~nan_a & ~nan_b
    numeric_bad = both & (gap > ATOL + RTOL * scale)  # inf vs inf: nan gap, not a difference
    bad = (nan_a != nan_b) | numeric_bad
    flagged = np.flatnonzero(bad.any(axis=0)).tolist()
    diffs = []
    for j in flagged:
        first = int(np.argmax(bad[:, j]))
        finite_gaps = gap[numeric_bad[:, j], j]
        max_abs = float(finite_gaps.max()) if finite_gaps.size else 0.0
        if not np.isfinite(max_abs):
            max_abs = float(np.finfo(np.float64).max)
        diffs.append(
            ColumnDiff(
                column=columns[j],
                first_row=first,
                max_abs=max_abs,
                max_rel=max_abs / scale[j] if scale[j] > 0 else 0.0,
                nan_rows=int((nan_a[:, j] != nan_b[:, j]).sum()),
                depth=k - first,
            )
        )
    return diffs


def same_value(full: object, cut: object) -> bool:
    """Whether one cell survived truncation (NaN == NaN; numbers up to float noise).

    >>> same_value(1.0, 1.0 + 1e-12), same_value("up", None), same_value(None, float("nan"))
    (True, False, True)
    """
    full_na, cut_na = bool(pd.isna(full)), bool(pd.isna(cut))
    if full_na or cut_na:
        return full_na and cut_na
    try:
        a, b = float(full), float(cut)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return bool(full == cut)
    return abs(a - b) <= ATOL + RTOL * max(abs(a), abs(b))


def masked_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of ``x`` with ``y``, each on its finite rows.

    NaN where fewer than :data:`MIN_CORR_ROWS` rows are finite or a side is constant.

    >>> t = np.arange(50.0)
    >>> np.round(masked_corr(np.c_[2 * t + 1, -t, np.ones(50)], t), 6).tolist()
    [1.0, -1.0, nan]
    """
    mask = np.isfinite(x) & np.isfinite(y)[:, None]
    count = mask.sum(axis=0)
    safe = np.maximum(count, 1)
    yy = np.where(mask, y[:, None], 0.0)
    xx = np.where(mask, x, 0.0)
    dx = np.where(mask, xx - xx.sum(axis=0) / safe, 0.0)
    dy = np.where(mask, yy - yy.sum(axis=0) / safe, 0.0)
    var_x, var_y = (dx * dx).sum(axis=0), (dy * dy).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (dx * dy).sum(axis=0) / np.sqrt(var_x * var_y)
    scale_x = np.where(mask, np.abs(xx), 0.0).max(axis=0, initial=0.0)
    scale_y = np.where(mask, np.abs(yy), 0.0).max(axis=0, initial=0.0)
    constant = (var_x <= (1e-12 * scale_x) ** 2 * safe) | (var_y <= (1e-12 * scale_y) ** 2 * safe)
    return np.where((count < MIN_CORR_ROWS) | constant, np.nan, corr)


def target_series(frame: pd.DataFrame, target: str) -> list[tuple[str, np.ndarray]]:
    """A target as numeric series: itself when numeric, else one 0/1 series per class."""
    series = frame[target]
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return [(target, series.to_numpy(dtype=np.float64, na_value=np.nan))]
    classes = [c for c in pd.unique(series.dropna()) if c is not None]
    missing = series.isna().to_numpy()
    return [
        (f"{target}=={c}", np.where(missing, np.nan, (series == c).to_numpy(dtype=np.float64)))
        for c in classes
    ]


def copies_of_targets(
    x: np.ndarray, features: Sequence[str], targets: Iterable[tuple[str, np.ndarray]]
) -> dict[str, tuple[str, float]]:
    """feature -> (target, corr) for features with |corr| > :data:`CORR_LIMIT` to a target."""
    found: dict[str, tuple[str, float]] = {}
    for name, y in targets:
        corr = masked_corr(x, y)
        for j in np.flatnonzero(np.abs(np.nan_to_num(corr)) > CORR_LIMIT).tolist():
            if abs(corr[j]) > abs(found.get(features[j], ("", 0.0))[1]):
                found[features[j]] = (name, float(corr[j]))
    return found


def copies_of_future_close(
    x: np.ndarray, features: Sequence[str], close: np.ndarray, horizon: int
) -> dict[str, tuple[int, str, float]]:
    """feature -> (k, how, corr) for features that track the close ``k`` candles ahead.

    Price levels are autocorrelated, so levels are not compared directly (any moving average
    would look like a future close). Two scale-free comparisons instead, for k = 1..horizon:
    ``"changes"`` — the feature's row-to-row change against the close change k candles ahead
    (catches ``close.shift(-k)`` and affine copies); ``"return"`` — the feature against the
    return from now to k candles ahead (catches ``close.shift(-k) / close - 1``).
    """
    dx = np.vstack([np.full((1, x.shape[1]), np.nan), np.diff(x, axis=0)])
    dclose = np.concatenate([[np.nan], np.diff(close)])
    found: dict[str, tuple[int, str, float]] = {}
    for k in range(1, horizon + 1):
        ahead = np.concatenate([close[k:], np.full(min(k, len(close)), np.nan)])[: len(close)]
        d_ahead = np.concatenate([dclose[k:], np.full(min(k, len(close)), np.nan)])[: len(close)]
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = ahead / close - 1.0
        for how, xs, y in (("changes", dx, d_ahead), ("return", x, ret)):
            corr = masked_corr(xs, y)
            for j in np.flatnonzero(np.abs(np.nan_to_num(corr)) > CORR_LIMIT).tolist():
                if abs(corr[j]) > abs(found.get(features[j], (0, "", 0.0))[2]):
                    found[features[j]] = (k, how, float(corr[j]))
    return found


def merge_early_timeframe(
    leaked: set[int], cuts: Sequence[Cut], higher: Sequence[str]
) -> str | None:
    """The shortest higher timeframe whose open candles explain a leak, else ``None``.

    A feature that merges an informative candle before it closes changes when the cut falls
    inside that candle, and never when the candle has just closed at the cut. ``leaked``
    holds the indices (into ``cuts``) of the cuts where the feature changed.
    """
    for tf in higher:
        aligned = {i for i, cut in enumerate(cuts) if tf in cut.aligned}
        inside = set(range(len(cuts))) - aligned
        if len(aligned) < 2 or not inside or leaked & aligned:
            continue
        if len(leaked & inside) >= MERGE_EARLY_SHARE * len(inside):
            return tf
    return None
