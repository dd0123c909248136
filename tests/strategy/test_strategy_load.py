"""A TradAIStrategy loads under any config: freqtrade reads every attribute of a strategy
when it loads it (hyperopt parameter detection), so no attribute may require FreqAI keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from config_helpers import strategy_load_config
from freqai_helpers import STRATEGIES
from freqtrade.resolvers import StrategyResolver

from tradai_strategy.core.errors import TradAIConfigError


def _config(tmp_path: Path, freqai: dict[str, object] | None) -> dict[str, object]:
    return strategy_load_config("RadStrategy", STRATEGIES, tmp_path, freqai)


def test_rad_strategy_loads_without_freqai_feature_parameters(tmp_path: Path) -> None:
    strategy = StrategyResolver.load_strategy(_config(tmp_path, None))
    assert strategy.timeframe == "1h"
    # the label horizon is only needed, and only demanded, when the targets are built
    with pytest.raises(TradAIConfigError, match="label_period_candles is missing"):
        _ = strategy.label_period_candles
    frame = pd.DataFrame({"close": [1.0, 2.0, 3.0]})
    with pytest.raises(TradAIConfigError, match="label_period_candles is missing"):
        strategy.set_freqai_targets(frame, {"pair": "BTC/USDT"})


def test_the_label_horizon_attribute_reads_the_config(tmp_path: Path) -> None:
    freqai = {"enabled": True, "feature_parameters": {"label_period_candles": 7}}
    strategy = StrategyResolver.load_strategy(_config(tmp_path, freqai))
    assert strategy.label_period_candles == 7
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = strategy.nope  # type: ignore[attr-defined]
