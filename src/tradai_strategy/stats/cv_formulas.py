"""Pure formulas behind the purged splitters (:mod:`tradai_strategy.stats.splitters`).

CPCV counting (López de Prado, AFML ch. 12): ``N`` groups, ``k`` test groups, ``C(N, k)``
splits and ``phi = k / N * C(N, k)`` backtest paths; group boundaries; label-end positions;
purge and embargo of training rows around test blocks.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pandas as pd

IntArray = npt.NDArray[np.int64]


def n_cpcv_splits(n_groups: int, k: int) -> int:
    """Number of train/test splits of CPCV: ``C(N, k)``.

    Examples
    --------
    >>> n_cpcv_splits(6, 2)
    15
    """
    return math.comb(n_groups, k)


def n_cpcv_paths(n_groups: int, k: int) -> int:
    """Number of backtest paths of CPCV: ``phi = k / N * C(N, k) = C(N - 1, k - 1)``.

    Each group is tested in ``C(N - 1, k - 1)`` splits; each path takes one of them per group.

    Examples
    --------
    >>> n_cpcv_paths(6, 2)
    5
    >>> n_cpcv_paths(10, 3) == 3 * n_cpcv_splits(10, 3) // 10
    True
    """
    return math.comb(n_groups - 1, k - 1)


def cpcv_test_groups(n_groups: int, k: int) -> list[tuple[int, ...]]:
    """Test groups of each CPCV split, in ``itertools.combinations`` order.

    Examples
    --------
    >>> cpcv_test_groups(4, 2)[:3]
    [(0, 1), (0, 2), (0, 3)]
    """
    return list(itertools.combinations(range(n_groups), k))


def cpcv_path_splits(n_groups: int, k: int) -> IntArray:
    """Split index feeding each (path, group): array of shape ``(phi, N)``.

    Path ``p`` takes group ``g``'s out-of-sample predictions from the ``p``-th split (in
    split order) whose test set contains ``g``, so every path covers every group exactly once.

    Examples
    --------
    >>> cpcv_path_splits(3, 2).tolist()
    [[0, 0, 1], [1, 2, 2]]
    """
    out = np.empty((n_cpcv_paths(n_groups, k), n_groups), dtype=np.int64)
    seen = np.zeros(n_groups, dtype=np.int64)
    for split, groups in enumerate(cpcv_test_groups(n_groups, k)):
        for g in groups:
            out[seen[g], g] = split
            seen[g] += 1
    return out


def group_bounds(n_samples: int, n_groups: int) -> IntArray:
    """Start offsets of ``n_groups`` contiguous groups, plus ``n_samples`` at the end.

    Group sizes differ by at most one row (like :func:`numpy.array_split`).

    Examples
    --------
    >>> group_bounds(10, 3).tolist()
    [0, 4, 7, 10]
    """
    sizes = np.full(n_groups, n_samples // n_groups, dtype=np.int64)
    sizes[: n_samples % n_groups] += 1
    return np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def label_end_positions(
    n_samples: int, purge: int, label_end: npt.ArrayLike | pd.Series | None = None
) -> IntArray:
    """Last row position each row's label depends on (clipped to the data).

    ``label_end=None``: ``i + purge``. A :class:`pandas.Series` indexed by sample times maps
    each end time to the last row at or before it; other array-likes are row positions.

    Examples
    --------
    >>> label_end_positions(5, 2).tolist()
    [2, 3, 4, 4, 4]
    >>> t = pd.date_range("2024-01-01", periods=4, freq="h")
    >>> label_end_positions(4, 0, pd.Series(t + pd.Timedelta("90min"), index=t)).tolist()
    [1, 2, 3, 3]
    """
    if label_end is None:
        return np.minimum(np.arange(n_samples, dtype=np.int64) + purge, n_samples - 1)
    if isinstance(label_end, pd.Series) and not pd.api.types.is_integer_dtype(label_end.dtype):
        index = label_end.index
        if len(index) != n_samples:
            raise ValueError(
                f"label_end has {len(index)} rows but X has {n_samples}: give one label end "
                "per row of X, indexed by the row's time"
            )
        if not index.is_monotonic_increasing:
            raise ValueError("label_end's index (sample times) must be sorted in time order")
        if label_end.isna().any():
            raise ValueError("label_end has missing end times: drop rows without a label first")
        pos = index.searchsorted(label_end.array, side="right") - 1
    else:
        pos = np.asarray(label_end, dtype=np.int64)
        if pos.shape != (n_samples,):
            raise ValueError(
                f"label_end has shape {pos.shape} but X has {n_samples} rows: give one label "
                "end position per row"
            )
    pos = np.minimum(pos, n_samples - 1).astype(np.int64)
    if np.any(pos < np.arange(n_samples)):
        raise ValueError("label_end: a label cannot end before its own row")
    return pos


def purged_train(
    candidates: IntArray, test_blocks: list[tuple[int, int]], ends: IntArray, embargo: int
) -> IntArray:
    """Training rows among ``candidates`` left after purge and embargo around test blocks.

    ``test_blocks`` are ``(start, stop)`` half-open row ranges; ``ends`` the label-end
    positions of all rows (:func:`label_end_positions`).

    Examples
    --------
    >>> rows = np.arange(20)
    >>> purged_train(rows[rows >= 10], [(0, 10)], label_end_positions(20, 2), 3).tolist()
    [15, 16, 17, 18, 19]
    """
    keep = np.ones(len(candidates), dtype=bool)
    for start, stop in test_blocks:
        span_end = int(ends[start:stop].max())  # the block's labels reach this row
        overlaps = (candidates <= span_end) & (ends[candidates] >= start)
        embargoed = (candidates > span_end) & (candidates <= span_end + embargo)
        keep &= ~(overlaps | embargoed)
    return candidates[keep]


def merge_adjacent(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent test groups form one block (no purge between them)."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(blocks):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged
