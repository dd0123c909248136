"""Live simulation against a real ``mlflow server`` on 127.0.0.1: FreqAI's live path driven
candle by candle; the alias moves between two candles; the server dies; the bot keeps going."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from freqai_helpers import SMALL_LGBM, run_training_backtest, timerange
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from inference_helpers import (
    MlflowServer,
    inference_config,
    live_step,
    runtime_config,
    strategy_with_model,
)

from tradai_strategy.bundle.format import ModelBundle, bundle_from_model_dir, load_bundle
from tradai_strategy.bundle.predict import strategy_features
from tradai_strategy.data.features import load_candles
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.registry.bundle_registry import register_bundle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("mlflow-server")]
PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-s_close"


def _bundle(tmp: Path, data: Path, name: str, params: dict) -> Path:
    _, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier=name,
        tr=timerange(40, 60),
        meta_overrides={"model_training_parameters": params},
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    return bundle_from_model_dir(model_dir, tmp / f"{name}-bundle", strategy="RadStrategy")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("mlflow-live")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 80, seed=8, signal="planted", datadir=data)
    first = _bundle(tmp, data, "v1", SMALL_LGBM)
    second = _bundle(tmp, data, "v2", {**SMALL_LGBM, "n_estimators": 40, "num_leaves": 4})
    server = MlflowServer(tmp / "server")
    try:
        assert register_bundle(first, "Rad", alias="production", tracking_uri=server.uri) == "1"
        assert register_bundle(second, "Rad", tracking_uri=server.uri) == "2"
        yield {"tmp": tmp, "data": data, "server": server, "v1": first, "v2": second}
    finally:
        server.stop()


def _expected(bundle: ModelBundle, config: dict, strategy, candles, pair: str) -> float:
    dk = FreqaiDataKitchen(config, live=True, pair=pair)
    frame = strategy_features(dk, strategy, candles, pair)
    pred, _, _ = bundle.model(pair).predict(frame.tail(1))
    return float(pred[LABEL].iloc[0])


def test_alias_move_hot_swaps_and_a_dead_registry_keeps_the_cache_serving(
    setup, tmp_path, monkeypatch, caplog
):
    import mlflow

    # a dead server must fail fast (MLflow retries for minutes by default)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    server = setup["server"]
    cfg = inference_config(
        tmp_path,
        setup["data"],
        {"type": "mlflow", "model_uri": "models:/Rad@production"},
        freqaimodel="TradAIMLflowModel",
    )
    cfg["freqai"]["tradai"].update(tracking_uri=server.uri, registry_timeout_seconds=20)
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = {
        p: load_candles(config, [p], timerange(50, 70))[(p, "1h")].reset_index(drop=True)
        for p in PAIRS
    }
    bundles = {"1": load_bundle(setup["v1"]), "2": load_bundle(setup["v2"])}
    checks = []
    resolve = model.watcher.loader.resolve
    monkeypatch.setattr(model.watcher.loader, "resolve", lambda: checks.append(1) or resolve())

    def step(i: int, version: str) -> None:
        for pair in PAIRS:
            out = live_step(strategy, candles[pair].iloc[:i], pair)
            want = _expected(bundles[version], config, strategy, candles[pair].iloc[:i], pair)
            assert out[LABEL].iloc[-1] == pytest.approx(want, abs=1e-12), (i, pair, version)
            assert out["do_predict"].iloc[-1] == 1
            assert len(out) == i
        assert model.watcher.version == version

    i = 300
    step(i, "1")
    step(i + 1, "1")
    assert len(checks) == 2  # one registry check per candle, not per pair
    step(i + 1, "1")  # the same candle again (another pass of the pairlist): no new check
    assert len(checks) == 2
    assert bundles["1"].model("BTC/USDT").predict is not None
    # promotion between two candles: the next candle is predicted by version 2
    client = mlflow.MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)
    client.set_registered_model_alias("Rad", "production", "2")
    with caplog.at_level(logging.INFO):
        step(i + 2, "2")
    assert "now serving models:/Rad@production version 2 (was: version 1)" in caplog.text
    # earlier candles keep what was served when they were live
    out = live_step(strategy, candles["BTC/USDT"].iloc[: i + 2], "BTC/USDT")
    old = _expected(bundles["1"], config, strategy, candles["BTC/USDT"].iloc[: i + 1], "BTC/USDT")
    assert out[LABEL].iloc[-2] == pytest.approx(old, abs=1e-12)
    # the registry dies: predictions continue from the cached version, an alert is logged
    server.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        step(i + 3, "2")
        step(i + 4, "2")
    assert "TradAI ALERT: registry unreachable" in caplog.text
    assert "keep serving version 2" in caplog.text
    # a restart while the registry is down serves the version cached on disk
    model.shutdown()
    strategy2, model2 = strategy_with_model(config, TradAIMLflowModel)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out = live_step(strategy2, candles["ETH/USDT"].iloc[: i + 5], "ETH/USDT")
    want = _expected(bundles["2"], config, strategy2, candles["ETH/USDT"].iloc[: i + 5], "ETH/USDT")
    assert model2.watcher.version == "2" and out[LABEL].iloc[-1] == pytest.approx(want, abs=1e-12)
    assert "serving cached version 2" in caplog.text
    model2.shutdown()
    assert np.isfinite(out[LABEL]).all()
