"""Lifecycle metrics: TrainingDuration, ModelVersion, RetrainingCount, RollbackCount.

Derived, never stored twice: from the registry (versions, aliases, each version's MLflow run)
and the audit trail. Definitions:

- ``tradai_model_version{model, alias}``: the version number an alias points at (ModelVersion).
- ``tradai_retrainings_total{model}``: the highest version number minus one (RetrainingCount).
  Every version after the first is a retraining; MLflow never reuses a version number, so
  retention deleting old versions does not lower it.
- ``tradai_rollbacks_total{model}``: ``rollback`` rows in the audit trail (RollbackCount).
- ``tradai_training_duration_seconds{model, version}``: ``training_duration_s`` logged by
  ``tradai train`` on the newest version's run (TrainingDuration).
- ``tradai_retired_versions{model}``: versions tagged ``tradai.retired=true``.

:func:`prometheus_text` renders them with ``prometheus_client`` (own registry, text format
0.0.4); :func:`log_production_change` logs ``model_version`` and ``rollback_count`` on the
new production version's MLflow run after each promote/rollback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tradai_strategy.registry.client import is_retired

if TYPE_CHECKING:
    from tradai_strategy.registry.audit import AuditEvent, AuditTrail
    from tradai_strategy.registry.client import RegistryClient, VersionInfo


class Lifecycle(Protocol):
    """What the metrics read: a registry and its audit trail (promotion's ``Lifecycle``)."""

    registry: RegistryClient
    audit: AuditTrail


DURATION_METRIC = "training_duration_s"


@dataclass(frozen=True)
class ModelMetrics:
    """One model's lifecycle metrics."""

    model: str
    alias_versions: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None
    retraining_count: int = 0
    rollback_count: int = 0
    retired_count: int = 0
    training_duration_s: float | None = None


def rollback_count(events: list[AuditEvent], model: str) -> int:
    """``rollback`` rows of ``model`` in the audit trail (RollbackCount)."""
    return sum(1 for e in events if e.model == model and e.action == "rollback")


def derive(
    model: str,
    versions: list[VersionInfo],
    events: list[AuditEvent],
    latest_duration_s: float | None = None,
) -> ModelMetrics:
    """Pure: the metrics of ``model`` from its versions and its audit rows."""
    numbers = [int(v.version) for v in versions]
    aliases = {a: int(v.version) for v in versions for a in v.aliases}
    return ModelMetrics(
        model=model,
        alias_versions=dict(sorted(aliases.items())),
        latest_version=max(numbers) if numbers else None,
        retraining_count=max(max(numbers) - 1, 0) if numbers else 0,
        rollback_count=rollback_count(events, model),
        retired_count=sum(1 for v in versions if is_retired(v.tags)),
        training_duration_s=latest_duration_s,
    )


def collect(lc: Lifecycle, model: str | None = None) -> list[ModelMetrics]:
    """The metrics of ``model`` (default: every registered model) from the live store."""
    names = [model] if model else lc.registry.models()
    events = lc.audit.events(model)
    out = []
    for name in names:
        versions = lc.registry.versions(name)
        duration = None
        if versions:
            duration = lc.registry.run_metrics(versions[0].run_id).get(DURATION_METRIC)
        out.append(derive(name, versions, events, duration))
    return out


class _Collector:
    """A ``prometheus_client`` collector over precomputed :class:`ModelMetrics`."""

    def __init__(self, metrics: list[ModelMetrics]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        version = GaugeMetricFamily(
            "tradai_model_version",
            "Version number each alias points at (ModelVersion).",
            labels=["model", "alias"],
        )
        latest = GaugeMetricFamily(
            "tradai_model_latest_version", "Newest registered version.", labels=["model"]
        )
        retrain = CounterMetricFamily(
            "tradai_retrainings",
            "Versions registered after the first: highest version number - 1 (RetrainingCount).",
            labels=["model"],
        )
        rollback = CounterMetricFamily(
            "tradai_rollbacks", "Rollbacks in the audit trail (RollbackCount).", labels=["model"]
        )
        retired = GaugeMetricFamily(
            "tradai_retired_versions", "Versions tagged tradai.retired=true.", labels=["model"]
        )
        duration = GaugeMetricFamily(
            "tradai_training_duration_seconds",
            "Training time of the newest version (TrainingDuration).",
            labels=["model", "version"],
        )
        for m in self.metrics:
            for alias, number in m.alias_versions.items():
                version.add_metric([m.model, alias], number)
            if m.latest_version is not None:
                latest.add_metric([m.model], m.latest_version)
            retrain.add_metric([m.model], m.retraining_count)
            rollback.add_metric([m.model], m.rollback_count)
            retired.add_metric([m.model], m.retired_count)
            if m.training_duration_s is not None and m.latest_version is not None:
                duration.add_metric([m.model, str(m.latest_version)], m.training_duration_s)
        yield from (version, latest, retrain, rollback, retired, duration)


def prometheus_text(metrics: list[ModelMetrics]) -> str:
    """The Prometheus text exposition of ``metrics`` (a private CollectorRegistry)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics))
    return generate_latest(registry).decode()


def log_production_change(
    lc: Lifecycle, name: str, version: str, run_id: str | None = None
) -> None:
    """Log ``model_version`` and ``rollback_count`` on ``version``'s run (no run: nothing).

    :param run_id: the version's run when the caller already read it (else read here).
    """
    from mlflow.entities import Metric

    if run_id is None:
        run_id = lc.registry.version(name, version).run_id
    if not run_id:
        return
    rollbacks = rollback_count(lc.audit.events(name), name)
    now = int(time.time() * 1000)
    lc.registry.client.log_batch(
        run_id,
        metrics=[
            Metric("model_version", float(version), now, 0),
            Metric("rollback_count", float(rollbacks), now, 0),
        ],
    )
