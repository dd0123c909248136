"""Validation statistics against independent oracles (scipy, sklearn, pandas) and the papers."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score

from tradai_strategy.stats import metrics, overfitting
from tradai_strategy.stats.metrics import (
    accuracy,
    auc,
    check_metric_names,
    get_metric,
    hit_rate,
    ic_decay,
    ic_summary,
    information_coefficient,
    ks_statistic,
    rank_ic,
    sharpe_ratio,
    sign_strategy_returns,
    sortino_ratio,
)
from tradai_strategy.stats.overfitting import (
    Evidence,
    Thresholds,
    assess,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
    sharpe_moments,
)
from tradai_strategy.validation import runner

RNG = np.random.default_rng(2024)


def _sample(n: int = 500, rho: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.standard_t(5, n)
    y = rho * x + RNG.standard_t(4, n)
    return x, y


def test_ic_and_rank_ic_match_scipy() -> None:
    for _ in range(5):
        x, y = _sample()
        x[:3] = x[3]  # ties
        assert information_coefficient(x, y) == pytest.approx(stats.pearsonr(x, y).statistic)
        assert rank_ic(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    x, y = _sample(50)
    x[5], y[9] = np.nan, np.inf  # non-finite rows are left out
    ok = np.isfinite(x) & np.isfinite(y)
    assert rank_ic(x, y) == pytest.approx(stats.spearmanr(x[ok], y[ok]).statistic)


def test_icir_and_tstat_match_scipy_ttest() -> None:
    ics = RNG.normal(0.03, 0.05, 40)
    s = ic_summary(ics)
    assert s.icir == pytest.approx(ics.mean() / ics.std(ddof=1))
    assert s.tstat == pytest.approx(stats.ttest_1samp(ics, 0.0).statistic)


def test_hit_rate_accuracy_auc_match_sklearn() -> None:
    x, y = _sample(400)
    assert hit_rate(x, y) == pytest.approx(accuracy_score(np.sign(y), np.sign(x)))
    labels = np.where(y > 0, "up", "down")
    guesses = np.where(x > 0, "up", "down")
    assert accuracy(labels, guesses) == pytest.approx(accuracy_score(labels, guesses))
    x[:20] = 0.0  # tied scores
    assert auc(y > 0, x) == pytest.approx(roc_auc_score(y > 0, x))
    assert get_metric("auc")(x, y) == pytest.approx(roc_auc_score(y > 0, x))


def test_ks_matches_scipy() -> None:
    for n_a, n_b, shift in ((200, 300, 0.0), (50, 80, 0.5), (1000, 40, 1.0)):
        a, b = RNG.normal(0, 1, n_a), RNG.normal(shift, 1.3, n_b)
        assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic)
    ints_a, ints_b = RNG.integers(0, 5, 100), RNG.integers(1, 6, 70)  # heavy ties
    assert ks_statistic(ints_a, ints_b) == pytest.approx(stats.ks_2samp(ints_a, ints_b).statistic)


def test_sign_strategy_sharpe_sortino_against_pandas() -> None:
    pred, fwd = RNG.normal(size=300), RNG.normal(0.001, 0.02, 300)
    r = sign_strategy_returns(pred, fwd, cost=0.0005)
    pos = pd.Series(np.sign(pred))
    turnover = pos.diff().abs().fillna(pos.abs())
    net = pos * fwd - 0.0005 * turnover
    assert np.allclose(r.net, net) and np.allclose(r.turnover, turnover)
    assert r.turnover_adjusted_return == pytest.approx(
        (pos * fwd).mean() - 0.0005 * turnover.mean()
    )
    assert sharpe_ratio(r.net, 252) == pytest.approx(net.mean() / net.std() * math.sqrt(252))
    downside = math.sqrt((net.clip(upper=0) ** 2).mean())
    assert sortino_ratio(r.net) == pytest.approx(net.mean() / downside)
    long_only = sign_strategy_returns(pred, fwd, long_only=True)
    assert np.all(long_only.gross[pred < 0] == 0)


def test_ic_decay_uses_non_overlapping_rows_per_horizon() -> None:
    close = np.exp(np.cumsum(RNG.normal(0, 0.01, 2000)))
    future = np.roll(close, -3) / close - 1  # a prediction that knows 3 bars ahead
    decay = ic_decay(future, close, [1, 3, 12])
    assert decay[3].ic > decay[12].ic > 0.3 and decay[3].n == 2000 // 3


def test_unknown_metric_is_named() -> None:
    with pytest.raises(ValueError, match="unknown metric 'sharp': use one of rank_ic, ic"):
        check_metric_names(["rank_ic", "sharp"])
    with pytest.raises(ValueError, match="unknown metric 'x'"):
        get_metric("x")


def test_psr_published_example() -> None:
    # Bailey & López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal of Risk
    # 15(2), worked PSR example: 24 monthly returns, annualised SR 1.585 (monthly 1.585/sqrt(12)),
    # skewness -2.448, kurtosis 10.164 -> PSR(0) = 0.9132.
    psr = probabilistic_sharpe_ratio(1.585 / math.sqrt(12), 24, 0.0, -2.448, 10.164)
    assert psr == pytest.approx(0.9132, abs=5e-4)


def test_dsr_published_example() -> None:
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", Journal of Portfolio
    # Management 40(5), numerical example: N = 100 trials, variance of the trials' annualised
    # SR 1/2, T = 1250 daily returns (250 a year), best annualised SR 2.5, skewness -3,
    # kurtosis 10 -> expected maximum SR0 = 0.1132 (daily) and DSR = 0.9004.
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), 1250, 100, 0.5 / 250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_psr_normal_returns_reduce_to_the_sharpe_t_test() -> None:
    # skew 0, kurtosis 3: z = SR sqrt(T-1) / sqrt(1 + SR^2/2)
    sr, t = 0.08, 500
    z = sr * math.sqrt(t - 1) / math.sqrt(1 + sr * sr / 2)
    assert probabilistic_sharpe_ratio(sr, t) == pytest.approx(stats.norm.cdf(z))
    assert deflated_sharpe_ratio(sr, t, 1, 0.01) == pytest.approx(stats.norm.cdf(z))
    assert deflated_sharpe_ratio(sr, t, 50, 0.01) < probabilistic_sharpe_ratio(sr, t)
    r = RNG.normal(0.05, 1.0, 300)
    m_sr, skew, kurt, n = sharpe_moments(r)
    assert (skew, kurt, n) == pytest.approx((stats.skew(r), stats.kurtosis(r) + 3, 300))
    assert m_sr == pytest.approx(r.mean() / r.std(ddof=1))


def test_pbo_noise_is_about_one_half() -> None:
    values = [pbo_cscv(np.random.default_rng(s).normal(0, 1, (1000, 30)), 10).pbo for s in range(6)]
    assert 0.35 < float(np.mean(values)) < 0.65


def test_pbo_dominant_trial_is_about_zero() -> None:
    m = np.random.default_rng(7).normal(0, 1, (1000, 30))
    m[:, 11] += 0.4
    result = pbo_cscv(m, 16)
    assert result.pbo < 0.02 and result.n_combinations == math.comb(16, 8)


def test_pbo_bad_inputs() -> None:
    with pytest.raises(ValueError, match="n_slices must be an even number"):
        pbo_cscv(np.zeros((100, 3)), 5)
    with pytest.raises(ValueError, match=">= 2 trials"):
        pbo_cscv(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="too few rows"):
        pbo_cscv(np.zeros((20, 3)), 16)
    bad = np.zeros((100, 3))
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pbo_cscv(bad)


def _evidence(**kw: object) -> Evidence:
    base: dict[str, object] = {
        "ic": 0.08,
        "ic_se": 0.02,
        "train_sharpe": 0.3,
        "val_sharpe": 0.15,
        "n_periods": 700,
    }
    base.update(kw)
    return Evidence(**base)  # type: ignore[arg-type]


def test_verdict_passes_and_each_check_fails_on_its_own() -> None:
    ok = assess(_evidence())
    assert ok.passed and not ok.reasons
    assert ok.to_dict()["metrics"]["dsr"] > 0.99
    cases = {
        "IC too weak": _evidence(ic=0.02, ic_se=0.005),
        "IC not significant": _evidence(ic=0.05, ic_se=0.04),
        "overfit: train Sharpe": _evidence(train_sharpe=0.9),
        "unstable": _evidence(seed_ics=[0.02, 0.08, 0.12, 0.06]),
        "Sharpe not significant": _evidence(val_sharpe=0.03),
        "overfit selection: PBO": _evidence(
            config_trial_returns=np.random.default_rng(3).normal(0, 1, (400, 8))
        ),
    }
    for prefix, ev in cases.items():
        verdict = assess(ev, Thresholds(max_pbo=0.3))
        assert not verdict.passed
        assert [r for r in verdict.reasons if r.startswith(prefix)], (prefix, verdict.reasons)


def test_more_trials_deflate_more() -> None:
    one = assess(_evidence(val_sharpe=0.09)).metrics["dsr"]
    many = assess(_evidence(val_sharpe=0.09, n_trials=200)).metrics["dsr"]
    assert many < one and not assess(_evidence(val_sharpe=0.09, n_trials=200)).passed


def test_docstring_examples() -> None:
    for module in (metrics, overfitting, runner):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
