"""What one retrain decision reads (:class:`Snapshot`) and returns (:class:`Decision`).

The types of :func:`tradai_strategy.lifecycle.decide.decide`, shared by its two callers:
``tradai retrain --check`` (:mod:`.retrain` builds the snapshot from the registry, the audit
trail and the prediction log) and ``tradai retrain simulate`` (:mod:`.simulate_routine`
builds it from the replay's state each day). No IO here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.policy import RetrainPolicy
    from tradai_strategy.monitoring.class_accuracy import LiveAccuracy

#: the reason of an automatic rollback starts with this (the audit trail is read for it)
AUTO_ROLLBACK = "auto-rollback"
#: actions in order of precedence: one action per decision, the highest proposed wins
ACTIONS = ("nothing", "retrain", "shadow", "rollback", "retire")
NO_REALISED = "no realised prediction of the production version yet"
FEATURE_DRIFT_OFF = "feature drift is off ([drift] feature_drift = false)"


def utc(ts: pd.Timestamp | datetime | str | None) -> pd.Timestamp:
    """``ts`` (default: now) as a tz-aware UTC timestamp."""
    out = pd.Timestamp(datetime.now(UTC) if ts is None else ts)
    return out.tz_localize("UTC") if out.tzinfo is None else out.tz_convert("UTC")


@dataclass(frozen=True)
class Challenger:
    """The ``@challenger`` version and whether its shadow test is over."""

    version: str
    due: bool
    message: str


@dataclass(frozen=True)
class Snapshot:
    """Everything one decision knows at ``now``: measured by the caller, judged by ``decide``.

    ``None`` in a measured field means "not measured"; the matching ``*_note`` says why
    (it becomes the ``skipped`` line of the check).
    """

    policy: RetrainPolicy
    now: pd.Timestamp
    model: str
    #: the ``@production`` version (None: none; then only the schedule and shadow rules run)
    production: str | None = None
    #: when the production version was trained (its age)
    production_created: pd.Timestamp | None = None
    #: when the newest version was trained: the last retrain attempt (None: no version yet)
    newest: pd.Timestamp | None = None
    #: per-candle cross-sectional IC (columns ic, pairs; UTC candle index) of the
    #: production version's realised predictions (None: not measured, ``ic_note`` says why)
    ic_candles: pd.DataFrame | None = None
    #: the label horizon (candles) of those predictions: the overlap the s.e. accounts for
    ic_horizon: int = 1
    #: the version's validated IC and its s.e., same statistic (None: unknown)
    ic_reference: tuple[float, float] | None = None
    ic_note: str = NO_REALISED
    #: why the prediction log shows nothing of the production version ("" when it does)
    log_note: str = ""
    #: MAE over the last ``error_window_days`` / the version's baseline MAE
    error_ratio: float | None = None
    error_note: str = NO_REALISED
    #: None: an automatic rollback of the production version may happen; else why not
    rollback_blocked: str | None = None
    #: drift table (index feature; columns ks, level) of the production version's features
    drift: pd.DataFrame | None = None
    drift_note: str = FEATURE_DRIFT_OFF
    challenger: Challenger | None = None
    #: the production version predicts more than two classes (the regimes): it has no
    #: numeric score, so it is judged on its live accuracy, not on the IC
    multiclass: bool = False
    #: its live accuracy over ``accuracy_window_days`` (None: not measured, see the note)
    accuracy: LiveAccuracy | None = None
    #: the same figure at ``now`` and each of the ``accuracy_days - 1`` days before it,
    #: oldest first (None where too few rows): the rule needs a run of them below a line
    accuracy_days: tuple[LiveAccuracy | None, ...] = ()
    accuracy_note: str = NO_REALISED


@dataclass(frozen=True)
class Finding:
    """One line of the check: which rule, its status (ok/warn/trigger/skipped) and why."""

    rule: str
    status: str
    message: str


@dataclass(frozen=True)
class AlertSpec:
    """An alert the live check's ``act`` sends (the decision itself never sends)."""

    event: str
    title: str
    body: str
    level: str = "info"
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """What :func:`~tradai_strategy.lifecycle.decide.decide` decided, and why."""

    policy: RetrainPolicy
    now: pd.Timestamp
    model: str
    production: str | None
    action: str = "nothing"
    reason: str = "nothing to do"
    findings: list[Finding] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    challenger: str | None = None

    def add(self, rule: str, status: str, message: str) -> None:
        self.findings.append(Finding(rule, status, message))

    def fired(self) -> list[str]:
        """The rules whose status is ``trigger``, in check order."""
        return [f.rule for f in self.findings if f.status == "trigger"]


def propose(d: Decision, action: str, reason: str) -> None:
    """Keep the highest-precedence action (retire > rollback > shadow > retrain); between
    equals, the first proposed (its reason) stays."""
    if ACTIONS.index(action) > ACTIONS.index(d.action):
        d.action, d.reason = action, reason
