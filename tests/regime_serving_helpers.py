"""A registered regime classifier for the serving, live-log, status and strategy tests.

One LightGBM ``TrainingClassifierModel`` on RadStrategy's ``regime`` target is trained in an
offline FreqAI backtest on the planted regime market (one 30-day walk-forward window, model
trained on the 60 days before it), bundled and registered as ``Regime`` v1 ``@production``
in a sqlite registry. Built once per test process (module fixtures of several test files
share it) and never changed by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from freqai_helpers import REGIME_LGBM, run_training_backtest, timerange
from inference_helpers import inference_config

from tradai_strategy.bundle.format import bundle_from_model_dir
from tradai_strategy.data.prediction_files import load_backtest_predictions
from tradai_strategy.data.synthetic_regimes import write_regime_data
from tradai_strategy.registry.bundle_registry import register_bundle

PAIRS = ["BTC/USDT", "ETH/USDT"]
H = 12
#: trailing windows of the regime thresholds (shorter than the default 720: more labelled
#: rows in a 60-day training window)
REGIME = {"lookback": 240}
#: candles of history the regime features need before a candle: lookback + h, and a margin
STARTUP = 300
DAYS = 125
OOS = (90, 120)  # one backtest window of 30 days; the model trains on days 30-90
META = {
    "target": "regime",
    "label_period_candles": H,
    "train_period_days": 60,
    "backtest_period_days": 30,
    "model_training_parameters": REGIME_LGBM,
}
NAME = "Regime"
URI = f"models:/{NAME}@production"
#: small presets of the other estimators (the LightGBM one is REGIME_LGBM)
OTHER_PARAMS = {
    "catboost": {"iterations": 60, "depth": 4, "learning_rate": 0.1},
    "random_forest": {
        "n_estimators": 40,
        "max_depth": 6,
        "min_samples_leaf": 20,
        "max_features": 0.5,
    },
}

_BUILT: dict[str, dict[str, Any]] = {}


def _regime_settings(cfg: dict[str, Any]) -> None:
    cfg["freqai"]["tradai"]["regime"] = dict(REGIME)
    cfg["startup_candle_count"] = STARTUP


def _training_edit(cfg: dict[str, Any]) -> None:
    _regime_settings(cfg)
    cfg["freqai"]["save_backtest_models"] = True


def registered_regime_model(
    factory: pytest.TempPathFactory, estimator: str = "lightgbm"
) -> dict[str, Any]:
    """The training run, its OOS predictions, bundle and registry (see module docstring);
    ``estimator``: lightgbm (:data:`REGIME_LGBM`) or catboost / random_forest
    (:data:`OTHER_PARAMS`)."""
    if estimator in _BUILT:
        return _BUILT[estimator]
    tmp = factory.mktemp(f"regime-serving-{estimator}")
    data = tmp / "data"
    _, path = write_regime_data(PAIRS, "1h", DAYS, seed=1, datadir=data)
    meta = dict(META)
    if estimator != "lightgbm":
        meta.update(estimator=estimator, model_training_parameters=OTHER_PARAMS[estimator])
    _, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier=f"regime-serving-{estimator}",
        freqaimodel="TrainingClassifierModel",
        tr=timerange(*OOS),
        meta_overrides=meta,
        config_edit=_training_edit,
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    assert register_bundle(bundle, NAME, alias="production", tracking_uri=uri) == "1"
    _BUILT[estimator] = {
        "tmp": tmp,
        "data": data,
        "path": path,
        "model_dir": model_dir,
        "table": load_backtest_predictions(model_dir),
        "bundle": bundle,
        "uri": uri,
    }
    return _BUILT[estimator]


def regime_serving_config(
    tmp: Path, run: dict[str, Any], *, target: str = "regime", **meta: Any
) -> dict[str, Any]:
    """TradAIMLflowModel serving ``Regime@production`` with the training's regime settings."""
    cfg = inference_config(
        tmp,
        run["data"],
        {"type": "mlflow", "model_uri": URI},
        freqaimodel="TradAIMLflowModel",
        target=target,
        label_period_candles=H,
        **meta,
    )
    _regime_settings(cfg)
    cfg["freqai"]["tradai"]["tracking_uri"] = run["uri"]
    return cfg


def serve_regime(
    tmp: Path, run: dict[str, Any], cfg: dict[str, Any], strategy: str = "RadStrategy"
) -> Any:
    """A TradAIMLflowModel backtest of ``cfg`` over the OOS days (its BacktestResult)."""
    from freqai_helpers import MODELS, STRATEGIES
    from inference_helpers import write_config

    from tradai_strategy.data.freqtrade_runner import backtest

    return backtest(
        [write_config(tmp, cfg)],
        strategy,
        freqaimodel="TradAIMLflowModel",
        timerange=timerange(*OOS),
        datadir=run["data"],
        userdir=tmp / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )


def served_predictions(tmp: Path) -> Any:
    """What :func:`serve_regime` served: FreqAI's backtest prediction files."""
    return load_backtest_predictions(tmp / "user_data" / "models" / "inference-inference")
