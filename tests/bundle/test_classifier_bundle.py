"""Classifier bundles: TrainingClassifierModel -> bundle -> registry -> TradAIMLflowModel.

The served classes and class probabilities must be FreqAI's own classifier's (its pickled
estimator and pipeline, on the same features) to 1e-9, for LightGBM and CatBoost.
"""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import mlflow
import numpy as np
import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES, run_training_backtest, timerange
from freqtrade.enums import RunMode
from inference_helpers import inference_config, loaded_timerange, runtime_config, write_config

from tradai_strategy.bundle.format import bundle_from_model_dir, load_bundle
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.features import build_features, load_candles, load_strategy
from tradai_strategy.data.freqtrade_runner import backtest
from tradai_strategy.data.prediction_files import load_backtest_predictions
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.registry.bundle_registry import register_bundle

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-s_updown"
CLASSES = ["down", "up"]
LATER = timerange(70, 98)  # after the training data (days 10-40)
PARAMS = {
    "lightgbm": {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 50, "verbose": -1},
    "catboost": {"iterations": 40, "depth": 4},
}


@pytest.fixture(scope="module", params=sorted(PARAMS))
def reg(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A classifier training run, its bundle registered as RadCls @production (sqlite)."""
    estimator = request.param
    tmp = tmp_path_factory.mktemp(f"cls-{estimator}")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 100, seed=5, signal="planted", datadir=data)
    trained, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier=f"cls-{estimator}",
        freqaimodel="TrainingClassifierModel",
        tr=timerange(40, 60),
        meta_overrides={
            "target": "updown",
            "estimator": estimator,
            "model_training_parameters": PARAMS[estimator],
        },
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    register_bundle(bundle, "RadCls", alias="production", tracking_uri=uri)
    return {
        "tmp": tmp,
        "data": data,
        "model_dir": model_dir,
        "bundle": bundle,
        "uri": uri,
        "trades": trained.trades,
    }


def _freqai_classifier(window: Path, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """FreqAI's classifier on ``x``: (classes, probabilities) from the window's pickles."""
    stem = str(next(window.glob("*_metadata.json"))).removesuffix("_metadata.json")

    def load(suffix: str):
        with open(f"{stem}{suffix}", "rb") as fh:
            return cloudpickle.load(fh)

    features = json.loads(Path(f"{stem}_metadata.json").read_text())["training_features_list"]
    xt, _, _ = load("_feature_pipeline.pkl").transform(x[features], outlier_check=True)
    model = load("_model.joblib")
    assert [str(c) for c in model.classes_] == CLASSES
    return np.asarray(model.predict(xt)).ravel(), np.asarray(model.predict_proba(xt))


def _serving_config(tmp: Path, reg: dict) -> dict:
    """TradAIMLflowModel serving RadCls@production from the fixture's registry."""
    cfg = inference_config(
        tmp,
        reg["data"],
        {"type": "mlflow", "model_uri": "models:/RadCls@production"},
        freqaimodel="TradAIMLflowModel",
        target="updown",
    )
    cfg["freqai"]["tradai"]["tracking_uri"] = reg["uri"]
    return cfg


@pytest.mark.xdist_group("freqai-models")
def test_classifier_bundle_serves_freqai_classes_and_probabilities(tmp_path, reg):
    manifest = load_bundle(reg["bundle"]).manifest
    assert manifest["task"] == "classification"
    assert all(meta["classes"] == CLASSES for meta in manifest["pairs"].values())
    cfg = _serving_config(tmp_path, reg)
    result = backtest(
        [write_config(tmp_path, cfg)],
        "RadStrategy",
        freqaimodel="TradAIMLflowModel",
        timerange=LATER,
        datadir=reg["data"],
        userdir=tmp_path / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )
    assert len(result.trades) > 0  # the strategy trades on P(up)
    table = load_backtest_predictions(
        tmp_path / "user_data" / "models" / cfg["freqai"]["identifier"]
    )
    assert {LABEL, *CLASSES, "up_mean", "do_predict"} <= set(table.columns)
    config = runtime_config(tmp_path, cfg, RunMode.BACKTEST)
    strategy = load_strategy(config)
    # train_period_days 0: freqtrade loaded the strategy's startup candles before LATER
    loaded = loaded_timerange(LATER, strategy.startup_candle_count)
    for pair in PAIRS:
        rows = table[table["pair"] == pair].reset_index(drop=True)
        assert len(rows) == 28 * 24 and (rows["do_predict"] == 1).all()
        candles = load_candles(config, [pair], loaded)
        feats = build_features(config, strategy, pair, candles, with_targets=False).frame
        feats = feats.set_index("date").loc[rows["date"]].reset_index()
        window = next(reg["model_dir"].glob(f"sub-train-{pair.split('/')[0]}_*"))
        classes, proba = _freqai_classifier(window, feats)
        np.testing.assert_allclose(rows[CLASSES].to_numpy(), proba, rtol=0, atol=1e-9)
        assert rows[LABEL].tolist() == classes.tolist()
        assert set(classes) == set(CLASSES)  # both classes predicted somewhere: not constant


def test_classifier_pyfunc_gives_class_and_probabilities(reg):
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(reg["uri"])
    mlflow.set_registry_uri(reg["uri"])
    try:
        pyfunc = mlflow.pyfunc.load_model("models:/RadCls@production")
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    outputs = [c["name"] for c in pyfunc.metadata.signature.outputs.to_dict()]
    assert outputs == [LABEL, *CLASSES, "do_predict"]
    ref = pd.read_parquet(reg["bundle"] / "pairs" / "BTC_USDT" / "reference_features.parquet")
    got = pyfunc.predict(ref.head(50), params={"pair": "BTC/USDT"})
    np.testing.assert_allclose(got[CLASSES].sum(axis=1), 1.0, rtol=0, atol=1e-9)
    best = np.asarray(CLASSES)[np.argmax(got[CLASSES].to_numpy(), axis=1)]
    assert got[LABEL].tolist() == best.tolist()


def test_classifier_window_without_its_estimator_file_is_refused(tmp_path, reg):
    copy = tmp_path / "models"
    import shutil

    shutil.copytree(reg["model_dir"], copy)
    for path in copy.glob("sub-train-*/*_model.joblib"):
        path.unlink()
    with pytest.raises(TradAIDataError, match="class order is unknown"):
        bundle_from_model_dir(copy, tmp_path / "b", strategy="RadStrategy")


@pytest.mark.xdist_group("freqai-models")
def test_classifier_in_dry_run_serves_classes_and_logs_p_up(tmp_path, reg):
    from inference_helpers import live_step, strategy_with_model

    from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
    from tradai_strategy.monitoring.prediction_log import PredictionLog

    path = tmp_path / "pred.sqlite"
    cfg = _serving_config(tmp_path, reg)
    cfg["freqai"]["tradai"]["prediction_log_path"] = str(path)
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(55, 75))[("BTC/USDT", "1h")]
    for i in range(300, 306):
        out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
    model.shutdown()
    assert out["do_predict"].iloc[-1] == 1 and out[LABEL].iloc[-1] in CLASSES
    np.testing.assert_allclose(out[CLASSES].sum(axis=1).iloc[-50:], 1.0, rtol=0, atol=1e-9)
    log = PredictionLog(path).frame("RadCls").set_index("time")
    served = out.assign(time=pd.to_datetime(out["date"], utc=True)).set_index("time")
    assert len(log) > 100  # every served candle after the training end
    np.testing.assert_allclose(log["prediction"], served.loc[log.index, "up"], rtol=0, atol=1e-12)


@pytest.mark.xdist_group("freqai-models")
def test_classifier_export_then_csv_inference_gives_identical_trades(tmp_path, reg):
    from tradai_strategy.data.prediction_table import write_predictions

    table = load_backtest_predictions(reg["model_dir"])
    csv = write_predictions(table, tmp_path / "preds.csv")
    source = {"type": "csv", "path": str(csv)}
    cfg = inference_config(tmp_path, reg["data"], source, target="updown")
    result = backtest(
        [write_config(tmp_path, cfg)],
        "RadStrategy",
        freqaimodel="TradAIPredictionModel",
        timerange=timerange(40, 60),
        datadir=reg["data"],
        userdir=tmp_path / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )
    cols = ["pair", "open_date", "close_date", "profit_abs"]
    assert len(reg["trades"]) > 5
    pd.testing.assert_frame_equal(
        result.trades[cols].reset_index(drop=True), reg["trades"][cols].reset_index(drop=True)
    )
