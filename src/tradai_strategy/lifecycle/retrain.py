"""``tradai retrain --check``: decide from schedule, drift and IC decay, then act.

:func:`check` only reads (registry, audit trail, prediction log, feature drift) and returns
a :class:`Decision`; :func:`~tradai_strategy.lifecycle.retrain_act.act` carries it out.
One action per check, in this order of precedence:

1. **retire** — the production version's IC stayed below ``ic_retire_below`` for
   ``ic_retire_days`` days in a row (A1's ``retire``; serving falls back to ``@fallback``);
2. **rollback** — the error drift ratio (MAE over ``error_window_days`` / the version's
   baseline MAE) is above ``drift_ratio`` and ``rollback_enabled``: at most once per
   production version, and never right after another automatic rollback (both read from
   the audit trail);
3. **shadow** — ``@challenger`` has predicted beside production for ``shadow_test_days``:
   the paired IC test decides promote or discard (:mod:`~tradai_strategy.lifecycle.shadow`);
4. **retrain** — schedule due (``interval`` since the newest registered version, so a failed
   retrain is not retried every check), IC below ``ic_retrain_below`` for
   ``ic_retrain_days`` days, feature drift (at least ``drift_min_share`` of
   the features with KS > ``ks_retrain``) or error drift that
   could not be rolled back.

The IC triggers watch the ``ic_window_days`` rolling mean of the daily Spearman IC of the
production version's champion rows (B1's ``rolling_ic`` + ``ic_triggers``). A trigger fires
on the day its run of days reaches the configured length; the same run never triggers twice
(a version registered after that day means it was handled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.registry.client import RegistryError, VersionInfo

AUTO_ROLLBACK = "auto-rollback"
BASELINE_MAE_TAG = "tradai.baseline_mae"
BASELINE_MAE_METRICS = ("baseline_mae", "oos_mae", "mae")

#: feature source: (policy, production version, now) -> (reference, current) frames or None
FeatureSource = Callable[
    [RetrainPolicy, VersionInfo, pd.Timestamp],
    "pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame] | None",
]


@dataclass(frozen=True)
class Finding:
    """One line of the check: which rule, its status (ok/warn/trigger/skipped) and why."""

    rule: str
    status: str
    message: str


@dataclass(frozen=True)
class AlertSpec:
    """An alert :func:`act` sends (check itself never sends)."""

    event: str
    title: str
    body: str
    level: str = "info"
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    """What :func:`check` decided, and everything :func:`act` needs to do it."""

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


def utc(ts: pd.Timestamp | datetime | str | None) -> pd.Timestamp:
    """``ts`` (default: now) as a tz-aware UTC timestamp."""
    out = pd.Timestamp(datetime.now(UTC) if ts is None else ts)
    return out.tz_localize("UTC") if out.tzinfo is None else out.tz_convert("UTC")


def created(info: VersionInfo) -> pd.Timestamp:
    return pd.Timestamp(info.created_ms, unit="ms", tz="UTC")


def schedule_due(interval: str, last: pd.Timestamp | None, now: pd.Timestamp) -> bool:
    """Whether a scheduled retrain is due ``now`` given the last training time.

    weekly: 7 days passed; monthly: one calendar month passed; month-end: a month ended
    (a new UTC month began) since ``last``; none: never. No training yet: due (unless none).

    >>> t = pd.Timestamp("2025-01-31 12:00", tz="UTC")
    >>> schedule_due("month-end", t, pd.Timestamp("2025-02-01 00:30", tz="UTC"))
    True
    >>> schedule_due("monthly", t, pd.Timestamp("2025-02-27", tz="UTC"))
    False
    """
    if interval == "none":
        return False
    if last is None:
        return True
    if interval == "weekly":
        return now - last >= pd.Timedelta(days=7)
    if interval == "monthly":
        return now >= last + pd.DateOffset(months=1)
    return (now.year, now.month) > (last.year, last.month)


def propose(d: Decision, action: str, reason: str) -> None:
    """Keep the highest-precedence action (retire > rollback > shadow > retrain)."""
    rank = {"nothing": 0, "retrain": 1, "shadow": 2, "rollback": 3, "retire": 4}
    if rank[action] > rank[d.action]:
        d.action, d.reason = action, reason


def check(
    policy: RetrainPolicy,
    now: pd.Timestamp | datetime | str | None = None,
    *,
    lc: Lifecycle | None = None,
    log: Any | None = None,
    features: FeatureSource | None = None,
) -> Decision:
    """Decide what the retraining policy wants ``now``; reads only, never acts.

    A model that is not registered yet has no version: a due schedule trains the first.

    :param lc: the registry + audit trail (default: the policy's tracking URI).
    :param log: a :class:`~tradai_strategy.monitoring.prediction_log.PredictionLog`
        (default: the policy's ``prediction_log`` or ``<userdir>/tradai_predictions.sqlite``).
    :param features: returns the production version's drift table (columns feature, ks,
        level[, pair]) or its (training reference, current window) feature frames; default
        (with ``[drift] feature_drift = true``): B1's check of the served bundle's reference
        against the strategy's features on the policy's data, else the rule is skipped.
    """
    from tradai_strategy.lifecycle.retrain_rules import (
        champion_rows,
        error_rules,
        feature_rules,
        ic_rules,
        served_bundle_drift,
    )
    from tradai_strategy.lifecycle.shadow import shadow_status

    now = utc(now)
    lc = lc or Lifecycle.open(policy.tracking_uri)
    log = log or open_log(policy)
    name = policy.model_name
    try:
        versions = lc.registry.versions(name)
    except RegistryError:  # not registered: the schedule trains the first version
        versions = []
    aliases = {a: v.version for v in versions for a in v.aliases}
    prod_v = aliases.get("production")
    d = Decision(policy, now, name, prod_v)
    newest = max((created(v) for v in versions), default=None)
    cooled = newest is None or now - newest >= pd.Timedelta(hours=policy.cooldown_hours)
    if schedule_due(policy.interval, newest, now):
        since = "no version yet" if newest is None else f"newest version {newest:%Y-%m-%d %H:%M}"
        d.add("schedule", "trigger", f"{policy.interval} retrain due ({since})")
        propose(d, "retrain", f"{policy.interval} schedule ({since})")
    else:
        d.add("schedule", "ok", f"interval {policy.interval}: not due")
    info = next((v for v in versions if v.version == prod_v), None)
    if info is None:
        d.add("production", "skipped", f"model {name!r} has no @production version")
    else:
        age = (now - created(info)) / pd.Timedelta(days=1)
        d.metrics["age_days"] = age
        if age > policy.stale_model_days:
            d.add(
                "age",
                "warn",
                f"version {prod_v} is {age:.0f} days old (> {policy.stale_model_days})",
            )
            d.alerts.append(
                AlertSpec(
                    "stale_model",
                    "stale production model",
                    f"version {prod_v} is {age:.0f} days old",
                    "warning",
                    {"age_days": round(age, 1)},
                )
            )
        since = now - pd.Timedelta(days=policy.ic_window_days + policy.ic_retire_days + 1)
        rows = champion_rows(log.frame(name, since=since), info.version, now)
        assert newest is not None
        ic_rules(d, rows, newest)
        error_rules(d, lc, info, rows, cooled)
        if features is None and policy.feature_drift:
            features = served_bundle_drift
        feature_rules(d, info, features, cooled)
    chall = shadow_status(lc, name, now, policy.shadow_test_days, aliases.get("challenger"))
    if chall is not None:
        d.challenger = chall.version
        status = "trigger" if chall.due else "ok"
        d.add("shadow", status, chall.message)
        if chall.due:
            propose(d, "shadow", chall.message)
    return d


def open_log(policy: RetrainPolicy) -> Any:
    """The policy's prediction log."""
    from tradai_strategy.monitoring.prediction_log import (
        PredictionLog,
        default_prediction_log_path,
    )

    return PredictionLog(policy.prediction_log or default_prediction_log_path(policy.userdir))
