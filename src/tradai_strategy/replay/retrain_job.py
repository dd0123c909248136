"""Scripted retrains of a replay: ``tradai retrain``'s flow at a simulated time.

Two event actions (:mod:`~tradai_strategy.replay.events`) run the retraining policy
(``configs/lifecycle.toml``'s format) on the replay's own world — the served model, its
registry and the prediction log the bot fills:

* ``retrain``: train → validate (the policy's gate) → ``@production`` when ``auto_promote``
  and passed, ``@challenger`` when passed without it, nothing when refused — what
  ``tradai retrain --check`` does when a rule fires, here fired by the script;
* ``retrain_check``: ``tradai retrain --check``: the policy decides from schedule, drift and
  IC decay what to do (retrain, roll back, retire, nothing) and does it.

Each runs in a child process (``python -m tradai_strategy.replay.retrain_job``) whose clock
starts at the event's time and ticks (``time-machine``): the training reads the policy's
``train_days`` of candles *before* that day only, and the new version's run, creation time
and audit rows carry simulated time, as the scripted promote/rollback events do. A child
process, because freqtrade's backtesting switches process-wide state the running bot uses
(``Trade.use_db``, ``PairLocks``). The bot waits for it, as if the retrain took no
simulated time; the bot's next candle then sees the alias where the retrain left it.

The policy's model, tracking URI and prediction log are the replay's (the served model
must be the policy's ``model_name``; the other two are replaced), training is offline, and
an empty ``[train] datadir`` means the replay's ``--datadir``.

Limit: versions registered before the replay were created at wall-clock time, after every
simulated instant, so ``retrain_check``'s schedule rule (interval since the newest version)
and the stale-model alert do not fire for them; drift and IC rules read the replay's
prediction log and act normally.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError, TradAIError

__all__ = ["MAX_SCHEDULED", "RetrainJob", "run_child", "scheduled_times"]

#: most scheduled checks a replay runs (each is a process of a few seconds)
MAX_SCHEDULED = 200

#: the actions this module runs
RETRAIN_ACTIONS = ("retrain", "retrain_check")


class RetrainJobFailed(TradAIError):
    """The retrain child process ended without a result (its log says why)."""


@dataclass(frozen=True)
class RetrainJob:
    """One replay's retrain settings: the policy file and what the replay replaces in it."""

    policy_file: Path
    model_name: str
    tracking_uri: str
    prediction_log: Path
    datadir: Path
    workdir: Path

    def check(self) -> None:
        """Load the policy now (one line before the bot starts when it is wrong)."""
        from tradai_strategy.lifecycle.policy import PolicyError, load_policy

        try:
            policy = load_policy(self.policy_file)
        except PolicyError as err:
            raise TradAIConfigError(f"--events retrain: {err}") from None
        if policy.model_name != self.model_name:
            raise TradAIConfigError(
                f"--events retrain: the policy {self.policy_file} watches "
                f"{policy.model_name!r} but the replay serves {self.model_name!r}: set "
                f'[model] model_name = "{self.model_name}"'
            )

    def run(self, action: str, at: datetime) -> str:
        """Run ``action`` in a child process with its clock at ``at``; one-line result."""
        stamp = f"{at:%Y%m%dT%H%M%S}"
        log = self.workdir / f"retrain-{stamp}.log"
        spec = {
            "action": action,
            "at": at.isoformat(),
            "policy_file": str(self.policy_file),
            "overrides": {
                "tracking_uri": self.tracking_uri,
                "prediction_log": str(self.prediction_log),
                "datadir": str(self.datadir),
            },
        }
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("w") as out:
            proc = subprocess.run(
                [sys.executable, "-m", "tradai_strategy.replay.retrain_job", json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                env=env,
                check=False,
            )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise RetrainJobFailed(
                f"the {action} process exited with status {proc.returncode} and no result "
                f"(log: {log})"
            )
        result = json.loads(lines[-1])
        return f"{result['line']} (log: {log})"


def scheduled_times(policy_file: str, after: datetime, until: datetime) -> list[datetime]:
    """When ``tradai scheduler`` would run the check in ``(after, until]``: the fire times of
    the policy's ``[scheduler] cron`` (UTC)."""
    from apscheduler.triggers.cron import CronTrigger

    from tradai_strategy.lifecycle.policy import PolicyError, load_policy

    try:
        cron = load_policy(policy_file).cron
    except PolicyError as err:
        raise TradAIConfigError(f"--events scheduler: {err}") from None
    trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, after)
    while fire is not None and fire <= until:
        if fire > after:
            times.append(fire)
        if len(times) > MAX_SCHEDULED:
            raise TradAIConfigError(
                f"--events scheduler: the cron {cron!r} of {policy_file} fires more than "
                f"{MAX_SCHEDULED} times in the replay, each check a process of a few seconds: "
                'set [scheduler] cron to fewer runs (e.g. daily "0 0 * * *") or replay less'
            )
        fire = trigger.get_next_fire_time(fire, fire)
    return times


def _policy(spec: dict[str, Any]) -> Any:
    from tradai_strategy.lifecycle.policy import load_policy

    policy = load_policy(spec["policy_file"])
    over = spec["overrides"]
    return dataclasses.replace(
        policy,
        tracking_uri=over["tracking_uri"],
        prediction_log=over["prediction_log"],
        datadir=policy.datadir or over["datadir"],
        offline=True,
    )


def run_child(spec: dict[str, Any]) -> dict[str, str]:
    """The child's work (clock already at ``spec["at"]``): decide or retrain, and act."""
    import pandas as pd

    from tradai_strategy.lifecycle.decision import Decision
    from tradai_strategy.lifecycle.promotion import Lifecycle
    from tradai_strategy.lifecycle.retrain_act import act
    from tradai_strategy.lifecycle.scheduler import run_check

    policy = _policy(spec)
    now = pd.Timestamp(spec["at"])
    if spec["action"] == "retrain_check":
        decision, outcome = run_check(policy, now=now)
    else:
        lc = Lifecycle.open(policy.tracking_uri, model=policy.model_name)
        production = lc.registry.resolve(policy.model_name, "production")
        decision = Decision(
            policy,
            now,
            policy.model_name,
            production,
            action="retrain",
            reason=f"replay event: retrain at {now:%Y-%m-%d %H:%M}",
        )
        outcome = act(decision, lc=lc)
    line = f"{decision.action} ({decision.reason}): {outcome.result}, {outcome.message}"
    return {"action": decision.action, "result": outcome.result, "line": line}


def main(argv: list[str]) -> int:
    import time_machine

    spec = json.loads(argv[0])
    with time_machine.travel(datetime.fromisoformat(spec["at"]), tick=True):
        try:
            result = run_child(spec)
        except TradAIError as err:
            result = {"action": spec["action"], "result": "failed", "line": f"failed: {err}"}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - the child process entry point
    raise SystemExit(main(sys.argv[1:]))
