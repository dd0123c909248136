"""Purged walk-forward and combinatorial purged cross-validation (López de Prado, AFML ch. 7, 12).

Both splitters follow scikit-learn's splitter protocol (``split(X, y=None, groups=None)``
yielding ``(train, test)`` positional index arrays, and ``get_n_splits``) so they plug into
``cross_val_score`` and friends. Rows must be in time order.

Label windows
-------------
Row ``i`` carries a forward label that uses prices up to its *label end*. By default the
label end is ``i + purge`` rows (a forward label over ``purge`` candles); pass ``label_end``
to give it explicitly, as row positions or as a :class:`pandas.Series` indexed by the sample
times whose values are the label-end times (AFML's ``t1``).

* **Purge**: a training row is dropped when its label interval ``[i, end_i]`` overlaps the
  interval spanned by a test block and its labels, ``[first test row, max end of test
  labels]``. That removes the rows just *before* the block (their labels look into it) and
  the rows just *after* it (their labels run concurrently with the block's labels).
* **Embargo**: the ``embargo`` rows following that purge zone are dropped as well; features
  built from recent returns still carry information about the test labels there.

The walk-forward splitter only trains on rows before each test block, so its embargo never
removes anything; it is accepted for symmetry with :class:`CombinatorialPurgedCV`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.stats.cv_formulas import (
    IntArray,
    cpcv_path_splits,
    cpcv_test_groups,
    group_bounds,
    label_end_positions,
    merge_adjacent,
    n_cpcv_paths,
    n_cpcv_splits,
    purged_train,
)

__all__ = [
    "DEFAULT_EMBARGO",
    "DEFAULT_N_GROUPS",
    "DEFAULT_PURGE",
    "CombinatorialPurgedCV",
    "PurgedWalkForwardCV",
    "cpcv_path_splits",
    "cpcv_test_groups",
    "group_bounds",
    "label_end_positions",
    "n_cpcv_paths",
    "n_cpcv_splits",
    "purged_train",
]

#: Defaults from the project seeds.
DEFAULT_PURGE = 21
DEFAULT_EMBARGO = 5
DEFAULT_N_GROUPS = 6


def _check_int(name: str, value: Any, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}: {hint}")
    return int(value)


def _check_y(y: Any, n_samples: int) -> None:
    if y is None:
        return
    arr = np.asarray(y)
    if arr.shape[0] != n_samples:
        raise ValueError(f"y has {arr.shape[0]} rows but X has {n_samples}")
    missing = pd.isna(pd.DataFrame(arr.reshape(n_samples, -1))).any(axis=1).to_numpy()
    if missing.any():
        first = int(np.argmax(missing))
        raise ValueError(
            f"y has {int(missing.sum())} NaN label(s) (first at row {first}): drop rows without "
            "a label before splitting (the last label-horizon rows of a series have no future)"
        )


class _PurgedSplitter:
    """Shared purge/embargo settings and input checks."""

    def __init__(self, purge: int, embargo: int, label_end: Any) -> None:
        self.purge = _check_int("purge", purge, 0, "use the label horizon in bars, e.g. 21")
        self.embargo = _check_int("embargo", embargo, 0, "use a few bars, e.g. 5")
        self.label_end = label_end

    def _ends(self, n_samples: int) -> IntArray:
        return label_end_positions(n_samples, self.purge, self.label_end)

    def _horizon(self, ends: IntArray) -> int:
        return int((ends - np.arange(len(ends))).max()) if len(ends) else 0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError


class PurgedWalkForwardCV(_PurgedSplitter):
    """Walk-forward splits: train strictly before each test block, purged by label end.

    Parameters
    ----------
    n_splits : int, default 6
        Number of consecutive test blocks; they cover the last ``n_splits * test_size`` rows.
    train_size : int or None, default None
        ``None``: expanding window from the first row; an integer: rolling window of at most
        this many rows before the purge zone.
    test_size : int or None, default None
        Rows per test block; ``None``: ``n_samples // (n_splits + 1)``.
    purge : int, default 21
        Label horizon in rows (ignored when ``label_end`` is given).
    embargo : int, default 5
        Kept for symmetry with :class:`CombinatorialPurgedCV`; no training row follows a test
        block here, so nothing is embargoed.
    label_end : array-like or pandas.Series, optional
        Explicit label ends (see the module docstring).
    min_train_size : int, default 50
        Fail when a split would train on fewer rows.

    Examples
    --------
    >>> cv = PurgedWalkForwardCV(n_splits=2, test_size=10, purge=3, min_train_size=5)
    >>> [(int(tr[-1]), int(te[0]), int(te[-1])) for tr, te in cv.split(np.zeros((40, 1)))]
    [(16, 20, 29), (26, 30, 39)]
    """

    def __init__(
        self,
        n_splits: int = DEFAULT_N_GROUPS,
        *,
        train_size: int | None = None,
        test_size: int | None = None,
        purge: int = DEFAULT_PURGE,
        embargo: int = DEFAULT_EMBARGO,
        label_end: Any = None,
        min_train_size: int = 50,
    ) -> None:
        super().__init__(purge, embargo, label_end)
        self.n_splits = _check_int("n_splits", n_splits, 1, "use at least 1 (6 by default)")
        self.train_size = (
            None
            if train_size is None
            else _check_int("train_size", train_size, 1, "or None for an expanding window")
        )
        self.test_size = (
            None
            if test_size is None
            else _check_int("test_size", test_size, 1, "or None for n_samples // (n_splits+1)")
        )
        self.min_train_size = _check_int("min_train_size", min_train_size, 1, "e.g. 50")

    def _params(self) -> dict[str, Any]:
        return {
            "n_splits": self.n_splits,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "purge": self.purge,
            "embargo": self.embargo,
        }

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits (``n_splits``)."""
        return self.n_splits

    def test_blocks(self, n_samples: int) -> list[tuple[int, int]]:
        """Half-open ``(start, stop)`` row ranges of the test blocks."""
        size = self.test_size or n_samples // (self.n_splits + 1)
        first = n_samples - self.n_splits * size
        if size < 1 or first < self.min_train_size:
            raise ValueError(
                f"too few rows: {n_samples} rows cannot hold {self.n_splits} test blocks of "
                f"{max(size, 1)} rows after at least {self.min_train_size} training rows; "
                "use more data, fewer splits or a smaller test_size"
            )
        return [(first + i * size, first + (i + 1) * size) for i in range(self.n_splits)]

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` row positions, oldest test block first."""
        n = len(X)
        _check_y(y, n)
        ends = self._ends(n)
        rows = np.arange(n, dtype=np.int64)
        for start, stop in self.test_blocks(n):
            train = purged_train(rows[:start], [(start, stop)], ends, self.embargo)
            if self.train_size is not None:
                train = train[-self.train_size :]
            if len(train) < self.min_train_size:
                raise ValueError(
                    f"too few rows: the split testing rows {start}-{stop - 1} keeps only "
                    f"{len(train)} training rows after purging {self._horizon(ends)} bars "
                    f"(min_train_size={self.min_train_size}); use more data or fewer splits"
                )
            yield train, rows[start:stop]


class CombinatorialPurgedCV(_PurgedSplitter):
    """Combinatorial purged CV: ``N`` groups, every choice of ``k`` test groups is a split.

    ``C(N, k)`` splits; their test sets recombine into ``phi = k/N * C(N, k)`` backtest paths
    (:meth:`paths`), each covering every row exactly once.

    Parameters
    ----------
    n_groups : int, default 6
        Number of contiguous groups ``N`` (>= 2).
    k : int, default 2
        Test groups per split (``1 <= k < N``).
    purge, embargo, label_end
        See the module docstring. ``purge + embargo`` must be smaller than a group.
    min_train_size : int, default 50
        Fail when a split would train on fewer rows.

    Examples
    --------
    >>> cv = CombinatorialPurgedCV(n_groups=4, k=2, purge=2, embargo=1, min_train_size=5)
    >>> cv.get_n_splits(), cv.n_paths
    (6, 3)
    >>> train, test = next(cv.split(np.zeros((40, 1))))
    >>> test[[0, -1]].tolist(), train[:3].tolist()
    ([0, 19], [23, 24, 25])
    """

    def __init__(
        self,
        n_groups: int = DEFAULT_N_GROUPS,
        k: int = 2,
        *,
        purge: int = DEFAULT_PURGE,
        embargo: int = DEFAULT_EMBARGO,
        label_end: Any = None,
        min_train_size: int = 50,
    ) -> None:
        super().__init__(purge, embargo, label_end)
        self.n_groups = _check_int("n_groups", n_groups, 2, "use at least 2 groups (6 default)")
        self.k = _check_int("k", k, 1, "use 1 <= k < n_groups (2 by default)")
        if self.k >= self.n_groups:
            raise ValueError(
                f"k={k} test groups must be fewer than n_groups={n_groups}: lower k or raise "
                "n_groups (training needs at least one group)"
            )
        self.min_train_size = _check_int("min_train_size", min_train_size, 1, "e.g. 50")

    def _params(self) -> dict[str, Any]:
        return {
            "n_groups": self.n_groups,
            "k": self.k,
            "purge": self.purge,
            "embargo": self.embargo,
        }

    @property
    def n_paths(self) -> int:
        """Number of backtest paths ``phi``."""
        return n_cpcv_paths(self.n_groups, self.k)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of splits ``C(N, k)``."""
        return n_cpcv_splits(self.n_groups, self.k)

    def group_bounds(self, n_samples: int) -> IntArray:
        """Group start offsets plus the end (see :func:`group_bounds`), after input checks."""
        if n_samples < 2 * self.n_groups:
            raise ValueError(
                f"too many groups: {n_samples} rows cannot be cut into {self.n_groups} groups of "
                f"at least 2 rows; use at most {n_samples // 2} groups (--n-groups, 6 by "
                "default) or more data"
            )
        bounds = group_bounds(n_samples, self.n_groups)
        largest_test = int(np.sort(np.diff(bounds))[-self.k :].sum())
        if n_samples - largest_test < self.min_train_size:
            raise ValueError(
                f"too few rows: {n_samples} rows in {self.n_groups} groups leave at most "
                f"{max(n_samples - largest_test, 0)} training rows per split, fewer than "
                f"min_train_size={self.min_train_size}; use more data or fewer groups"
            )
        return bounds

    def _check_gap(self, bounds: IntArray, ends: IntArray) -> None:
        smallest = int(np.diff(bounds).min())
        gap = self._horizon(ends) + self.embargo
        if gap >= smallest:
            raise ValueError(
                f"purge ({self._horizon(ends)} bars) + embargo ({self.embargo} bars) = {gap} is "
                f"not smaller than a group ({smallest} rows): the rows between two test groups "
                "would all be dropped; use fewer groups (--n-groups), more data or a smaller "
                "purge/embargo"
            )

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[IntArray, IntArray]]:
        """Yield ``(train, test)`` row positions for each split (see :func:`cpcv_test_groups`)."""
        n = len(X)
        _check_y(y, n)
        bounds = self.group_bounds(n)
        ends = self._ends(n)
        self._check_gap(bounds, ends)
        rows = np.arange(n, dtype=np.int64)
        for test_groups in cpcv_test_groups(self.n_groups, self.k):
            blocks = merge_adjacent([(int(bounds[g]), int(bounds[g + 1])) for g in test_groups])
            in_test = np.zeros(n, dtype=bool)
            for start, stop in blocks:
                in_test[start:stop] = True
            train = purged_train(rows[~in_test], blocks, ends, self.embargo)
            if len(train) < self.min_train_size:
                raise ValueError(
                    f"too few rows: split with test groups {test_groups} keeps {len(train)} "
                    f"training rows (min_train_size={self.min_train_size}); use more data"
                )
            yield train, rows[in_test]

    def paths(self, n_samples: int) -> IntArray:
        """Split index of every (path, row): shape ``(phi, n_samples)``.

        Row ``i`` of path ``p`` is predicted by split ``paths(n)[p, i]``, whose test set
        contains row ``i``.
        """
        bounds = self.group_bounds(n_samples)
        per_group = cpcv_path_splits(self.n_groups, self.k)
        return np.repeat(per_group, np.diff(bounds), axis=1)
