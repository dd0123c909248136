"""A registered five-class regime model served: TradAIMLflowModel in a real freqtrade
backtest and the MLflow pyfunc give the training backtest's own out-of-sample predictions
(the predicted regime and one probability column per regime) on the same candles; a
version whose class list is not the strategy's is refused before serving (backtest: one
line) or never served (live: do_predict = 0 and an ALERT line)."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from freqai_helpers import timerange
from freqtrade.enums import RunMode
from inference_helpers import (
    live_step,
    loaded_timerange,
    runtime_config,
    strategy_with_model,
)
from regime_serving_helpers import (
    OOS,
    PAIRS,
    STARTUP,
    URI,
    regime_serving_config,
    registered_regime_model,
    serve_regime,
    served_predictions,
)

from tradai_strategy.bundle.format import load_bundle
from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES
from tradai_strategy.data.features import build_features, load_candles, load_strategy
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.serving.compat import IncompatibleVersionError

pytestmark = pytest.mark.e2e
CLASSES = sorted(REGIMES)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return registered_regime_model(tmp_path_factory)


def _oos(run: dict, pair: str) -> pd.DataFrame:
    rows = run["table"][run["table"]["pair"] == pair].reset_index(drop=True)
    assert len(rows) == 30 * 24 and (rows["do_predict"] == 1).all()
    return rows


@pytest.mark.xdist_group("freqai-models")
@pytest.mark.parametrize("estimator", ["lightgbm", "catboost", "random_forest"])
def test_served_regime_model_gives_the_training_backtests_oos_predictions(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, estimator: str
) -> None:
    run = registered_regime_model(tmp_path_factory, estimator)
    manifest = load_bundle(run["bundle"]).manifest
    assert all(sorted(m["classes"]) == CLASSES for m in manifest["pairs"].values())
    cfg = regime_serving_config(tmp_path, run)
    serve_regime(tmp_path, run, cfg)
    served = served_predictions(tmp_path)
    assert {REGIME_LABEL, *REGIMES, *(f"{c}_mean" for c in REGIMES)} <= set(served.columns)
    for pair in PAIRS:
        trained = _oos(run, pair)
        got = served[served["pair"] == pair].reset_index(drop=True)
        assert got["date"].tolist() == trained["date"].tolist()
        assert (got["do_predict"] == 1).all()  # startup candles cover the regime features
        np.testing.assert_allclose(
            got[CLASSES].to_numpy(), trained[CLASSES].to_numpy(), rtol=0, atol=1e-9
        )
        assert got[REGIME_LABEL].tolist() == trained[REGIME_LABEL].tolist()
        assert len(set(got[REGIME_LABEL])) >= 4  # not one constant regime


def test_pyfunc_gives_the_training_backtests_oos_predictions(tmp_path: Path, run: dict) -> None:
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(run["uri"])
    mlflow.set_registry_uri(run["uri"])
    try:
        pyfunc = mlflow.pyfunc.load_model(URI)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    outputs = [c["name"] for c in pyfunc.metadata.signature.outputs.to_dict()]
    assert outputs[0] == REGIME_LABEL and sorted(outputs[1:-1]) == CLASSES
    config = runtime_config(tmp_path, regime_serving_config(tmp_path, run), RunMode.BACKTEST)
    strategy = load_strategy(config)
    loaded = loaded_timerange(timerange(*OOS), STARTUP)
    for pair in PAIRS:
        trained = _oos(run, pair)
        candles = load_candles(config, [pair], loaded)
        feats = build_features(config, strategy, pair, candles, with_targets=False).frame
        feats = feats.set_index("date").loc[trained["date"]].reset_index()
        got = pyfunc.predict(feats, params={"pair": pair})
        np.testing.assert_allclose(
            got[CLASSES].to_numpy(), trained[CLASSES].to_numpy(), rtol=0, atol=1e-9
        )
        assert got[REGIME_LABEL].tolist() == trained[REGIME_LABEL].tolist()
        assert (got["do_predict"] == 1).all()


@pytest.mark.xdist_group("freqai-models")
def test_a_backtest_refuses_a_version_with_other_classes_in_one_line(
    tmp_path: Path, run: dict
) -> None:
    cfg = regime_serving_config(tmp_path, run, target="updown")  # strategy wants down/up
    with pytest.raises(Exception) as err:
        serve_regime(tmp_path, run, cfg)
    text = str(err.value)
    assert "\n" not in text and URI in text
    assert "predicts the classes bear, bull, crisis, high_vol, low_vol" in text
    assert "&-s_updown is the classes down, up" in text


def test_a_live_bot_never_serves_a_version_with_other_classes(
    tmp_path: Path, run: dict, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = regime_serving_config(tmp_path, run, target="updown")
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(80, 100))[("BTC/USDT", "1h")]
    with caplog.at_level(logging.WARNING):
        for i in (400, 401):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
            assert (out["do_predict"] == 0).all() and model.watcher.version is None
    model.shutdown()
    assert "TradAI ALERT: version 1 rejected" in caplog.text
    with pytest.raises(IncompatibleVersionError):
        model._accept(load_bundle(run["bundle"]))


def test_the_prediction_source_refuses_a_version_with_other_classes(
    tmp_path: Path, run: dict
) -> None:
    from tradai_strategy.serving.mlflow_source import MlflowPredictionSource

    cfg = regime_serving_config(tmp_path, run, target="updown")
    config = runtime_config(tmp_path, cfg, RunMode.BACKTEST, timerange(*OOS))
    source = MlflowPredictionSource(config, cfg["freqai"]["tradai"]["prediction_source"])
    strategy = load_strategy(config)
    with pytest.raises(IncompatibleVersionError, match="models:/Regime/1: its BTC/USDT model"):
        source.predictions("BTC/USDT", pd.DataFrame({"date": []}), None, strategy)


@pytest.mark.xdist_group("freqai-models")
def test_too_few_startup_candles_for_the_regime_features_is_said_once_per_pair(
    tmp_path: Path, run: dict, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = regime_serving_config(tmp_path, run)
    cfg["startup_candle_count"] = 100  # the features need lookback 240 + h 12 candles
    with caplog.at_level(logging.WARNING):
        serve_regime(tmp_path, run, cfg)
    served = served_predictions(tmp_path)
    blind = served.groupby("pair")["do_predict"].apply(lambda s: int((s == 0).sum()))
    assert blind.to_dict() == {"BTC/USDT": 151, "ETH/USDT": 151}  # 240 + 12 - 1 - 100
    for pair in PAIRS:
        assert f"151 candles of {pair}" in caplog.text
    assert "raise startup_candle_count" in caplog.text
