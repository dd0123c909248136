"""Reconcile the registry and its audit trail after a crash (or a change made outside tradai).

Run at the start of every registry command (``tradai promote``/``rollback``/``retire``/
``status``/``audit``/``metrics``) through :func:`tradai_strategy.lifecycle.promotion.reconcile`:

* :func:`repair_runs` — a bundle run left ``RUNNING`` by a process that is gone (its
  ``tradai.owner`` tag names this host and a dead pid; an untagged run older than
  :data:`STALE_HOURS`) is terminated: FINISHED when a version was registered from it (the
  version is complete: it is created last, with all its tags), else FAILED, with a
  ``tradai.reconciled`` tag naming the bundle folder to register again. A registration that
  failed rather than died (a full disk) ends its own run FAILED, its uploads deleted
  (:func:`~tradai_strategy.registry.bundle_registry.abandon_run`); a run of a live process is
  left RUNNING only when the store refused that write, and is closed here once the process
  is gone (or by that process's next registration).
* :func:`mark_incomplete` — a version without ``tradai.manifest_sha256`` (a registration that
  never finished, or made outside tradai) is tagged ``tradai.state=incomplete`` and reported;
  it is never served or promoted either way, and nothing is deleted.
* :func:`reconcile_audit` — under the audit lock: a retired version without its ``retire``
  row gets one; every alias whose live version differs from the audit trail's newest row gets
  a ``reconcile`` row (an alias move killed before its row committed, or made outside
  tradai); then a retired, incomplete or unverified version that still holds an alias loses
  it (an interrupted retire, a forced promotion of a half-registered version), each removal
  with its audit row marked ``reconciled``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.audit import AuditEvent, AuditTrail
from tradai_strategy.registry.client import (
    INCOMPLETE,
    RegistryClient,
    VersionInfo,
    unservable,
    unservable_detail,
)

logger = logging.getLogger(__name__)

#: a RUNNING bundle run without ``tradai.owner`` (made by an older tradai) this old is dead
STALE_HOURS = 24.0


@dataclass(frozen=True)
class Repair:
    """One thing reconcile found and fixed outside the audit trail (a run, a version)."""

    target: str
    note: str


def owner_alive(owner: str) -> bool | None:
    """Whether the process a ``tradai.owner`` tag names still runs: None when it ran on
    another host (this one cannot tell)."""
    host, _, rest = owner.partition(" ")
    pid_text, _, started = rest.partition(" ")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with freqtrade
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
    # the same pid with another start time: the registering process died, the pid was reused
    return started in ("", "?") or abs(created - float(started)) < 1.0


def repair_runs(registry: RegistryClient) -> list[Repair]:
    """Terminate the bundle runs a killed registration left ``RUNNING``."""
    from tradai_strategy.registry.bundle_registry import DEFAULT_EXPERIMENT

    client = registry.client
    exp = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    if exp is None:
        return []
    runs = client.search_runs(
        [exp.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    repairs = []
    for run in runs:
        owner = run.data.tags.get(tag.OWNER)
        if owner is not None:
            if owner_alive(owner) is not False:
                continue  # registering now, or on another host: not ours to judge
        elif time.time() - run.info.start_time / 1000 < STALE_HOURS * 3600:
            continue
        repairs.append(_terminate(registry, run, owner))
    return repairs


def _terminate(registry: RegistryClient, run: Any, owner: str | None) -> Repair:
    client = registry.client
    run_id = run.info.run_id
    versions = [
        mv
        for mv in client.search_model_versions(f"run_id = '{run_id}'")
        if (mv.tags or {}).get(tag.MANIFEST)
    ]
    who = f"process {owner}" if owner else "a process"
    if versions:
        made = ", ".join(f"{mv.name} version {mv.version}" for mv in versions)
        status = "FINISHED"
        note = (
            f"run {run_id} ({run.info.run_name}) was left RUNNING by {who} that is gone, after "
            f"it registered {made} (complete): marked FINISHED"
        )
    else:
        status = "FAILED"
        path = run.data.tags.get(tag.BUNDLE_PATH, "its bundle folder")
        name = str(run.info.run_name or "").removeprefix("bundle-") or "NAME"
        note = (
            f"run {run_id} ({run.info.run_name}) was left RUNNING by {who} that is gone, before "
            f"any version was registered: marked FAILED; register the bundle again with "
            f"`tradai bundle register {path} --name {name}`"
        )
    client.set_tag(run_id, tag.RECONCILED, note)
    client.set_terminated(run_id, status)
    return Repair(f"run {run_id}", note)


def mark_incomplete(versions: list[VersionInfo], registry: RegistryClient) -> list[Repair]:
    """Tag ``tradai.state=incomplete`` on every version without a manifest tag (once)."""
    repairs = []
    for v in versions:
        if v.tags.get(tag.MANIFEST) or v.tags.get(tag.STATE) == INCOMPLETE:
            continue
        note = (
            f"model {v.name} version {v.version} has no {tag.MANIFEST} tag (its registration "
            f"never finished, or it was made outside tradai): tagged {tag.STATE}={INCOMPLETE}, "
            "never served or promoted; train it again or register its bundle again"
        )
        registry.client.set_model_version_tag(v.name, v.version, tag.STATE, INCOMPLETE)
        registry.client.set_model_version_tag(v.name, v.version, tag.RECONCILED, note)
        repairs.append(Repair(f"{v.name} v{v.version}", note))
    return repairs


def reconcile_audit(
    registry: RegistryClient,
    audit: AuditTrail,
    name: str | None,
    versions: list[VersionInfo],
) -> list[AuditEvent]:
    """Under the audit lock: release aliases of versions that can never be served, record
    missing ``retire`` rows, then record every alias the trail does not know (see the module
    doc). ``versions``: the versions of ``name`` (or of every model), read just before.

    :returns: the rows appended, empty when the trail already told the truth.
    """
    by_key = {(v.name, v.version): v for v in versions}
    with audit.locked() as con:
        live = {name: registry.aliases(name)} if name else registry.all_aliases()
        events = _retire_rows(audit, con, versions)
        events += _record_moves(audit, con, live)  # first: the trail must know the live alias
        events += _release(registry, audit, con, live, by_key)
    return events


def _retire_rows(audit: AuditTrail, con: Any, versions: list[VersionInfo]) -> list[AuditEvent]:
    events = []
    for v in versions:
        if unservable(v.tags) != "retired" or audit.retire_row(con, v.name, v.version):
            continue
        why = v.tags.get(tag.RETIRED_REASON, "no reason recorded")
        events.append(
            audit.insert(
                con,
                action="retire",
                model=v.name,
                reason=(
                    f"{why} (version {v.version} is tagged {tag.RETIRED}=true without its "
                    "retire row: the retire was interrupted, or made outside tradai; "
                    "recorded by reconcile)"
                ),
                alias=None,
                from_version=v.version,
                to_version=None,
                details={"version": v.version, "reconciled": True},
            )
        )
    return events


def _release(
    registry: RegistryClient,
    audit: AuditTrail,
    con: Any,
    live: dict[str, dict[str, str]],
    by_key: dict[tuple[str, str], VersionInfo],
) -> list[AuditEvent]:
    events = []
    for model, aliases in sorted(live.items()):
        for alias, version in sorted(aliases.items()):
            info = by_key.get((model, version))
            problem = unservable(info.tags) if info is not None else None
            if problem is None:
                continue
            reason = (
                f"version {version} is {problem} ({unservable_detail(problem)}) but still "
                f"held @{alias}: reconcile removed the alias"
                + (" (the retire was interrupted)" if problem == "retired" else "")
            )
            events.append(
                audit.insert(
                    con,
                    action="retire" if problem == "retired" else "reconcile",
                    model=model,
                    reason=reason,
                    alias=alias,
                    from_version=version,
                    to_version=None,
                    details={"version": version, "reconciled": True, "problem": problem},
                )
            )
            registry.client.delete_registered_model_alias(model, alias)
            del aliases[alias]
    return events


def _record_moves(audit: AuditTrail, con: Any, live: dict[str, dict[str, str]]) -> list[AuditEvent]:
    """One ``reconcile`` row per alias whose live version differs from the newest row."""
    last = audit.last_alias_rows(con)
    events = []
    for model, aliases in sorted(live.items()):
        logged = {a for m, a in last if m == model}
        for alias in sorted(set(aliases) | logged):
            row = last.get((model, alias))
            said = row.to_version if row else None
            actual = aliases.get(alias)
            if said == actual:
                continue
            where = f"row #{row.id} ({row.action})" if row else "no row"
            reason = (
                f"@{alias} is on {actual or 'no version'} but the audit trail last said "
                f"{said or 'unset'} ({where}): an alias move was interrupted before its "
                "audit row committed, or made outside tradai; this row records the live state"
            )
            events.append(
                audit.insert(
                    con,
                    action="reconcile",
                    model=model,
                    reason=reason,
                    alias=alias,
                    from_version=said,
                    to_version=actual,
                    details={"last_row": row.id if row else None},
                )
            )
    return events
