"""The regime-switching market: determinism, the planted chain (durations, shares, exits),
regime-dependent drift and volatility, the feather writer, and label recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import REGIMES, regime_labels
from tradai_strategy.data.synthetic_regimes import (
    DEFAULT_DYNAMICS,
    TRANSITIONS,
    RegimeDynamics,
    forward_regime,
    generate_regime_market,
    stationary_shares,
    transition_matrix,
    write_regime_data,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]


def runs(path: pd.Series) -> pd.DataFrame:
    """Each uninterrupted stay: its regime, length and the regime that follows it."""
    values = path.to_numpy()
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, len(values)])
    nxt = np.r_[values[starts[1:]], None]
    return pd.DataFrame({"regime": values[starts], "length": lengths, "next": nxt})


def test_same_seed_same_market_and_a_longer_market_extends_it() -> None:
    a = generate_regime_market(PAIRS, "1h", 30, seed=7)
    b = generate_regime_market(PAIRS, "1h", 30, seed=7)
    longer = generate_regime_market(PAIRS, "1h", 45, seed=7)
    other = generate_regime_market(PAIRS, "1h", 30, seed=8)
    assert a.regimes.equals(b.regimes)
    for pair in PAIRS:
        pd.testing.assert_frame_equal(a.candles[pair], b.candles[pair])
        pd.testing.assert_frame_equal(a.candles[pair], longer.candles[pair].iloc[:720])
    assert a.regimes.equals(longer.regimes.iloc[:720])
    assert not a.regimes.equals(other.regimes)
    assert not np.allclose(a.candles["BTC/USDT"]["close"], a.candles["ETH/USDT"]["close"])
    assert (a.regimes.index == pd.DatetimeIndex(a.candles["BTC/USDT"]["date"])).all()


def test_the_chain_has_the_planted_durations_shares_and_exits() -> None:
    market = generate_regime_market(["BTC/USDT"], "1h", 6 * 365, seed=1)
    stays = runs(market.regimes).iloc[1:-1]  # the first and last stays are cut
    shares = market.regimes.value_counts(normalize=True)
    stationary = dict(zip(REGIMES, stationary_shares(transition_matrix(60)), strict=True))
    for regime in REGIMES:
        mine = stays[stays["regime"] == regime]
        planted = DEFAULT_DYNAMICS[regime].days * 24
        # a geometric stay has s.d. ~ its mean: +-4 s.e. of the mean
        assert abs(mine["length"].mean() - planted) < 4 * planted / np.sqrt(len(mine)), regime
        assert abs(shares[regime] - stationary[regime]) < 0.04, (regime, shares[regime])
        for other, prob in TRANSITIONS[regime].items():
            freq = float((mine["next"] == other).mean())
            assert abs(freq - prob) < 4 * np.sqrt(prob * (1 - prob) / len(mine)) + 0.01
    # the stationary shares are a fixed point of the transition matrix
    p = transition_matrix(60)
    pi = stationary_shares(p)
    np.testing.assert_allclose(pi @ p, pi, atol=1e-12)


def test_each_regime_has_its_planted_drift_and_volatility() -> None:
    market = generate_regime_market(["BTC/USDT"], "1h", 3 * 365, seed=2)
    candles = market.candles["BTC/USDT"]
    ret = np.log(candles["close"]).diff().to_numpy()
    sigma_bar = 0.006  # BTC's hourly volatility in data/synthetic.py
    for regime, dyn in DEFAULT_DYNAMICS.items():
        r = ret[1:][market.regimes.to_numpy()[1:] == regime]
        sd = dyn.vol * sigma_bar
        assert r.std() == pytest.approx(sd, rel=0.06), regime
        assert abs(r.mean() - dyn.drift) < 5 * sd / np.sqrt(len(r)), regime
    ok = (candles["high"] >= candles[["open", "close"]].max(axis=1)).all()
    assert ok and (candles["low"] <= candles[["open", "close"]].min(axis=1)).all()


def test_writer_stores_freqtrade_feather_files_of_the_same_market(tmp_path: Path) -> None:
    paths, regimes = write_regime_data(PAIRS, "1h", 20, seed=3, datadir=tmp_path)
    market = generate_regime_market(PAIRS, "1h", 20, seed=3)
    assert [p.name for p in paths] == ["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"]
    assert regimes.equals(market.regimes)
    for pair in PAIRS:
        got = load_pair_history(
            pair, "1h", tmp_path, data_format="feather", candle_type=CandleType.SPOT
        )
        np.testing.assert_allclose(got["close"], market.candles[pair]["close"], rtol=1e-12)


def test_forward_regime_is_the_majority_of_the_forward_window() -> None:
    rng = np.random.default_rng(0)
    path = pd.Series(rng.choice(REGIMES, size=300, p=[0.4, 0.3, 0.1, 0.1, 0.1]))
    h = 5
    want: list[str | None] = []
    for t in range(len(path)):
        window = path.iloc[t + 1 : t + 1 + h].tolist()
        if len(window) < h:
            want.append(None)
            continue
        counts = [window.count(r) for r in REGIMES]
        want.append(REGIMES[int(np.argmax(counts))])
    assert forward_regime(path, h).tolist() == want


def test_the_labels_recover_the_planted_regimes_well_above_chance() -> None:
    h = 24
    market = generate_regime_market(PAIRS, "1h", 365, seed=1)
    truth = forward_regime(market.regimes, h)
    for pair in PAIRS:
        labels = regime_labels(market.candles[pair].set_index("date")["close"], h)
        ok = labels.notna().to_numpy() & truth.notna().to_numpy()
        got, want = labels.to_numpy()[ok], truth.to_numpy()[ok]
        agreement = float((got == want).mean())
        chance = sum(float((got == r).mean() * (want == r).mean()) for r in REGIMES)
        print(
            f"{pair}: labels agree with the planted regime on {agreement:.1%} (chance {chance:.1%})"
        )
        assert agreement > 0.6 and agreement > 2.5 * chance
        # each planted regime: found in >= 40 % of its rows (crisis lasts ~1 day, so its
        # 24-candle windows often straddle the turbulent days around it), and at least twice
        # as often as in all rows (lift)
        for regime in REGIMES:
            recall = float((got[want == regime] == regime).mean())
            lift = recall / float((got == regime).mean())
            print(f"  {regime}: recall {recall:.0%}, lift {lift:.1f}")
            assert recall > 0.4 and lift > 2.0, (regime, recall, lift)


def test_bad_dynamics_and_grid_are_one_line_errors() -> None:
    short = dict(DEFAULT_DYNAMICS, crisis=RegimeDynamics(drift=0.0, vol=1.0, days=0.01))
    with pytest.raises(TradAIConfigError, match=r"regime crisis: a mean duration of 0\.01 days"):
        generate_regime_market(PAIRS, "1h", 10, seed=0, dynamics=short)
    with pytest.raises(TradAIConfigError, match="days: must be an integer >= 1"):
        generate_regime_market(PAIRS, "1h", 0, seed=0)
    with pytest.raises(TradAIConfigError, match="timeframe 'xx'"):
        generate_regime_market(PAIRS, "xx", 10, seed=0)
