"""The whole loop in one replay: the bot serves v1, a scripted retrain at simulated time T
trains v2 on the candles before T's day, validates it through the policy's gate, promotes
it, and the bot's next candle is predicted by v2 (hot swap) -- all offline, with a real
sqlite MLflow registry and freqtrade's real dry-run bot."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, small_training_config
from replay_helpers import registered_world, replay_options

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.replay.run import run_replay

pytestmark = pytest.mark.e2e
DAY = "2024-02-22"  # day 52: after v1's training data (up to day 50)
CANDLES = 8
RETRAIN_LGBM = {
    "n_estimators": 40,
    "learning_rate": 0.05,
    "num_leaves": 4,
    "min_child_samples": 100,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    world = registered_world(
        tmp_path_factory.mktemp("replay-retrain"), "replay-retrain", strength=0.15
    )
    tmp, data = world["tmp"], world["data"]
    train_cfg = small_training_config(
        data, "replay-retrain-train", train_period_days=20, backtest_period_days=10
    )
    # a small, regularised model: the gate's overfitting check passes on 30 days
    train_cfg["freqai"]["model_training_parameters"] = RETRAIN_LGBM
    train = tmp / "train.json"
    train.write_text(json.dumps(train_cfg))
    return {**world, "train": train}


def _policy(world: dict, name: str = "Rad", cron: str | None = None) -> str:
    (world["tmp"] / "retrain_user_data").mkdir(exist_ok=True)  # a policy names an existing one
    lines = [
        "[model]",
        f'model_name = "{name}"',
        "[retrain]",
        "auto_promote = true",
        "[train]",
        f'train_config = ["{world["train"]}"]',
        f'strategy_path = "{STRATEGIES}"',
        f'userdir = "{world["tmp"] / "retrain_user_data"}"',
        "train_days = 30",
        "skip_leakage_check = true",
        "[validation]",
        'validation_cv = "walkforward"',
        "validation_seeds = 1",
        "validation_n_groups = 4",
        "validation_jobs = 1",
    ]
    if cron is not None:
        lines += ["[scheduler]", f'cron = "{cron}"']
    path = world["tmp"] / f"policy-{name}-{len(cron or '')}.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _events(world: dict, events: list[dict], name: str) -> object:
    path = world["tmp"] / name
    path.write_text(json.dumps(events))
    return path


def test_scripted_retrain_promotes_and_the_bot_swaps_next_candle(world: dict) -> None:
    tmp = world["tmp"]
    policy = _policy(world)
    events = [
        {"at": f"{DAY}T04:00Z", "do": "retrain", "policy": policy},
        # the policy's own decision two hours later: v2 is new, no IC history yet
        {"at": f"{DAY}T06:00Z", "do": "retrain_check", "policy": policy},
    ]
    opts = replay_options(
        tmp, world["data"], timerange=DAY.replace("-", "") + "-", max_candles=CANDLES,
        freqaimodel="TradAIMLflowModel", events=_events(world, events, "retrain.json"),
    )  # fmt: skip
    summary = run_replay([world["config"]], "RadStrategy", **opts)
    retrain, check = (e["result"] for e in summary.extra["events"])
    assert retrain.startswith("retrain (replay event") and "-> @production" in retrain, retrain
    assert check.startswith("nothing ("), check
    assert summary.versions_served == ["1", "2"]

    lc = Lifecycle.open(world["uri"], model="Rad")
    v2 = lc.registry.version("Rad", "2")
    assert v2.tags[tag.VALIDATION_STATUS] == "passed"
    # trained on the 30 days before the event's day, registered at simulated time
    assert v2.tags[tag.DATA_RANGE] == "20240123-20240222"
    assert pd.Timestamp(v2.created_ms, unit="ms", tz="UTC").strftime("%Y-%m-%d") == DAY
    move = lc.audit.events("Rad")[-1]
    assert (move.action, move.from_version, move.to_version) == ("promote", "1", "2")
    assert move.time.startswith(f"{DAY}T04:00")

    log = PredictionLog(tmp / "user_data" / "tradai_predictions.sqlite").frame()
    log = log[(log["role"] == "champion") & (log["time"] >= pd.Timestamp(DAY, tz="UTC"))]
    served = log.groupby(log["time"].dt.hour)["version"].agg(lambda v: ",".join(sorted(set(v))))
    # the bot waking up right after 04:00 predicts the candle that closed at 04:00 (03:00)
    expected = {h: "1" if h < 3 else "2" for h in range(CANDLES)}
    assert served.to_dict() == expected


def test_a_policy_for_another_model_is_one_line_before_the_bot_starts(world: dict) -> None:
    userdir = world["tmp"] / "bad-policy"
    events = [{"at": f"{DAY}T04:00Z", "do": "retrain_check", "policy": _policy(world, "Other")}]
    opts = replay_options(
        world["tmp"], world["data"], timerange=DAY.replace("-", "") + "-", max_candles=5,
        freqaimodel="TradAIMLflowModel", events=_events(world, events, "bad.json"),
        userdir=userdir,
    )  # fmt: skip
    with pytest.raises(TradAIConfigError, match="watches 'Other' but the replay serves 'Rad'"):
        run_replay([world["config"]], "RadStrategy", **opts)
    assert not (userdir / "replay" / "replay.log").exists()


def test_the_scheduler_runs_the_check_at_its_cron_times(world: dict) -> None:
    """``scheduler``: `tradai scheduler` on the simulated clock, one check per cron time."""
    events = [{"do": "scheduler", "policy": _policy(world, cron="0 */3 * * *")}]
    opts = replay_options(
        world["tmp"], world["data"], timerange="20240223-", max_candles=8,
        freqaimodel="TradAIMLflowModel", events=_events(world, events, "scheduler.json"),
        userdir=world["tmp"] / "scheduled",
    )  # fmt: skip
    summary = run_replay([world["config"]], "RadStrategy", **opts)
    applied = summary.extra["events"]
    # the bot runs 01:00:01 .. 08:00:01: the cron fires at 03:00 and 06:00
    assert [(e["at"][11:16], e["do"]) for e in applied] == [
        ("03:00", "retrain_check"),
        ("06:00", "retrain_check"),
    ]
    assert all(e["result"].startswith("nothing (") for e in applied), applied


def test_a_scheduler_firing_too_often_is_one_line(world: dict) -> None:
    events = [{"do": "scheduler", "policy": _policy(world, cron="* * * * *")}]
    opts = replay_options(
        world["tmp"], world["data"], timerange="20240223-", max_candles=24,
        freqaimodel="TradAIMLflowModel", events=_events(world, events, "often.json"),
        userdir=world["tmp"] / "often",
    )  # fmt: skip
    with pytest.raises(TradAIConfigError, match="fires more than 200 times") as info:
        run_replay([world["config"]], "RadStrategy", **opts)
    assert "\n" not in str(info.value)
