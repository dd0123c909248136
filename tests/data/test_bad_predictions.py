"""Prediction tables with unusable values are refused, by `tradai predictions check` and by
the model that serves them in a backtest, instead of silently taking no trade.

Before: NaN/inf predictions on ``do_predict = 1`` rows passed the check (and took no trade),
text in a numeric column passed it and ended in a TypeError traceback in the strategy, and
dates off the candle grid matched no candle (0 trades, a log line).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES
from inference_helpers import inference_config, write_config
from typer.testing import CliRunner, Result

from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.freqtrade_runner import ensure_userdir
from tradai_strategy.data.prediction_table import (
    infer_timeframe,
    read_predictions,
    validate_predictions,
)
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.serving.prediction_source import attach_predictions

LABEL = "&-s_close"
PAIRS = ("BTC/USDT", "ETH/USDT")


def _table(start: str = "2024-01-31", hours: int = 24 * 10) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dates = pd.date_range(start, periods=hours, freq="1h", tz="UTC")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "date": dates,
                    "pair": pair,
                    LABEL: rng.normal(0, 0.01, hours),
                    f"{LABEL}_mean": 0.0,
                    f"{LABEL}_std": 0.01,
                    "do_predict": 1,
                }
            )
            for pair in PAIRS
        ],
        ignore_index=True,
    )


def _csv(tmp_path: Path, table: pd.DataFrame, name: str = "preds.csv") -> Path:
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def _check(path: Path, *extra: str) -> Result:
    return CliRunner().invoke(app, ["predictions", "check", str(path), *extra])


def _refused(res: Result, path: Path) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "TypeError" not in res.output
    out = " ".join(res.output.split())
    assert out.count("error:") == 1 and str(path) in out
    return out


def _row(table: pd.DataFrame, pair: str, when: str) -> int:
    hit = (table["pair"] == pair) & (table["date"] == pd.Timestamp(when, tz="UTC"))
    return int(np.flatnonzero(hit)[0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_predictions_on_used_rows_are_refused(tmp_path: Path, bad: float) -> None:
    table = _table()
    rows = [_row(table, "ETH/USDT", "2024-02-02 07:00"), _row(table, "ETH/USDT", "2024-02-03")]
    table.loc[rows, LABEL] = bad
    # the same values on rows that are not used (do_predict = 0) are fine
    unused = table.assign(do_predict=lambda t: np.where(t.index.isin(rows), 0, 1))
    assert _check(_csv(tmp_path, unused, "unused.csv")).exit_code == 0
    # before: such a value became 0 (or stayed inf) on a candle marked do_predict = 1
    candles = pd.DataFrame({"date": table.loc[table["pair"] == "ETH/USDT", "date"]})
    joined = attach_predictions(candles, table[table["pair"] == "ETH/USDT"])
    assert (joined.loc[joined["do_predict"] == 1, LABEL].isin([0.0, bad])).sum() >= 2
    path = _csv(tmp_path, table)
    out = _refused(_check(path), path)
    assert (
        f"column '{LABEL}' has 2 NaN/inf value(s) on do_predict=1 rows, first ETH/USDT "
        "2024-02-02 07:00:00+00:00: write a finite number there or set do_predict to 0" in out
    )


@pytest.mark.parametrize("column", [LABEL, f"{LABEL}_std", "DI_values"])
def test_text_in_a_numeric_column_is_one_clear_error(tmp_path: Path, column: str) -> None:
    table = _table().assign(DI_values=0.5)
    table[column] = table[column].astype(object)
    table.loc[_row(table, "BTC/USDT", "2024-02-01 03:00"), column] = "err"
    path = _csv(tmp_path, table)
    out = _refused(_check(path), path)
    assert (
        f"column '{column}' is not numeric: 1 value(s) are text (e.g. 'err'), first BTC/USDT "
        "2024-02-01 03:00:00+00:00: write numbers" in out
    )


def test_all_text_label_with_statistics_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, _table().assign(**{LABEL: "up"}))
    out = _refused(_check(path), path)
    assert f"column '{LABEL}' is not numeric: 480 value(s) are text (e.g. 'up')" in out


def test_classifier_labels_stay_text_but_not_empty() -> None:
    table = _table().drop(columns=[LABEL, f"{LABEL}_mean", f"{LABEL}_std"])
    table["&-s_updown"] = np.where(np.arange(len(table)) % 2, "up", "down")
    table["up"] = 0.6
    table["down"] = 0.4
    assert len(validate_predictions(table, timeframe="1h")) == len(table)
    table.loc[5, "&-s_updown"] = None
    with pytest.raises(TradAIDataError, match=r"'&-s_updown' is empty on 1 do_predict=1 row"):
        validate_predictions(table)
    table.loc[5, "do_predict"] = 0
    validate_predictions(table)


def test_dates_off_the_candle_grid_are_refused(tmp_path: Path) -> None:
    table = _table()
    table["date"] += pd.Timedelta(minutes=30)
    path = _csv(tmp_path, table)
    assert len(read_predictions(path)) == len(table)  # without a timeframe: not checked
    assert infer_timeframe(read_predictions(path)) == "1h"
    for extra in ((), ("--timeframe", "1h")):
        out = _refused(_check(path, *extra), path)
        assert (
            "480 date(s) are not 1h candle open times, first BTC/USDT 2024-01-31 "
            "00:30:00+00:00: stamp each prediction with the open time of its candle (here "
            "2024-01-31 00:00:00+00:00)" in out
        )
    good = _csv(tmp_path, _table(), "good.csv")
    res = _check(good)
    assert res.exit_code == 0 and "dates on the 1h candle grid (inferred" in res.output
    assert _check(good, "--timeframe", "4h").exit_code == 2
    assert "is not a timeframe" in _check(good, "--timeframe", "soon").output


# ---- the model that serves a table in a backtest ------------------------------------------


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bad-preds") / "data"
    write_synthetic_data(list(PAIRS), "1h", 45, seed=4, signal="none", datadir=data)
    return data


def _inference_backtest(tmp_path: Path, data: Path, csv: Path) -> Result:
    cfg = inference_config(tmp_path, data, {"type": "csv", "path": str(csv)})
    cfg["freqai"]["identifier"] = "bad-preds"
    ensure_userdir(tmp_path / "user_data")
    argv = [
        *("backtest", "--offline", "--config", str(write_config(tmp_path, cfg))),
        *("--strategy", "RadStrategy", "--strategy-path", str(STRATEGIES)),
        *("--freqaimodel", "TradAIPredictionModel", "--freqaimodel-path", str(MODELS)),
        *("--datadir", str(data), "--userdir", str(tmp_path / "user_data")),
        *("--timerange", "20240201-20240210"),
    ]
    return CliRunner().invoke(app, argv)


@pytest.mark.e2e
@pytest.mark.parametrize("problem", ["nan", "off-grid"])
def test_the_inference_backtest_refuses_the_table(
    tmp_path: Path, candles: Path, problem: str
) -> None:
    table = _table()
    if problem == "nan":
        table.loc[_row(table, "BTC/USDT", "2024-02-05"), LABEL] = np.nan
        expected = "has 1 NaN/inf value(s) on do_predict=1 rows, first BTC/USDT 2024-02-05"
    else:  # before: no candle matched, 0 trades and a warning in the log
        table["date"] += pd.Timedelta(minutes=30)
        expected = "date(s) are not 1h candle open times"
    csv = _csv(tmp_path, table)
    out = _refused(_inference_backtest(tmp_path, candles, csv), csv)
    assert expected in out
