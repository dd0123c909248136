"""The out-of-sample prediction table of a training run, and the IC series drawn from it.

:func:`prediction_table` joins FreqAI's backtest predictions with the realised target (the
forward mean return over the label horizon, as ``&-s_close`` is trained on) and the close
price. ``tradai train`` logs it as ``oos/predictions.parquet``; the report draws the
prediction-vs-realised scatter, the daily and rolling IC and the IC decay by horizon from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

from tradai_strategy.core.labels import RETURN_LABEL, forward_mean_return
from tradai_strategy.data.prediction_files import close_series
from tradai_strategy.stats import decay
from tradai_strategy.stats.metrics import ic_decay

Frame = TypeVar("Frame", pd.DataFrame, pd.Series)

COLUMNS = ("date", "pair", "prediction", "do_predict", "realised", "close")


def prediction_table(
    predictions: pd.DataFrame,
    candles_by_pair: Mapping[str, pd.DataFrame],
    horizon: int,
    label: str = RETURN_LABEL,
) -> pd.DataFrame:
    """One row per out-of-sample candle: date, pair, prediction, do_predict, realised, close.

    :param predictions: :func:`tradai_strategy.data.prediction_files.load_backtest_predictions`.
    :param candles_by_pair: OHLCV frames (``date``, ``close``) per pair.
    :param horizon: label horizon in candles (``label_period_candles``).
    :raises KeyError: when ``label`` is not a prediction column or a pair has no candles.
    """
    if label not in predictions.columns:
        raise KeyError(f"{label!r} is not a column of the predictions ({list(predictions)})")
    parts = []
    for pair, rows in predictions.groupby("pair", sort=True):
        close = close_series(candles_by_pair[str(pair)])
        realised = forward_mean_return(close, horizon)
        when = pd.DatetimeIndex(pd.to_datetime(rows["date"], utc=True))
        parts.append(
            pd.DataFrame(
                {
                    "date": when,
                    "pair": str(pair),
                    "prediction": rows[label].to_numpy(dtype=float),
                    "do_predict": rows["do_predict"].to_numpy(dtype=np.int64),
                    "realised": realised.reindex(when).to_numpy(),
                    "close": close.reindex(when).to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True).sort_values(["pair", "date"], ignore_index=True)


def usable(table: pd.DataFrame) -> pd.DataFrame:
    """Rows the model predicted on (``do_predict == 1``) with a finite realised value."""
    ok = (table["do_predict"] == 1) & np.isfinite(table["prediction"])
    return table.loc[ok & np.isfinite(table["realised"])]


def daily_ic(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman IC of prediction vs realised per UTC day and pair (index: day; one column
    per pair): :func:`tradai_strategy.stats.decay.daily_ic` on each pair's usable rows.
    Days share overlapping labels: read the series as a trend, not a test."""
    rows = usable(table)
    if rows.empty:
        return pd.DataFrame()
    per_pair = {
        str(pair): decay.daily_ic(g, pred="prediction", realised="realised")
        for pair, g in rows.groupby("pair", sort=True)
    }
    out = pd.DataFrame(per_pair).sort_index()
    out.columns.name = "pair"
    return out


def rolling_mean_ic(daily: Frame, window_days: int = 7) -> Frame:
    """Rolling mean of the daily IC over ``window_days`` (at least half the days present);
    ``daily``: one column per pair, or one series."""
    if daily.empty:
        return daily
    return daily.rolling(window_days, min_periods=max(1, window_days // 2)).mean()


def decay_horizons(horizon: int) -> list[int]:
    """1, h/2, h, 2h and 4h candles (distinct, sorted)."""
    return sorted({1, max(1, horizon // 2), horizon, 2 * horizon, 4 * horizon})


def ic_by_horizon(table: pd.DataFrame, horizons: Sequence[int]) -> pd.DataFrame:
    """Non-overlapping RankIC of the predictions against forward returns over each horizon,
    pooled over pairs (n-weighted). Columns: horizon, ic, n, se."""
    sums: dict[int, list[float]] = {int(h): [0.0, 0.0] for h in horizons}
    for _, rows in table.groupby("pair", sort=True):
        rows = rows.sort_values("date")
        pred = np.where(rows["do_predict"] == 1, rows["prediction"], np.nan)
        for h, res in ic_decay(pred, rows["close"].to_numpy(dtype=float), horizons).items():
            if math.isfinite(res.ic) and res.n > 0:
                sums[h][0] += res.ic * res.n
                sums[h][1] += res.n
    records = []
    for h, (total, n) in sorted(sums.items()):
        ic = total / n if n else float("nan")
        records.append({"horizon": h, "ic": ic, "n": int(n), "se": 1 / math.sqrt(n) if n else ic})
    return pd.DataFrame.from_records(records, columns=["horizon", "ic", "n", "se"])
