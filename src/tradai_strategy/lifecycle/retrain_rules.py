"""The rules of the retrain check: IC decay, prediction-error drift, feature drift.

Each rule reads its inputs, adds one :class:`~tradai_strategy.lifecycle.retrain.Finding`
line to the decision, may propose an action (``propose`` keeps the highest precedence)
and queues alerts. See :mod:`tradai_strategy.lifecycle.retrain` for the precedence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.lifecycle.retrain import (
    AUTO_ROLLBACK,
    BASELINE_MAE_METRICS,
    BASELINE_MAE_TAG,
    AlertSpec,
    Decision,
    FeatureSource,
    propose,
)
from tradai_strategy.registry.client import VersionInfo


def last_production_move(events: list[Any]) -> Any:
    """The newest audited promote/rollback of ``@production`` in ``events`` (None: none)."""
    moves = [e for e in events if e.alias == "production" and e.action in ("promote", "rollback")]
    return moves[-1] if moves else None


def auto_rollback_allowed(lc: Lifecycle, name: str, production: str) -> str | None:
    """None when an automatic rollback of ``production`` may happen, else why not."""
    events = list(lc.audit.events(name))
    for event in events:
        if (
            event.action == "rollback"
            and event.reason.startswith(AUTO_ROLLBACK)
            and event.from_version == production
        ):
            return f"version {production} was already rolled back automatically (audit #{event.id})"
    last = last_production_move(events)
    if last is not None and last.action == "rollback" and last.reason.startswith(AUTO_ROLLBACK):
        return f"version {production} is the target of an automatic rollback (audit #{last.id})"
    # promotion.previous_production on the events read above
    moved_in = [e for e in events if e.alias == "production" and e.to_version == production]
    if not moved_in or moved_in[-1].from_version is None:
        return f"no production version before {production} to roll back to"
    return None


def baseline_mae(lc: Lifecycle, info: VersionInfo) -> float | None:
    """The version's baseline MAE: tag ``tradai.baseline_mae``, else a run metric
    (baseline_mae, oos_mae, mae); None when there is none."""
    if BASELINE_MAE_TAG in info.tags:
        try:
            return float(info.tags[BASELINE_MAE_TAG])
        except ValueError:
            return None
    metrics = lc.registry.run_metrics(info.run_id)  # {} without a run: no baseline
    for key in BASELINE_MAE_METRICS:
        if key in metrics:
            return metrics[key]
    return None


def champion_rows(log_frame: pd.DataFrame, version: str, now: pd.Timestamp) -> pd.DataFrame:
    """The production version's champion rows up to ``now`` with a realised target."""
    rows = log_frame[
        (log_frame["version"] == version)
        & (log_frame["role"] == "champion")
        & (log_frame["time"] <= now)
    ]
    return rows.dropna(subset=["prediction", "realised"])


def ic_rules(d: Decision, rows: pd.DataFrame, newest: pd.Timestamp) -> None:
    from tradai_strategy.stats.decay import daily_ic

    p = d.policy
    if rows.empty:
        d.add("ic", "skipped", "no realised prediction of the production version yet")
        return
    watched = p.watch_ic(daily_ic(rows, pred="prediction", realised="realised", date="time"))
    if watched is None:
        d.add("ic", "skipped", f"fewer days than needed for a {p.ic_window_days}-day IC")
        return
    ic, trig = watched
    last = float(ic.dropna().iloc[-1])
    d.metrics["rolling_ic"] = last
    if trig.retire_run_at is not None:
        d.add(
            "ic",
            "trigger",
            f"IC {last:+.4f}: below {p.ic_retire_below} for "
            f"{trig.retire_run} days (since {_day(trig.retire_run_at, -p.ic_retire_days + 1)})",
        )
        propose(
            d,
            "retire",
            f"IC below {p.ic_retire_below} for {trig.retire_run} days (rolling IC {last:+.4f})",
        )
        d.alerts.append(
            AlertSpec(
                "ic_decay",
                "IC below the retirement line",
                f"rolling IC {last:+.4f}",
                "critical",
                {"rolling_ic": last},
            )
        )
    elif trig.retrain_run_at is not None and newest < trig.retrain_run_at and p.retrain_on_ic:
        d.add(
            "ic",
            "trigger",
            f"IC {last:+.4f}: below {p.ic_retrain_below} for "
            f"{trig.retrain_run} days (trigger day {trig.retrain_run_at.date()})",
        )
        propose(d, "retrain", f"IC below {p.ic_retrain_below} for {trig.retrain_run} days")
        d.alerts.append(
            AlertSpec(
                "ic_decay",
                "IC decay: retraining",
                f"rolling IC {last:+.4f}",
                "warning",
                {"rolling_ic": last},
            )
        )
    elif trig.retrain_run:
        d.add(
            "ic",
            "warn",
            f"IC {last:+.4f}: below {p.ic_retrain_below} for "
            f"{trig.retrain_run} of {p.ic_retrain_days} days",
        )
    else:
        d.add("ic", "ok", f"rolling IC {last:+.4f}")


def _day(ts: pd.Timestamp | None, shift: int) -> str:
    return "?" if ts is None else str((ts + pd.Timedelta(days=shift)).date())


def error_rules(
    d: Decision, lc: Lifecycle, info: VersionInfo, rows: pd.DataFrame, cooled: bool
) -> None:
    from tradai_strategy.stats.decay import error_drift_ratio

    p = d.policy
    base = baseline_mae(lc, info)
    if base is None or not np.isfinite(base) or base <= 0:
        d.add(
            "error",
            "skipped",
            f"version {info.version} has no baseline MAE "
            f"(tag {BASELINE_MAE_TAG} or run metric oos_mae)",
        )
        return
    if rows.empty:
        d.add("error", "skipped", "no realised prediction of the production version yet")
        return
    errors = (rows["prediction"] - rows["realised"]).abs()
    errors.index = pd.DatetimeIndex(rows["time"])
    ratio = error_drift_ratio(errors, base, window_days=p.error_window_days)
    d.metrics["drift_ratio"] = ratio
    text = f"MAE ratio {ratio:.2f} over {p.error_window_days} days (threshold {p.drift_ratio})"
    if ratio <= p.drift_ratio:
        d.add("error", "ok", text)
        return
    blocked = (
        auto_rollback_allowed(lc, d.model, info.version)
        if p.rollback_enabled
        else ("rollback_enabled = false")
    )
    if blocked is None:
        d.add("error", "trigger", text + ": roll back")
        propose(
            d,
            "rollback",
            f"{AUTO_ROLLBACK}: error drift ratio {ratio:.2f} > "
            f"{p.drift_ratio} on version {info.version}",
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


def drift_table(frames: Any, p: Any) -> pd.DataFrame:
    """A drift table (index or column ``feature``; columns ks, level; optional pair) from a
    feature source's answer: a ready table, or (reference, current) feature frames."""
    from tradai_strategy.stats.drift import feature_drift

    if isinstance(frames, pd.DataFrame):
        table = frames
    else:
        table = feature_drift(frames[0], frames[1], warn=p.ks_warn, critical=p.ks_retrain)
    table = table.reset_index() if "feature" not in table.columns else table
    if "pair" in table.columns:
        table = table.assign(feature=table["pair"].astype(str) + " " + table["feature"])
    return table.set_index("feature")


def served_bundle_drift(policy: Any, info: VersionInfo, now: pd.Timestamp) -> pd.DataFrame:
    """Default feature source: B1's drift check of the production version's bundle (its
    reference sample) against the strategy's features over the last ``drift_window_days``
    of candles up to ``now`` (config, strategy and data from the policy's ``[train]``)."""
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.lifecycle.retrain_act import policy_args
    from tradai_strategy.monitoring.check import bundle_drift
    from tradai_strategy.serving.loader import MANIFEST_TAG, RegistryBundleLoader

    with quiet_logging():
        cfg = resolve_config(policy_args(policy))
        cache = Path(cfg["user_data_dir"]) / "models" / "tradai_drift_cache"
        loader = RegistryBundleLoader(
            f"models:/{info.name}/{info.version}", cache, policy.tracking_uri
        )
        bundle = loader.fetch(info.version, info.tags.get(MANIFEST_TAG))
        start = now - pd.Timedelta(days=policy.drift_window_days + 30)  # + indicator warm-up
        report, _ = bundle_drift(
            cfg,
            bundle,
            model=info.name,
            version=info.version,
            datadir=Path(policy.datadir) if policy.datadir else None,
            timerange=f"{start:%Y%m%d}-{now:%Y%m%d}",
            days=policy.drift_window_days,
            warn=policy.ks_warn,
            critical=policy.ks_retrain,
        )
    return report.features


def feature_rules(
    d: Decision, info: VersionInfo, source: FeatureSource | None, cooled: bool
) -> None:
    p = d.policy
    if source is None:
        d.add("drift", "skipped", "feature drift is off ([drift] feature_drift = false)")
        return
    try:
        frames = source(p, info, d.now)
    except Exception as err:  # no data, no bundle, no config: the other rules still decide
        d.add("drift", "skipped", "feature drift not measured: " + " ".join(str(err).split()))
        return
    if frames is None:
        d.add("drift", "skipped", "the feature source has no data")
        return
    table = drift_table(frames, p)
    worst = str(table["ks"].idxmax())
    ks = float(table["ks"].max())
    d.metrics["max_ks"] = ks
    n_crit = int((table["level"] == "critical").sum())
    n_warn = int((table["level"] == "warn").sum())
    text = f"max KS {ks:.3f} ({worst}); {n_crit} critical, {n_warn} warn of {len(table)}"
    fields = {"max_ks": round(ks, 4), "feature": worst, "critical": n_crit, "warn": n_warn}
    share = n_crit / len(table) if len(table) else 0.0
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
