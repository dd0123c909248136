"""IC helpers against scipy and planted truths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tradai_strategy.stats.ic import non_overlapping_ic, spearman_ic


def test_spearman_matches_scipy_and_ignores_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=500)
    y = 0.3 * x + rng.normal(size=500)
    x[::17] = np.nan
    ok = np.isfinite(x)
    r = spearman_ic(x, y)
    assert r.ic == pytest.approx(stats.spearmanr(x[ok], y[ok]).statistic)
    assert r.n == ok.sum()
    assert r.se == pytest.approx(1 / np.sqrt(ok.sum()))


def test_degenerate_inputs_give_nan():
    assert np.isnan(spearman_ic([1, 1, 1, 1], [1, 2, 3, 4]).ic)
    assert np.isnan(spearman_ic([1, 2], [1, 2]).ic)


def test_random_walk_overlapping_labels_bias_and_the_honest_fix():
    """A price-level 'feature' looks predictive within short windows of a random walk;
    pooled non-overlapping IC is honest (planted truth: IC = 0)."""
    rng = np.random.default_rng(3)
    h, n = 24, 40_000
    price = np.cumsum(rng.normal(size=n + h))
    fwd = np.array([price[i + 1 : i + 1 + h].mean() - price[i] for i in range(n)])
    feature = -price[:n]  # mean-reversion belief on a level: meaningless on a random walk
    window_ics = [spearman_ic(feature[i : i + 240], fwd[i : i + 240]).ic for i in range(0, n, 240)]
    honest = non_overlapping_ic(feature, fwd, h)
    assert abs(honest.ic) < 2.5 * honest.se
    # the per-window figure is much noisier and its spread is far wider than 1/sqrt(n) says
    assert np.std(window_ics) > 2 / np.sqrt(240)


def test_planted_signal_is_found():
    rng = np.random.default_rng(5)
    n, h = 20_000, 4
    signal = rng.normal(size=n)
    fwd = 0.2 * signal + rng.normal(size=n)
    r = non_overlapping_ic(signal, fwd, h)
    assert r.ic > 5 * r.se
    assert r.n == n // h
