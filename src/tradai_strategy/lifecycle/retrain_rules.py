"""What the live retrain check measures: the snapshot inputs read from the registry, the
audit trail, the prediction log and the served bundle's feature drift.

:func:`tradai_strategy.lifecycle.retrain.check` puts them in a
:class:`~tradai_strategy.lifecycle.decision.Snapshot`; the rules themselves are
:func:`tradai_strategy.lifecycle.decide.decide` (shared with the replay).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core import tags as tag
from tradai_strategy.lifecycle.decide import drift_table, ic_rule
from tradai_strategy.lifecycle.decision import (
    AUTO_ROLLBACK,
    FEATURE_DRIFT_OFF,
    NO_REALISED,
    Decision,
)
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.registry.client import VersionInfo

BASELINE_MAE_METRICS = ("baseline_mae", "oos_mae", "mae")

#: feature source: (policy, production version, now) -> drift table, (reference, current)
#: frames or None
FeatureSource = Callable[
    [RetrainPolicy, VersionInfo, pd.Timestamp],
    "pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame] | None",
]


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
    if tag.BASELINE_MAE in info.tags:
        try:
            return float(info.tags[tag.BASELINE_MAE])
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


def ic_candles_of(rows: pd.DataFrame) -> tuple[pd.DataFrame | None, str]:
    """(per-candle cross-sectional IC of :func:`champion_rows`, or None and why not)."""
    from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic

    if rows.empty:
        return None, NO_REALISED
    pairs = rows["pair"].nunique()
    if pairs < MIN_PAIRS:
        return None, (
            f"the IC rules rank pairs against each other and the log has {pairs} pair: "
            f"trade at least {MIN_PAIRS} pairs (error and feature drift still watch this one)"
        )
    candles = cross_sectional_ic(rows, pred="prediction", realised="realised", time="time")
    if candles.empty:
        return None, "no candle has a realised prediction for two pairs yet"
    return candles, ""


def class_accuracy_of(
    policy: RetrainPolicy, log: Any, info: VersionInfo, now: pd.Timestamp
) -> tuple[bool, tuple[Any, ...], str]:
    """(more than two classes?, live accuracies, why the newest is None) of the production
    version's champion class rows in the prediction log: over ``accuracy_window_days``
    before ``now`` and before each of the ``accuracy_days - 1`` days earlier, oldest first."""
    from tradai_strategy.monitoring.class_accuracy import MIN_ROWS, live_accuracy

    if log is None or not hasattr(log, "class_frame"):
        return False, (), NO_REALISED
    since = now - pd.Timedelta(days=policy.accuracy_window_days + policy.accuracy_days)
    frame = log.class_frame(info.name, since=since, role="champion")
    if frame.empty:
        return False, (), NO_REALISED
    rows = frame[(frame["version"] == info.version) & (frame["time"] <= now)]
    fixed = ["time", "pair", "model", "version", "role", "horizon", "predicted", "realised"]
    classes = [c for c in rows.columns if c not in fixed and rows[c].notna().any()]
    if len(classes) <= 2:  # an up/down classifier keeps its numeric score and the IC rules
        return False, (), NO_REALISED
    days = []
    for back in range(policy.accuracy_days - 1, -1, -1):
        at = now - pd.Timedelta(days=back)
        part = rows[rows["time"] <= at][fixed]
        days.append(live_accuracy(part, policy.accuracy_window_days, now=at) if len(part) else None)
    note = (
        f"fewer than {MIN_ROWS} non-overlapping rows of version {info.version} with a "
        f"realised class in the last {policy.accuracy_window_days} days"
    )
    return True, tuple(days), "" if days[-1] is not None else note


def version_horizon(lc: Lifecycle, info: VersionInfo, policy: RetrainPolicy) -> int:
    """The version's label horizon in candles: its tag ``tradai.label_period_candles`` or its
    run's param, else the policy's training config."""
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.core.settings import label_period_candles
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.lifecycle.policy import policy_args
    from tradai_strategy.lifecycle.shadow import logged_horizon

    logged = logged_horizon(lc, info)
    if logged is not None:
        return logged
    with quiet_logging():
        return label_period_candles(resolve_config(policy_args(policy)))


def reference_ic(info: VersionInfo) -> tuple[float, float] | None:
    """The version's validated cross-sectional IC and its s.e. (tags
    ``tradai.reference_ic`` and ``tradai.reference_ic_se``, written at training); None
    when it has none."""
    from tradai_strategy.stats.compare import finite_float

    ic = finite_float(info.tags.get(tag.REFERENCE_IC))
    se = finite_float(info.tags.get(tag.REFERENCE_IC_SE))
    return (ic, se) if ic is not None and se is not None and se >= 0 else None


def ic_rules(d: Decision, rows: pd.DataFrame, newest: pd.Timestamp, horizon: int) -> None:
    """The IC rule of :mod:`.decide` on the production version's logged rows."""
    from tradai_strategy.lifecycle.decision import Snapshot

    candles, note = ic_candles_of(rows)
    snap = Snapshot(d.policy, d.now, d.model, ic_candles=candles, ic_horizon=horizon, ic_note=note)
    ic_rule(d, snap, newest)


def error_ratio(
    lc: Lifecycle, info: VersionInfo, rows: pd.DataFrame, window_days: int
) -> tuple[float | None, str]:
    """(error drift ratio of the production version, or None and why it is not measured)."""
    from tradai_strategy.stats.decay import error_drift_ratio

    base = baseline_mae(lc, info)
    if base is None or not np.isfinite(base) or base <= 0:
        return None, (
            f"version {info.version} has no baseline MAE "
            f"(tag {tag.BASELINE_MAE} or run metric oos_mae)"
        )
    if rows.empty:
        return None, NO_REALISED
    rows = rows.sort_values("time", kind="stable")
    errors = (rows["prediction"] - rows["realised"]).abs()
    errors.index = pd.DatetimeIndex(rows["time"])
    return error_drift_ratio(errors, base, window_days=window_days), ""


def served_bundle_drift(policy: Any, info: VersionInfo, now: pd.Timestamp) -> pd.DataFrame:
    """Default feature source: B1's drift check of the production version's bundle (its
    reference sample) against the strategy's features over the last ``drift_window_days``
    of candles up to ``now`` (config, strategy and data from the policy's ``[train]``)."""
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.lifecycle.policy import policy_args
    from tradai_strategy.monitoring.check import bundle_drift
    from tradai_strategy.serving.loader import RegistryBundleLoader

    with quiet_logging():
        cfg = resolve_config(policy_args(policy))
        cache = Path(cfg["user_data_dir"]) / "models" / "tradai_drift_cache"
        loader = RegistryBundleLoader(
            f"models:/{info.name}/{info.version}", cache, policy.tracking_uri
        )
        bundle = loader.fetch(info.version, info.tags.get(tag.MANIFEST))
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


def measure_drift(
    policy: RetrainPolicy, info: VersionInfo, source: FeatureSource | None, now: pd.Timestamp
) -> tuple[pd.DataFrame | None, str]:
    """(drift table of the production version's features, or None and why not measured)."""
    if source is None:
        return None, FEATURE_DRIFT_OFF
    try:
        frames = source(policy, info, now)
    except Exception as err:  # no data, no bundle, no config: the other rules still decide
        return None, "feature drift not measured: " + " ".join(str(err).split())
    if frames is None:
        return None, "the feature source has no data"
    return drift_table(frames, policy), ""
