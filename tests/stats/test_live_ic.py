"""The live IC estimators against brute force, then planted truths on synthetic markets.

Part 1 checks every estimator of :mod:`tradai_strategy.stats.live_ic` against a direct
computation (scipy per candle, an explicit double loop of the long-run variance, manual
window slicing). Part 2 plants the truth: on random walks every predictor has zero skill,
so the watched IC must average 0 with a calibrated s.e. (z-scores of sd ~1); on a planted
signal the oracle must recover most of :func:`~tradai_strategy.data.synthetic_signal.ideal_ic`;
and the old estimator (time-series Spearman of all rows of a day) must visibly fail the
same zero-skill check, so the check can fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.data import synthetic_signal
from tradai_strategy.stats.live_ic import (
    candle_step,
    cross_sectional_ic,
    overlap_se,
    rolling_window_ic,
    row_spearman,
    window_ic,
)

H = 12
START = pd.Timestamp("2025-01-01", tz="UTC")
PAIRS = [f"P{i}/USDT" for i in range(8)]


def _scipy_row(p: np.ndarray, r: np.ndarray) -> float:
    ok = np.isfinite(p) & np.isfinite(r)
    if ok.sum() < 2 or np.ptp(p[ok]) == 0 or np.ptp(r[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(p[ok], r[ok]).statistic)


def _tables(seed: int = 0, candles: int = 60, pairs: int = 6) -> tuple[pd.DataFrame, ...]:
    """Prediction and realised tables with NaNs, ties, a thin row and a constant row."""
    rng = np.random.default_rng(seed)
    p = np.round(rng.normal(size=(candles, pairs)), 1)  # rounding makes ties
    r = np.round(0.4 * p + rng.normal(size=(candles, pairs)), 1)
    p[rng.random(p.shape) < 0.15] = np.nan
    r[rng.random(r.shape) < 0.15] = np.nan
    p[3, 1:] = np.nan  # one pair only
    p[4, :2], r[4, 2:] = np.nan, np.nan  # no pair holds both
    p[5] = 0.7  # constant prediction across pairs
    r[6] = [1.0, 2.0] + [np.nan] * (pairs - 2)  # exactly two pairs
    p[6, :2] = [0.5, 0.1]
    index = pd.date_range(START, periods=candles, freq="h")
    cols = PAIRS[:pairs]
    return pd.DataFrame(p, index, cols), pd.DataFrame(r, index, cols)


def test_row_spearman_equals_scipy_per_row() -> None:
    pred, real = _tables()
    got = row_spearman(pred, real)
    want = [_scipy_row(a, b) for a, b in zip(pred.to_numpy(), real.to_numpy(), strict=True)]
    np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-12, atol=1e-12)
    assert np.isnan(got.iloc[[3, 4, 5]]).all() and got.iloc[6] == pytest.approx(-1.0)
    assert got.notna().sum() > 40
    # min_pairs is honoured: with 3 the two-pair candle is left out
    assert np.isnan(row_spearman(pred, real, min_pairs=3).iloc[6])


def test_cross_sectional_ic_from_a_shuffled_long_log() -> None:
    pred, real = _tables(seed=1)
    long = pred.stack(future_stack=True).rename("pred").to_frame()
    long["real"] = real.stack(future_stack=True)
    long = long.rename_axis(["t", "symbol"]).reset_index()
    long = long.drop(index=long.index[::17])  # rows missing entirely, not just NaN
    long["t"] = long["t"].dt.tz_convert("Asia/Tokyo")  # times are read as UTC instants
    long = long.sample(frac=1.0, random_state=3)
    got = cross_sectional_ic(long, pred="pred", realised="real", time="t", pair="symbol")
    assert got.index.is_monotonic_increasing and str(got.index.tz) == "UTC"
    for t in pred.index:
        part = long[long["t"] == t].set_index("symbol")
        p, r = part["pred"].to_numpy(float), part["real"].to_numpy(float)
        want = _scipy_row(p, r)
        if math.isnan(want):
            assert t not in got.index
            continue
        assert got.loc[t, "ic"] == pytest.approx(want, abs=1e-12)
        assert got.loc[t, "pairs"] == (np.isfinite(p) & np.isfinite(r)).sum()
    assert len(got) > 40


def test_duplicate_rows_name_the_pair() -> None:
    t = pd.date_range(START, periods=3, freq="h")
    frame = pd.DataFrame(
        {
            "time": [*t, t[1]],
            "pair": ["BTC/USDT", "BTC/USDT", "BTC/USDT", "BTC/USDT"],
            "prediction": [0.1, 0.2, 0.3, 0.4],
            "realised": [0.0, 0.1, 0.2, 0.3],
        }
    )
    frame = pd.concat([frame, frame.iloc[:3].assign(pair="ETH/USDT")])
    with pytest.raises(MonitoringError, match=r"BTC/USDT has two rows"):
        cross_sectional_ic(frame)
    with pytest.raises(MonitoringError, match="no 'score' column"):
        cross_sectional_ic(frame, pred="score")


def _brute_se(x: np.ndarray, h: int) -> float:
    """The long-run-variance s.e. written out: double loop over lags and candles."""
    ok = [math.isfinite(v) for v in x]
    n = sum(ok)
    mean = sum(v for v, good in zip(x, ok, strict=True) if good) / n
    gamma = []
    for k in range(h):
        total = 0.0
        for t in range(len(x) - k):
            if ok[t] and ok[t + k]:
                total += (x[t] - mean) * (x[t + k] - mean)
        gamma.append(total / n)
    hansen_hodrick = gamma[0] + 2 * sum(gamma[1:])
    newey_west = gamma[0] + 2 * sum((1 - k / h) * gamma[k] for k in range(1, h))
    return math.sqrt(max(hansen_hodrick, newey_west, 0.0) / n)


def _overlapping(seed: int, n: int, h: int) -> np.ndarray:
    """Moving sums of h white-noise draws (autocorrelated to lag h-1), with NaN gaps."""
    e = np.random.default_rng(seed).normal(size=n + h)
    x = np.convolve(e, np.ones(h), "valid")[:n] / h + 0.1
    x[[5, 6, 7, 40, 41, 99]] = np.nan
    return x


@pytest.mark.parametrize("h", [1, 2, 5, 12])
def test_overlap_se_equals_the_formula_with_nan_gaps(h: int) -> None:
    x = _overlapping(h, 200, h)
    assert overlap_se(x, h) == pytest.approx(_brute_se(x, h), rel=1e-12)


def test_overlap_se_horizon_one_is_the_plain_se_and_nw_floors_hh() -> None:
    x = _overlapping(7, 300, 4)
    ok = x[np.isfinite(x)]
    assert overlap_se(x, 1) == pytest.approx(np.std(ok, ddof=0) / math.sqrt(len(ok)))
    # MA(1) with a negative coefficient: gamma_1 < 0 pushes Hansen-Hodrick below Newey-West
    e = np.random.default_rng(0).normal(size=201)
    ma = e[1:] - 0.5 * e[:-1]
    dev = ma - ma.mean()
    g0, g1 = (float(np.dot(dev[: len(dev) - k], dev[k:])) / len(dev) for k in (0, 1))
    hh, nw = g0 + 2 * g1, g0 + g1  # h = 2: Bartlett weight 1/2 on lag 1
    assert hh < nw
    assert overlap_se(ma, 2) == pytest.approx(math.sqrt(nw / len(ma)))
    assert overlap_se(ma, 2) == pytest.approx(_brute_se(ma, 2))
    assert math.isnan(overlap_se([np.nan, 1.0], 3))
    with pytest.raises(MonitoringError, match="horizon"):
        overlap_se(x, 0)


def test_window_ic_on_a_gappy_candle_series() -> None:
    x = _overlapping(3, 150, H)
    index = pd.date_range(START, periods=150, freq="h")
    series = pd.Series(x, index=index)
    pairs = pd.Series(np.arange(150) % 5 + 2.0, index=index)
    gappy = series.drop(index[60:70])  # candles missing from the index, not just NaN
    w = window_ic(gappy, H, pairs=pairs)
    ok = gappy.dropna()
    grid = np.full(150, np.nan)  # the regular grid, written by hand
    grid[index.get_indexer(ok.index)] = ok.to_numpy()
    assert w.ic == pytest.approx(ok.mean())
    assert w.se == pytest.approx(_brute_se(grid, H), rel=1e-12)
    assert w.n == len(ok) and w.n_periods == pytest.approx(len(ok) / H)
    assert w.pairs == pytest.approx(pairs.loc[ok.index].mean())
    assert w.tstat == pytest.approx(w.ic / w.se)
    assert w.upper(0.99) == pytest.approx(w.ic + stats.norm.ppf(0.99) * w.se)
    empty = window_ic(series * np.nan, H)
    assert empty.n == 0 and math.isnan(empty.ic) and math.isnan(empty.se)


def test_rolling_window_ic_equals_manual_day_windows() -> None:
    index = pd.date_range(START, periods=24 * 12, freq="h")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"ic": rng.normal(0.05, 0.3, len(index)), "pairs": 8.0}, index=index)
    keep = (index.floor("D") != START + pd.Timedelta(days=4)) & (np.arange(len(index)) % 7 != 3)
    frame = frame[keep]  # day 5 is missing, and every 7th candle
    for window, min_days in ((3, None), (5, 3), (1, None)):
        got = rolling_window_ic(frame, H, window, min_days=min_days)
        need = max(1, window // 3) if min_days is None else min_days
        assert list(got.index) == list(pd.date_range(START, periods=12, freq="D"))
        for day, row in got.iterrows():
            # the window of day d: the candles of UTC days d - window + 1 .. d
            lo, hi = day + pd.Timedelta(days=1 - window), day + pd.Timedelta(days=1)
            part = frame[(frame.index >= lo) & (frame.index < hi)]
            if part.index.floor("D").nunique() < need:
                assert row.isna().all(), (window, day)
                continue
            w = window_ic(part["ic"], H, pairs=part["pairs"], step=pd.Timedelta(hours=1))
            want = [w.ic, w.se, w.n, w.n_periods, w.pairs]
            np.testing.assert_allclose(row.to_numpy(float), want, rtol=1e-12)
    with pytest.raises(MonitoringError, match="window_days"):
        rolling_window_ic(frame, H, 0)
    assert rolling_window_ic(frame.iloc[:0], H, 30).empty


def test_candle_step_is_the_most_common_positive_gap() -> None:
    hourly = pd.date_range(START, periods=50, freq="h")
    assert candle_step(hourly.delete([3, 4, 20])) == pd.Timedelta(hours=1)
    four = pd.date_range(START, periods=30, freq="4h")
    assert candle_step(four.append(four[-1:]).sort_values()) == pd.Timedelta(hours=4)
    assert candle_step(pd.DatetimeIndex([START])) == pd.Timedelta(hours=1)


# ---------------------------------------------------------------- planted truths

Style = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(x).rolling(n).mean().to_numpy()


STYLES: dict[str, Style] = {
    "mean reversion": lambda lp, rng: -(lp - _sma(lp, 20)),
    "momentum": lambda lp, rng: lp - np.concatenate([np.full(24, np.nan), lp[:-24]]),
    "random": lambda lp, rng: rng.normal(size=lp.shape),
}
WARM = 24  # candles before the first prediction of every style
DAYS = 30
SEEDS = 40


def _market(seed: int, planted: bool, pairs: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Log closes and labels (candles x pairs) of ``DAYS`` days after a warm-up."""
    rng = np.random.default_rng([15, seed, int(planted)])
    n = WARM + DAYS * 24 + H
    closes = [
        np.exp(np.cumsum(synthetic_signal.simulate_log_returns(rng, n, 0.008, planted, 0.05)[0]))
        for _ in range(pairs)
    ]
    close = np.column_stack(closes)
    label = np.column_stack([forward_mean_return(c, H) for c in closes])
    return close, label


def _watched(pred: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """The watched IC (window IC over the ``DAYS`` live days) and its s.e."""
    live = slice(WARM, WARM + DAYS * 24)
    index = pd.date_range(START, periods=DAYS * 24, freq="h")
    p, r = (pd.DataFrame(a[live], index=index) for a in (pred, label))
    w = window_ic(row_spearman(p, r), H)
    return w.ic, w.se


def _old_daily_ic(pred: np.ndarray, label: np.ndarray) -> float:
    """The old live IC: Spearman of all rows of a UTC day (every pair), mean over the days."""
    live = slice(WARM, WARM + DAYS * 24)
    p = pred[live].reshape(DAYS, -1)  # one row per day: its 24 candles x pairs
    r = label[live].reshape(DAYS, -1)
    rp, rr = stats.rankdata(p, axis=1), stats.rankdata(r, axis=1)
    rp, rr = rp - rp.mean(1, keepdims=True), rr - rr.mean(1, keepdims=True)
    daily = (rp * rr).sum(1) / np.sqrt((rp**2).sum(1) * (rr**2).sum(1))
    return float(daily.mean())


@pytest.fixture(scope="module")
def random_walk_ics() -> dict[str, np.ndarray]:
    """Per style: rows (watched ic, its se, old daily ic) over ``SEEDS`` random walks."""
    out: dict[str, list[tuple[float, float, float]]] = {s: [] for s in STYLES}
    for seed in range(SEEDS):
        close, label = _market(seed, planted=False)
        rng = np.random.default_rng([16, seed])
        for name, style in STYLES.items():
            pred = np.column_stack([style(np.log(c), rng) for c in close.T])
            out[name].append((*_watched(pred, label), _old_daily_ic(pred, label)))
    return {k: np.array(v) for k, v in out.items()}


def _mean_sem(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


@pytest.mark.parametrize("style", list(STYLES))
def test_zero_skill_watched_ic_is_unbiased_with_a_calibrated_se(
    random_walk_ics: dict[str, np.ndarray], style: str
) -> None:
    ic, se = random_walk_ics[style][:, 0], random_walk_ics[style][:, 1]
    mean, sem = _mean_sem(ic)
    assert abs(mean) <= 2 * sem, (style, mean, sem)
    z_sd = float(np.std(ic / se, ddof=1))
    assert 0.7 <= z_sd <= 1.4, (style, z_sd)


@pytest.mark.parametrize(("style", "sign"), [("mean reversion", 1), ("momentum", -1)])
def test_old_daily_time_series_ic_shows_the_bias(
    random_walk_ics: dict[str, np.ndarray], style: str, sign: int
) -> None:
    mean, sem = _mean_sem(random_walk_ics[style][:, 2])
    assert sign * mean > max(2 * sem, 0.03), (style, mean, sem)


def test_planted_oracle_recovers_most_of_the_ideal_ic() -> None:
    ics = []
    for seed in range(SEEDS):
        close, label = _market(seed, planted=True)
        pred = np.column_stack([synthetic_signal.oracle_feature(c) for c in close.T])
        ics.append(_watched(pred, label)[0])
    ideal = synthetic_signal.ideal_ic(H)
    mean, sem = _mean_sem(np.array(ics))
    assert mean >= 0.8 * ideal, (mean, sem, ideal)
    assert mean <= ideal + 2 * sem  # a sample Spearman over 8 pairs cannot beat the ideal
