"""Shared by the parallel pre-training tests (issue 19): a small FreqAI training backtest
with a chosen executor, and the check that two runs left the same files, predictions and
trades."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqai_helpers import run_training_backtest, timerange

from tradai_strategy.data.synthetic import write_synthetic_data

TRADE_COLUMNS = ["pair", "open_date", "close_date", "open_rate", "close_rate", "profit_abs"]
IDENT = "pretrain-eq"


def write_candles(d: Path) -> Path:
    """2 pairs x 110 days of synthetic 1h candles with a planted signal."""
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 110, seed=5, signal="planted", datadir=d)
    return d


def run(
    tmp: Path, candles: Path, executor: dict[str, Any] | None, classifier: bool = False
) -> tuple[Any, Path]:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["freqai"]["save_backtest_models"] = True  # models, pipelines, native copies too
        if executor is not None:
            cfg["freqai"]["tradai"]["executor"] = executor

    result, _, model_dir = run_training_backtest(
        tmp,
        candles,
        identifier=IDENT,
        tr=timerange(40, 100),
        config_edit=edit,
        freqaimodel="TrainingClassifierModel" if classifier else "TrainingPredictionModel",
        meta_overrides={"target": "updown"} if classifier else None,
    )
    return result, model_dir


def model_files(model_dir: Path) -> list[str]:
    """The files of a model folder, minus the run's config copies and logs."""
    return sorted(
        str(p.relative_to(model_dir))
        for p in model_dir.rglob("*")
        if p.is_file() and (p.suffix != ".json" or p.name.endswith("_metadata.json"))
    )


def read_json(model_dir: Path, name: str) -> Any:
    """A JSON file of a model folder, with the folder's own path written as <dir>."""
    return json.loads((model_dir / name).read_text().replace(str(model_dir), "<dir>"))


def assert_same_run(a: tuple[Any, Path], b: tuple[Any, Path]) -> None:
    (res_a, dir_a), (res_b, dir_b) = a, b
    files = model_files(dir_a)
    assert files == model_files(dir_b)
    assert sum(f.endswith("_model.joblib") for f in files) == 6  # save_backtest_models
    native = [f for f in files if f.endswith(".lgb.txt")]  # TradAI's own copies, byte for byte
    assert len(native) == 6
    assert all((dir_a / f).read_bytes() == (dir_b / f).read_bytes() for f in native)
    preds = sorted((dir_a / "backtesting_predictions").glob("*.feather"))
    assert len(preds) == 2 * 3  # 2 pairs x 3 windows
    for path in preds:
        fa = pd.read_feather(path)
        fb = pd.read_feather(dir_b / "backtesting_predictions" / path.name)
        assert list(fa.columns) == list(fb.columns)
        assert fa["date"].equals(fb["date"])
        num = fa.select_dtypes("number").columns
        np.testing.assert_allclose(fa[num].to_numpy(), fb[num].to_numpy(), rtol=0, atol=1e-9)
    metas = [str(p.relative_to(dir_a)) for p in dir_a.glob("sub-train-*/*_metadata.json")]
    for name in [*metas, "tradai_metrics.json", "pair_dictionary.json"]:
        assert read_json(dir_a, name) == read_json(dir_b, name), name
    assert len(res_a.trades) > 0
    pd.testing.assert_frame_equal(
        res_a.trades[TRADE_COLUMNS].reset_index(drop=True),
        res_b.trades[TRADE_COLUMNS].reset_index(drop=True),
    )
