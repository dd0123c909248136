"""The herald market: volumes announce the regime ``lead`` candles ahead, prices unchanged;
and the causal volume-level feature the regime target reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqtrade.data.history import load_pair_history

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import RegimeSettings, regime_features
from tradai_strategy.data.synthetic_regimes import (
    HERALD_VOLUME,
    Herald,
    generate_regime_market,
    herald_volume,
    write_regime_data,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]


def test_volumes_announce_the_regime_lead_candles_ahead_and_prices_are_unchanged() -> None:
    plain = generate_regime_market(PAIRS, "1h", 40, seed=3)
    herald = generate_regime_market(PAIRS, "1h", 40, seed=3, herald=Herald(lead=12))
    assert herald.regimes.equals(plain.regimes)
    for pair in PAIRS:
        a, b = plain.candles[pair], herald.candles[pair]
        pd.testing.assert_frame_equal(a.drop(columns="volume"), b.drop(columns="volume"))
        ratio = (b["volume"] / a["volume"]).to_numpy()
        later = plain.regimes.shift(-12).iloc[:-12].map(HERALD_VOLUME).to_numpy()
        np.testing.assert_allclose(ratio[:-12], later, rtol=1e-12)
    # past the last candle the chain goes on: the last rows announce its continuation
    factor, announced = herald_volume("1h", 40, 3, Herald(lead=12))
    longer = generate_regime_market(PAIRS[:1], "1h", 41, seed=3)
    assert announced.iloc[-12:].tolist() == longer.regimes.iloc[960:972].tolist()
    assert factor.equals(announced.map(HERALD_VOLUME).rename("volume_multiple"))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"lead": 0}, "herald lead: must be an integer >= 1 candle, got 0"),
        ({"lead": 2.5}, "herald lead: must be an integer >= 1"),
        ({"volume": {"bull": 1.0}}, "herald volume: give one multiple per regime"),
        ({"volume": {**HERALD_VOLUME, "crisis": 0.0}}, "multiples must be > 0"),
    ],
)
def test_bad_herald_is_one_line(kwargs: dict, message: str) -> None:
    with pytest.raises(TradAIConfigError, match=message.replace("(", r"\(")):
        Herald(**kwargs)


def test_the_herald_market_is_written_for_freqtrade(tmp_path: Path) -> None:
    files, regimes = write_regime_data(PAIRS, "1h", 20, seed=5, datadir=tmp_path, herald=Herald(6))
    assert [f.name for f in files] == ["BTC_USDT-1h.feather", "ETH_USDT-1h.feather"]
    market = generate_regime_market(PAIRS, "1h", 20, seed=5, herald=Herald(6))
    assert regimes.equals(market.regimes)
    loaded = load_pair_history(pair="ETH/USDT", timeframe="1h", datadir=tmp_path)
    np.testing.assert_allclose(loaded["volume"], market.candles["ETH/USDT"]["volume"])
    with pytest.raises(TradAIConfigError, match="spot only"):
        write_regime_data(
            PAIRS, "1h", 5, 5, tmp_path / "f", trading_mode="futures", herald=Herald()
        )


def test_volume_level_feature_is_causal_and_ignores_the_price_level() -> None:
    candles = generate_regime_market(["BTC/USDT"], "1h", 30, seed=2, herald=Herald()).candles
    frame = candles["BTC/USDT"]
    settings = RegimeSettings(lookback=100)
    full = regime_features(frame["close"], 12, settings, frame["volume"])
    names = ["%-regime_volume_rank_12", "%-regime_volume_rank_3"]
    assert set(names) <= set(full.columns)
    assert set(regime_features(frame["close"], 12, settings).columns).isdisjoint(names)
    cut = regime_features(frame["close"].iloc[:400], 12, settings, frame["volume"].iloc[:400])
    pd.testing.assert_frame_equal(cut, full.iloc[:400])  # truncation changes no earlier row
    ranks = full[names].dropna()
    assert len(ranks) > 500 and ranks.min().min() > 0 and ranks.max().max() <= 1
    # the same quote volume at twice the price (half the base volume): the same ranks
    doubled = regime_features(2 * frame["close"], 12, settings, frame["volume"] / 2)
    pd.testing.assert_frame_equal(doubled[names], full[names])
    # the herald shows: a crisis announced ranks far above a calm market announced
    _, announced = herald_volume("1h", 30, 2, Herald())
    rank, said = full["%-regime_volume_rank_12"].to_numpy(), announced.to_numpy()
    assert np.nanmean(rank[said == "crisis"]) > np.nanmean(rank[said == "low_vol"]) + 0.3
