"""Promotion gate and rollback: alias moves, each with its audit row.

A version is promoted only when its ``tradai.validation_status`` tag is ``passed``;
``force`` overrides the gate and the audit row records it with the reason. A retired version
(tag ``tradai.retired`` = ``true``) is never promoted. Rollback returns production to the
version it held before the current one (from the audit trail), or to a given version.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradai_strategy.lifecycle.train import VALIDATION_TAG
from tradai_strategy.registry.audit import AuditEvent, AuditTrail, audit_path
from tradai_strategy.registry.client import RegistryClient, RegistryError, check_alias

RETIRED_TAG = "tradai.retired"


@dataclass
class Lifecycle:
    """A registry and its audit trail."""

    registry: RegistryClient
    audit: AuditTrail

    @classmethod
    def open(cls, tracking_uri: str | None = None, audit_db: str | None = None) -> Lifecycle:
        """The registry at ``tracking_uri`` and the audit trail beside it (or ``audit_db``)."""
        reg = RegistryClient(tracking_uri)
        return cls(reg, AuditTrail(audit_db or audit_path(reg.uri)))


def _need_reason(reason: str) -> str:
    if not reason.strip():
        raise RegistryError('--reason is empty: say why, e.g. --reason "passed CPCV, PBO 0.2"')
    return reason.strip()


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
    info = lc.registry.version(name, version)
    if info.tags.get(RETIRED_TAG) == "true":
        raise RegistryError(f"{name} version {info.version} is retired: it can never be promoted")
    status = info.tags.get(VALIDATION_TAG, "missing")
    if status != "passed" and not force:
        raise RegistryError(
            f"{name} version {info.version} has {VALIDATION_TAG}={status!r}, not 'passed': "
            "validate it first, or pass --force with a --reason"
        )
    details = {"validation_status": status, "forced": force}
    return lc.audit.move_alias(
        action="promote",
        model=name,
        alias=alias,
        to_version=info.version,
        reason=why,
        current=lambda: lc.registry.resolve(name, alias),
        move=lambda: lc.registry.set_alias(name, alias, info.version),
        details=details,
    )


def previous_production(lc: Lifecycle, name: str, current: str) -> str | None:
    """The version production held before the latest move to ``current`` (audit history)."""
    for event in reversed(lc.audit.events(name)):
        if event.alias == "production" and event.to_version == current:
            return event.from_version
    return None


def rollback(lc: Lifecycle, name: str, *, to: str | int | None = None, reason: str) -> AuditEvent:
    """Move production back to the previous production version (or to ``to``)."""
    why = _need_reason(reason)
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
    if info.tags.get(RETIRED_TAG) == "true":
        raise RegistryError(f"{name} version {info.version} is retired: roll back to another")
    if info.version == current:
        raise RegistryError(f"{name} version {current} is already @production: pick another")
    return lc.audit.move_alias(
        action="rollback",
        model=name,
        alias="production",
        to_version=info.version,
        reason=why,
        current=lambda: lc.registry.resolve(name, "production"),
        move=lambda: lc.registry.set_alias(name, "production", info.version),
        details={"explicit_target": to is not None},
    )
