"""TradAIPredictionModel: CSV predictions in backtests and in FreqAI's live path."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES, run_training_backtest, timerange
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from inference_helpers import (
    inference_config,
    live_step,
    runtime_config,
    strategy_with_model,
    write_config,
)

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.freqtrade_runner import FreqtradeRunError, backtest
from tradai_strategy.data.prediction_files import load_backtest_predictions
from tradai_strategy.data.prediction_table import read_predictions, write_predictions
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.prediction_model import TradAIPredictionModel
from tradai_strategy.serving.prediction_source import attach_predictions

LABEL = "&-s_close"
TRADE_COLUMNS = ["pair", "open_date", "close_date", "open_rate", "close_rate", "profit_abs"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One training backtest (2 pairs x 2 windows) and its exported prediction table."""
    tmp = tmp_path_factory.mktemp("pred-model")
    data = tmp / "data"
    write_synthetic_data(
        ["BTC/USDT", "ETH/USDT"], "1h", 85, seed=11, signal="planted", datadir=data
    )
    tr = timerange(40, 80)
    result, _, model_dir = run_training_backtest(tmp, data, identifier="equiv-train", tr=tr)
    csv = write_predictions(load_backtest_predictions(model_dir), tmp / "preds.csv")
    return {"tmp": tmp, "data": data, "tr": tr, "result": result, "csv": csv}


def _inference_backtest(tmp: Path, trained: dict, csv: Path, identifier: str, days: int = 0):
    cfg = inference_config(tmp, trained["data"], {"type": "csv", "path": str(csv)})
    cfg["freqai"].update(identifier=identifier, train_period_days=days)
    return backtest(
        [write_config(tmp, cfg)],
        "RadStrategy",
        freqaimodel="TradAIPredictionModel",
        timerange=trained["tr"],
        datadir=trained["data"],
        userdir=tmp / "user_data",
        strategy_path=STRATEGIES,
        freqaimodel_path=MODELS,
    )


@pytest.mark.e2e
@pytest.mark.xdist_group("freqai-models")
@pytest.mark.parametrize("days", [0, 30], ids=["startup-candles-only", "30-days-history"])
def test_training_export_inference_gives_identical_trades(tmp_path, trained, days, caplog):
    """Acceptance: train -> export -> TradAIPredictionModel(csv) = the same trade list,
    whether freqtrade loads a training window before the timerange (unused) or not."""
    with caplog.at_level(logging.INFO):
        result = _inference_backtest(
            tmp_path, trained, trained["csv"], "equiv-inference", days=days
        )
    # freqtrade loads the strategy's 100 startup candles, plus the training days if any
    assert f"for freqai on 1h to {100 + 24 * days}" in caplog.text
    assert ("go unused: set freqai.train_period_days to 0" in caplog.text) == (days > 0)
    train_trades = trained["result"].trades
    assert len(train_trades) > 10
    pd.testing.assert_frame_equal(
        result.trades[TRADE_COLUMNS].reset_index(drop=True),
        train_trades[TRADE_COLUMNS].reset_index(drop=True),
    )
    # nothing was trained or computed per window
    assert not list((tmp_path / "user_data" / "models" / "equiv-inference").glob("sub-train-*"))


@pytest.mark.e2e
@pytest.mark.xdist_group("freqai-models")
def test_truncated_predictions_stop_trading_where_they_end(tmp_path, trained):
    table = read_predictions(trained["csv"])
    cutoff = table["date"].min() + pd.Timedelta(days=15)
    short = write_predictions(table[table["date"] < cutoff], tmp_path / "short.csv")
    result = _inference_backtest(tmp_path, trained, short, "truncated")
    assert len(result.trades) > 0
    # entries are signalled on a candle and filled on the next one
    assert (result.trades["open_date"] <= cutoff).all()


@pytest.mark.e2e
def test_missing_csv_fails_before_the_backtest(tmp_path, trained):
    with pytest.raises(FreqtradeRunError, match=r"nope\.csv: prediction file does not exist"):
        _inference_backtest(tmp_path, trained, tmp_path / "nope.csv", "missing")


# ---- the model without a backtest -------------------------------------------------------


def _table(dates: pd.DatetimeIndex, pair: str = "BTC/USDT") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": dates,
            "pair": pair,
            LABEL: np.arange(len(dates), dtype=float) / 100,
            f"{LABEL}_mean": 0.001,
            f"{LABEL}_std": 0.01,
            "do_predict": 1,
        }
    )


def _candles(start: str = "2024-03-01", n: int = 48) -> pd.DataFrame:
    dates = pd.date_range(start, periods=n, freq="1h", tz="UTC")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(size=n))
    return pd.DataFrame(
        {"date": dates, "open": close, "high": close + 1, "low": close - 1, "close": close}
    ).assign(volume=10.0)


def test_attach_never_uses_a_prediction_before_its_candle():
    candles = _candles(n=6)
    one = _table(candles["date"].iloc[[3]])  # one prediction, for the 4th candle only
    out = attach_predictions(candles, one)
    assert out["do_predict"].tolist() == [0, 0, 0, 1, 0, 0]
    assert out[LABEL].tolist() == [0, 0, 0, 0.0, 0, 0]
    assert out[f"{LABEL}_std"].tolist() == [0, 0, 0, 0.01, 0, 0]
    # a prediction stamped between candles is not pulled back onto the earlier candle
    off_grid = _table(pd.DatetimeIndex([candles["date"].iloc[2] + pd.Timedelta(minutes=30)]))
    assert attach_predictions(candles, off_grid)["do_predict"].sum() == 0


def test_attach_edge_cases():
    candles = _candles(n=6)
    dates = candles["date"]
    # matched rows: values taken by position; a missing prediction and an empty cell are 0
    table = _table(dates.iloc[[1, 3]]).assign(**{LABEL: [0.5, np.nan], "cls": ["up", None]})
    out = attach_predictions(candles.assign(**{"&-old": 1.0}), table)
    assert out[LABEL].tolist() == [0, 0.5, 0, 0, 0, 0]
    assert out["cls"].tolist() == [0, "up", 0, 0, 0, 0]
    assert out["do_predict"].tolist() == [0, 1, 0, 1, 0, 0] and out["do_predict"].dtype == "int64"
    assert "&-old" not in out.columns and out["close"].equals(candles["close"])
    # no predictions at all
    empty = attach_predictions(candles, _table(dates.iloc[:0]))
    assert (empty["do_predict"] == 0).all() and (empty[LABEL] == 0).all()
    # a finer time unit is compared exactly, not rounded onto a candle
    near = _table(pd.DatetimeIndex([dates.iloc[2]]).as_unit("ns") + pd.Timedelta(microseconds=1))
    assert (
        attach_predictions(candles.assign(date=dates.dt.as_unit("s")), near)["do_predict"].sum()
        == 0
    )
    with pytest.raises(TradAIDataError, match="prediction dates are naive"):
        attach_predictions(candles, _table(dates.dt.tz_localize(None).iloc[:2]))
    with pytest.raises(TradAIDataError, match="1 duplicate dates"):
        attach_predictions(candles, _table(dates.iloc[[1, 1]]))


def _model(tmp_path: Path, csv: Path, runmode: RunMode, tr: str | None = None):
    cfg = inference_config(tmp_path, tmp_path / "data", {"type": "csv", "path": str(csv)})
    config = runtime_config(tmp_path, cfg, runmode, tr)
    return strategy_with_model(config, TradAIPredictionModel)


def test_backtest_warns_on_uncovered_candles_and_zeroes_them(tmp_path, caplog):
    candles = _candles(n=48)
    csv = write_predictions(_table(candles["date"].iloc[:24]), tmp_path / "p.csv")
    strategy, model = _model(tmp_path, csv, RunMode.BACKTEST, "20240301-20240303")
    dk = FreqaiDataKitchen(model.config, False, "BTC/USDT")
    with caplog.at_level(logging.WARNING):
        dk = model.start_backtesting(candles, {"pair": "BTC/USDT"}, dk, strategy)
    out = dk.return_dataframe
    assert out["do_predict"].tolist() == [1] * 24 + [0] * 24
    assert "BTC/USDT has no prediction for 24 of the 48 candles" in caplog.text
    with pytest.raises(TradAIDataError, match="no predictions for pair ETH/USDT"):
        model.start_backtesting(candles, {"pair": "ETH/USDT"}, dk, strategy)


def test_live_path_serves_new_rows_of_a_growing_file(tmp_path, caplog):
    candles = _candles(n=30)
    csv = tmp_path / "p.csv"
    write_predictions(_table(candles["date"].iloc[:25]), csv)
    strategy, _ = _model(tmp_path, csv, RunMode.DRY_RUN)
    out = live_step(strategy, candles.iloc[:25], "BTC/USDT")
    assert out["do_predict"].iloc[-1] == 1 and out[LABEL].iloc[-1] == pytest.approx(0.24)
    assert not any(c.startswith("%") for c in out.columns)
    with caplog.at_level(logging.WARNING):
        out = live_step(strategy, candles.iloc[:26], "BTC/USDT")
    assert out["do_predict"].iloc[-1] == 0
    assert "no prediction for BTC/USDT at" in caplog.text
    write_predictions(_table(candles["date"].iloc[:26]), csv)  # the producer caught up
    import os

    os.utime(csv, (1e9, 1e9))  # a different mtime even within the clock's resolution
    assert live_step(strategy, candles.iloc[:26], "BTC/USDT")["do_predict"].iloc[-1] == 1
    # a pair the file does not have: do_predict 0 and an error log, never an exception
    with caplog.at_level(logging.ERROR):
        out = live_step(strategy, candles.iloc[:26], "ETH/USDT")
    assert (out["do_predict"] == 0).all() and (out[LABEL] == 0).all()
    assert "no predictions for pair ETH/USDT" in caplog.text


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "freqai.tradai.prediction_source is missing"),
        ({"type": "sql"}, "prediction_source.type 'sql' is unknown"),
        ({"type": "csv"}, "prediction_source.path is missing"),
        ({"type": "mlflow", "model_uri": "runs:/x"}, "is not a registry URI"),
    ],
)
def test_bad_prediction_source(tmp_path, source, message):
    cfg = inference_config(tmp_path, tmp_path / "data", {"type": "csv", "path": "x.csv"})
    cfg["freqai"]["tradai"]["prediction_source"] = source
    config = runtime_config(tmp_path, cfg, RunMode.BACKTEST, "20240301-20240303")
    with pytest.raises(TradAIConfigError, match=message):
        TradAIPredictionModel(config=config)
