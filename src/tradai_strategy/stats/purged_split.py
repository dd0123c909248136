"""Purged train/eval split for one FreqAI training window.

FreqAI hands ``train_test_split(shuffle=False)`` the window's rows in time order, so the
eval part is the last ``test_size`` fraction and the training rows just before it carry
labels that look *into* the eval part (a forward label over ``h`` candles at row ``t``
uses closes ``t+1 .. t+h``). Early stopping on such an eval part is optimistic.

:func:`purged_train_eval_indices` drops the ``purge`` training rows whose label window
overlaps the eval block, and the ``embargo`` rows that follow it (there are only such rows
when the eval block is not the last one, ``eval_position="start"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

EvalPosition = Literal["end", "start"]


@dataclass(frozen=True)
class PurgedSplit:
    """Positional indices into the time-ordered rows of one training window."""

    train: npt.NDArray[np.int64]
    eval: npt.NDArray[np.int64]
    purged: npt.NDArray[np.int64]
    embargoed: npt.NDArray[np.int64]


def purged_train_eval_indices(
    n_rows: int,
    test_size: float,
    purge: int,
    embargo: int = 0,
    eval_position: EvalPosition = "end",
    min_train_rows: int = 10,
) -> PurgedSplit:
    """Split ``n_rows`` time-ordered rows into train and eval parts with purge and embargo.

    Parameters
    ----------
    n_rows:
        Number of rows in the training window (after NaN filtering), in time order.
    test_size:
        Fraction (0 < f < 1) or absolute row count (>= 1) of the eval block, like
        sklearn's ``train_test_split``. ``0`` means no eval block.
    purge:
        Label horizon in rows: training rows within ``purge`` rows *before* the eval block
        are dropped, because their labels overlap it.
    embargo:
        Rows dropped from training right *after* the eval block.
    eval_position:
        ``"end"`` (FreqAI's layout) or ``"start"`` (eval block first, training after it).
    min_train_rows:
        Raise when fewer training rows than this remain.

    Examples
    --------
    >>> s = purged_train_eval_indices(100, 0.2, purge=5)
    >>> int(s.train[-1]), int(s.eval[0]), len(s.purged)
    (74, 80, 5)
    >>> s = purged_train_eval_indices(100, 0.2, purge=5, embargo=3, eval_position="start")
    >>> int(s.eval[-1]), int(s.train[0]), len(s.embargoed)
    (19, 23, 3)
    """
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    if purge < 0 or embargo < 0:
        raise ValueError(f"purge and embargo must be >= 0, got purge={purge}, embargo={embargo}")
    if test_size < 0:
        raise ValueError(f"data_split_parameters.test_size must be >= 0, got {test_size}")
    n_eval = int(np.ceil(test_size * n_rows)) if test_size < 1 else int(test_size)
    idx = np.arange(n_rows, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    if n_eval == 0:
        return PurgedSplit(train=idx, eval=empty, purged=empty, embargoed=empty)
    if eval_position == "end":
        eval_start = n_rows - n_eval
        eval_idx = idx[eval_start:]
        purged = idx[max(0, eval_start - purge) : eval_start]
        embargoed = empty
        train = idx[: max(0, eval_start - purge)]
    elif eval_position == "start":
        eval_idx = idx[:n_eval]
        # rows after the eval block whose label windows start inside it are fine (labels look
        # forward); the embargo guards against serial correlation of features with eval labels
        embargoed = idx[n_eval : n_eval + embargo]
        purged = empty
        train = idx[n_eval + embargo :]
    else:
        raise ValueError(f"eval_position must be 'end' or 'start', got {eval_position!r}")
    if len(train) < min_train_rows:
        raise ValueError(
            f"only {len(train)} training rows remain out of {n_rows} after an eval block of "
            f"{n_eval}, purge {purge} and embargo {embargo}: increase freqai.train_period_days "
            "or reduce data_split_parameters.test_size / label_period_candles"
        )
    return PurgedSplit(train=train, eval=eval_idx, purged=purged, embargoed=embargoed)


def label_windows_overlap(
    train_rows: npt.ArrayLike, eval_rows: npt.ArrayLike, horizon: int
) -> bool:
    """True when some training row's forward label window ``(t, t+horizon]`` meets an eval row."""
    train = np.asarray(train_rows)
    ev = np.asarray(eval_rows)
    if len(train) == 0 or len(ev) == 0:
        return False
    ev_sorted = np.sort(ev)
    # first eval row strictly after each train row
    pos = np.searchsorted(ev_sorted, train, side="right")
    has_next = pos < len(ev_sorted)
    nxt = ev_sorted[np.minimum(pos, len(ev_sorted) - 1)]
    return bool(np.any(has_next & (nxt <= train + horizon)))
