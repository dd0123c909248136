"""THE retrain decision: one pure function over a :class:`~.decision.Snapshot`.

``tradai retrain --check`` (:func:`tradai_strategy.lifecycle.retrain.check`) and
``tradai retrain simulate`` (:func:`tradai_strategy.lifecycle.simulate_routine.step`, once
per replayed day) both call :func:`decide`; they differ only in how they measure the
snapshot and how they carry the decision out. One action per decision, in this order of
precedence:

1. **retire** — the production version's watched IC stayed confidently below
   ``ic_retire_below`` for ``ic_retire_days`` days in a row (serving falls back to
   ``@fallback``);
2. **rollback** — the error drift ratio (MAE over ``error_window_days`` / the version's
   baseline MAE) is above ``drift_ratio`` and an automatic rollback is possible
   (``rollback_enabled``, at most once per production version, never right after another
   automatic rollback, and a previous production version exists);
3. **shadow** — ``@challenger`` has predicted beside production for ``shadow_test_days``:
   the paired IC test decides promote or discard;
4. **retrain** — schedule due (``interval`` since the newest version: a failed retrain is not
   retried every check), IC confidently below the version's validated IC (else
   ``ic_retrain_below``) for ``ic_retrain_days`` days, error
   drift whose rollback is blocked, or feature drift (at least ``drift_min_share`` of the
   features with KS > ``ks_retrain``). Error and feature drift wait ``cooldown_hours`` after
   the newest version. Between retrain triggers the first (in this order) names the reason.

A production version of more than two classes (the regime model) has no numeric score: the IC
rules are skipped and its live accuracy is judged instead (``[accuracy]``, the non-overlapping
rows of :func:`tradai_strategy.monitoring.class_accuracy.live_accuracy` over
``accuracy_window_days``): confidently below ``accuracy_warn_below`` (upper one-sided
``accuracy_confidence`` bound under the line) at this check and the ``accuracy_days - 1``
daily ones before it is a warning alert; so below ``accuracy_retrain_below`` a critical
alert and a retrain (``retrain_on_accuracy``; waits
``cooldown_hours`` after the newest version, as drift retrains do, so a version the gate
refused is not retrained again at every check). The age rule warns after
``stale_warn_days`` and is critical after ``stale_model_days``.

The IC triggers watch the ``ic_window_days`` window mean of the per-candle cross-sectional IC
with its overlap-aware s.e. (``watch_ic`` of the policy; :mod:`tradai_strategy.stats.live_ic`)
and count a day only when the upper ``ic_confidence`` bound is below the line. A trigger
fires on the day its run reaches the configured length; the same run never triggers twice
(a version trained after that day means it was handled).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.decision import (
    AUTO_ROLLBACK,
    AlertSpec,
    Challenger,
    Decision,
    Snapshot,
    propose,
)


def schedule_due(interval: str, last: pd.Timestamp | None, now: pd.Timestamp) -> bool:
    """Whether a scheduled retrain is due ``now`` given the last training time.

    weekly: 7 days passed; monthly: one calendar month passed; month-end: a month ended (a
    new UTC month began) since ``last``, so the first check of a new month fires whatever its
    day; none: never. No training yet: due (unless none).

    >>> t = pd.Timestamp("2025-01-31 12:00", tz="UTC")
    >>> schedule_due("month-end", t, pd.Timestamp("2025-02-01 00:30", tz="UTC"))
    True
    >>> schedule_due("month-end", t, pd.Timestamp("2025-02-03", tz="UTC"))
    True
    >>> schedule_due("monthly", t, pd.Timestamp("2025-02-27", tz="UTC"))
    False
    """
    if interval not in ("weekly", "monthly", "month-end", "none"):
        raise TradAIConfigError(
            f"interval {interval!r} is unknown: use weekly, monthly, month-end or none"
        )
    if interval == "none":
        return False
    if last is None:
        return True
    if interval == "weekly":
        return bool(now - last >= pd.Timedelta(days=7))
    if interval == "monthly":
        return bool(now >= last + pd.DateOffset(months=1))
    return (now.year, now.month) > (last.year, last.month)


def challenger_status(
    version: str, since: pd.Timestamp, now: pd.Timestamp, days: int
) -> Challenger | None:
    """The shadow-test status of ``version``, ``@challenger`` since ``since``; None when the
    policy runs no shadow test (``days`` = 0)."""
    if days <= 0:
        return None
    elapsed = (now - since) / pd.Timedelta(days=1)
    due = bool(elapsed >= days)
    text = f"challenger {version} in shadow for {elapsed:.1f} of {days} days"
    return Challenger(version, due, text + (": decide" if due else ""))


def drift_table(frames: Any, p: Any) -> pd.DataFrame:
    """A drift table (index ``feature``; columns ks, level) from a ready table (index or
    column ``feature``, optional column ``pair``: the feature is named ``"<pair> <feature>"``)
    or from (reference, current) feature frames."""
    from tradai_strategy.stats.drift import feature_drift

    if isinstance(frames, pd.DataFrame):
        table = frames
    else:
        table = feature_drift(frames[0], frames[1], warn=p.ks_warn, critical=p.ks_retrain)
    table = table.reset_index() if "feature" not in table.columns else table
    if "pair" in table.columns:
        table = table.assign(feature=table["pair"].astype(str) + " " + table["feature"])
    return table.set_index("feature")


def decide(snap: Snapshot) -> Decision:
    """What the retraining policy wants at ``snap.now``: which rules fire and the action
    (``retire``, ``rollback``, ``shadow``, ``retrain`` or ``nothing``), with reasons."""
    p = snap.policy
    d = Decision(p, snap.now, snap.model, snap.production)
    newest = snap.newest
    cooled = newest is None or snap.now - newest >= pd.Timedelta(hours=p.cooldown_hours)
    if schedule_due(p.interval, newest, snap.now):
        since = "no version yet" if newest is None else f"newest version {newest:%Y-%m-%d %H:%M}"
        d.add("schedule", "trigger", f"{p.interval} retrain due ({since})")
        propose(d, "retrain", f"{p.interval} schedule ({since})")
    else:
        d.add("schedule", "ok", f"interval {p.interval}: not due")
    if snap.production is None:
        d.add("production", "skipped", f"model {snap.model!r} has no @production version")
    else:
        age_rule(d, snap.production_created)
        if snap.log_note:  # monitoring is blind: say so, never a quiet "nothing to do"
            d.add("log", "warn", snap.log_note)
            d.alerts.append(
                AlertSpec("monitoring_blind", "monitoring is blind", snap.log_note, "warning")
            )
        if snap.multiclass:
            d.add("ic", "skipped", "more than two classes, no numeric score: see accuracy")
            accuracy_rule(d, snap, cooled)
        else:
            ic_rule(d, snap, newest)
        error_rule(d, snap, cooled)
        drift_rule(d, snap.drift, snap.drift_note, cooled)
    chall = snap.challenger
    if chall is not None:
        d.challenger = chall.version
        d.add("shadow", "trigger" if chall.due else "ok", chall.message)
        if chall.due:
            propose(d, "shadow", chall.message)
    return d


def age_rule(d: Decision, created: pd.Timestamp | None) -> None:
    p, version = d.policy, d.production
    if created is None:
        return
    age = (d.now - created) / pd.Timedelta(days=1)
    d.metrics["age_days"] = age
    for limit, level in ((p.stale_model_days, "critical"), (p.stale_warn_days, "warning")):
        if age > limit:
            d.add("age", "warn", f"version {version} is {age:.0f} days old (> {limit})")
            d.alerts.append(
                AlertSpec(
                    "stale_model",
                    "stale production model",
                    f"version {version} is {age:.0f} days old (> {limit})",
                    level,
                    {"age_days": round(age, 1)},
                )
            )
            return


def accuracy_rule(d: Decision, snap: Snapshot, cooled: bool) -> None:
    """Warn, or alert and retrain, when the production version's live accuracy is
    confidently below ``accuracy_warn_below`` / ``accuracy_retrain_below``."""
    from scipy import stats

    p, acc = d.policy, snap.accuracy
    if acc is None or not np.isfinite(acc.se):
        d.add("accuracy", "skipped", snap.accuracy_note)
        return
    z = float(stats.norm.ppf(p.accuracy_confidence))
    upper = acc.accuracy + z * acc.se
    history = snap.accuracy_days or (acc,)
    uppers = [
        a.accuracy + z * a.se if a is not None and np.isfinite(a.se) else np.nan for a in history
    ]

    def run_below(line: float) -> int:
        """Consecutive daily checks up to now whose upper bound is below ``line``."""
        n = 0
        for u in reversed(uppers):
            if not u < line:
                break
            n += 1
        return n

    d.metrics.update(live_accuracy=acc.accuracy, live_accuracy_se=acc.se, live_accuracy_upper=upper)
    text = f"{acc.text()}, {p.accuracy_confidence:.0%} upper bound {upper:.1%}"
    fields = {
        "live_accuracy": round(acc.accuracy, 4),
        "live_accuracy_se": round(acc.se, 4),
        "n": acc.n,
    }
    need = p.accuracy_days
    days = f" on {need} daily checks" if need > 1 else ""
    if run_below(p.accuracy_retrain_below) >= need:
        line = f"confidently below {p.accuracy_retrain_below:.0%}{days}"
        retrain = p.retrain_on_accuracy and cooled
        why = (
            ""
            if retrain
            else " (retrain_on_accuracy = false)"
            if not p.retrain_on_accuracy
            else f" (a version was trained within cooldown_hours = {p.cooldown_hours:g})"
        )
        d.add("accuracy", "trigger" if retrain else "warn", f"{text}: {line}{why}")
        if retrain:
            propose(d, "retrain", f"live accuracy {acc.accuracy:.1%} ± {acc.se:.1%} {line}")
        d.alerts.append(
            AlertSpec("accuracy_critical", f"accuracy {line}", text, "critical", fields)
        )
    elif run_below(p.accuracy_warn_below) >= need:
        line = f"confidently below {p.accuracy_warn_below:.0%}{days}"
        d.add("accuracy", "warn", f"{text}: {line}")
        d.alerts.append(AlertSpec("accuracy_warning", f"accuracy {line}", text, "warning", fields))
    elif upper < p.accuracy_warn_below:
        run = run_below(p.accuracy_warn_below)
        d.add("accuracy", "ok", f"{text}; below {p.accuracy_warn_below:.0%} {run} of {need} days")
    else:
        d.add("accuracy", "ok", f"{text}; not confidently below {p.accuracy_warn_below:.0%}")


def ic_rule(d: Decision, snap: Snapshot, newest: pd.Timestamp | None) -> None:
    """Retire or retrain on the watched window IC of the production version (see
    :meth:`~tradai_strategy.lifecycle.policy.RetrainPolicy.watch_ic`)."""
    p = d.policy
    candles = snap.ic_candles
    if candles is None or candles.empty:
        d.add("ic", "skipped", snap.ic_note)
        return
    watched = p.watch_ic(candles, snap.ic_horizon, snap.ic_reference)
    if watched is None:
        d.add("ic", "skipped", f"fewer days than needed for a {p.ic_window_days}-day IC")
        return
    table, trig = watched
    row = table.dropna(subset=["ic"]).iloc[-1]
    last, se = float(row["ic"]), float(row["se"])
    d.metrics["rolling_ic"] = last
    d.metrics["rolling_ic_se"] = se
    now_ic = f"IC {last:+.4f} ± {se:.4f} ({p.ic_window_days}-day cross-sectional)"
    if snap.ic_reference is not None:
        ref, ref_se = snap.ic_reference
        d.metrics["reference_ic"] = ref
        line = f"the validated IC {ref:+.4f} ± {ref_se:.4f}"
    else:
        line = f"ic_retrain_below {p.ic_retrain_below} (no validated IC)"
    sure = f"{p.ic_confidence:.0%} confident"
    run_at = trig.retrain_run_at
    new_run = run_at is not None and (newest is None or newest < run_at)  # not handled yet
    if trig.retire_run_at is not None:
        d.add(
            "ic",
            "trigger",
            f"{now_ic}: {sure} below {p.ic_retire_below} for {trig.retire_run} days "
            f"(since {_day(trig.retire_run_at, -p.ic_retire_days + 1)})",
        )
        propose(
            d,
            "retire",
            f"IC confidently below {p.ic_retire_below} for {trig.retire_run} days "
            f"(rolling IC {last:+.4f} ± {se:.4f})",
        )
        d.alerts.append(
            AlertSpec(
                "ic_decay",
                "IC below the retirement line",
                now_ic,
                "critical",
                {"rolling_ic": last, "rolling_ic_se": se},
            )
        )
    elif run_at is not None and new_run and p.retrain_on_ic:
        d.add(
            "ic",
            "trigger",
            f"{now_ic}: {sure} below {line} for {trig.retrain_run} days "
            f"(trigger day {run_at.date()})",
        )
        propose(d, "retrain", f"IC confidently below {line} for {trig.retrain_run} days")
        d.alerts.append(
            AlertSpec(
                "ic_decay",
                "IC decay: retraining",
                now_ic,
                "warning",
                {"rolling_ic": last, "rolling_ic_se": se},
            )
        )
    elif trig.retrain_run:
        d.add(
            "ic",
            "warn",
            f"{now_ic}: {sure} below {line} for {trig.retrain_run} of {p.ic_retrain_days} days",
        )
    else:
        d.add("ic", "ok", f"{now_ic}; not confidently below {line}")


def _day(ts: pd.Timestamp | None, shift: int) -> str:
    return "?" if ts is None else str((ts + pd.Timedelta(days=shift)).date())


def error_rule(d: Decision, snap: Snapshot, cooled: bool) -> None:
    """Roll back on error drift; retrain instead when the rollback is blocked."""
    p = d.policy
    ratio = snap.error_ratio
    if ratio is None or not np.isfinite(ratio):
        d.add("error", "skipped", snap.error_note)
        return
    d.metrics["drift_ratio"] = ratio
    text = f"MAE ratio {ratio:.2f} over {p.error_window_days} days (threshold {p.drift_ratio})"
    if ratio <= p.drift_ratio:
        d.add("error", "ok", text)
        return
    blocked = snap.rollback_blocked if p.rollback_enabled else "rollback_enabled = false"
    if blocked is None:
        d.add("error", "trigger", text + ": roll back")
        propose(
            d,
            "rollback",
            f"{AUTO_ROLLBACK}: error drift ratio {ratio:.2f} > "
            f"{p.drift_ratio} on version {snap.production}",
        )
    elif p.retrain_on_drift and cooled:
        d.add("error", "trigger", f"{text}: retrain (no rollback: {blocked})")
        propose(d, "retrain", f"error drift ratio {ratio:.2f} > {p.drift_ratio}")
    else:
        d.add("error", "warn", f"{text} (no rollback: {blocked})")
    d.alerts.append(
        AlertSpec(
            "drift_critical",
            "prediction-error drift",
            text,
            "critical",
            {"drift_ratio": round(ratio, 4)},
        )
    )


def drift_rule(d: Decision, table: pd.DataFrame | None, note: str, cooled: bool) -> None:
    """Retrain when at least ``drift_min_share`` of the features (of all pairs) are critical."""
    p = d.policy
    if table is None:
        d.add("drift", "skipped", note)
        return
    if table.empty:
        d.add("drift", "skipped", "the feature source has no data")
        return
    worst = str(table["ks"].idxmax())
    ks = float(table["ks"].max())
    d.metrics["max_ks"] = ks
    n_crit = int((table["level"] == "critical").sum())
    n_warn = int((table["level"] == "warn").sum())
    text = f"max KS {ks:.3f} ({worst}); {n_crit} critical, {n_warn} warn of {len(table)}"
    fields = {"max_ks": round(ks, 4), "feature": worst, "critical": n_crit, "warn": n_warn}
    share = n_crit / len(table)
    d.metrics["critical_share"] = share
    if n_crit and share >= p.drift_min_share:
        retrain = p.retrain_on_drift and cooled
        d.add("drift", "trigger" if retrain else "warn", text)
        if retrain:
            propose(d, "retrain", f"feature drift: KS {ks:.3f} > {p.ks_retrain} ({worst})")
        d.alerts.append(AlertSpec("drift_critical", "feature drift", text, "critical", fields))
    elif n_crit:
        # a few features over the line: worth a look, not a retrain
        d.add("drift", "warn", f"{text}; below drift_min_share {p.drift_min_share:.0%}")
        d.alerts.append(AlertSpec("drift_warning", "feature drift", text, "warning", fields))
    elif n_warn:
        d.add("drift", "warn", text)
        d.alerts.append(AlertSpec("drift_warning", "feature drift", text, "warning", fields))
    else:
        d.add("drift", "ok", text)
