"""`tradai replay` with TradAIMLflowModel: a registered version served by freqtrade's real
dry-run bot from a real sqlite MLflow registry, entry signals equal to a backtest's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES, timerange
from replay_helpers import LABEL, backtest_signals, registered_world, replay_options

from tradai_strategy.data.freqtrade_runner import backtest
from tradai_strategy.replay.compare import compare_trades, replay_trades
from tradai_strategy.replay.run import ReplaySummary, run_replay

pytestmark = pytest.mark.e2e
SPAN = timerange(52, 57)  # after the bundle's training data (up to day 50)


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> dict:
    # 30 days of candles before the span: the features' recursive indicators (RSI, ADX:
    # Wilder smoothing) then start from as converged a state as the live bot's (its
    # ~1000-candle window); with only the 100 startup candles one entry in 240 differed
    return registered_world(
        tmp_path_factory.mktemp("replay-mlflow"), "replay-mlflow", startup_days=30
    )


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"pair": df["pair"], "date": pd.to_datetime(df["date"], utc=True)})
    out["date"] = out["date"].dt.as_unit("s")
    for col in ("enter_long", "exit_long", "do_predict"):
        out[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype(int).to_numpy()
    out[LABEL] = df[LABEL].to_numpy(dtype=float)
    return out.sort_values(["pair", "date"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def replayed(reg: dict) -> ReplaySummary:
    opts = replay_options(reg["tmp"], reg["data"], timerange=SPAN, freqaimodel="TradAIMLflowModel")
    return run_replay([reg["config"]], "RadStrategy", **opts)


def test_mlflow_replay_serves_the_version_and_matches_the_backtest(
    reg: dict, replayed: ReplaySummary
) -> None:
    tmp, data, summary = reg["tmp"], reg["data"], replayed
    assert summary.candles == 5 * 24 and summary.versions_served == ["1"]
    assert summary.predictions_served > 0
    db = Path(summary.db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as con:
        n_trades = con.execute("select count(*) from trades").fetchone()[0]
    assert n_trades == summary.trades_closed + summary.trades_open > 0

    replay = _frame(pd.read_csv(summary.signals))
    backtest = _frame(
        backtest_signals(reg["config"], SPAN, data, tmp / "bt_user_data", "TradAIMLflowModel")
    )
    assert len(replay) == len(backtest) == 2 * 5 * 24
    signals = ["pair", "date", "enter_long", "exit_long", "do_predict"]
    pd.testing.assert_frame_equal(replay[signals], backtest[signals])
    np.testing.assert_allclose(replay[LABEL], backtest[LABEL], rtol=0, atol=1e-9)


def test_replay_trades_are_the_backtests(reg: dict, replayed: ReplaySummary) -> None:
    """The dry-run bot's trades against freqtrade's backtest of the same span and version:
    the same trades, opened and closed in the same candles at the same prices; only the
    trades still open at the end differ (the backtest force-exits them, the bot keeps them)."""
    result = backtest(
        [reg["config"]], "RadStrategy", freqaimodel="TradAIMLflowModel", timerange=SPAN,
        datadir=reg["data"], userdir=reg["tmp"] / "bt_trades", strategy_path=STRATEGIES,
        freqaimodel_path=MODELS, extra_args=["--cache", "none"],
    )  # fmt: skip
    mine = replay_trades(replayed.db_url)
    overlap = compare_trades(mine, result.trades, "1h", until=pd.Timestamp(SPAN[-8:], tz="UTC"))
    print(overlap.text())
    assert overlap.replay == overlap.backtest == overlap.both > 0, overlap.text()
    assert overlap.entry_price_gap < 1e-12, overlap.text()  # both fill at the candle's open
    table = overlap.table
    closed = table[table["close_date_replay"].notna()]
    assert len(closed) == overlap.same_exit == replayed.trades_closed
    # the same price on the markets' 1e-8 grid (the backtest keeps the unrounded open)
    np.testing.assert_allclose(closed["close_rate_replay"], closed["close_rate_backtest"], 0, 1e-8)
    still_open = table[table["close_date_replay"].isna()]
    assert len(still_open) == replayed.trades_open
    assert (still_open["exit_reason_backtest"] == "force_exit").all()
