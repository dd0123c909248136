"""Purged walk-forward and combinatorial purged CV: properties over many random settings."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_score

from tradai_strategy.stats import cv_formulas, splitters
from tradai_strategy.stats.splitters import (
    CombinatorialPurgedCV,
    PurgedWalkForwardCV,
    label_end_positions,
    n_cpcv_paths,
)


def _configs(n: int, seed: int = 0) -> list[tuple[int, int, int, int, int]]:
    """Random (n_rows, n_groups, k, purge, embargo) that satisfy the constructor checks."""
    rng = np.random.default_rng(seed)
    out: list[tuple[int, int, int, int, int]] = []
    while len(out) < n:
        groups = int(rng.integers(3, 9))
        k = int(rng.integers(1, groups))
        purge, embargo = int(rng.integers(0, 15)), int(rng.integers(0, 8))
        rows = int(rng.integers(groups * (purge + embargo + 12), 900))
        out.append((rows, groups, k, purge, embargo))
    return out


def _overlaps(i: int, end_i: int, start: int, span_end: int) -> bool:
    return i <= span_end and end_i >= start


def _blocks(test: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous (start, stop) runs of a sorted index array."""
    cuts = np.flatnonzero(np.diff(test) > 1) + 1
    return [(int(b[0]), int(b[-1]) + 1) for b in np.split(test, cuts)]


@pytest.mark.parametrize("rows,groups,k,purge,embargo", _configs(25))
def test_cpcv_properties(rows: int, groups: int, k: int, purge: int, embargo: int) -> None:
    cv = CombinatorialPurgedCV(groups, k, purge=purge, embargo=embargo, min_train_size=1)
    X = np.zeros((rows, 2))
    folds = list(cv.split(X))
    assert len(folds) == cv.get_n_splits() == math.comb(groups, k)
    ends = label_end_positions(rows, purge)
    for train, test in folds:
        assert not np.intersect1d(train, test).size  # no test row in train
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        in_train = np.zeros(rows, dtype=bool)
        in_train[train] = True
        for start, stop in _blocks(test):
            span_end = int(ends[start:stop].max())
            for i in range(rows):
                if start <= i < stop:
                    continue
                if _overlaps(i, int(ends[i]), start, span_end):
                    assert not in_train[i], f"row {i} overlaps test block {start}-{stop - 1}"
            # embargo: the bars right after the purge zone that follows the block
            after = np.arange(span_end + 1, min(span_end + 1 + embargo, rows))
            assert not in_train[after].any()
        # nothing else is removed: every other non-test row trains
        dropped = np.setdiff1d(np.setdiff1d(np.arange(rows), test), train)
        for i in dropped:
            assert any(
                _overlaps(i, int(ends[i]), a, int(ends[a:b].max()))
                or int(ends[a:b].max()) < i <= int(ends[a:b].max()) + embargo
                for a, b in _blocks(test)
            )
    # phi paths, each covering every row exactly once with a split that tests it
    owner = cv.paths(rows)
    assert (
        owner.shape == (n_cpcv_paths(groups, k), rows) == (k * math.comb(groups, k) // groups, rows)
    )
    tests = [set(test.tolist()) for _, test in folds]
    for path in owner:
        assert all(i in tests[s] for i, s in enumerate(path))
    # every split's test rows are used by exactly k/N * ... : each (split, row) pair at most once
    pairs = {(int(s), i) for path in owner for i, s in enumerate(path)}
    assert len(pairs) == owner.size


@pytest.mark.parametrize("rows,groups,k,purge,embargo", _configs(10, seed=1))
def test_embargo_removes_configured_bars(
    rows: int, groups: int, k: int, purge: int, embargo: int
) -> None:
    X = np.zeros((rows, 1))
    with_e = CombinatorialPurgedCV(groups, k, purge=purge, embargo=embargo, min_train_size=1)
    without = CombinatorialPurgedCV(groups, k, purge=purge, embargo=0, min_train_size=1)
    for (tr_e, test), (tr_0, _) in zip(with_e.split(X), without.split(X), strict=True):
        removed = np.setdiff1d(tr_0, tr_e)
        expected = []
        for _start, stop in _blocks(test):
            span_end = min(stop - 1 + purge, rows - 1)
            expected += [i for i in range(span_end + 1, span_end + 1 + embargo) if i < rows]
        assert removed.tolist() == sorted(set(expected) - set(test.tolist()))


@pytest.mark.parametrize("n_splits,purge,train_size", [(6, 21, None), (4, 5, 100), (8, 0, None)])
def test_walkforward_properties(n_splits: int, purge: int, train_size: int | None) -> None:
    rows = 1000
    cv = PurgedWalkForwardCV(n_splits, purge=purge, train_size=train_size, min_train_size=20)
    folds = list(cv.split(np.zeros((rows, 1))))
    assert len(folds) == cv.get_n_splits() == n_splits
    previous_end = -1
    for train, test in folds:
        assert train.max() < test.min()  # strictly before
        assert test.min() - train.max() - 1 == purge  # the label-overlap rows are purged
        assert test.min() == previous_end + 1 or previous_end == -1
        previous_end = int(test.max())
        if train_size:
            assert len(train) == train_size
        else:
            assert train[0] == 0
    assert previous_end == rows - 1


def test_label_end_times_purge_like_bars_and_handle_gaps() -> None:
    t = pd.date_range("2024-01-01", periods=300, freq="h")
    as_times = pd.Series(t + pd.Timedelta(hours=7), index=t)
    by_bars = CombinatorialPurgedCV(5, 2, purge=7, embargo=2, min_train_size=1)
    by_time = CombinatorialPurgedCV(5, 2, purge=99, embargo=2, label_end=as_times, min_train_size=1)
    X = np.zeros((300, 1))
    for (a, _), (b, _) in zip(by_bars.split(X), by_time.split(X), strict=True):
        assert np.array_equal(a, b)
    # a missing candle (hour 100): positions after it are one less than the hours
    gap = t.delete(100)
    ends = label_end_positions(299, 0, pd.Series(gap + pd.Timedelta(hours=7), index=gap))
    assert ends[92] == 99  # ends at hour 99, before the gap
    assert ends[93] == 99  # ends at the missing hour 100: last row at or before it
    assert ends[99] == 105  # hour 99 + 7 = hour 106, row 105


def test_sklearn_protocol() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    y = X @ [1.0, 0.0, -1.0] + rng.normal(size=600)
    for cv in (CombinatorialPurgedCV(6, 2, purge=3, embargo=1), PurgedWalkForwardCV(4, purge=3)):
        scores = cross_val_score(Ridge(), X, y, cv=cv)
        assert len(scores) == cv.get_n_splits() and np.all(scores > 0.3)
    assert "CombinatorialPurgedCV(n_groups=6, k=2" in repr(CombinatorialPurgedCV())


def test_defaults_from_the_seeds() -> None:
    cv = CombinatorialPurgedCV()
    assert (cv.n_groups, cv.k, cv.purge, cv.embargo) == (6, 2, 21, 5)
    assert (cv.get_n_splits(), cv.n_paths) == (15, 5)
    wf = PurgedWalkForwardCV()
    assert (wf.n_splits, wf.purge, wf.embargo) == (6, 21, 5)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: CombinatorialPurgedCV(6, 6), "k=6 test groups must be fewer than n_groups=6"),
        (lambda: CombinatorialPurgedCV(4, 5), "lower k or raise"),
        (lambda: CombinatorialPurgedCV(1, 1), "n_groups must be an integer >= 2"),
        (lambda: CombinatorialPurgedCV(purge=-1), "purge must be an integer >= 0"),
        (lambda: PurgedWalkForwardCV(0), "n_splits must be an integer >= 1"),
    ],
)
def test_bad_constructor_arguments(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_split_inputs() -> None:
    X = np.zeros((120, 1))
    with pytest.raises(ValueError, match=r"purge \(21 bars\) \+ embargo \(5 bars\) = 26 is not"):
        list(CombinatorialPurgedCV(6, 2).split(X))  # groups of 20 rows
    with pytest.raises(ValueError, match="too few rows: 14 rows in 6 groups leave at most 8"):
        list(CombinatorialPurgedCV(6, 2, purge=0, embargo=0).split(np.zeros((14, 1))))
    with pytest.raises(ValueError, match="too many groups: 10 rows cannot be cut into 6 groups"):
        list(CombinatorialPurgedCV(6, 2, purge=0, embargo=0).split(np.zeros((10, 1))))
    # more groups than rows allow: named as such (it used to say "1842 training rows ...
    # fewer than 50")
    with pytest.raises(ValueError, match="too many groups: 1842 rows cannot be cut into 5000"):
        list(CombinatorialPurgedCV(5000, 2, purge=0, embargo=0).split(np.zeros((1842, 1))))
    with pytest.raises(ValueError, match="too few rows: 120 rows cannot hold 6 test blocks"):
        list(PurgedWalkForwardCV(6, purge=2, test_size=18).split(X))
    y = np.arange(120.0)
    y[50] = np.nan
    with pytest.raises(ValueError, match=r"y has 1 NaN label\(s\) \(first at row 50\)"):
        list(CombinatorialPurgedCV(3, 1, purge=2, embargo=1).split(X, y))
    with pytest.raises(ValueError, match="label_end has 5 rows but X has 120"):
        label_end_positions(120, 0, pd.Series(pd.date_range("2024", periods=5, freq="h")))


def test_docstring_examples() -> None:
    for module in (splitters, cv_formulas):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
