"""Config builder: freqtrade accepts its output and configs/*.json stay in sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freqtrade.configuration.config_validation import validate_config_schema
from freqtrade.enums import RunMode

from tradai_strategy.cli.config_builder import (
    DEFAULT_META,
    StrategyMeta,
    build_inference_config,
    build_training_config,
)
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.settings import TradAISettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("runmode", [RunMode.BACKTEST, RunMode.DRY_RUN])
@pytest.mark.parametrize("build", [build_training_config, build_inference_config])
def test_freqtrade_validates_built_configs(build, runmode):
    cfg = build(StrategyMeta(pairs=["BTC/USDT", "SOL/USDT"]))
    cfg["runmode"] = runmode
    # freqtrade fills these from the strategy before the final check
    cfg.update(stoploss=-0.06, minimal_roi={"0": 0.08})
    validate_config_schema(cfg)


def test_inference_config_trains_nothing():
    cfg = build_inference_config(DEFAULT_META)
    assert "model_training_parameters" not in cfg["freqai"]
    assert cfg["freqai"]["live_retrain_hours"] == 0
    assert cfg["freqai"]["train_period_days"] == 0  # no training history is loaded
    assert cfg["freqai"]["tradai"]["prediction_source"]["type"] == "mlflow"


@pytest.mark.parametrize(
    ("name", "build"),
    [("train.json", build_training_config), ("inference.json", build_inference_config)],
)
def test_shipped_configs_in_sync(name, build):
    shipped = json.loads((ROOT / "configs" / name).read_text())
    assert shipped == build(DEFAULT_META), f"configs/{name} is stale: run `tradai config build`"


def test_training_settings_parse():
    s = TradAISettings.from_config(build_training_config(DEFAULT_META))
    assert s.purge_candles == DEFAULT_META.label_period_candles
    assert s.estimator == "lightgbm"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda c: c["freqai"]["tradai"].update(estimator="xgb"), "freqai.tradai.estimator"),
        (
            lambda c: c["freqai"]["feature_parameters"].pop("label_period_candles"),
            "label_period_candles is missing",
        ),
        (lambda c: c["freqai"].update(train_period_days=1), "raise train_period_days"),
        (lambda c: c["freqai"]["tradai"].update(purge_candles=2), "purge_candles=2"),
        (lambda c: c["freqai"]["data_split_parameters"].update(shuffle=True), "shuffle"),
    ],
)
def test_bad_settings_give_one_clear_error(mutate, match):
    cfg = build_training_config(DEFAULT_META)
    mutate(cfg)
    with pytest.raises(TradAIConfigError, match=match) as exc:
        TradAISettings.from_config(cfg)
    assert "\n" not in str(exc.value)


def test_meta_rejects_unknown_estimator():
    with pytest.raises(ValueError, match="estimator"):
        StrategyMeta(estimator="svm")
