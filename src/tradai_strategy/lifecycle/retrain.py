"""``tradai retrain --check``: measure the live state, let the shared decision decide.

:func:`check` only reads (registry, audit trail, prediction log, feature drift) into a
:class:`~tradai_strategy.lifecycle.decision.Snapshot` (:func:`live_snapshot`) and returns
what :func:`tradai_strategy.lifecycle.decide.decide` makes of it: a :class:`Decision`;
:func:`~tradai_strategy.lifecycle.retrain_act.act` carries it out. The rules and their
precedence are documented in :mod:`tradai_strategy.lifecycle.decide`, the one decision
function ``tradai retrain simulate`` replays too.

The IC rules watch the cross-sectional IC of the production version's champion rows of the
prediction log (:mod:`tradai_strategy.stats.live_ic`), tested against the version's
validated IC (tags ``tradai.reference_ic``/``_se``); the error rule reads the audit trail to
know whether an automatic rollback is possible.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.lifecycle.decide import challenger_status, decide, schedule_due
from tradai_strategy.lifecycle.decision import (
    AUTO_ROLLBACK,
    AlertSpec,
    Decision,
    Finding,
    Snapshot,
    utc,
)
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.lifecycle.retrain_rules import (
    FeatureSource,
    auto_rollback_allowed,
    champion_rows,
    class_accuracy_of,
    error_ratio,
    ic_candles_of,
    measure_drift,
    reference_ic,
    served_bundle_drift,
    version_horizon,
)
from tradai_strategy.registry.client import RegistryError, VersionInfo

__all__ = [
    "AUTO_ROLLBACK",
    "AlertSpec",
    "Decision",
    "FeatureSource",
    "Finding",
    "check",
    "created",
    "live_snapshot",
    "open_log",
    "schedule_due",
    "utc",
]


#: the columns of a prediction log frame, no rows (a missing log is not created)
EMPTY_LOG = pd.DataFrame(
    {
        "time": pd.DatetimeIndex([], tz="UTC"),
        **{c: pd.Series(dtype=object) for c in ("pair", "model", "version", "role")},
        **{c: pd.Series(dtype=float) for c in ("prediction", "realised")},
    }
)


def created(info: VersionInfo) -> pd.Timestamp:
    return pd.Timestamp(info.created_ms, unit="ms", tz="UTC")


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
    return decide(live_snapshot(policy, now, lc=lc, log=log, features=features))


def live_snapshot(
    policy: RetrainPolicy,
    now: pd.Timestamp | datetime | str | None = None,
    *,
    lc: Lifecycle | None = None,
    log: Any | None = None,
    features: FeatureSource | None = None,
) -> Snapshot:
    """What :func:`check` knows ``now``: the registry, the audit trail, the prediction log."""
    from tradai_strategy.lifecycle.shadow import challenger_since

    now = utc(now)
    lc = lc or Lifecycle.open(policy.tracking_uri, model=policy.model_name)
    log_missing = log is None and not log_path(policy).is_file()
    name = policy.model_name
    try:
        versions = lc.registry.versions(name)
    except RegistryError:  # not registered: the schedule trains the first version
        versions = []
    aliases = {a: v.version for v in versions for a in v.aliases}
    newest = max((created(v) for v in versions), default=None)
    chall_v = aliases.get("challenger")
    challenger = (
        None
        if chall_v is None
        else challenger_status(
            chall_v, challenger_since(lc, name, chall_v), now, policy.shadow_test_days
        )
    )
    base = Snapshot(policy, now, name, newest=newest, challenger=challenger)
    info = next((v for v in versions if v.version == aliases.get("production")), None)
    if info is None:
        return base
    since = now - pd.Timedelta(days=policy.ic_window_days + policy.ic_retire_days + 1)
    if log is None and not log_missing:
        log = open_log(policy)
    logged = log.frame(name, since=since) if log is not None else EMPTY_LOG
    rows = champion_rows(logged, info.version, now)
    log_note = blind_note(policy, log, logged, info, now, log_missing)
    ratio, error_note = error_ratio(lc, info, rows, policy.error_window_days)
    if features is None and policy.feature_drift:
        features = served_bundle_drift
    table, drift_note = measure_drift(policy, info, features, now)
    candles, ic_note = ic_candles_of(rows)
    multiclass, accuracy_days, accuracy_note = class_accuracy_of(policy, log, info, now)
    return Snapshot(
        policy,
        now,
        name,
        production=info.version,
        production_created=created(info),
        newest=newest,
        ic_candles=candles,
        ic_horizon=version_horizon(lc, info, policy) if candles is not None else 1,
        ic_reference=reference_ic(info),
        ic_note=ic_note,
        log_note=log_note,
        error_ratio=ratio,
        error_note=error_note,
        rollback_blocked=(
            auto_rollback_allowed(lc, name, info.version) if ratio is not None else None
        ),
        drift=table,
        drift_note=drift_note,
        challenger=challenger,
        multiclass=multiclass,
        accuracy=accuracy_days[-1] if accuracy_days else None,
        accuracy_days=accuracy_days,
        accuracy_note=accuracy_note,
    )


def log_path(policy: RetrainPolicy) -> Path:
    """The policy's prediction log file."""
    from tradai_strategy.monitoring.prediction_log import default_prediction_log_path

    return Path(policy.prediction_log or default_prediction_log_path(policy.userdir))


def open_log(policy: RetrainPolicy) -> Any:
    """The policy's prediction log."""
    from tradai_strategy.monitoring.prediction_log import PredictionLog

    return PredictionLog(log_path(policy))


def blind_note(
    policy: RetrainPolicy,
    log: Any,
    logged: pd.DataFrame,
    info: VersionInfo,
    now: pd.Timestamp,
    missing: bool,
) -> str:
    """Why the check cannot see the production version's predictions ("" when it can):
    no log file, or no row of the version for a day after it was registered."""
    where = getattr(log, "path", None) or log_path(policy)
    hint = "is the bot running with freqai.tradai.prediction_log = true and this log path?"
    if missing:
        return f"prediction log {where} does not exist: the IC and error rules are blind; {hint}"
    mine = logged[(logged["version"] == info.version) & (logged["role"] == "champion")]
    if mine.empty and now - created(info) > pd.Timedelta(days=1):
        return (
            f"prediction log {where} has no prediction of version {info.version} in the last "
            f"{policy.ic_window_days + policy.ic_retire_days + 1} days: {hint}"
        )
    return ""
