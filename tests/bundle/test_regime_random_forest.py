"""``estimator = "random_forest"``: scikit-learn's random forest trains the regime target in a
FreqAI backtest, goes into the bundle as skops (trusted types only, never a pickle), and the
reloaded bundle predicts what FreqAI's own pickled estimator predicts."""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from freqai_helpers import run_training_backtest, timerange

from tradai_strategy.bundle.format import bundle_from_model_dir, load_bundle
from tradai_strategy.bundle.io import load_estimator
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES
from tradai_strategy.data.prediction_files import load_backtest_predictions
from tradai_strategy.data.synthetic_regimes import write_regime_data
from tradai_strategy.models.estimators import build_estimator

pytestmark = pytest.mark.e2e
PARAMS = {"n_estimators": 40, "max_depth": 6, "min_samples_leaf": 20, "max_features": 0.5}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("regime-rf")
    write_regime_data(["BTC/USDT", "ETH/USDT"], "1h", 120, seed=2, datadir=tmp / "data")
    _, metrics, model_dir = run_training_backtest(
        tmp,
        tmp / "data",
        identifier="regime-rf",
        freqaimodel="TrainingClassifierModel",
        tr=timerange(60, 100),
        meta_overrides={
            "target": "regime",
            "estimator": "random_forest",
            "label_period_candles": 12,
            "train_period_days": 40,
            "model_training_parameters": PARAMS,
        },
        config_edit=lambda c: c["freqai"].update(
            save_backtest_models=True, tradai={**c["freqai"]["tradai"], "regime": {"lookback": 240}}
        ),
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    return {"tmp": tmp, "dir": model_dir, "bundle": bundle, "metrics": metrics}


def _pickled(model_dir: Path, pair: str) -> tuple[object, object, list[str], pd.DataFrame]:
    """FreqAI's own estimator, pipeline, features and training rows of the latest window."""
    coin = pair.split("/")[0]
    window = max(model_dir.glob(f"sub-train-{coin}_*"), key=lambda p: int(p.name.split("_")[-1]))
    stem = str(next(window.glob("*_metadata.json"))).removesuffix("_metadata.json")

    def load(suffix: str) -> object:
        with open(f"{stem}{suffix}", "rb") as fh:
            return cloudpickle.load(fh)

    meta = json.loads(Path(f"{stem}_metadata.json").read_text())
    return (
        load("_model.joblib"),
        load("_feature_pipeline.pkl"),
        meta["training_features_list"],
        pd.read_pickle(f"{stem}_trained_df.pkl"),
    )


@pytest.mark.xdist_group("freqai-models")
def test_random_forest_trains_bundles_reloads_and_predicts_identically(run: dict) -> None:
    table = load_backtest_predictions(run["dir"])
    assert {REGIME_LABEL, *REGIMES} <= set(table.columns)
    manifest = load_bundle(run["bundle"]).manifest
    assert manifest["task"] == "classification"
    for meta in manifest["pairs"].values():
        assert meta["estimator"] == "random_forest" and meta["model_file"] == "model.skops"
        assert set(meta["classes"]) <= set(REGIMES) and len(meta["classes"]) >= 4
    assert not list(Path(run["bundle"]).rglob("*.pkl")) and not list(
        Path(run["bundle"]).rglob("*.joblib")
    )
    bundle = load_bundle(run["bundle"])
    for pair in bundle.pairs:
        pickled, pipeline, features, trained = _pickled(run["dir"], pair)
        served = bundle.model(pair)
        assert type(served.estimator).__name__ == "RandomForestClassifier"
        # raw feature rows -> the bundle's pipeline and forest vs FreqAI's pickles
        raw, _, _ = pipeline.inverse_transform(trained.head(300))  # type: ignore[attr-defined]
        raw = pd.DataFrame(np.asarray(raw), columns=features)
        pred, do_predict, _ = served.predict(raw)
        xt, _, _ = pipeline.transform(raw, outlier_check=True)  # type: ignore[attr-defined]
        want = np.asarray(pickled.predict_proba(xt))  # type: ignore[attr-defined]
        np.testing.assert_allclose(pred[served.classes].to_numpy(), want, rtol=0, atol=1e-12)
        best = np.asarray(pickled.predict(xt)).ravel()  # type: ignore[attr-defined]
        assert pred[REGIME_LABEL].tolist() == best.tolist()
        assert (do_predict == 1).all()


def test_random_forest_file_with_an_untrusted_type_is_refused(tmp_path: Path) -> None:
    """A skops file naming a type outside the trusted list is never built."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    evil = Pipeline([("f", FunctionTransformer(func=np.sum))])
    path = tmp_path / "model.skops"
    sio.dump(evil, path)
    with pytest.raises(TradAIDataError, match="not a readable random_forest model"):
        load_estimator("random_forest", path, "classification")
    fine = build_estimator("random_forest", "classification", {"n_estimators": 3}, seed=1)
    x = np.random.default_rng(0).normal(size=(60, 3))
    fine.fit(x, np.where(x[:, 0] > 0, "bull", "bear"))
    sio.dump(fine, path)
    loaded = load_estimator("random_forest", path, "classification")
    np.testing.assert_array_equal(loaded.predict_proba(x), fine.predict_proba(x))
