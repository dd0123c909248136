"""The out-of-sample prediction table of a training run, and the IC series drawn from it.

:func:`prediction_table` joins FreqAI's backtest predictions with the realised target and the
close price: the forward mean return over the label horizon for TradAI's built-in
``&-s_close``, the strategy's own label (computed by its ``set_freqai_targets``, see
:func:`tradai_strategy.reports.train_artifacts.strategy_realised`) for a custom target; the
``label`` column names which. ``tradai train`` logs it as ``oos/predictions.parquet``; the
report draws the prediction-vs-realised scatter, the rolling cross-sectional IC
(:func:`candle_ic`, Spearman across the pairs at each candle) and the IC decay by horizon
from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tradai_strategy.core.labels import RETURN_LABEL, forward_mean_return
from tradai_strategy.data.prediction_files import close_series
from tradai_strategy.stats.live_ic import cross_sectional_ic
from tradai_strategy.stats.metrics import ic_decay

COLUMNS = ("date", "pair", "prediction", "do_predict", "realised", "close", "label")


def prediction_table(
    predictions: pd.DataFrame,
    candles_by_pair: Mapping[str, pd.DataFrame],
    horizon: int,
    label: str = RETURN_LABEL,
    realised_by_pair: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """One row per out-of-sample candle: date, pair, prediction, do_predict, realised, close
    and the label's name.

    :param predictions: :func:`tradai_strategy.data.prediction_files.load_backtest_predictions`.
    :param candles_by_pair: OHLCV frames (``date``, ``close``) per pair.
    :param horizon: label horizon in candles (``label_period_candles``).
    :param realised_by_pair: the realised label per pair, indexed by UTC candle time
        (default: the forward mean return over ``horizon``, TradAI's ``&-s_close``).
    :raises KeyError: when ``label`` is not a prediction column or a pair has no candles.
    """
    if label not in predictions.columns:
        raise KeyError(f"{label!r} is not a column of the predictions ({list(predictions)})")
    parts = []
    for pair, rows in predictions.groupby("pair", sort=True):
        close = close_series(candles_by_pair[str(pair)])
        if realised_by_pair is None:
            realised = forward_mean_return(close, horizon)
        else:
            realised = realised_by_pair[str(pair)]
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
                    "label": label,
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


def candle_ic(table: pd.DataFrame | None) -> pd.DataFrame:
    """Per candle (UTC index): the Spearman IC across the pairs of the :func:`usable` rows
    (``ic``) and how many pairs it ranks (``pairs``), by
    :func:`tradai_strategy.stats.live_ic.cross_sectional_ic`; candles with fewer than two
    pairs are left out (one pair: empty)."""
    if table is None or table.empty:
        return pd.DataFrame(columns=["ic", "pairs"], index=pd.DatetimeIndex([], tz="UTC"))
    rows = usable(table).drop_duplicates(["date", "pair"], keep="last")
    return cross_sectional_ic(rows, pred="prediction", realised="realised", time="date")


def usable_pairs(table: pd.DataFrame | None) -> list[str]:
    """The pairs with :func:`usable` rows, sorted."""
    if table is None or table.empty:
        return []
    return sorted(map(str, usable(table)["pair"].unique()))


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
