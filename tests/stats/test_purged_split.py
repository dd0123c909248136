"""The purged split leaves no training label window overlapping the eval part."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tradai_strategy.stats.purged_split import (
    label_windows_overlap,
    purged_train_eval_indices,
)


@pytest.mark.parametrize(
    ("n", "test_size", "h", "embargo", "pos"),
    list(
        itertools.product([200, 721, 1440], [0.1, 0.25, 50], [1, 12, 24], [0, 5], ["end", "start"])
    ),
)
def test_no_training_label_reaches_eval(n, test_size, h, embargo, pos):
    s = purged_train_eval_indices(n, test_size, purge=h, embargo=embargo, eval_position=pos)
    assert not label_windows_overlap(s.train, s.eval, h)
    assert not np.intersect1d(s.train, s.eval).size
    # nothing is dropped beyond purge + embargo: the split is as tight as it can be
    assert len(s.train) + len(s.eval) + len(s.purged) + len(s.embargoed) == n
    if pos == "end":
        assert len(s.purged) == min(h, s.eval[0])
        # one row less purge would overlap
        loose = np.append(s.train, s.purged[:1])
        assert label_windows_overlap(loose, s.eval, h)
    else:
        assert s.train[0] == s.eval[-1] + 1 + embargo
        assert len(s.embargoed) == embargo


def test_overlap_detector_is_not_vacuous():
    train = np.arange(0, 90)
    ev = np.arange(90, 100)
    assert label_windows_overlap(train, ev, 1)
    assert not label_windows_overlap(np.arange(0, 78), ev, 12)
    assert label_windows_overlap(np.arange(0, 79), ev, 12)


def test_no_eval_block():
    s = purged_train_eval_indices(100, 0.0, purge=12)
    assert len(s.train) == 100 and len(s.eval) == 0


def test_too_short_window_is_a_clear_error():
    with pytest.raises(ValueError, match="train_period_days"):
        purged_train_eval_indices(40, 0.5, purge=12, min_train_rows=10)
