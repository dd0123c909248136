"""Real in-process `freqtrade backtesting` with TradAI's FreqAI models on synthetic candles."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from freqai_helpers import (
    SMALL_CATBOOST,
    SMALL_LGBM,
    run_training_backtest,
    timerange,
)

from tradai_strategy.data.synthetic import write_synthetic_data

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def planted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("planted")
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 110, seed=11, signal="planted", datadir=d)
    return d


CASES = [
    ("TrainingPredictionModel", "lightgbm", "return", SMALL_LGBM),
    ("TrainingPredictionModel", "catboost", "return", SMALL_CATBOOST),
    ("TrainingClassifierModel", "lightgbm", "updown", SMALL_LGBM),
    ("TrainingClassifierModel", "catboost", "updown", SMALL_CATBOOST),
    ("CatboostRegressor", "lightgbm", "return", SMALL_CATBOOST),
    ("CatboostClassifier", "lightgbm", "updown", SMALL_CATBOOST),
]


@pytest.mark.xdist_group("freqai-models")
@pytest.mark.parametrize(("model", "estimator", "target", "params"), CASES)
def test_model_backtests_trades_predictions_metrics(
    tmp_path, planted_dir, model, estimator, target, params
):
    ident = f"{model}-{estimator}-{target}".lower()
    result, metrics, model_dir = run_training_backtest(
        tmp_path,
        planted_dir,
        identifier=ident,
        freqaimodel=model,
        tr=timerange(40, 100),
        meta_overrides={
            "estimator": estimator,
            "target": target,
            "model_training_parameters": params,
        },
    )
    assert len(result.trades) > 0
    assert set(result.trades["pair"]) <= {"BTC/USDT", "ETH/USDT"}
    preds = sorted((model_dir / "backtesting_predictions").glob("*.feather"))
    assert len(preds) == 2 * 3  # 2 pairs x 3 windows of 20 days
    frame = pd.read_feather(preds[0])
    label = "&-s_close" if target == "return" else "&-s_updown"
    assert label in frame.columns and "do_predict" in frame.columns
    assert frame["do_predict"].mean() > 0.9
    if model.startswith("Catboost"):
        assert not metrics  # plain FreqAI models write no TradAI metrics
        return
    assert set(metrics["pairs"]) == {"BTC/USDT", "ETH/USDT"}
    for payload in metrics["pairs"].values():
        (lab,) = payload["labels"]
        assert lab["label"] == label
        assert len(lab["windows"]) == 3
        assert lab["pooled"]["n"] >= 100
    summary = metrics["summary"][label]
    if target == "return":
        # planted signal, small sample: the pooled IC over both pairs is positive (the
        # strict planted/none checks run on longer data in test_leakage.py)
        assert summary["metric"] == "rank_ic" and summary["mean"] > 0
    else:
        assert summary["metric"] == "accuracy" and 0.0 <= summary["mean"] <= 1.0


@pytest.mark.xdist_group("freqai-models")
def test_purge_recorded_in_every_window(tmp_path, planted_dir):
    """Every trained window's last training row is > label_period_candles before its eval part."""
    _, _, model_dir = run_training_backtest(
        tmp_path, planted_dir, identifier="purge-check", tr=timerange(40, 80)
    )
    metas = sorted(model_dir.glob("sub-train-*/*_metadata.json"))
    assert len(metas) == 4
    for path in metas:
        split = json.loads(path.read_text())["tradai_split"]
        last_train = pd.Timestamp(split["train_dates"][1])
        first_eval = pd.Timestamp(split["eval_dates"][0])
        # label of the last training row covers (t, t + 12h]: it must end before the eval part
        assert last_train + pd.Timedelta(hours=12) < first_eval
        assert split["purged_rows"] == 12


@pytest.mark.xdist_group("freqai-models")
@pytest.mark.parametrize("estimator", ["lightgbm", "catboost"])
def test_models_saved_in_native_format(tmp_path, planted_dir, estimator):
    """With save_backtest_models, each window's estimator is also saved natively (no pickle)."""
    import numpy as np

    params = SMALL_LGBM if estimator == "lightgbm" else SMALL_CATBOOST
    _, _, model_dir = run_training_backtest(
        tmp_path,
        planted_dir,
        identifier=f"native-{estimator}",
        tr=timerange(40, 60),
        meta_overrides={"estimator": estimator, "model_training_parameters": params},
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    suffix = "_model.lgb.txt" if estimator == "lightgbm" else "_model.cbm"
    natives = sorted(model_dir.glob(f"sub-train-*/*{suffix}"))
    assert len(natives) == 2  # 2 pairs x 1 window
    meta = json.loads(next(natives[0].parent.glob("*_metadata.json")).read_text())
    n_features = len(meta["training_features_list"])
    x = np.random.default_rng(0).uniform(-1, 1, size=(50, n_features))
    if estimator == "lightgbm":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(natives[0]))
        assert booster.num_feature() == n_features
        pred = booster.predict(x)
    else:
        import catboost as cb

        model = cb.CatBoostRegressor()
        model.load_model(str(natives[0]))
        pred = model.predict(x)
    assert pred.shape == (50,) and np.isfinite(pred).all() and np.ptp(pred) > 0
    # same predictions as the model FreqAI pickled beside it (test-only unpickling)
    import cloudpickle

    joblib_file = next(natives[0].parent.glob("*_model.joblib"))
    with joblib_file.open("rb") as fh:
        pickled = cloudpickle.load(fh)
    named = pd.DataFrame(x, columns=meta["training_features_list"])  # as it was fitted
    np.testing.assert_allclose(pred, pickled.predict(named), rtol=1e-9, atol=1e-12)


def test_lightgbm_eval_part_is_scored_only_for_early_stopping() -> None:
    """Without early stopping the eval part changes no tree, so it is not passed (LightGBM
    would score it every round): the same predictions as a fit that was given it; with
    early stopping it is used and stops the fit."""
    import lightgbm as lgb
    import numpy as np

    from tradai_strategy.models.estimators import build_estimator, fit_estimator

    rng = np.random.default_rng(7)
    cols = [f"%-f{i}" for i in range(8)]
    x = pd.DataFrame(rng.normal(size=(600, 8)), columns=cols)
    test_x = pd.DataFrame(rng.normal(size=(150, 8)), columns=cols)
    data = {
        "train_features": x,
        "train_labels": pd.DataFrame({"&-y": x["%-f0"] * 0.2 + rng.normal(size=600)}),
        "train_weights": np.ones(600),
        "test_features": test_x,
        "test_labels": pd.DataFrame({"&-y": rng.normal(size=150)}),
        "test_weights": np.ones(150),
    }
    params = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 7, "n_jobs": 1}
    plain = fit_estimator(build_estimator("lightgbm", "regression", params, 42), data, 0)
    given = build_estimator("lightgbm", "regression", params, 42)
    given.fit(x, data["train_labels"]["&-y"], eval_X=(test_x,), eval_y=(data["test_labels"],))
    assert not plain.evals_result_  # not scored
    assert np.array_equal(plain.predict(test_x), given.predict(test_x))
    stopped = fit_estimator(build_estimator("lightgbm", "regression", params, 42), data, 5)
    assert isinstance(stopped, lgb.LGBMRegressor) and stopped.best_iteration_ < 200
