"""Regime labels: an independent loop oracle, causality (truncation and perturbation of the
future), precedence, the t-h rule of the known regime, and the settings' one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.regimes import (
    REGIMES,
    RegimeSettings,
    classify,
    known_regime,
    regime_labels,
    regime_statistics,
)
from tradai_strategy.core.settings import tradai_block


def random_walk(n: int, seed: int, vol: float = 0.01) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100.0 * np.exp(np.cumsum(rng.normal(0.0, vol, n))))


def oracle_labels(close: np.ndarray, h: int, s: RegimeSettings) -> list[str | None]:
    """The module docstring's definitions, row by row with explicit windows."""
    logc = np.log(close)
    n = len(close)

    def window(end: int) -> tuple[float, float]:  # backward window ending at `end`
        rets = np.diff(logc[end - h : end + 1])
        return logc[end] - logc[end - h], float(np.std(rets, ddof=1))

    out: list[str | None] = []
    for t in range(n):
        if t + h >= n or t - s.lookback + 1 < h:
            out.append(None)
            continue
        past = [window(e) for e in range(t - s.lookback + 1, t + 1)]
        rb = np.array([p[0] for p in past])
        vb = np.array([p[1] for p in past])
        ret, vol = window(t + h)
        if vol >= np.quantile(vb, s.crisis_vol) and ret <= np.quantile(rb, s.crisis_return):
            out.append("crisis")
        elif vol >= np.quantile(vb, s.high_vol):
            out.append("high_vol")
        elif vol <= np.quantile(vb, s.low_vol):
            out.append("low_vol")
        elif ret > np.quantile(rb, s.trend):
            out.append("bull")
        else:
            out.append("bear")
    return out


def test_labels_equal_a_row_by_row_oracle() -> None:
    # volatility bursts and a crash so that every class occurs
    rng = np.random.default_rng(3)
    vol = np.repeat(rng.choice([0.004, 0.01, 0.03], size=30), 20)
    drift = np.where(vol > 0.02, -0.01, 0.0)
    close = 100 * np.exp(np.cumsum(drift + vol * rng.standard_normal(vol.size)))
    s = RegimeSettings(lookback=60)
    got = regime_labels(pd.Series(close), 5, s).tolist()
    want = oracle_labels(close, 5, s)
    assert got == want
    assert set(filter(None, want)) == set(REGIMES)


def test_unlabelled_rows_are_the_warm_up_and_the_last_h() -> None:
    h, s = 12, RegimeSettings(lookback=100)
    labels = regime_labels(random_walk(1000, 0), h, s)
    first = h + s.lookback - 1
    assert labels.iloc[:first].isna().all()
    assert labels.iloc[first : len(labels) - h].notna().all()
    assert labels.iloc[-h:].isna().all()


def test_a_label_uses_nothing_beyond_t_plus_h_and_thresholds_only_the_past() -> None:
    h, s = 8, RegimeSettings(lookback=50)
    close = random_walk(600, 1)
    full = regime_statistics(close, h, s)
    labels = regime_labels(close, h, s)
    for end in (100, 237, 420):  # keep rows 0..end
        cut = close.iloc[: end + 1]
        part_labels = regime_labels(cut, h, s)
        # every label whose forward window fits in the truncated series is unchanged
        assert part_labels.iloc[: end + 1 - h].equals(labels.iloc[: end + 1 - h])
        # the thresholds of row `end` from closes up to `end` only equal the full series'
        thresholds = [c for c in full.columns if c.startswith("q_")]
        part = regime_statistics(cut, h, s)
        pd.testing.assert_frame_equal(part[thresholds], full[thresholds].iloc[: end + 1])
    # a shock after t+h leaves row t unchanged; one at t+h changes its forward window
    t = 300
    shocked = close.copy()
    shocked.iloc[t + h + 1 :] *= 3.0
    assert regime_statistics(shocked, h, s).loc[:t].equals(full.loc[:t])
    shocked.iloc[t + h :] *= 0.5
    assert regime_statistics(shocked, h, s).loc[t, "fwd_return"] != full.loc[t, "fwd_return"]


def test_precedence_crisis_then_high_then_low_vol_then_trend() -> None:
    q = {"q_low_vol": 1.0, "q_high_vol": 2.0, "q_crisis_vol": 3.0}
    q |= {"q_trend": 0.0, "q_crisis_return": -1.0}
    rows = [  # (fwd_vol, fwd_return) -> class
        ((3.0, -1.0), "crisis"),  # both extremes, ties count
        ((3.5, -0.5), "high_vol"),  # extreme volatility without the extreme loss
        ((2.5, -2.0), "high_vol"),  # extreme loss, volatility high but not extreme
        ((0.5, -2.0), "low_vol"),  # a calm fall is calm
        ((0.5, 5.0), "low_vol"),
        ((1.5, 0.1), "bull"),
        ((1.5, 0.0), "bear"),  # the trend split is strict
        ((float("nan"), 0.0), None),
    ]
    frame = pd.DataFrame([{"fwd_vol": v, "fwd_return": r, **q} for (v, r), _ in rows])
    assert classify(frame).tolist() == [want for _, want in rows]


def test_known_regime_is_the_label_of_t_minus_h() -> None:
    labels = pd.Series(["bull", "bear", None, "crisis", "low_vol", "bull"])
    assert known_regime(labels, 2).tolist() == [None, None, "bull", "bear", None, "crisis"]
    with pytest.raises(TradAIConfigError, match="label_period_candles >= 2"):
        known_regime(labels, 1)


def test_random_walk_class_shares_match_the_quantile_levels() -> None:
    shares = regime_labels(random_walk(30_000, 5), 24).value_counts(normalize=True)
    for cls in ("bull", "bear", "low_vol", "high_vol"):
        assert 0.20 < shares[cls] < 0.30, shares
    assert 0.003 < shares["crisis"] < 0.03, shares


def test_bad_closes_and_horizon_are_one_line_errors() -> None:
    close = random_walk(100, 0)
    close.iloc[40] = 0.0
    with pytest.raises(TradAIDataError, match=r"row 40 has 0\.0; drop"):
        regime_labels(close, 4, RegimeSettings(lookback=20))
    with pytest.raises(TradAIConfigError, match="got 1"):
        regime_labels(random_walk(100, 0), 1)


def config(regime: object) -> dict:
    return {"freqai": {"tradai": {"regime": regime}}}


def test_settings_from_config() -> None:
    assert RegimeSettings.from_config({}) == RegimeSettings()
    assert tradai_block(config({"lookback": 100})) == {"regime": {"lookback": 100}}
    got = RegimeSettings.from_config(config({"lookback": 100, "crisis_vol": 0.95}))
    assert (got.lookback, got.crisis_vol, got.trend) == (100, 0.95, 0.5)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"lookbak": 10}, r"regime\.lookbak is unknown: did you mean lookback\? valid keys: "),
        ({"crisis_vols": 0.9}, "did you mean crisis_vol"),
        ({"lookback": 5}, r"lookback must be an integer >= 20"),
        ({"lookback": 30.0}, r"lookback must be an integer"),
        ({"trend": 1.0}, r"trend must be a quantile level strictly between 0 and 1, got 1.0"),
        ({"high_vol": True}, "high_vol must be a quantile level"),
        ({"low_vol": 0.8}, "need low_vol < high_vol <= crisis_vol, got 0.8 / 0.75 / 0.9"),
        ({"crisis_return": 0.6}, "need crisis_return < trend"),
        ([1, 2], "regime must be an object, got list"),
    ],
)
def test_bad_settings_are_one_line_errors(block: object, message: str) -> None:
    with pytest.raises(TradAIConfigError, match=message) as info:
        RegimeSettings.from_config(config(block))
    assert "\n" not in str(info.value)
