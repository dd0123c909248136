"""Promotion gate, rollback, retirement and crash reconciliation: each change with its audit row.

A version is promoted only when its ``tradai.validation_status`` tag is ``passed``;
``force`` overrides the gate and the audit row records it with the reason. A retired version
(tag ``tradai.retired`` = ``true``) is never promoted, rolled back to or served; nor is one
without ``tradai.manifest_sha256`` (nothing could verify its files; ``force`` does not
override that). Retiring tags the version and removes its aliases in one audited step.
Rollback returns production to the version it held before the current one (from the audit
trail), or to a given version. :func:`reconcile` runs first in every one of these: it repairs
what a crash left (:mod:`tradai_strategy.registry.repair`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.audit import AuditEvent, AuditTrail, current_actor
from tradai_strategy.registry.client import (
    RegistryClient,
    RegistryError,
    check_alias,
    is_retired,
    unservable,
    unservable_detail,
)
from tradai_strategy.registry.faults import fault_point
from tradai_strategy.registry.repair import (
    Repair,
    mark_incomplete,
    reconcile_audit,
    repair_runs,
)
from tradai_strategy.registry.trail import trail_for

logger = logging.getLogger(__name__)

__all__ = [
    "Lifecycle",
    "is_retired",
    "promote",
    "retire",
    "retire_version",
    "rollback",
]


@dataclass
class Lifecycle:
    """A registry and its audit trail.

    ``reconciled``: models just reconciled by the caller (a CLI session reconciles before it
    acts); the next promote/rollback/retire of such a model skips its own reconcile once.
    ``repairs``: what :func:`reconcile` fixed outside the audit trail (runs, versions).
    """

    registry: RegistryClient
    audit: AuditTrail
    reconciled: set[str] = field(default_factory=set)
    repairs: list[Repair] = field(default_factory=list)

    @classmethod
    def open(
        cls, tracking_uri: str | None = None, audit_db: str | None = None, model: str | None = None
    ) -> Lifecycle:
        """The registry at ``tracking_uri`` and its audit trail (``audit_db``, else the one
        :func:`~tradai_strategy.registry.trail.trail_for` finds for ``model``)."""
        reg = RegistryClient(tracking_uri)
        return cls(reg, AuditTrail(trail_for(reg, audit_db, model)))


def _need_reason(reason: str) -> str:
    if not reason.strip():
        raise RegistryError('--reason is empty: say why, e.g. --reason "passed CPCV, PBO 0.2"')
    return reason.strip()


def _refuse_unservable(lc: Lifecycle, name: str, version: str, what: str) -> None:
    """A :class:`RegistryError` when ``version`` may never be ``what`` (promoted, ...)."""
    problem = unservable(lc.registry.version(name, version).tags)
    if problem == "retired":
        raise RegistryError(f"{name} version {version} is retired: it can never be {what}")
    if problem is not None:
        raise RegistryError(
            f"{name} version {version} is {problem} ({unservable_detail(problem)}): it can "
            f"never be {what}, not even with --force (serving would refuse it); train it again "
            "or register its bundle again (tradai bundle register)"
        )


def reconcile(lc: Lifecycle, name: str | None = None) -> list[AuditEvent]:
    """Repair what a crash (or a change made outside tradai) left in the registry.

    Runs left RUNNING by a dead registration are terminated, versions without a manifest tag
    are tagged incomplete (both noted in ``lc.repairs`` and logged); then, under the audit
    lock, so a change in progress is never mistaken for an interrupted one: missing
    ``retire`` rows are written, aliases that moved without their row are recorded and
    aliases held by versions that can never be served are removed
    (:func:`tradai_strategy.registry.repair.reconcile_audit`).

    :param name: only this model (a :class:`RegistryError` when it is not registered).
    :returns: the audit rows appended, empty when the trail already told the truth.
    """
    versions = lc.registry.all_versions(name)
    repairs = [*repair_runs(lc.registry), *mark_incomplete(versions, lc.registry)]
    for repair in repairs:
        logger.warning("reconciled %s: %s", repair.target, repair.note)
    lc.repairs.extend(repairs)
    events = reconcile_audit(lc.registry, lc.audit, name, versions)
    for event in events:
        logger.warning("reconciled %s: %s", event.model, event.reason)
    return events


def _reconcile_first(lc: Lifecycle, name: str) -> None:
    """Reconcile ``name`` unless the caller just did (then only forget that it did)."""
    if name in lc.reconciled:
        lc.reconciled.discard(name)
    else:
        reconcile(lc, name)


def promote(
    lc: Lifecycle,
    name: str,
    version: str | int,
    *,
    alias: str = "production",
    reason: str,
    force: bool = False,
) -> AuditEvent:
    """Point ``alias`` at ``version`` after the validation gate; return the audit row."""
    why = _need_reason(reason)
    check_alias(alias)
    _reconcile_first(lc, name)
    info = lc.registry.version(name, version)
    _refuse_unservable(lc, name, info.version, "promoted")
    status = info.tags.get(tag.VALIDATION_STATUS, "missing")
    if status != "passed" and not force:
        raise RegistryError(
            f"{name} version {info.version} has {tag.VALIDATION_STATUS}={status!r}, not 'passed': "
            "validate it first, or pass --force with a --reason"
        )
    details = {"validation_status": status, "forced": force}

    def move() -> None:  # inside the lock: a concurrent retire wins
        _refuse_unservable(lc, name, info.version, "promoted")
        lc.registry.set_alias(name, alias, info.version)

    event = lc.audit.move_alias(
        action="promote",
        model=name,
        alias=alias,
        to_version=info.version,
        reason=why,
        current=lambda: lc.registry.resolve(name, alias),
        move=move,
        details=details,
    )
    _log_metrics(lc, event, info.run_id)
    return event


def previous_production(lc: Lifecycle, name: str, current: str) -> str | None:
    """The version production held before the latest move to ``current`` (audit history)."""
    for event in reversed(lc.audit.events(name)):
        if event.alias == "production" and event.to_version == current:
            return event.from_version
    return None


def rollback(lc: Lifecycle, name: str, *, to: str | int | None = None, reason: str) -> AuditEvent:
    """Move production back to the previous production version (or to ``to``)."""
    why = _need_reason(reason)
    _reconcile_first(lc, name)
    current = lc.registry.resolve(name, "production")
    if to is None:
        if current is None:
            raise RegistryError(f"model {name!r} has no @production version: nothing to roll back")
        target = previous_production(lc, name, current)
        if target is None:
            raise RegistryError(
                f"model {name!r} has no production history before version {current}: "
                "pass --to VERSION"
            )
    else:
        target = str(to)
    info = lc.registry.version(name, target)
    if is_retired(info.tags):
        raise RegistryError(
            f"{name} version {info.version} is retired: it can never be rolled back to; "
            "pass --to VERSION with a live version"
        )
    _refuse_unservable(lc, name, info.version, "rolled back to")
    if info.version == current:
        raise RegistryError(f"{name} version {current} is already @production: pick another")

    def move() -> None:
        _refuse_unservable(lc, name, info.version, "rolled back to")
        lc.registry.set_alias(name, "production", info.version)

    event = lc.audit.move_alias(
        action="rollback",
        model=name,
        alias="production",
        to_version=info.version,
        reason=why,
        current=lambda: lc.registry.resolve(name, "production"),
        move=move,
        details={"explicit_target": to is not None},
    )
    _log_metrics(lc, event, info.run_id)
    return event


class _Moved(Exception):
    """The alias left the version between reading it and taking the lock: nothing to remove."""


def remove_alias(
    lc: Lifecycle,
    name: str,
    alias: str,
    *,
    reason: str,
    only_if: str | None = None,
    action: str = "unset",
) -> AuditEvent | None:
    """Remove ``alias`` (e.g. discard a challenger), audited; None when it was not set.

    :param only_if: remove it only while it still points at this version.
    """
    why = _need_reason(reason)
    check_alias(alias)

    def move() -> None:
        live = lc.registry.resolve(name, alias)
        if live is None or (only_if is not None and live != str(only_if)):
            raise _Moved
        lc.registry.delete_alias(name, alias)

    try:
        return lc.audit.move_alias(
            action=action,
            model=name,
            alias=alias,
            to_version=None,
            reason=why,
            current=lambda: lc.registry.resolve(name, alias),
            move=move,
            details={"version": only_if} if only_if is not None else {},
        )
    except _Moved:
        return None


def retire(lc: Lifecycle, name: str, version: str | int, *, reason: str) -> AuditEvent:
    """Retire a version for good (see :func:`retire_version`); return the ``retire`` row."""
    return retire_version(lc, name, version, reason=reason)[0]


def retire_version(
    lc: Lifecycle, name: str, version: str | int, *, reason: str
) -> tuple[AuditEvent, list[AuditEvent]]:
    """Retire a version for good: tag it and remove its aliases, audited, in one step.

    Tags: ``tradai.retired=true`` plus ``tradai.retired_reason``/``_at``/``_by``. Under the
    audit lock, the ``retire`` row and one ``retire`` row per alias removal are inserted, the
    tags set (a version is never served once its tag is set), the aliases removed, and all the
    rows committed together. A crash in between leaves a retired version that may still hold
    aliases and lack rows: :func:`reconcile` (run first by every registry command) removes the
    aliases and writes the rows, marked reconciled. Serving falls back to ``@fallback``.
    Retiring an already-retired version is an error (reconcile finished any interrupted one).

    :returns: the ``retire`` row and the rows of the alias removals it made.
    """
    why = _need_reason(reason)
    _reconcile_first(lc, name)
    tags = {
        tag.RETIRED: "true",
        tag.RETIRED_REASON: why,
        tag.RETIRED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
        tag.RETIRED_BY: current_actor(),
    }
    with lc.audit.locked() as con:
        info = lc.registry.version(name, version)
        if is_retired(info.tags) and not info.aliases:
            raise RegistryError(
                f"{name} version {info.version} is already retired "
                f"({info.tags.get(tag.RETIRED_REASON, 'no reason recorded')}): nothing to do"
            )
        held = [a for a, v in sorted(lc.registry.aliases(name).items()) if v == info.version]

        def row(alias: str | None, details: dict[str, object]) -> AuditEvent:
            return lc.audit.insert(
                con,
                action="retire",
                model=name,
                reason=why,
                alias=alias,
                from_version=info.version,
                to_version=None,
                details={"version": info.version, **details},
            )

        event = row(None, {"aliases": held})
        removed = [row(alias, {}) for alias in held]
        lc.registry.set_tags(name, info.version, tags)
        fault_point("after_retire_tag")
        for alias in held:
            lc.registry.delete_alias(name, alias)
        fault_point("after_retire_aliases")
    return event, removed


def _log_metrics(lc: Lifecycle, event: AuditEvent, run_id: str | None) -> None:
    """ModelVersion/RollbackCount on the new production version's run (best effort)."""
    if event.alias != "production" or event.to_version is None:
        return
    from tradai_strategy.lifecycle.lifecycle_metrics import log_production_change

    try:
        log_production_change(lc, event.model, event.to_version, run_id or "")
    except Exception as err:  # the move is done and audited; metrics must not undo it
        logger.warning("could not log lifecycle metrics for %s: %s", event.model, err)
