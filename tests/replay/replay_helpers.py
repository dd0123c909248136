"""Helpers for the replay tests: synthetic candles, a csv prediction table, configs, and the
per-candle signals of a backtest (freqtrade's Backtesting, in-process and offline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqai_helpers import MODELS, STRATEGIES
from inference_helpers import PAIRS, inference_config, registered_small_bundle

from tradai_strategy.data.offline import offline_markets
from tradai_strategy.data.prediction_table import write_predictions
from tradai_strategy.data.synthetic import DEFAULT_STRENGTH, write_synthetic_data

LABEL = "&-s_close"


def synthetic_datadir(root: Path, days: int = 20, seed: int = 7) -> Path:
    """``days`` of 1h candles of the two test pairs from 2024-01-01."""
    data = root / "data"
    write_synthetic_data(PAIRS, "1h", days, seed=seed, signal="planted", datadir=data)
    return data


def random_predictions(data: Path, out: Path, seed: int = 3) -> Path:
    """A valid prediction table for every candle of ``data``: noise scaled like returns,
    with a few ``do_predict = 0`` rows (so both signal kinds occur)."""
    rng = np.random.default_rng(seed)
    frames = []
    for pair in PAIRS:
        candles = pd.read_feather(data / f"{pair.replace('/', '_')}-1h.feather")
        n = len(candles)
        frames.append(
            pd.DataFrame(
                {
                    "date": candles["date"],
                    "pair": pair,
                    LABEL: rng.normal(0.0, 0.01, n),
                    f"{LABEL}_mean": 0.0,
                    f"{LABEL}_std": 0.01,
                    "do_predict": (rng.random(n) > 0.1).astype(int),
                }
            )
        )
    return write_predictions(pd.concat(frames, ignore_index=True), out)


def csv_config(root: Path, data: Path, csv: Path, identifier: str = "replay-csv") -> Path:
    cfg = inference_config(root, data, {"type": "csv", "path": str(csv)}, identifier=identifier)
    cfg["freqai"]["train_period_days"] = 0
    path = root / f"{identifier}.json"
    path.write_text(json.dumps(cfg))
    return path


def registered_world(
    tmp: Path,
    identifier: str,
    *,
    strength: float = DEFAULT_STRENGTH,
    startup_days: int | None = None,
) -> dict[str, Any]:
    """60 days of planted candles (seed 5), the small bundle registered as ``Rad`` v1
    @production in ``tmp/mlflow.db``, and a TradAIMLflowModel config serving
    ``models:/Rad@production`` (``startup_days``: its ``train_period_days``, the bot's
    start-up window). Returns tmp, data, config, uri and bundle."""
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 60, seed=5, signal="planted", strength=strength, datadir=data)
    bundle, uri = registered_small_bundle(tmp, data, identifier)
    cfg = inference_config(
        tmp, data, {"type": "mlflow", "model_uri": "models:/Rad@production"},
        identifier=identifier, freqaimodel="TradAIMLflowModel",
    )  # fmt: skip
    cfg["freqai"]["tradai"]["tracking_uri"] = uri
    if startup_days is not None:
        cfg["freqai"]["train_period_days"] = startup_days
    path = tmp / "mlflow.json"
    path.write_text(json.dumps(cfg))
    return {"tmp": tmp, "data": data, "config": path, "uri": uri, "bundle": bundle}


def replay_options(root: Path, data: Path, **kw: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "freqaimodel": "TradAIPredictionModel",
        "userdir": root / "user_data",
        "datadir": data,
        "strategy_path": STRATEGIES,
        "freqaimodel_path": MODELS,
    }
    opts.update(kw)
    return opts


def backtest_signals(
    config_path: Path, timerange: str, data: Path, userdir: Path, freqaimodel: str
) -> pd.DataFrame:
    """Per (pair, candle) signals of a backtest of ``timerange``: freqtrade's Backtesting
    computes indicators and signals exactly as ``freqtrade backtesting`` does before it
    simulates trades; the frame is cut to the timerange as the backtest cuts it."""
    from freqtrade.configuration import Configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    args = {
        "config": [str(config_path)],
        "strategy": "RadStrategy",
        "command": "backtesting",
        "timerange": timerange,
        "datadir": str(data),
        "user_data_dir": str(userdir),
        "strategy_path": str(STRATEGIES),
        "freqaimodel": freqaimodel,
        "freqaimodel_path": str(MODELS),
        "cache": "none",
    }
    userdir.mkdir(parents=True, exist_ok=True)
    config = Configuration(args, RunMode.BACKTEST).get_config()
    try:
        with offline_markets(PAIRS, datadir=data):
            bt = Backtesting(config)
            data_dict, tr = bt.load_bt_data()
            bt._set_strategy(bt.strategylist[0])  # what Backtesting.start does per strategy
            processed = bt.strategy.advise_all_indicators(data_dict)
            frames = []
            for pair, df in processed.items():
                sig = bt.strategy.ft_advise_signals(df.copy(), {"pair": pair})
                sig = sig[(sig["date"] >= tr.startdt) & (sig["date"] < tr.stopdt)]
                frames.append(sig.assign(pair=pair))
    finally:
        Backtesting.cleanup()
    return pd.concat(frames, ignore_index=True)
