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


@pytest.mark.parametrize("estimator", ["lightgbm", "catboost"])
@pytest.mark.parametrize("target", ["return", "updown"])
def test_each_estimators_preset_builds_and_fits(estimator: str, target: str) -> None:
    import numpy as np

    from tradai_strategy.models.estimators import build_estimator

    cfg = build_training_config(StrategyMeta(estimator=estimator, target=target))
    trees = "iterations" if estimator == "catboost" else "n_estimators"
    params = {**cfg["freqai"]["model_training_parameters"], trees: 5}
    task = "regression" if target == "return" else "classification"
    model = build_estimator(estimator, task, params, seed=1)
    x = np.random.default_rng(0).normal(size=(300, 4))
    y = x[:, 0] if task == "regression" else np.where(x[:, 0] > 0, "up", "down")
    model.fit(x, y)  # each library accepts its own preset: no LightGBM names for CatBoost
    expected = "TrainingPredictionModel" if target == "return" else "TrainingClassifierModel"
    assert cfg["freqaimodel"] == expected


def test_lightgbm_parameters_under_catboost_are_one_line() -> None:
    from tradai_strategy.models.estimators import build_estimator

    params = build_training_config(DEFAULT_META)["freqai"]["model_training_parameters"]
    with pytest.raises(TradAIConfigError, match=r"CatBoost refuses them .*subsample_freq"):
        build_estimator("catboost", "regression", params, seed=1)
    with pytest.raises(
        TradAIConfigError, match=r"random forest refuses them .*estimator random_forest"
    ):
        build_estimator("random_forest", "regression", params, seed=1)


def test_derived_values_are_not_pinned_and_names_match_tradai_train() -> None:
    train = build_training_config(StrategyMeta(strategy="MyStrat", estimator="catboost"))
    assert "purge_candles" not in train["freqai"]["tradai"]  # runtime default: the horizon
    train["freqai"]["feature_parameters"]["label_period_candles"] = 24  # a user's change
    assert TradAISettings.from_config(train).purge_candles == 24
    assert train["freqai"]["identifier"] == "mystrat-catboost-v1"
    source = build_inference_config(StrategyMeta(strategy="MyStrat"))["freqai"]["tradai"]
    assert source["prediction_source"]["model_uri"] == "models:/tradai-MyStrat@production"
    named = build_inference_config(StrategyMeta(model_name="desk-model"))["freqai"]["tradai"]
    assert named["prediction_source"]["model_uri"] == "models:/desk-model@production"


def test_config_build_cli_options_and_bad_input(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tradai_strategy.cli.app import app

    runner = CliRunner()
    args = ["config", "build", "--out", str(tmp_path), "--strategy", "MyStrat"]
    res = runner.invoke(app, [*args, "--estimator", "catboost", "--target", "updown"])
    assert res.exit_code == 0, res.output
    train = json.loads((tmp_path / "train.json").read_text())
    assert train["strategy"] == "MyStrat" and train["freqai"]["tradai"]["estimator"] == "catboost"
    assert "iterations" in train["freqai"]["model_training_parameters"]
    for bad, message in [
        (["--pairs", "BTCUSDT"], "'BTCUSDT' is not a pair: write BASE/QUOTE"),
        (["--estimator", "xgb"], "--estimator 'xgb' is unknown: use one of lightgbm, catboost"),
        (["--target", "regime2"], "--target 'regime2' is unknown"),
    ]:
        res = runner.invoke(app, [*args, *bad])
        assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
