"""build_features gives the features FreqAI itself trains on."""

from __future__ import annotations

import json

import pytest
from freqai_helpers import STRATEGIES, run_training_backtest, timerange
from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode

from tradai_strategy.config.errors import TradAIDataError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.features import build_features, load_candles, load_strategy

pytestmark = pytest.mark.e2e


def test_same_feature_list_as_freqai(tmp_path):
    data = tmp_path / "d"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 70, seed=4, signal="none", datadir=data)
    _, _, model_dir = run_training_backtest(tmp_path, data, identifier="feat", tr=timerange(40, 60))
    trained = json.loads(next(model_dir.glob("sub-train-BTC*/*_metadata.json")).read_text())
    cfg = Configuration(
        {
            "config": [str(tmp_path / "feat.json")],
            "strategy": "RadStrategy",
            "strategy_path": str(STRATEGIES),
            "user_data_dir": str(tmp_path / "user_data"),
            "datadir": str(data),
        },
        RunMode.BACKTEST,
    ).get_config()
    strategy = load_strategy(cfg)
    candles = load_candles(cfg, ["BTC/USDT"])
    ff = build_features(cfg, strategy, "BTC/USDT", candles)
    assert ff.features == trained["training_features_list"]
    assert ff.labels == ["&-s_close"]
    assert len(ff.frame) == len(candles[("BTC/USDT", "1h")])
    with pytest.raises(TradAIDataError, match="DOGE/USDT 1h"):
        load_candles(cfg, ["DOGE/USDT"])
