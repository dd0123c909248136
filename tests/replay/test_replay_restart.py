"""Kill -9 mid-replay and start again: the replay resumes where it stopped, as a restarted
bot would -- with its open trades (freqtrade's database), without repeating candles or
duplicating prediction-log rows. The first run is a real `tradai replay` process killed with
SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from freqai_helpers import MODELS, STRATEGIES
from replay_helpers import replay_options

from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.replay.resume import load_state
from tradai_strategy.replay.run import run_replay

pytestmark = pytest.mark.e2e
DAY = "20240222"
CANDLES = 72
KILL_AFTER = 20  # candles done, with a trade open
DEADLINE_SECONDS = 150.0


def _open_trades(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute(
                "select id, pair, open_date from trades where is_open = 1"
            ).fetchall()
    except sqlite3.Error:
        return []  # the bot is writing or the table is not there yet


def _start(two_versions: dict, userdir: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "tradai_strategy.cli.app", "replay"]
    argv += ["--config", str(two_versions["config"]), "--strategy", "RadStrategy"]
    argv += ["--freqaimodel", "TradAIMLflowModel", "--freqaimodel-path", str(MODELS)]
    argv += ["--strategy-path", str(STRATEGIES), "--userdir", str(userdir)]
    argv += ["--datadir", str(two_versions["data"]), "--timerange", f"{DAY}-"]
    argv += ["--max-candles", str(CANDLES)]
    out = (userdir.parent / "first-run.out").open("w")
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def test_a_killed_replay_resumes_where_it_stopped(two_versions: dict, tmp_path: Path) -> None:
    userdir = tmp_path / "user_data"
    workdir, db = userdir / "replay", userdir / "tradesv3.replay.sqlite"
    proc = _start(two_versions, userdir)
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            state = load_state(workdir)
            if state is not None and state.done >= KILL_AFTER and _open_trades(db):
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "first-run.out").read_text()[-2000:]
    killed = load_state(workdir)
    assert killed is not None and KILL_AFTER <= killed.done < CANDLES
    open_at_kill = _open_trades(db)
    assert open_at_kill

    opts = replay_options(
        tmp_path, two_versions["data"], timerange=f"{DAY}-", max_candles=CANDLES,
        freqaimodel="TradAIMLflowModel",
    )  # fmt: skip
    summary = run_replay([two_versions["config"]], "RadStrategy", **opts)
    # resumed at the first candle not done, not at the span's start
    assert summary.extra["resumed_at_candle"] == killed.done
    assert summary.candles == CANDLES - killed.done
    assert summary.first_candle == "2024-02-22 00:00"
    log = Path(summary.log).read_text()
    resumed_at = pd.Timestamp("2024-02-22", tz="UTC") + pd.Timedelta(hours=killed.done + 1)
    assert f"{resumed_at:%Y-%m-%d %H:%M}:01,000 - freqtrade.worker - INFO - Bot heartbeat" in log

    with sqlite3.connect(db) as con:
        trades = pd.read_sql("select id, pair, open_date, is_open from trades", con)
    # the trades open at the kill are the same rows (ids), never opened a second time
    kept = trades.set_index("id").loc[[t[0] for t in open_at_kill]]
    assert list(kept["open_date"]) == [t[2] for t in open_at_kill]
    assert not trades.duplicated(["pair", "open_date"]).any()
    assert (trades.groupby("pair")["is_open"].sum() <= 1).all()

    # every candle of the span exactly once, in the signals and in the prediction log
    signals = pd.read_csv(summary.signals)
    assert len(signals) == 2 * CANDLES and not signals.duplicated(["pair", "date"]).any()
    assert sorted(signals["step"].unique()) == list(range(CANDLES))
    plog = PredictionLog(userdir / "tradai_predictions.sqlite").frame()
    span = plog[
        (plog["role"] == "champion")
        & (plog["time"] >= pd.Timestamp("2024-02-22", tz="UTC"))
        & (plog["time"] < pd.Timestamp("2024-02-22", tz="UTC") + pd.Timedelta(hours=CANDLES))
    ]
    assert len(span) == 2 * CANDLES and not span.duplicated(["pair", "time"]).any()
