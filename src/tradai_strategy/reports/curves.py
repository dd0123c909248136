"""Pure series for the report: equity and drawdown of a backtest, feature drift by day."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd


def equity_curve(trades: pd.DataFrame, starting_balance: float) -> pd.DataFrame:
    """Account equity after each closed trade and its drawdown from the running peak.

    Columns: ``date`` (the close time), ``equity`` and ``drawdown`` (<= 0, a fraction of
    the peak). The first row is the starting balance at the first trade's open time.
    """
    if trades.empty or "profit_abs" not in trades or "close_date" not in trades:
        return pd.DataFrame(columns=["date", "equity", "drawdown"])
    rows = trades.sort_values("close_date", kind="stable")
    dates = pd.to_datetime(rows["close_date"], utc=True)
    start = (
        pd.to_datetime(rows["open_date"], utc=True).min() if "open_date" in rows else dates.min()
    )
    equity = starting_balance + rows["profit_abs"].astype(float).cumsum().to_numpy()
    frame = pd.DataFrame(
        {
            "date": [start, *dates],
            "equity": [float(starting_balance), *equity],
        }
    )
    peak = frame["equity"].cummax()
    frame["drawdown"] = frame["equity"] / peak - 1.0
    return frame


def drift_by_day(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    ks: Callable[[np.ndarray, np.ndarray], float],
    *,
    min_rows: int = 6,
) -> pd.DataFrame:
    """KS statistic of each feature's values on each UTC day of ``current`` against all of
    ``reference``; index: feature, columns: day. Days with fewer than ``min_rows`` rows are
    left out (too few values for a distribution).

    :param current: has a ``date`` column and the feature columns.
    :param ks: two-sample KS statistic ``ks(reference_values, current_values)``.
    """
    if current.empty or reference.empty:
        return pd.DataFrame()
    day = pd.DatetimeIndex(pd.to_datetime(current["date"], utc=True)).floor("D")
    ref = {f: reference[f].dropna().to_numpy(dtype=float) for f in features}
    columns = {}
    for d, rows in current.groupby(day, sort=True):
        values = {f: rows[f].dropna().to_numpy(dtype=float) for f in features}
        if max(len(v) for v in values.values()) < min_rows:
            continue
        columns[d] = {
            f: float(ks(ref[f], v)) if len(v) >= min_rows and len(ref[f]) else np.nan
            for f, v in values.items()
        }
    return pd.DataFrame(columns, index=list(features))
