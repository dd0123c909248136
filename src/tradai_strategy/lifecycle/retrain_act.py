"""Carry out a :class:`~tradai_strategy.lifecycle.decision.Decision`: retrain, roll back,
retire, decide a shadow test, send the alerts; each outcome has a documented exit status.

Retrain flow: train (``train_and_register``, the last ``train_days`` days) → validate (D's
``validate_and_tag``: tags ``tradai.validation_status``) → ``auto_promote`` and passed:
``@production``; passed without auto_promote: ``@challenger`` (shadow test); failed: the
version stays unaliased and production is untouched. Then retention keeps the newest
``keep_versions`` unaliased versions.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.core import tags as tag
from tradai_strategy.lifecycle.decision import AlertSpec, Decision
from tradai_strategy.lifecycle.gate import MAX_REASONS_CHARS
from tradai_strategy.lifecycle.policy import RetrainPolicy, policy_args
from tradai_strategy.lifecycle.promotion import Lifecycle, promote, retire, rollback
from tradai_strategy.lifecycle.retrain import log_path, open_log
from tradai_strategy.monitoring.alerts import Alerter

logger = logging.getLogger(__name__)

#: exit status of ``tradai retrain --check`` per outcome (2: bad input, 1: error)
EXIT_CODES = {
    "nothing": 0,
    "promoted": 10,
    "challenger": 11,
    "kept": 12,
    "rolled_back": 13,
    "retired": 14,
    "shadow_promoted": 15,
    "shadow_discarded": 16,
    "would_act": 20,
    "failed": 1,
}
ALERT_STATE = "tradai_alert_state.json"
#: condition alerts repeated at most every ``alert_repeat_hours`` per production version
REPEATED_EVENTS = frozenset(
    {
        "drift_warning",
        "drift_critical",
        "ic_decay",
        "accuracy_warning",
        "accuracy_critical",
        "stale_model",
        "monitoring_blind",
    }
)
MONITOR_TAGS = {
    "rolling_ic": tag.MONITOR_ROLLING_IC,
    "rolling_ic_se": tag.MONITOR_ROLLING_IC_SE,
    "drift_ratio": tag.MONITOR_DRIFT_RATIO,
}

#: trainer(policy, now) -> new version; validator(policy, version) -> (passed, reasons)
Trainer = Callable[[RetrainPolicy, pd.Timestamp], str]
Validator = Callable[[RetrainPolicy, str], "tuple[bool, str]"]


@dataclass(frozen=True)
class Outcome:
    """What :func:`act` did; ``exit_code`` is the CLI's exit status (see :data:`EXIT_CODES`)."""

    result: str
    message: str
    version: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.result]


def train_timerange(policy: RetrainPolicy, now: pd.Timestamp) -> str:
    """``YYYYMMDD-YYYYMMDD``: the last ``train_days`` days before ``now``."""
    start = now - pd.Timedelta(days=policy.train_days)
    return f"{start:%Y%m%d}-{now:%Y%m%d}"


def train_new_version(policy: RetrainPolicy, now: pd.Timestamp) -> str:
    """Default trainer: ``tradai train``'s flow on the policy's config; the new version."""
    from tradai_strategy.core.paths import freqaimodels_path
    from tradai_strategy.lifecycle.train import train_and_register

    models_path = freqaimodels_path()  # the installed shims, as `tradai train` finds them
    result = train_and_register(
        policy_args(policy),
        timerange=train_timerange(policy, now),
        offline=policy.offline,
        skip_leakage_check=policy.skip_leakage_check,
        model_name=policy.model_name,
        tracking_uri=policy.tracking_uri,
        freqaimodel_path=models_path,
    )
    return result.version


def validator_with(**cv_options: Any) -> Validator:
    """A validator running D's gate: the policy's ``[validation]`` settings, overridden by
    ``cv_options`` (``validate_and_tag`` keyword arguments)."""

    def validate(policy: RetrainPolicy, version: str) -> tuple[bool, str]:
        from tradai_strategy.lifecycle.gate import reasons_text, validate_and_tag

        options = {
            "cv": policy.validation_cv,
            "n_groups": policy.validation_n_groups,
            "seeds": policy.validation_seeds,
            "jobs": policy.validation_jobs,
            # read by the accuracy gate, which the validation applies to a target of more
            # than two classes (the IC/Sharpe checks of any other target ignore them)
            "min_accuracy": policy.min_accuracy,
            "accuracy_margin": policy.accuracy_margin,
            "skip_leakage_check": policy.skip_leakage_check,
            **cv_options,
        }
        res = validate_and_tag(
            policy_args(policy),
            policy.model_name,
            version,
            tracking_uri=policy.tracking_uri,
            offline=policy.offline,
            **options,
        )
        return res.verdict.passed, reasons_text(res.verdict)

    return validate


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _retrain(
    d: Decision, lc: Lifecycle, alerter: Alerter, trainer: Trainer, validator: Validator
) -> Outcome:
    from tradai_strategy.core.logs import capture_output

    p, name = d.policy, d.model
    stamp = f"{d.now:%Y%m%dT%H%M%SZ}-{os.getpid()}"
    run_log = Path(p.userdir) / "tradai_runs" / f"retrain-{stamp}.log"
    started = time.monotonic()
    try:
        with capture_output(run_log):
            version = str(trainer(p, d.now))
    except Exception as err:  # any training failure is reported, not raised
        logger.exception("retraining %s failed", name)
        msg = f"training failed ({d.reason}): {_first_line(err)} (log: {run_log})"
        alerter.send(
            "training_failed",
            f"{name}: training failed",
            msg,
            level="critical",
            fields={"model": name, "version": d.production, "trigger": d.reason},
        )
        return Outcome("failed", msg)
    hours = (time.monotonic() - started) / 3600
    fields = {
        "model": name,
        "version": version,
        "trigger": d.reason,
        "training_hours": round(hours, 3),
    }
    if hours > p.training_slow_hours:
        alerter.send(
            "training_slow",
            f"{name}: training took {hours:.1f} h",
            f"version {version} took longer than {p.training_slow_hours} h",
            level="warning",
            fields=fields,
        )
    lc.registry.set_tags(name, version, {tag.TRIGGER: d.reason[:250]})
    try:
        with capture_output(run_log):
            passed, reasons = validator(p, version)
    except Exception as err:  # an unvalidated version is never promoted
        logger.exception("validating %s version %s failed", name, version)
        passed, reasons = False, f"validation error: {_first_line(err)}"
        lc.registry.set_tags(
            name,
            version,
            {tag.VALIDATION_STATUS: "failed", tag.VALIDATION_REASONS: reasons[:MAX_REASONS_CHARS]},
        )
    if not passed:
        msg = (
            f"version {version} failed validation ({reasons}): production stays on "
            f"{d.production or 'no version'}"
        )
        alerter.send(
            "validation_failed",
            f"{name}: retrained version rejected",
            msg,
            level="warning",
            fields={**fields, "reasons": reasons},
        )
        outcome = Outcome("kept", msg, version)
    else:
        alias = "production" if p.auto_promote else "challenger"
        why = f"retrain ({d.reason}); validation passed"
        promote(lc, name, version, alias=alias, reason=why)
        msg = f"version {version} passed validation -> @{alias}"
        alerter.send(
            "promoted" if p.auto_promote else "retrained",
            f"{name}: {msg}",
            why,
            level="success",
            fields={**fields, "alias": alias},
        )
        outcome = Outcome("promoted" if p.auto_promote else "challenger", msg, version)
    deleted = lc.registry.apply_retention(name, p.keep_versions)
    if deleted:
        logger.info("retention deleted %s versions %s", name, ", ".join(deleted))
    return outcome


def due_alerts(d: Decision, state_file: Path) -> list[AlertSpec]:
    """The decision's alerts minus condition alerts (drift, IC decay, stale model) already
    sent for the same model, event and production version within ``alert_repeat_hours``;
    remembers what it lets through in ``state_file`` (JSON beside the audit trail)."""
    try:
        state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    except (OSError, ValueError):
        state = {}
    out = []
    for a in d.alerts:
        key = f"{d.model}|{a.event}|{d.production}"
        last = state.get(key)
        repeat = pd.Timedelta(hours=d.policy.alert_repeat_hours)
        if a.event in REPEATED_EVENTS and last and d.now - pd.Timestamp(last) < repeat:
            continue
        state[key] = d.now.isoformat()
        out.append(a)
    if out:
        try:
            state_file.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
        except OSError as err:
            logger.warning("could not remember sent alerts in %s: %s", state_file, err)
    return out


def challenger_horizon(lc: Lifecycle, p: RetrainPolicy) -> int:
    """The ``@challenger``'s label horizon: its tag or run param, else the policy's config."""
    from tradai_strategy.lifecycle.retrain_rules import version_horizon

    info = lc.registry.resolve_required(p.model_name, "challenger")
    return version_horizon(lc, info, p)


def act(
    d: Decision,
    *,
    lc: Lifecycle | None = None,
    log: Any | None = None,
    alerter: Alerter | None = None,
    trainer: Trainer | None = None,
    validator: Validator | None = None,
) -> Outcome:
    """Do what ``d`` decided, send its alerts, prune the prediction log, tag the production
    version's live IC / drift ratio (``tradai.monitor.*``, read by ``tradai status``).

    :param trainer: default :func:`train_new_version`; :param validator: default D's gate
        with its default settings (:func:`validator_with`).
    """
    from tradai_strategy.lifecycle.shadow import decide_shadow

    p, name = d.policy, d.model
    lc = lc or Lifecycle.open(p.tracking_uri, model=name)
    if log is None and log_path(p).is_file():  # never create a log where the bot writes none
        log = open_log(p)
    alerter = alerter or Alerter(list(p.alert_urls))
    for a in due_alerts(d, lc.audit.path.parent / ALERT_STATE):
        alerter.send(
            a.event,
            f"{name}: {a.title}",
            a.body,
            level=a.level,
            fields={"model": name, "version": d.production, **a.fields},
        )
    if d.production is not None:
        tags = {MONITOR_TAGS[k]: f"{v:.6g}" for k, v in d.metrics.items() if k in MONITOR_TAGS}
        if tags:
            lc.registry.set_tags(name, d.production, tags)
    if log is not None:
        log.prune(p.prediction_log_days, now=d.now)
    base = {"model": name, "version": d.production}
    if d.action == "retire":
        assert d.production is not None
        retire(lc, name, d.production, reason=d.reason)
        fallback = lc.registry.resolve(name, "fallback")
        msg = f"version {d.production} retired ({d.reason}); serving falls back to " + (
            f"@fallback {fallback}" if fallback else "nothing: no @fallback is set"
        )
        alerter.send(
            "retirement",
            f"{name}: version {d.production} retired",
            msg,
            level="critical",
            fields={**base, "fallback": fallback},
        )
        return Outcome("retired", msg, d.production)
    if d.action == "rollback":
        event = rollback(lc, name, reason=d.reason)
        msg = f"rolled back @production {event.from_version} -> {event.to_version} ({d.reason})"
        alerter.send(
            "rollback",
            f"{name}: auto-rollback to {event.to_version}",
            msg,
            level="critical",
            fields={**base, "to_version": event.to_version, "audit_id": event.id, **d.metrics},
        )
        return Outcome("rolled_back", msg, event.to_version)
    if d.action == "shadow":
        res = decide_shadow(
            lc, log or open_log(p), name, now=d.now, horizon=challenger_horizon(lc, p)
        )
        done = "promoted" if res.action == "promote" else "discarded"
        alerter.send(
            "shadow_decision",
            f"{name}: challenger {res.version} {done}",
            res.reason,
            level="success" if res.action == "promote" else "info",
            fields={**base, "challenger": res.version, "decision": res.action},
        )
        result = "shadow_promoted" if res.action == "promote" else "shadow_discarded"
        return Outcome(result, f"challenger {res.version} {done}: {res.reason}", res.version)
    if d.action == "retrain":
        return _retrain(d, lc, alerter, trainer or train_new_version, validator or validator_with())
    return Outcome("nothing", "nothing to do")
