"""`tradai replay` with TradAIMLflowModel: a registered version served by freqtrade's real
dry-run bot from a real sqlite MLflow registry, entry signals equal to a backtest's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import timerange
from inference_helpers import inference_config, registered_small_bundle
from replay_helpers import LABEL, backtest_signals, replay_options

from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.replay.run import run_replay

pytestmark = pytest.mark.e2e
SPAN = timerange(52, 57)  # after the bundle's training data (up to day 50)


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("replay-mlflow")
    data = tmp / "data"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 60, seed=5, signal="planted", datadir=data)
    _, uri = registered_small_bundle(tmp, data, "replay-reg")
    cfg = inference_config(
        tmp, data, {"type": "mlflow", "model_uri": "models:/Rad@production"},
        identifier="replay-mlflow", freqaimodel="TradAIMLflowModel",
    )  # fmt: skip
    cfg["freqai"]["tradai"]["tracking_uri"] = uri
    # 30 days of candles before the span: the features' recursive indicators (RSI, ADX:
    # Wilder smoothing) then start from as converged a state as the live bot's (its
    # ~1000-candle window); with only the 100 startup candles one entry in 240 differed
    cfg["freqai"]["train_period_days"] = 30
    path = tmp / "mlflow.json"
    path.write_text(json.dumps(cfg))
    return {"tmp": tmp, "data": data, "config": path}


def _frame(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"pair": df["pair"], "date": pd.to_datetime(df["date"], utc=True)})
    out["date"] = out["date"].dt.as_unit("s")
    for col in ("enter_long", "exit_long", "do_predict"):
        out[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype(int).to_numpy()
    out[LABEL] = df[LABEL].to_numpy(dtype=float)
    return out.sort_values(["pair", "date"]).reset_index(drop=True)


def test_mlflow_replay_serves_the_version_and_matches_the_backtest(reg: dict) -> None:
    tmp, data = reg["tmp"], reg["data"]
    opts = replay_options(tmp, data, timerange=SPAN, freqaimodel="TradAIMLflowModel")
    summary = run_replay([reg["config"]], "RadStrategy", **opts)
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
