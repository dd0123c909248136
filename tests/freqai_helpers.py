"""Helpers for tests that run FreqAI backtests with TradAI's models on synthetic candles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.data.freqtrade_runner import BacktestResult, backtest

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ROOT / "user_data" / "strategies"
MODELS = ROOT / "user_data" / "freqaimodels"
TEST_STRATEGIES = ROOT / "tests" / "strategies"
SYNTH_START = "2024-01-01"

SMALL_LGBM = {"n_estimators": 120, "learning_rate": 0.08, "num_leaves": 15, "min_child_samples": 40}
#: the regime (five-class) tests' LightGBM: small, shallow, subsampled columns
REGIME_LGBM = {
    "n_estimators": 60,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 100,
    "colsample_bytree": 0.5,
    "verbose": -1,
}
SMALL_CATBOOST = {"iterations": 120, "learning_rate": 0.08, "depth": 4}


def timerange(first_day: int, last_day: int) -> str:
    first = pd.Timestamp(SYNTH_START) + pd.Timedelta(days=first_day)
    last = pd.Timestamp(SYNTH_START) + pd.Timedelta(days=last_day)
    return f"{first:%Y%m%d}-{last:%Y%m%d}"


def herald_config(folder: Path, pairs: list[str], days: int, horizon: int = 12) -> Path:
    """``days`` of the herald regime market (seed 1) in ``folder/data`` and a regime training
    config of :data:`REGIME_LGBM` for it (``folder/config.json``, returned)."""
    from tradai_strategy.data.synthetic_regimes import Herald, write_regime_data

    data = folder / "data"
    write_regime_data(pairs, "1h", days, seed=1, datadir=data, herald=Herald(horizon))
    meta = StrategyMeta(
        pairs=list(pairs),
        datadir=str(data),
        target="regime",
        label_period_candles=horizon,
        model_training_parameters=REGIME_LGBM,
    )
    path = folder / "config.json"
    path.write_text(json.dumps(build_training_config(meta)))
    return path


def small_training_config(
    datadir: Path,
    identifier: str,
    *,
    trees: int | None = None,
    **meta: Any,
) -> dict[str, Any]:
    """The builder's training config for the tests' small synthetic runs: BTC/ETH, 30/20-day
    windows, :data:`SMALL_LGBM` (``trees`` overrides its ``n_estimators``), one data-kitchen
    thread; ``meta`` overrides any :class:`StrategyMeta` field."""
    kw: dict[str, Any] = {
        "pairs": ["BTC/USDT", "ETH/USDT"],
        "identifier": identifier,
        "train_period_days": 30,
        "backtest_period_days": 20,
        "datadir": str(datadir),
        "model_training_parameters": SMALL_LGBM,
    }
    kw.update(meta)
    if trees is not None:
        kw["model_training_parameters"] = {**kw["model_training_parameters"], "n_estimators": trees}
    cfg = build_training_config(StrategyMeta(**kw))
    # one thread per estimator: the suite runs two xdist workers on two cores
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    return cfg


def run_training_backtest(
    tmp: Path,
    datadir: Path,
    *,
    identifier: str,
    freqaimodel: str = "TrainingPredictionModel",
    strategy: str = "RadStrategy",
    tr: str,
    meta_overrides: dict[str, Any] | None = None,
    config_edit: Any = None,
) -> tuple[BacktestResult, dict[str, Any], Path]:
    """Run an offline FreqAI backtest and return (result, metrics-or-{}, model folder)."""
    cfg = small_training_config(datadir, identifier, **(meta_overrides or {}))
    if config_edit is not None:
        config_edit(cfg)
    cfg_path = tmp / f"{identifier}.json"
    cfg_path.write_text(json.dumps(cfg))
    userdir = tmp / "user_data"
    result = backtest(
        [cfg_path],
        strategy,
        freqaimodel=freqaimodel,
        timerange=tr,
        datadir=datadir,
        userdir=userdir,
        strategy_path=STRATEGIES if strategy == "RadStrategy" else TEST_STRATEGIES,
        freqaimodel_path=MODELS,
        offline=True,
    )
    model_dir = userdir / "models" / identifier
    metrics_path = model_dir / "tradai_metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return result, metrics, model_dir
