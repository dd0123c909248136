"""A version is served only under the timeframe and label horizon it was trained for: a
backtest stops with one line, a live bot keeps do_predict = 0 and says why (it used to serve
12-candle predictions to a strategy configured for 24 without a word)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from freqai_helpers import timerange
from freqtrade.enums import RunMode
from inference_helpers import (
    inference_config,
    live_step,
    registered_small_bundle,
    runtime_config,
    strategy_with_model,
)

from tradai_strategy.data.features import load_candles
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.serving.compat import IncompatibleVersionError
from tradai_strategy.serving.mlflow_source import MlflowPredictionSource

SOURCE = {"type": "mlflow", "model_uri": "models:/Rad@production"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("trained-for")
    data = tmp / "data"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 80, seed=5, signal="planted", datadir=data)
    _, uri = registered_small_bundle(tmp, data, "trained-for")  # 1h, 12 candles
    return {"data": data, "uri": uri}


def _config(tmp: Path, served: dict, runmode: RunMode, **change) -> dict:
    cfg = inference_config(tmp, served["data"], SOURCE, freqaimodel="TradAIMLflowModel")
    cfg["freqai"]["tradai"].update(tracking_uri=served["uri"])
    if "horizon" in change:
        cfg["freqai"]["feature_parameters"]["label_period_candles"] = change["horizon"]
    if "timeframe" in change:
        cfg["timeframe"] = change["timeframe"]
    return runtime_config(tmp, cfg, runmode)


@pytest.mark.parametrize(
    "change,named",
    [
        ({"horizon": 24}, "label_period_candles 12 (this config: 24)"),
        ({"timeframe": "4h"}, "timeframe 1h (this config: 4h)"),
    ],
)
def test_a_backtest_refuses_a_version_trained_for_another_horizon_or_timeframe(
    tmp_path: Path, served: dict, change: dict, named: str
) -> None:
    config = _config(tmp_path, served, RunMode.BACKTEST, **change)
    _, model = strategy_with_model(config, TradAIMLflowModel)
    with pytest.raises(IncompatibleVersionError) as err:
        model.watcher.require()  # the first thing start_backtesting does
    text = str(err.value)
    assert "models:/Rad@production" in text and named in text and "\n" not in text
    with pytest.raises(IncompatibleVersionError, match=r"label_period_candles|timeframe"):
        MlflowPredictionSource(config, SOURCE)  # TradAIPredictionModel's mlflow source
    model.shutdown()


def test_a_live_bot_keeps_do_predict_0_and_says_why(
    tmp_path: Path, served: dict, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path, served, RunMode.DRY_RUN, horizon=24)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(55, 70))[("BTC/USDT", "1h")]
    with caplog.at_level(logging.WARNING):
        for i in (300, 301):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
            assert (out["do_predict"] == 0).all() and model.watcher.version is None
    assert "label_period_candles 12 (this config: 24)" in caplog.text
    model.shutdown()
    # the same version under its own horizon serves
    config = _config(tmp_path / "ok", served, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    out = live_step(strategy, candles.iloc[:300], "BTC/USDT")
    assert out["do_predict"].iloc[-1] == 1 and model.watcher.version == "1"
    model.shutdown()
