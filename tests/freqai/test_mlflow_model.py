"""TradAIMLflowModel: registered bundles in backtests, bad inputs, and the registry client."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES, run_training_backtest, timerange
from freqtrade.enums import RunMode
from inference_helpers import (
    freqai_pickled_predict,
    inference_config,
    live_step,
    loaded_timerange,
    runtime_config,
    strategy_with_model,
    write_config,
)

from tradai_strategy.bundle.format import bundle_from_model_dir
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.features import build_features, load_candles, load_strategy
from tradai_strategy.data.freqtrade_runner import FreqtradeRunError, backtest
from tradai_strategy.data.prediction_files import load_backtest_predictions
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.serving.loader import ModelNotFoundError, RegistryBundleLoader

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-s_close"
LATER = timerange(70, 98)  # after the bundle's training data (days 10-40)


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One training run, its bundle registered as Rad v1 @production in a sqlite registry."""
    tmp = tmp_path_factory.mktemp("mlflow-model")
    data = tmp / "data"
    write_synthetic_data([*PAIRS, "SOL/USDT"], "1h", 100, seed=5, signal="planted", datadir=data)
    _, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier="reg-train",
        tr=timerange(40, 60),
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    version = register_bundle(bundle, "Rad", alias="production", tracking_uri=uri)
    assert version == "1"
    return {"tmp": tmp, "data": data, "model_dir": model_dir, "bundle": bundle, "uri": uri}


def _config(reg: dict, model_uri: str = "models:/Rad@production", **meta) -> dict:
    cfg = inference_config(
        reg["tmp"],
        reg["data"],
        {"type": "mlflow", "model_uri": model_uri},
        freqaimodel="TradAIMLflowModel",
        **meta,
    )
    cfg["freqai"]["tradai"]["tracking_uri"] = reg["uri"]
    return cfg


def _backtest(tmp: Path, reg: dict, cfg: dict, model: str = "TradAIMLflowModel"):
    return backtest(
        [write_config(tmp, cfg)],
        "RadStrategy",
        freqaimodel=model,
        timerange=LATER,
        datadir=reg["data"],
        userdir=tmp / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )


@pytest.mark.xdist_group("freqai-models")
@pytest.mark.parametrize("days", [30, 0], ids=["30-days-history", "startup-candles-only"])
def test_backtest_predictions_equal_the_in_process_estimator(tmp_path, reg, days):
    """Acceptance: later timerange, train once + register + backtest = in-process (1e-9).

    ``train_period_days`` 0 (the shipped inference config) loads only the startup candles
    before the timerange: the features of the first candles then come from a shorter
    history, and so do the reference's, computed here on exactly what freqtrade loaded.
    """
    cfg = _config(reg)
    cfg["freqai"]["train_period_days"] = days
    result = _backtest(tmp_path, reg, cfg)
    assert len(result.trades) > 0
    table = load_backtest_predictions(
        tmp_path / "user_data" / "models" / cfg["freqai"]["identifier"]
    )
    assert set(table["pair"]) == set(PAIRS) and (table["do_predict"] == 1).all()
    config = runtime_config(tmp_path, cfg, RunMode.BACKTEST)
    strategy = load_strategy(config)
    config["startup_candle_count"] = strategy.startup_candle_count
    for pair in PAIRS:
        rows = table[table["pair"] == pair]
        assert len(rows) == 28 * 24
        loaded = loaded_timerange(LATER, config["startup_candle_count"], days)
        candles = load_candles(config, [pair], loaded)
        feats = build_features(config, strategy, pair, candles, with_targets=False).frame
        feats = feats.set_index("date").loc[rows["date"]].reset_index()
        window = next(reg["model_dir"].glob(f"sub-train-{pair.split('/')[0]}_*"))
        expected = freqai_pickled_predict(window, feats)
        np.testing.assert_allclose(rows[LABEL].to_numpy(), expected, rtol=0, atol=1e-9)
        assert np.ptp(expected) > 0
    # TradAIPredictionModel with an mlflow source predicts the same, so trades the same
    cfg2 = _config(reg)
    cfg2["freqai"].update(identifier="via-prediction-model", train_period_days=days)
    result2 = _backtest(tmp_path, reg, cfg2, model="TradAIPredictionModel")
    cols = ["pair", "open_date", "close_date", "profit_abs"]
    pd.testing.assert_frame_equal(result2.trades[cols], result.trades[cols])


def test_in_sample_candles_get_do_predict_zero(tmp_path, reg):
    cfg = _config(reg)
    cfg["freqai"]["identifier"] = "in-sample"
    result = backtest(
        [write_config(tmp_path, cfg)],
        "RadStrategy",
        freqaimodel="TradAIMLflowModel",
        timerange=timerange(30, 50),  # overlaps the training data (up to day 40)
        datadir=reg["data"],
        userdir=tmp_path / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )
    table = load_backtest_predictions(tmp_path / "user_data" / "models" / "in-sample")
    train_end = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=40)
    assert (table.loc[table["date"] < train_end - pd.Timedelta(hours=12), "do_predict"] == 0).all()
    assert (table.loc[table["date"] >= train_end, "do_predict"] == 1).all()
    assert (result.trades["open_date"] >= train_end - pd.Timedelta(hours=12)).all()


@pytest.mark.parametrize(
    ("model_uri", "message"),
    [
        ("models:/Nope@production", "models:/Nope@production not found in the registry"),
        ("models:/Rad@staging", "alias staging not found"),
        ("models:/Rad/9", "Model Version (name=Rad, version=9) not found"),
    ],
)
def test_model_uri_or_alias_not_found(tmp_path, reg, model_uri, message):
    with pytest.raises(FreqtradeRunError, match=re.escape(message)) as exc:
        _backtest(tmp_path, reg, _config(reg, model_uri))
    assert "\n" not in str(exc.value) and "tradai bundle register" in str(exc.value)


def test_feature_list_mismatch_names_features(tmp_path, reg):
    cfg = _config(reg, indicator_periods_candles=[10, 30])
    with pytest.raises(FreqtradeRunError) as exc:
        _backtest(tmp_path, reg, cfg)
    msg = str(exc.value)
    assert "features differ from the bundle's" in msg
    assert "missing 30: %-rsi-period_20_BTC/USDT_1h" in msg
    assert "extra 30: %-rsi-period_30_BTC/USDT_1h" in msg


def test_pair_absent_from_bundle(tmp_path, reg):
    with pytest.raises(FreqtradeRunError, match=r"pair SOL/USDT is not in the model bundle"):
        _backtest(tmp_path, reg, _config(reg, pairs=[*PAIRS, "SOL/USDT"]))


def test_corrupted_artifact_or_manifest_in_the_registry(tmp_path, reg):
    from mlflow import MlflowClient

    register_bundle(reg["bundle"], "RadCorrupt", tracking_uri=reg["uri"])
    client = MlflowClient(tracking_uri=reg["uri"], registry_uri=reg["uri"])
    stored = Path(client.get_model_version_download_uri("RadCorrupt", "1").removeprefix("file://"))
    manifest_path = next(stored.rglob("tradai_bundle.json"))
    target = manifest_path.parent / "pairs" / "BTC_USDT" / "model.lgb.txt"
    loader = RegistryBundleLoader("models:/RadCorrupt/1", tmp_path / "cache", reg["uri"])
    original = target.read_bytes()
    target.write_bytes(original.replace(b"tree", b"tref", 1))
    with pytest.raises(TradAIDataError, match=r"model\.lgb\.txt differs from its registered"):
        loader.fetch(*loader.resolve())
    target.write_bytes(original)
    shutil.rmtree(tmp_path / "cache")
    manifest = json.loads(manifest_path.read_text())
    manifest["strategy"] = "Tampered"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(TradAIDataError, match=r"tradai_bundle\.json differs from its registered"):
        loader.fetch(*loader.resolve())


def test_live_with_nothing_loadable_returns_do_predict_zero(tmp_path, reg, caplog):
    cfg = _config(reg, "models:/Rad@staging")
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(60, 75))[("BTC/USDT", "1h")]
    with caplog.at_level(logging.WARNING):
        for i in (300, 301):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
            assert (out["do_predict"] == 0).all() and (out[LABEL] == 0).all()
    assert "no model ready for BTC/USDT" in caplog.text and "alias staging not found" in caplog.text
    model.shutdown()
    with pytest.raises(ModelNotFoundError):
        model.watcher.require()
