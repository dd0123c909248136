"""Scenario: a planted volatility regime change at a known date, watched by a daily drift check.

Synthetic market with constant volatility (``clustering=False``) so the only change is the
planted one: from 2024-04-20 every return is twice as volatile. The reference is the
training window (60 days, as the bundle stores it); every day a drift check compares the last
20 days of the strategy's per-candle features (``%-range``, ``%-pct-change`` and their
shifts, computed by RadStrategy through FreqAI's data kitchen) with it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from freqai_helpers import STRATEGIES

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.data.freqtrade_runner import resolve_config
from tradai_strategy.data.synthetic import Regime, generate_ohlcv, write_synthetic_data
from tradai_strategy.monitoring.check import current_features
from tradai_strategy.stats.drift import drift_summary, last_days, pair_drift

PAIRS = ["BTC/USDT", "ETH/USDT"]
CHANGE = pd.Timestamp("2024-04-20", tz="UTC")
TRAIN = (pd.Timestamp("2024-01-21", tz="UTC"), pd.Timestamp("2024-03-21", tz="UTC"))
FAST = ("%-range", "%-pct-change")


def _features(tmp: Path, seed: int) -> dict[str, pd.DataFrame]:
    data = tmp / "data"
    regime = Regime(CHANGE, vol=2.0)
    write_synthetic_data(
        PAIRS, "1h", 150, seed=seed, signal="planted", datadir=data, regime=regime,
        clustering=False,
    )  # fmt: skip
    cfg = build_training_config(StrategyMeta(pairs=PAIRS, datadir=str(data)))
    (tmp / "cfg.json").write_text(json.dumps(cfg))
    args = {
        "config": [str(tmp / "cfg.json")],
        "strategy": "RadStrategy",
        "strategy_path": str(STRATEGIES),
        "datadir": str(data),
        "user_data_dir": str(tmp / "user_data"),
        "command": "backtesting",
    }
    (tmp / "user_data").mkdir()
    frames = current_features(resolve_config(args), PAIRS)
    return {
        p: f[["date", *[c for c in f.columns if c.startswith(FAST)]]] for p, f in frames.items()
    }


def _daily_levels(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ref = {}
    for pair, frame in frames.items():
        dates = pd.to_datetime(frame["date"], utc=True)
        ref[pair] = frame[(dates >= TRAIN[0]) & (dates < TRAIN[1])].drop(columns="date")
    rows = []
    for end in pd.date_range("2024-03-25", "2024-05-10", freq="D", tz="UTC"):
        current = {
            pair: last_days(frame[pd.to_datetime(frame["date"], utc=True) < end], 20).drop(
                columns="date"
            )
            for pair, frame in frames.items()
        }
        overall = drift_summary(pair_drift(ref, current)).loc["ALL"]
        rows.append({"end": end, "max_ks": overall["max_ks"], "level": overall["level"]})
    return pd.DataFrame(rows).set_index("end")


def test_regime_is_planted_exactly_at_its_date() -> None:
    plain = generate_ohlcv("BTC/USDT", "1h", 150, 3, "planted", clustering=False)
    changed = generate_ohlcv(
        "BTC/USDT", "1h", 150, 3, "planted", clustering=False, regime=Regime(CHANGE, vol=2.0)
    )
    before = plain["date"] < CHANGE
    pd.testing.assert_frame_equal(plain[before], changed[before])
    ratio = changed.loc[~before, "close"].pct_change().std() / (
        plain.loc[~before, "close"].pct_change().std()
    )
    assert ratio == pytest.approx(2.0, rel=0.05)
    with pytest.raises(ValueError, match=r"regime\.vol"):
        generate_ohlcv("BTC/USDT", "1h", 5, 3, regime=Regime(CHANGE, vol=0.0))


@pytest.mark.parametrize("seed", [5, 11])
def test_drift_warns_then_triggers_after_the_change_and_not_before(
    tmp_path: Path, seed: int
) -> None:
    levels = _daily_levels(_features(tmp_path, seed))
    before = levels[levels.index <= CHANGE]
    assert (before["level"] == "ok").all(), before[before["level"] != "ok"]
    after = levels[levels.index > CHANGE]
    first_warn = after.index[after["level"] != "ok"][0]
    first_critical = after.index[after["level"] == "critical"][0]
    # a 2x volatility change moves the range features' KS by ~0.035 per day of the
    # 20-day window: warn (> 0.1) within 5 days, critical (> 0.2) within 9 days
    assert CHANGE < first_warn < first_critical
    assert first_warn - CHANGE <= pd.Timedelta(days=5)
    assert first_critical - CHANGE <= pd.Timedelta(days=9)
    # once the window is mostly the new regime the drift stays critical
    assert (levels.loc[levels.index >= CHANGE + pd.Timedelta(days=12), "level"] == "critical").all()
