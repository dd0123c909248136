"""Backtest paths of a purged CV: every row's out-of-sample prediction on each path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tradai_strategy.stats.splitters import CombinatorialPurgedCV, PurgedWalkForwardCV

Splits = Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]


def path_predictions(
    cv: PurgedWalkForwardCV | CombinatorialPurgedCV,
    n_rows: int,
    splits: Splits,
    per_split: dict[int, npt.NDArray[Any]],
    dtype: Any = float,
) -> list[npt.NDArray[Any]]:
    """Out-of-sample prediction of every row on every backtest path (NaN: not tested)."""
    full = np.full((len(splits), n_rows), np.nan if dtype is float else None, dtype=dtype)
    for j, (_, test) in enumerate(splits):
        full[j, test] = per_split[j]
    if isinstance(cv, CombinatorialPurgedCV):
        owner = cv.paths(n_rows)
        return [full[owner[p], np.arange(n_rows)] for p in range(len(owner))]
    covered = np.full(n_rows, np.nan if dtype is float else None, dtype=dtype)
    for j, (_, test) in enumerate(splits):
        covered[test] = per_split[j]
    return [covered]
