"""Helpers for the inference-model tests: configs, and FreqAI's live path driven by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from freqai_helpers import MODELS, STRATEGIES
from freqtrade.data.dataprovider import DataProvider
from freqtrade.enums import RunMode
from freqtrade.resolvers import StrategyResolver

from tradai_strategy.cli.config_builder import StrategyMeta, build_inference_config
from tradai_strategy.replay.registry_server import RegistryServer

PAIRS = ["BTC/USDT", "ETH/USDT"]


def inference_config(
    tmp: Path,
    datadir: Path,
    source: dict[str, Any],
    *,
    identifier: str = "inference",
    freqaimodel: str = "TradAIPredictionModel",
    **meta: Any,
) -> dict[str, Any]:
    """TradAI's inference config (the builder's) for the tests' small synthetic setup."""
    kw: dict[str, Any] = {
        "pairs": PAIRS,
        "identifier": identifier,
        "train_period_days": 30,
        "backtest_period_days": 20,
        "datadir": str(datadir),
        "prediction_source": source,
    }
    kw.update(meta)
    cfg = build_inference_config(StrategyMeta(**kw))
    cfg["freqaimodel"] = freqaimodel
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    return cfg


def write_config(tmp: Path, cfg: dict[str, Any], name: str = "inference.json") -> Path:
    path = tmp / name
    path.write_text(json.dumps(cfg))
    return path


def runtime_config(
    tmp: Path, cfg: dict[str, Any], runmode: RunMode, timerange: str | None = None
) -> dict[str, Any]:
    """What freqtrade's Configuration adds that FreqAI reads (for models built by hand)."""
    out = json.loads(json.dumps(cfg))
    userdir = tmp / "user_data"
    (userdir / "models").mkdir(parents=True, exist_ok=True)
    out.update(
        runmode=runmode,
        user_data_dir=userdir,
        config_files=[str(write_config(tmp, cfg, "runtime.json"))],
        strategy_path=str(STRATEGIES),
        freqaimodel_path=str(MODELS),
    )
    if timerange:
        out["timerange"] = timerange
    return out


def strategy_with_model(config: dict[str, Any], model_cls: type) -> tuple[Any, Any]:
    """RadStrategy with ``model_cls`` as its FreqAI model and a data provider (no exchange)."""
    strategy = StrategyResolver.load_strategy(config)
    strategy.dp = DataProvider(config, None)
    model = model_cls(config=config)
    strategy.freqai = model
    return strategy, model


def live_step(strategy: Any, candles: pd.DataFrame, pair: str) -> pd.DataFrame:
    """One bot iteration for one pair: FreqAI's ``start`` on the candles seen so far."""
    return strategy.freqai.start(candles.copy(), {"pair": pair}, strategy)


def loaded_timerange(timerange: str, startup_candles: int, days: int = 0) -> str:
    """The (1h) candles freqtrade loads for a FreqAI backtest of ``timerange``: ``days`` of
    training history (``train_period_days``) and the startup candles before it, to its end."""
    first, last = (pd.Timestamp(day, tz="UTC") for day in timerange.split("-"))
    start = first - pd.Timedelta(days=days, hours=startup_candles)
    return f"{int(start.timestamp())}-{int(last.timestamp())}"


def freqai_pickled_predict(window: Path, x: pd.DataFrame, label: str = "&-s_close"):
    """The in-process estimator: FreqAI's predict steps with the estimator and pipelines it
    pickled for one window (test-only unpickling of files this test run wrote)."""
    import cloudpickle
    import numpy as np

    stem = str(next(window.glob("*_metadata.json"))).removesuffix("_metadata.json")

    def load(suffix: str) -> Any:
        with open(f"{stem}{suffix}", "rb") as fh:
            return cloudpickle.load(fh)

    features = json.loads(Path(f"{stem}_metadata.json").read_text())["training_features_list"]
    xt, _, _ = load("_feature_pipeline.pkl").transform(x[features], outlier_check=True)
    raw = load("_model.joblib").predict(xt).reshape(-1, 1)
    pred, _, _ = load("_label_pipeline.pkl").inverse_transform(pd.DataFrame(raw, columns=[label]))
    return np.asarray(pred, dtype=float)[:, 0]


class MlflowServer(RegistryServer):
    """A real ``mlflow server`` on 127.0.0.1 (sqlite + served artifacts under ``root``),
    started here and stopped by the test; every wait is bounded (the replay's launcher)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(
            f"sqlite:///{root / 'server.db'}",
            root / "artifacts",
            root / "server.log",
            serve_artifacts=True,
        )
        self.start(90.0)


TINY_LGBM = {"n_estimators": 30, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 40}


def registered_small_bundle(tmp: Path, data: Path, identifier: str) -> tuple[Path, str]:
    """A small RadStrategy training run (days 40-50, 20-day windows) on ``data``, its bundle
    registered as ``Rad`` v1 ``@production`` in ``tmp/mlflow.db``; returns (bundle, uri)."""
    from freqai_helpers import run_training_backtest, timerange

    from tradai_strategy.bundle.format import bundle_from_model_dir
    from tradai_strategy.registry.bundle_registry import register_bundle

    _, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier=identifier,
        tr=timerange(40, 50),
        meta_overrides={
            "train_period_days": 20,
            "backtest_period_days": 10,
            "model_training_parameters": TINY_LGBM,
        },
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    assert register_bundle(bundle, "Rad", alias="production", tracking_uri=uri) == "1"
    return bundle, uri
