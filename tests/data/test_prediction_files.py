"""FreqAI backtest prediction files: loading, pair mapping, and the pooled OOS IC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import SMALL_LGBM, run_training_backtest, timerange
from freqtrade.configuration import TimeRange
from freqtrade.data.history import load_pair_history

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.data.prediction_files import (
    load_backtest_predictions,
    pooled_oos_ic,
    prediction_file_pairs,
)
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.stats.ic import non_overlapping_ic

PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-s_close"


def _write_window(
    model_dir: Path, coin: str, ts: int, start: str, rows: int, value: float = 0.0
) -> pd.DataFrame:
    folder = model_dir / "backtesting_predictions"
    folder.mkdir(parents=True, exist_ok=True)
    dates = pd.date_range(start, periods=rows, freq="1h", tz="UTC").as_unit("ms")
    df = pd.DataFrame(
        {
            "date": dates,
            "%%-user_col": 1.0,
            LABEL: np.linspace(-1, 1, rows) + value,
            f"{LABEL}_mean": 0.0,
            f"{LABEL}_std": 1.0,
            "do_predict": 1.0,
        }
    )
    df.to_feather(folder / f"cb_{coin}_{ts}_prediction.feather")
    return df


def _run_params(model_dir: Path, pairs: list[str]) -> None:
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "run_params.json").write_text(json.dumps({"pairs": pairs}))


def test_files_map_to_whitelisted_pairs_sorted_without_duplicates(tmp_path):
    md = tmp_path / "model"
    _run_params(md, ["ETH/USDT", "BTC/USDT"])
    _write_window(md, "eth", 1700003600, "2023-11-15 00:00", 24)
    _write_window(md, "btc", 1700003600, "2023-11-15 00:00", 24)
    # an older window overlapping the first 6 hours of the next one: newest model wins
    _write_window(md, "btc", 1699917200, "2023-11-14 06:00", 24, value=100.0)
    table = load_backtest_predictions(md)
    assert list(table.columns) == [
        "date",
        "pair",
        LABEL,
        f"{LABEL}_mean",
        f"{LABEL}_std",
        "do_predict",
    ]
    assert list(table["pair"].unique()) == ["BTC/USDT", "ETH/USDT"]
    assert not table.duplicated(["pair", "date"]).any()
    btc = table[table["pair"] == "BTC/USDT"]
    assert btc["date"].is_monotonic_increasing and len(btc) == 18 + 24
    assert (btc[LABEL].iloc[:18] > 50).all()  # old window only where the new one is absent
    assert (btc[LABEL].iloc[18:] < 50).all()
    assert str(table["date"].dt.tz) == "UTC"


def test_explicit_pairs_select_and_unknown_or_ambiguous_files_fail(tmp_path):
    md = tmp_path / "model"
    _run_params(md, ["BTC/USDT"])
    _write_window(md, "btc", 1700003600, "2023-11-15 00:00", 12)
    _write_window(md, "sol", 1700003600, "2023-11-15 00:00", 12)
    with pytest.raises(TradAIDataError, match="'sol' is in none of the run's pairs"):
        load_backtest_predictions(md)
    only = load_backtest_predictions(md, pairs=["SOL/USDT"])
    assert set(only["pair"]) == {"SOL/USDT"}
    mapping = prediction_file_pairs(md, pairs=["BTC/USDT", "SOL/USDT"])
    assert sorted(mapping.values()) == [("BTC/USDT", 1700003600), ("SOL/USDT", 1700003600)]
    with pytest.raises(TradAIDataError, match="same base currency"):
        load_backtest_predictions(md, pairs=["BTC/USDT", "BTC/USDC"])
    with pytest.raises(TradAIDataError):
        load_backtest_predictions(tmp_path / "nothing-here")
    (md / "run_params.json").unlink()
    with pytest.raises(TradAIDataError, match="pairs="):
        load_backtest_predictions(md)


def test_pooled_ic_masks_do_predict_and_strides_the_pooled_series(tmp_path):
    rng = np.random.default_rng(3)
    n, h = 400, 6
    dates = pd.date_range("2024-01-01", periods=n + 50, freq="1h", tz="UTC")
    candles = pd.DataFrame(
        {"date": dates, "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n + 50)))}
    )
    realised = forward_mean_return(candles["close"], h).to_numpy()
    pred = realised[20 : 20 + n] + rng.normal(0, 0.01, n)
    do_predict = np.where(rng.random(n) < 0.1, 0.0, 1.0)
    preds = pd.DataFrame(
        {"date": dates[20 : 20 + n], "pair": "BTC/USDT", LABEL: pred, "do_predict": do_predict}
    )
    res = pooled_oos_ic(preds.iloc[::-1], {"BTC/USDT": candles}, horizon=h)  # order-free
    expected = non_overlapping_ic(np.where(do_predict == 1, pred, np.nan), realised[20 : 20 + n], h)
    assert res["BTC/USDT"] == expected
    assert expected.n < n // h  # masked rows keep their place, they are not skipped over
    with pytest.raises(KeyError, match="no candles"):
        pooled_oos_ic(preds, {}, horizon=h)


@pytest.mark.e2e
def test_real_backtest_table_and_ic_match_tradai_metrics(tmp_path):
    """One small offline FreqAI backtest; our IC from the files equals tradai_metrics.json."""
    datadir = tmp_path / "data"
    write_synthetic_data(PAIRS, "1h", 72, seed=5, signal="planted", datadir=datadir)
    tr = timerange(40, 70)

    def with_dissimilarity_index(cfg: dict[str, Any]) -> None:
        # DI on: some rows get do_predict != 1 and the files carry DI_values
        cfg["freqai"]["feature_parameters"]["DI_threshold"] = 0.9

    _, metrics, model_dir = run_training_backtest(
        tmp_path,
        datadir,
        identifier="prediction-files",
        tr=tr,
        meta_overrides={
            "train_period_days": 30,
            "backtest_period_days": 10,
            "model_training_parameters": {**SMALL_LGBM, "n_estimators": 60},
        },
        config_edit=with_dissimilarity_index,
    )
    table = load_backtest_predictions(model_dir)
    assert list(table.columns) == [
        "date",
        "pair",
        LABEL,
        f"{LABEL}_mean",
        f"{LABEL}_std",
        "do_predict",
        "DI_values",
    ]
    assert len(table) == 2 * 30 * 24  # 2 pairs x 3 windows x 10 days of 1h candles
    assert not table.duplicated(["pair", "date"]).any()
    assert table.equals(table.sort_values(["pair", "date"]).reset_index(drop=True))
    first, last = TimeRange.parse_timerange(tr).startdt, TimeRange.parse_timerange(tr).stopdt
    assert table["date"].min() == first and table["date"].max() < last
    assert (table["do_predict"] != 1).any()

    # candles as the backtest saw them: from well before the first prediction to its end
    start = TimeRange.parse_timerange(timerange(30, 70))
    candles = {
        p: load_pair_history(p, "1h", datadir, timerange=start, data_format="feather")
        for p in PAIRS
    }
    ours = pooled_oos_ic(table, candles, horizon=12)
    for pair in PAIRS:
        pooled = metrics["pairs"][pair]["labels"][0]["pooled"]
        assert ours[pair].n == pooled["n"] > 50
        assert ours[pair].ic == pytest.approx(pooled["rank_ic"], abs=1e-9)
