"""The ``regime`` target of TradAIStrategy: ``&-s_regime`` from core.regimes with the
``freqai.tradai.regime`` settings, causal regime features, the classifier chosen for it, and
the long signal read from the ``long_regimes`` probabilities."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from config_helpers import strategy_load_config
from freqai_helpers import STRATEGIES
from freqtrade.resolvers import StrategyResolver

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import REGIMES, RegimeSettings, regime_features, regime_labels

PAIR = {"pair": "BTC/USDT"}


def _strategy(tmp_path: Path, regime: dict[str, Any] | None = None, horizon: int = 6) -> Any:
    tradai: dict[str, Any] = {"target": "regime"}
    if regime is not None:
        tradai["regime"] = regime
    freqai = {
        "enabled": True,
        "feature_parameters": {"label_period_candles": horizon},
        "tradai": tradai,
    }
    return StrategyResolver.load_strategy(
        strategy_load_config("RadStrategy", STRATEGIES, tmp_path, freqai)
    )


def _candles(n: int = 400) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, n)))
    dates = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"date": dates, "open": close, "high": close * 1.002,
                         "low": close * 0.998, "close": close, "volume": 1.0})  # fmt: skip


def test_regime_target_writes_the_core_labels_with_the_config_settings(tmp_path: Path) -> None:
    strategy = _strategy(tmp_path, {"lookback": 50, "high_vol": 0.8})
    assert strategy.target_kind == "regime" and strategy.target_labels() == ["&-s_regime"]
    frame = strategy.set_freqai_targets(_candles(), PAIR)
    want = regime_labels(frame["close"], 6, RegimeSettings(lookback=50, high_vol=0.8))
    assert frame["&-s_regime"].tolist() == want.tolist()
    assert set(frame["&-s_regime"].dropna()) <= set(REGIMES)
    assert frame["&-s_regime"].iloc[-6:].isna().all()  # the future is not in the data


def test_unknown_regime_setting_is_one_line_with_a_suggestion(tmp_path: Path) -> None:
    strategy = _strategy(tmp_path, {"lookbak": 50})
    with pytest.raises(TradAIConfigError, match=r"regime\.lookbak is unknown: did you mean"):
        strategy.set_freqai_targets(_candles(), PAIR)


def test_regime_features_are_causal_and_only_for_the_regime_target(tmp_path: Path) -> None:
    strategy = _strategy(tmp_path, {"lookback": 50})
    candles = _candles()
    full = strategy.feature_engineering_standard(candles.copy(), PAIR)
    names = ["%-regime_ret_rank_6", "%-regime_vol_rank_6", "%-regime_ret_rank_2",
             "%-regime_vol_rank_2"]  # fmt: skip
    assert set(names) <= set(full.columns)
    cut = strategy.feature_engineering_standard(candles.iloc[:300].copy(), PAIR)
    pd.testing.assert_frame_equal(cut[names], full[names].iloc[:300])  # truncation: no change
    ranks = full[names].dropna()
    assert len(ranks) > 300 and ranks.min().min() > 0 and ranks.max().max() <= 1
    direct = regime_features(candles["close"], 6, RegimeSettings(lookback=50))
    pd.testing.assert_frame_equal(full[names], direct[names])
    updown = _strategy(tmp_path)
    updown.config["freqai"]["tradai"]["target"] = "updown"
    plain = updown.feature_engineering_standard(candles.copy(), PAIR)
    assert not [c for c in plain.columns if "regime" in c]  # RadStrategy's features unchanged


def test_long_signal_is_the_probability_of_the_long_regimes(tmp_path: Path) -> None:
    strategy = _strategy(tmp_path)
    proba = np.array(
        [
            [0.7, 0.1, 0.1, 0.05, 0.05],
            [0.2, 0.5, 0.1, 0.1, 0.1],
            [0.0] * 5,
            [0.3, 0.0, 0.0, 0.4, 0.3],
        ]
    )
    df = pd.DataFrame(proba, columns=list(REGIMES)).assign(
        **{"&-s_regime": ["bull", "bear", "bull", "low_vol"], "do_predict": 1}
    )
    out = strategy.populate_entry_trend(df.copy(), PAIR)
    assert (out["enter_long"] == 1).tolist() == [True, False, False, False]
    type(strategy).long_regimes = ("bull", "low_vol")
    try:
        out = strategy.populate_entry_trend(df.copy(), PAIR)
    finally:
        del type(strategy).long_regimes
    assert (out["enter_long"] == 1).tolist() == [True, False, False, True]


def test_config_builder_picks_the_classifier_for_the_regime_target() -> None:
    cfg = build_training_config(StrategyMeta(target="regime"))
    assert cfg["freqaimodel"] == "TrainingClassifierModel"
    assert cfg["freqai"]["tradai"]["target"] == "regime"
