"""The paired test of two per-candle cross-sectional IC series on planted truths.

* no skill either side: two zero-skill predictors of opposite style (mean reversion and
  momentum) on pure random walks, 4 pairs, 60 days of 1h candles, 12-candle overlapping
  labels; the paired test keeps its size (p > 0.05 in >= 90 % of the seeds), while the same
  test with an s.e. that ignores the overlap (horizon 1) rejects in far more;
* a planted signal: the oracle feature of the planted mean-reversion process against a
  zero-skill predictor is found in (nearly) every seed;
* the numbers: the s.e. against an explicit double loop of the Hansen-Hodrick / Newey-West
  formula (:func:`tradai_strategy.stats.live_ic.overlap_se`), the difference against a hand
  mean, the p-value against Student's t with n/h - 1 df; the edge cases and bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.errors import MonitoringError, TradAIError
from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.data.synthetic_signal import oracle_feature, simulate_log_returns
from tradai_strategy.stats.compare import PairedTest, PairedTestError, paired_ic_test, recommend
from tradai_strategy.stats.live_ic import cross_sectional_ic

H = 12  # label_period_candles of configs/train.json
N = 24 * 60  # 60 days of 1h candles
PAIRS = ("AAA/USDT", "BBB/USDT", "CCC/USDT", "DDD/USDT")
TIMES = pd.date_range("2024-01-01", periods=N, freq="h", tz="UTC")
NULL_SEEDS = range(60)
PLANTED_SEEDS = range(1000, 1040)


def sma(x: np.ndarray, window: int) -> np.ndarray:
    csum = np.concatenate(([0.0], np.cumsum(x)))
    out = np.full(x.shape, np.nan)
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def market(seed: int, planted: bool) -> pd.DataFrame:
    """Per pair: the candles' predictors and the realised forward mean return over H."""
    rng = np.random.default_rng(seed)
    parts = []
    for pair in PAIRS:
        r, _ = simulate_log_returns(rng, N, 0.008, planted, 0.05 if planted else 0.0)
        logc = np.cumsum(r)
        close = np.exp(logc)
        momentum = np.full(N, np.nan)
        momentum[24:] = logc[24:] - logc[:-24]
        parts.append(
            pd.DataFrame(
                {
                    "time": TIMES,
                    "pair": pair,
                    "reversion": -(logc - sma(logc, 20)),
                    "momentum": momentum,
                    "oracle": oracle_feature(close),
                    "noise": rng.normal(size=N),
                    "realised": forward_mean_return(close, H),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def paired(frame: pd.DataFrame, new: str, old: str, horizon: int = H) -> PairedTest:
    ic_new = cross_sectional_ic(frame, pred=new)["ic"]
    ic_old = cross_sectional_ic(frame, pred=old)["ic"]
    return paired_ic_test(ic_new, ic_old, horizon)


# ---- planted truths ----------------------------------------------------------------------
def test_zero_skill_styles_on_random_walks_keep_the_size() -> None:
    kept, naive = [], []
    for seed in NULL_SEEDS:
        frame = market(seed, planted=False)
        kept.append(paired(frame, "reversion", "momentum").p_value > 0.05)
        naive.append(paired(frame, "reversion", "momentum", horizon=1).p_value < 0.05)
    assert np.mean(kept) >= 0.90, f"p > 0.05 in only {np.mean(kept):.0%} of the seeds"
    # the same data with an s.e. blind to the overlap: the check above can fail
    assert np.mean(naive) > 0.25, f"horizon 1 rejected in only {np.mean(naive):.0%}"


def test_oracle_on_the_planted_process_beats_zero_skill() -> None:
    found, deltas = [], []
    for seed in PLANTED_SEEDS:
        res = paired(market(seed, planted=True), "oracle", "noise")
        found.append(res.p_value < 0.05)
        deltas.append(res.delta_ic)
    assert np.mean(found) >= 0.95, f"p < 0.05 in only {np.mean(found):.0%} of the seeds"
    assert np.mean(deltas) > 0.1


# ---- the numbers by hand -----------------------------------------------------------------
def brute_force_se(values: np.ndarray, horizon: int) -> float:
    """Long-run variance of a grid series (NaN = no value) by an explicit double loop."""
    idx = [t for t, v in enumerate(values) if math.isfinite(v)]
    n = len(idx)
    mean = sum(values[t] for t in idx) / n
    gamma = [0.0] * horizon
    for t in idx:
        for s in idx:
            if 0 <= s - t < horizon:
                gamma[s - t] += (values[t] - mean) * (values[s] - mean) / n
    hh = gamma[0] + 2 * sum(gamma[1:])
    nw = gamma[0] + 2 * sum((1 - k / horizon) * gamma[k] for k in range(1, horizon))
    return math.sqrt(max(hh, nw, 0.0) / n)


@pytest.mark.parametrize("shape", ["overlapping", "alternating"])
def test_se_delta_and_p_against_a_double_loop(shape: str) -> None:
    rng = np.random.default_rng(11 if shape == "overlapping" else 12)
    h, n = 6, 400
    t = pd.date_range("2024-03-01", periods=n, freq="h", tz="UTC")
    noise = rng.normal(0, 0.2, n + h)
    if shape == "overlapping":  # moving sums: positive autocorrelation up to lag h - 1
        diff = np.convolve(noise, np.ones(h) / h, mode="valid")[:n] + 0.03
    else:  # negative lag-1 autocorrelation: Hansen-Hodrick falls below Newey-West
        diff = noise[:n] * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        diff = diff - 0.8 * np.roll(diff, 1)
    old = pd.Series(rng.normal(0.02, 0.3, n), index=t)
    new = old + diff
    new = new.drop(t[[17, 18, 250]])  # candles without a new IC: gaps on the grid
    old.iloc[[40, 41, 42]] = np.nan  # ... and without an old one
    new = pd.concat([new, pd.Series([0.5], index=[t[-1] + pd.Timedelta(hours=3)])])  # new only
    res = paired_ic_test(new, old, h)

    grid = np.full(n, np.nan)
    both = []
    for i, when in enumerate(t):
        if when in new.index and math.isfinite(old[when]):
            grid[i] = new[when] - old[when]
            both.append(when)
    assert res.n == len(both) == n - 6 and res.n_periods == pytest.approx(res.n / h)
    assert res.delta_ic == pytest.approx(sum(grid[np.isfinite(grid)]) / len(both), rel=1e-12)
    assert res.ic_new == pytest.approx(np.mean([new[w] for w in both]), rel=1e-12)
    assert res.ic_old == pytest.approx(np.mean([old[w] for w in both]), rel=1e-12)
    assert res.se == pytest.approx(brute_force_se(grid, h), rel=1e-10)
    assert res.t_stat == pytest.approx(res.delta_ic / res.se, rel=1e-12)
    want_p = 2 * stats.t.sf(abs(res.t_stat), df=res.n / h - 1)
    assert res.p_value == pytest.approx(want_p, rel=1e-10) and res.horizon == h
    iid = brute_force_se(grid, 1)  # the overlap matters here: the two s.e. differ
    assert abs(res.se / iid - 1) > 0.1


def test_cross_sectional_ic_is_scipy_spearman_across_pairs() -> None:
    frame = market(3, planted=False).dropna()
    got = cross_sectional_ic(frame, pred="reversion")
    at = got.index[100]
    rows = frame[frame["time"] == at]
    want = stats.spearmanr(rows["reversion"], rows["realised"]).statistic
    assert got.loc[at, "ic"] == pytest.approx(want) and got.loc[at, "pairs"] == len(PAIRS)


# ---- edge cases and bad inputs -----------------------------------------------------------
def test_edge_cases_and_bad_inputs() -> None:
    t = pd.date_range("2024-01-01", periods=10 * H, freq="h", tz="UTC")
    const = paired_ic_test(pd.Series(0.5, index=t), pd.Series(0.25, index=t), H)
    assert const.p_value == 0.0 and const.t_stat == np.inf and np.isfinite(const.delta_ic)
    # 0.05 - 0.02 is not one float: rounding noise is no variation either
    noisy = paired_ic_test(pd.Series(0.05, index=t), pd.Series(0.02, index=t), H)
    assert (noisy.se, noisy.t_stat, noisy.p_value) == (0.0, np.inf, 0.0)
    equal = paired_ic_test(pd.Series(0.02, index=t), pd.Series(0.02, index=t), H)
    assert equal.p_value == 1.0 and np.isnan(equal.wilcoxon_p) and recommend(equal) == "keep"
    short = pd.Series(0.1, index=t[:-1])
    with pytest.raises(PairedTestError, match=r"only 119 candle\(s\) .*\(9\.9 non-overlapping"):
        paired_ic_test(short, pd.Series(0.0, index=t), H)
    twice = pd.Series([0.1, 0.2, 0.3], index=[t[0], t[0], t[1]])
    with pytest.raises(PairedTestError, match="twice"):
        paired_ic_test(twice, pd.Series(0.0, index=t), H)
    with pytest.raises(PairedTestError, match="horizon: must be >= 1"):
        paired_ic_test(pd.Series(0.0, index=t), pd.Series(0.0, index=t), 0)
    with pytest.raises(PairedTestError, match=r"alpha=1\.5"):
        recommend(const, alpha=1.5)
    assert issubclass(PairedTestError, MonitoringError) and issubclass(PairedTestError, TradAIError)
    assert PairedTest(0.1, float("nan"), float("nan"), 0.5, 3, 0.25).to_dict()["se"] is None
