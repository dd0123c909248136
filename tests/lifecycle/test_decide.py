"""The replay decides what the live check decides: one recorded sequence of states, each
measured once by the live side (`tradai retrain --check`'s `run_check` on a fake registry,
audit trail and prediction log) and once by the replay side (`simulate_routine.step` on a
stub of the replay's engine), must give the same decision; the replay must also carry it out.

Two cases are the former disagreements of the two copies of the policy: month-end on a day
that is not the 1st (the replay only fired on day 1) and error drift whose rollback is
blocked (the replay never retrained on it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tradai_strategy.lifecycle.decide import decide
from tradai_strategy.lifecycle.decision import Snapshot
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.scheduler import run_check
from tradai_strategy.lifecycle.simulate_engine import Model
from tradai_strategy.lifecycle.simulate_report import SimEvent
from tradai_strategy.lifecycle.simulate_routine import step
from tradai_strategy.registry.audit import AuditEvent
from tradai_strategy.registry.client import VersionInfo

NAME = "tradai-decide"
DAY = pd.Timedelta(days=1)
BASE = RetrainPolicy(
    model_name=NAME,
    interval="none",
    retrain_on_drift=False,
    feature_drift=False,
    auto_promote=True,
    ic_window_days=1,  # the watched IC is the day's: runs are counted by hand below
    ic_retrain_days=3,
    ic_retire_days=6,
)


@dataclass(frozen=True)
class State:
    """One recorded state, as both sides see it."""

    name: str
    now: pd.Timestamp
    newest_days_ago: float = 10.0  # production (the newest version) trained then
    # IC (+1/-1) of the days before now (the live log always holds the served version's rows)
    signs: list[int] = field(default_factory=lambda: [1] * 8)
    error: float | None = None  # MAE of the last days (baseline 0.01); None: no baseline
    fallback: bool = False  # a previous production version exists
    drift: pd.DataFrame | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    expected: str = "nothing"

    @property
    def newest(self) -> pd.Timestamp:
        return self.now - pd.Timedelta(days=self.newest_days_ago)

    @property
    def rules(self) -> RetrainPolicy:
        return dataclasses.replace(BASE, **self.policy)


CRITICAL = pd.DataFrame(
    {
        "pair": ["BTC/USDT", "BTC/USDT", "ETH/USDT", "ETH/USDT"],
        "feature": ["%rsi", "%ret", "%rsi", "%ret"],
        "ks": [0.35, 0.10, 0.42, 0.25],
        "level": ["critical", "ok", "critical", "critical"],
    }
)
T = pd.Timestamp("2025-04-03", tz="UTC")
STATES = [
    State("month-end, 3rd day of a new month", T, 14, policy={"interval": "month-end"},
          expected="retrain"),
    State("month-end, day 1", pd.Timestamp("2025-04-01", tz="UTC"), 3,
          policy={"interval": "month-end"}, expected="retrain"),
    State("error drift, rollback blocked (no fallback)", T, signs=[1] * 8, error=0.02,
          policy={"retrain_on_drift": True}, expected="retrain"),
    State("error drift, rollback possible", T, signs=[1] * 8, error=0.02, fallback=True,
          policy={"retrain_on_drift": True}, expected="rollback"),
    State("IC below the retrain line for 3 days", T, signs=[1] * 5 + [-1] * 3,
          expected="retrain"),
    State("IC below the retire line for 6 days", T, signs=[1] * 2 + [-1] * 6, fallback=True,
          expected="retire"),
    State("feature drift critical", T, drift=CRITICAL,
          policy={"feature_drift": True, "retrain_on_drift": True}, expected="retrain"),
    State("nothing due", T, signs=[1] * 8, error=0.011, fallback=True,
          policy={"interval": "monthly"}),
]  # fmt: skip


# ---- the live side: a registry, an audit trail and a prediction log ------------------------
def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


class FakeRegistry:
    def __init__(self, s: State) -> None:
        tags = {"tradai.label_period_candles": "1"}
        if s.error is not None:
            tags["tradai.baseline_mae"] = "0.01"
        old = s.newest - 30 * DAY
        self._versions = [
            VersionInfo(NAME, "1", ("fallback",), created_ms=_ms(old)),
            VersionInfo(NAME, "2", ("production",), tags, created_ms=_ms(s.newest)),
        ]

    def versions(self, name: str) -> list[VersionInfo]:
        return self._versions

    def run_metrics(self, run_id: str | None) -> dict[str, float]:
        return {}


class FakeAudit:
    def __init__(self, s: State) -> None:
        moves = [(None, "1"), ("1", "2")] if s.fallback else [(None, "2")]
        self._events = [
            AuditEvent(i, "", "test", "promote", NAME, "production", a, b, "by hand", {})
            for i, (a, b) in enumerate(moves, 1)
        ]

    def events(self, name: str) -> list[AuditEvent]:
        return self._events


@dataclass
class FakeLifecycle:
    registry: FakeRegistry
    audit: FakeAudit


PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")


class FakeLog:
    """Champion rows of version 2, 4 pairs, 24 candles a day: prediction = sign * realised +
    error, so the cross-sectional IC of every candle of a day is its sign exactly."""

    def __init__(self, s: State) -> None:
        n = len(s.signs)
        times = pd.date_range(s.now - n * DAY, periods=24 * n, freq="h", tz="UTC")
        rng = np.random.default_rng(0)
        sign = np.repeat(np.asarray(s.signs, float), 24)
        parts = []
        for pair in PAIRS:
            realised = rng.normal(0, 0.01, len(times))
            parts.append(
                pd.DataFrame(
                    {
                        "time": times,
                        "pair": pair,
                        "version": "2",
                        "role": "champion",
                        "prediction": sign * realised + (s.error or 0.0),
                        "realised": realised,
                    }
                )
            )
        self.rows = pd.concat(parts, ignore_index=True) if n else parts[0].iloc[:0]

    def frame(self, model: str, since: pd.Timestamp | None = None) -> pd.DataFrame:
        return self.rows[self.rows["time"] >= since] if since is not None else self.rows


def live(s: State) -> Any:
    decision, outcome = run_check(
        s.rules,
        dry_run=True,
        now=s.now,
        lc=FakeLifecycle(FakeRegistry(s), FakeAudit(s)),
        log=FakeLog(s),
        features=None if s.drift is None else (lambda p, v, now: s.drift),
    )
    assert outcome.result == ("nothing" if decision.action == "nothing" else "would_act")
    return decision


# ---- the replay side: the engine's state --------------------------------------------------
def _model(version: int, at: pd.Timestamp, mae: float) -> Model:
    return Model(version, [], at, [], gate_ic=0.5, baseline_mae=mae)


@dataclass
class PairStub:
    task: str = "regression"


class StubEngine:
    """The part of :class:`~tradai_strategy.lifecycle.simulate_engine.Engine` the routine reads
    and moves, with the state's measurements."""

    def __init__(self, s: State) -> None:
        self.state = s
        self.rules = s.rules
        self.s = type("S", (), {"min_gate_ic": 0.02, "horizon": 1})()
        self.data = [PairStub() for _ in PAIRS]
        mae = 0.01 if s.error is not None else float("nan")
        prod = _model(2, s.newest, mae)
        self.stack = ([_model(1, s.newest - 30 * DAY, mae)] if s.fallback else []) + [prod]
        self.current: Model | None = prod
        self.deployed_at = s.newest
        self.first_trained = s.newest - 30 * DAY
        self.last_attempt: pd.Timestamp | None = s.newest
        self.challenger = None
        self.retired = self.auto_rolled_back = False
        self.events: list[SimEvent] = []
        self.multiclass = False  # a regression target: the IC rules

    # measurements
    def watched_ic(self, day: pd.Timestamp) -> pd.DataFrame:
        n = len(self.state.signs)
        times = pd.date_range(day - n * DAY, periods=24 * n, freq="h", tz="UTC")
        ic = np.repeat(np.asarray(self.state.signs, float), 24)
        return pd.DataFrame({"ic": ic, "pairs": float(len(PAIRS))}, index=times)

    def error_ratio(self, day: pd.Timestamp) -> float:
        return float("nan") if self.state.error is None else self.state.error / 0.01

    def drift_table(self, day: pd.Timestamp) -> pd.DataFrame | None:
        return self.state.drift

    def fallback(self) -> Model | None:
        return self.stack[-2] if len(self.stack) >= 2 else None

    # moves
    def train(self, day: pd.Timestamp) -> Model:
        return _model(3, day, 0.01)

    def promote(self, model: Model, day: pd.Timestamp) -> None:
        self.stack.append(model)
        self.current = model

    def step_back(self, day: pd.Timestamp) -> Model | None:
        self.stack.pop()
        self.current = self.stack[-1] if self.stack else None
        return self.current

    def retain(self, keep: int) -> list[int]:
        return []  # nothing registered beyond the stack here


FIRST_EVENT = {"retrain": "retrained", "rollback": "rolled back", "retire": "retired"}


@pytest.mark.parametrize("s", STATES, ids=[s.name for s in STATES])
def test_replay_takes_the_live_decision(s: State) -> None:
    want = live(s)
    eng = StubEngine(s)
    got = step(eng, s.now)  # the stub stands in for the replay's Engine
    assert want.action == s.expected, [f.message for f in want.findings]
    assert (got.action, got.reason, got.fired()) == (want.action, want.reason, want.fired())
    assert [(f.rule, f.status) for f in got.findings] == [(f.rule, f.status) for f in want.findings]
    # and the replay carried it out
    assert [e.action for e in eng.events][:1] == (
        [FIRST_EVENT[want.action]] if want.action in FIRST_EVENT else []
    )


def test_the_two_former_disagreements() -> None:
    month_end, blocked = STATES[0], STATES[2]
    assert month_end.now.day == 3
    d = live(month_end)
    assert d.fired() == ["schedule"] and d.reason.startswith("month-end schedule")
    d = live(blocked)
    (error,) = [f for f in d.findings if f.rule == "error"]
    assert "retrain (no rollback: no production version before 2" in error.message
    assert d.reason == "error drift ratio 2.00 > 1.5"
    # rollback_enabled = false blocks the rollback the same way, on both sides
    rules = {**blocked.policy, "rollback_enabled": False}
    off = dataclasses.replace(blocked, fallback=True, policy=rules)
    assert live(off).action == step(StubEngine(off), off.now).action == "retrain"


def test_precedence_one_action_retire_over_everything() -> None:
    s = STATES[5]
    snap = Snapshot(
        dataclasses.replace(s.rules, interval="weekly", retrain_on_drift=True),
        s.now,
        NAME,
        production="2",
        newest=s.newest,
        ic_candles=StubEngine(s).watched_ic(s.now),
        error_ratio=3.0,
        rollback_blocked=None,
    )
    d = decide(snap)
    assert d.action == "retire" and d.fired() == ["schedule", "ic", "error"]
