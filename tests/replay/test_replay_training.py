"""`tradai replay` with TrainingPredictionModel: FreqAI's live mode in freqtrade's real bot.

The bot starts with "No model ready", FreqAI's own training thread trains in the background
and retrains every ``live_retrain_hours`` of simulated time; counted from FreqAI's model
folder, the bot log and the summary."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from freqai_helpers import small_training_config
from inference_helpers import TINY_LGBM
from replay_helpers import replay_options

from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.replay.run import run_replay

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
RETRAIN_HOURS = 6
CANDLES = 24
START = pd.Timestamp("2024-01-20", tz="UTC")


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("replay-train")
    data = root / "data"
    write_synthetic_data(PAIRS, "1h", 30, seed=5, signal="planted", datadir=data)
    cfg = small_training_config(
        data, "replay-train", train_period_days=10, model_training_parameters=TINY_LGBM
    )
    cfg["freqai"]["live_retrain_hours"] = RETRAIN_HOURS
    cfg["freqai"]["purge_old_models"] = False  # keep one folder per training to count them
    path = root / "train.json"
    path.write_text(json.dumps(cfg))
    opts = replay_options(
        root, data, freqaimodel="TrainingPredictionModel", timerange="20240120-",
        max_candles=CANDLES,
    )  # fmt: skip
    return root, run_replay([path], "RadStrategy", **opts)


def test_initial_training_then_retrains_every_live_retrain_hours(replayed) -> None:
    root, summary = replayed
    # the live thread trains at once (after the first iteration, 01:00:01), then whenever
    # more than RETRAIN_HOURS passed: one poll (1 s) after each RETRAIN_HOURS
    expected = 1 + (CANDLES - 1) // RETRAIN_HOURS
    first = int((START + pd.Timedelta(hours=1, seconds=1)).timestamp())
    stamps = [first + k * (RETRAIN_HOURS * 3600 + 1) for k in range(expected)]
    folders = root / "user_data" / "models" / "replay-train"
    for pair in ("BTC", "ETH"):
        found = sorted(int(p.name.rsplit("_", 1)[1]) for p in folders.glob(f"sub-train-{pair}_*"))
        assert found == stamps, pair
    log = Path(summary.log).read_text()
    assert len(re.findall(r"Starting training (BTC|ETH)/USDT", log)) == 2 * expected
    assert summary.trainings == 2 * expected
    assert "Traceback" not in log and "raised exception" not in log


def test_no_model_ready_first_then_predictions_and_trades(replayed) -> None:
    _, summary = replayed
    log = Path(summary.log).read_text()
    assert log.count("No model ready for BTC/USDT") == 1
    signals = pd.read_csv(summary.signals)
    assert (signals["step"].max() + 1, len(signals)) == (CANDLES, 2 * CANDLES)
    # step 0: no model yet; step 1: FreqAI's first prediction after a (re)load returns its
    # stored history, where the new candle is still empty (do_predict 0): FreqAI's own way
    first = signals[signals["step"] <= 1]
    assert (first["do_predict"] == 0).all()
    after = signals[signals["step"] >= 2]
    assert (after["do_predict"] == 1).all()
    assert after["&-s_close"].abs().gt(0).all()
    db = Path(summary.db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from trades").fetchone()[0] > 0
