"""Scripted lifecycle events in a TradAIMLflowModel replay: promote, rollback and a registry
outage at simulated times, seen by freqtrade's real bot through a real ``mlflow server`` on
127.0.0.1 (stopped and started by the replay), read back from the prediction log and the
audit trail."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from replay_helpers import replay_options

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.replay.run import run_replay

pytestmark = pytest.mark.e2e
DAY = "2024-02-22"  # day 52: after the bundle's training data (up to day 50)
EVENTS = [
    {"at": f"{DAY}T04:00Z", "do": "promote", "version": "2", "force": True, "reason": "test"},
    {"at": f"{DAY}T07:00Z", "do": "rollback"},
    {"at": f"{DAY}T09:00Z", "do": "promote", "version": "2", "force": True, "reason": "again"},
    {"at": f"{DAY}T11:00Z", "do": "registry_down"},
    {"at": f"{DAY}T12:00Z", "do": "rollback"},  # moves the alias while the bot cannot see it
    {"at": f"{DAY}T15:00Z", "do": "registry_up"},
]
CANDLES = 17


@pytest.fixture
def reg(two_versions: dict, tmp_path) -> dict:
    return {**two_versions, "tmp": tmp_path}


def _events_file(reg: dict, events: list[dict], name: str = "events.json"):
    path = reg["tmp"] / name
    path.write_text(json.dumps(events))
    return path


def test_events_move_the_served_version_at_their_time(reg: dict) -> None:
    tmp = reg["tmp"]
    opts = replay_options(
        tmp, reg["data"], timerange=DAY.replace("-", "") + "-", max_candles=CANDLES,
        freqaimodel="TradAIMLflowModel", events=_events_file(reg, EVENTS),
    )  # fmt: skip
    summary = run_replay([reg["config"]], "RadStrategy", **opts)
    assert summary.candles == CANDLES
    results = [e["result"] for e in summary.extra["events"]]
    assert not [r for r in results if r.startswith("failed")], results

    log = PredictionLog(tmp / "user_data" / "tradai_predictions.sqlite").frame()
    log = log[log["model"] == "Rad"]
    # the first prediction covers the bot's whole window (version 1): keep the replayed span
    log = log[(log["role"] == "champion") & (log["time"] >= pd.Timestamp(DAY, tz="UTC"))]
    served = log.groupby(log["time"].dt.hour)["version"].agg(lambda v: ",".join(sorted(set(v))))
    # the bot waking up right after T (T:00:01) predicts the candle that closed at T
    expected = {h: "1" for h in range(CANDLES)}
    expected.update({h: "2" for h in (3, 4, 5)})  # promote 04:00 .. rollback 07:00
    expected.update({h: "2" for h in range(8, 14)})  # promote 09:00; down 11:00 .. up 15:00
    assert served.to_dict() == expected
    # registry down: the cached version kept serving, predictions included
    signals = pd.read_csv(summary.signals)
    outage = signals[(signals["step"] >= 10) & (signals["step"] <= 13)]
    assert (outage["version"].astype(str) == "2").all() and (outage["do_predict"] == 1).all()

    audit = Lifecycle.open(reg["uri"], model="Rad").audit.events("Rad")
    moves = [(e.action, e.from_version, e.to_version, e.time[11:16]) for e in audit][-4:]
    assert moves == [
        ("promote", "1", "2", "04:00"),
        ("rollback", "2", "1", "07:00"),
        ("promote", "1", "2", "09:00"),
        ("rollback", "2", "1", "12:00"),
    ]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([{"at": "2024-02-22T04:00Z", "do": "retire"}], "is not one of"),
        ([{"at": "2024-02-22T04:00Z", "do": "promote"}], 'promote needs "version"'),
        ([{"at": "2024-03-30T04:00Z", "do": "rollback"}], "is outside the replay"),
        ([{"at": "tomorrow", "do": "rollback"}], "is not a time"),
    ],
)
def test_bad_events_are_one_line_before_the_bot_starts(
    reg: dict, events: list[dict], expected: str
) -> None:
    userdir = reg["tmp"] / "bad-events"
    opts = replay_options(
        reg["tmp"], reg["data"], timerange="20240222-", max_candles=5,
        freqaimodel="TradAIMLflowModel", events=_events_file(reg, events, "bad.json"),
        userdir=userdir,
    )  # fmt: skip
    with pytest.raises(TradAIConfigError, match=expected) as info:
        run_replay([reg["config"]], "RadStrategy", **opts)
    assert "\n" not in str(info.value)
    assert not (userdir / "replay" / "replay.log").exists()
