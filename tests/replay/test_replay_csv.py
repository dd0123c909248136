"""`tradai replay` with TradAIPredictionModel (csv): freqtrade's real dry-run bot on recorded
candles, its trades in its own database, and its entry signals equal to a backtest's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from replay_helpers import (
    backtest_signals,
    csv_config,
    random_predictions,
    replay_options,
    synthetic_datadir,
)

from tradai_strategy.replay.run import run_replay

TIMERANGE = "20240110-20240115"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("replay-csv")
    data = synthetic_datadir(root)
    csv = random_predictions(data, root / "preds.csv")
    return {"root": root, "data": data, "config": csv_config(root, data, csv)}


def _signals(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["pair", "date"]].copy()
    out["date"] = pd.to_datetime(out["date"], utc=True).dt.as_unit("s")
    for col in ("enter_long", "exit_long", "do_predict"):
        out[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype(int).to_numpy()
    return out.sort_values(["pair", "date"]).reset_index(drop=True)


def test_replay_runs_the_bot_and_matches_the_backtest_signals(setup: dict) -> None:
    root, data = setup["root"], setup["data"]
    summary = run_replay(
        [setup["config"]], "RadStrategy", **replay_options(root, data, timerange=TIMERANGE)
    )
    assert summary.candles == 5 * 24
    assert (summary.first_candle, summary.last_candle) == ("2024-01-10 00:00", "2024-01-14 23:00")
    db = Path(summary.db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as con:
        trades = pd.read_sql("select pair, open_date, close_date, is_open from trades", con)
    assert len(trades) == summary.trades_closed + summary.trades_open > 0

    replay = _signals(pd.read_csv(summary.signals))
    backtest = _signals(
        backtest_signals(
            setup["config"], TIMERANGE, data, root / "bt_user_data", "TradAIPredictionModel"
        )
    )
    assert len(replay) == len(backtest) == 2 * 5 * 24
    pd.testing.assert_frame_equal(replay, backtest)
    assert summary.entry_signals == int(backtest["enter_long"].sum()) > 0
