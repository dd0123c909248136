"""What a version's live monitoring is compared with: its out-of-sample baselines.

``tradai train`` measures both on the out-of-sample prediction table of the training
backtest (``oos/predictions.parquet``) with the statistic the live check uses, on the same
kind of rows: every candle the model predicted (the prediction log keeps every served
prediction, ``do_predict`` 0 or 1) whose forward label at the version's
``label_period_candles`` is known.

* ``oos_mae`` — mean absolute error of the prediction against the realised forward mean
  return: the error-drift baseline (live MAE over ``error_window_days`` / this);
* ``reference_ic`` ± ``reference_ic_se`` — the cross-sectional IC over the whole
  out-of-sample period with its overlap-aware s.e.
  (:func:`tradai_strategy.stats.live_ic.window_ic`): the level the retrain rule tests the
  live IC against. Needs at least two pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Baselines:
    """A version's out-of-sample baselines (None: not measurable from its table)."""

    mae: float | None
    reference_ic: float | None
    reference_ic_se: float | None
    n: int


def scored_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows live monitoring scores too: a finite prediction and a realised target."""
    ok = np.isfinite(table["prediction"].to_numpy(float))
    ok &= np.isfinite(table["realised"].to_numpy(float))
    return table.loc[ok]


def baselines(table: pd.DataFrame, horizon: int) -> Baselines:
    """:class:`Baselines` of an out-of-sample table (columns date, pair, prediction,
    realised) at label ``horizon``."""
    from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic, window_ic

    rows = scored_rows(table)
    if rows.empty:
        return Baselines(None, None, None, 0)
    mae = float((rows["prediction"] - rows["realised"]).abs().mean())
    ic = se = None
    if rows["pair"].nunique() >= MIN_PAIRS:
        candles = cross_sectional_ic(rows, time="date")
        w = window_ic(candles["ic"], horizon)
        if np.isfinite(w.ic) and np.isfinite(w.se):
            ic, se = w.ic, w.se
    return Baselines(mae, ic, se, len(rows))


def read_baselines(path: Path, horizon: int) -> Baselines | None:
    """:func:`baselines` of ``predictions.parquet``; None when the file is missing."""
    if not path.is_file():
        return None
    table = pd.read_parquet(path, columns=["date", "pair", "prediction", "realised"])
    return baselines(table, horizon)
