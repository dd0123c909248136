"""``tradai promote``, ``tradai rollback`` and ``tradai audit``: alias moves with an audit row.

Every registry-touching command opens the store through :func:`registry_session`, which
reconciles the audit trail with the live aliases first (a notice on stderr when it had to)
and turns registry errors into one line. Exit codes: 0 done, 2 refused or bad input (one
line naming the model/version/alias and the fix).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import TrackingUriOpt, console, err_console, fail
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.core.redact import redact_url

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.promotion import Lifecycle
    from tradai_strategy.registry.audit import AuditEvent

AuditDb = Annotated[
    str | None,
    typer.Option(
        help="Audit database (default: TRADAI_AUDIT_DB; beside a local MLflow store; for a "
        "tracking server the model's trail recorded in the registry, else "
        "~/.local/state/tradai/audit/<server>.sqlite).",
    ),
]
Reason = Annotated[str, typer.Option(help="Why: recorded in the audit trail.")]


@contextmanager
def registry_session(
    tracking_uri: str | None, audit_db: str | None, model: str | None = None
) -> Iterator[Lifecycle]:
    """Open the registry and its audit trail, reconcile them, and map failures to one line.

    MLflow's HTTP retry loop is capped (unless the MLFLOW_HTTP_REQUEST_* variables are set)
    so a server that dies mid-command fails in seconds, not minutes.
    """
    from mlflow.exceptions import MlflowException

    from tradai_strategy.lifecycle.promotion import Lifecycle, reconcile
    from tradai_strategy.registry.client import bound_registry_calls

    bound_registry_calls(20, retries=1, backoff=None)
    require_store(tracking_uri)
    try:
        lc = Lifecycle.open(tracking_uri, audit_db, model)
        with quiet_logging(logging.WARNING):  # the notice below says it once
            repaired = reconcile(lc, model)
        if model:
            lc.reconciled.add(model)  # the command's own promote/rollback/retire: no 2nd pass
        notes = [f"{r.target}: {r.note}" for r in lc.repairs]
        notes += [_reconciled(event) for event in repaired]
        for note in notes:
            err_console.print(f"[yellow]reconciled[/] {note}", highlight=False, soft_wrap=True)
        yield lc
    except MlflowException as err:
        first = (str(err.message) or type(err).__name__).splitlines()[0]
        fail(f"MLflow store {redact_url(tracking_uri or 'default')}: {first}")


def require_store(tracking_uri: str | None) -> None:
    """A registry command reads an existing store: a sqlite path with no database is a typo
    (opening it would create an empty registry and report "no models"), one line."""
    from tradai_strategy.registry.store import missing_store

    db = missing_store(tracking_uri)
    if db is not None:
        fail(
            f"no MLflow store at {db}: check --tracking-uri / MLFLOW_TRACKING_URI (or run from "
            "the folder that holds mlflow.db); `tradai train` creates a new store"
        )


def _reconciled(event: AuditEvent) -> str:
    """One line for a row reconcile wrote."""
    if event.action == "reconcile" and "last_row" in event.details:
        return (
            f"{event.model} @{event.alias}: {event.from_version or 'unset'} -> "
            f"{event.to_version or 'unset'} (audit #{event.id}): the alias had moved without "
            "its audit row"
        )
    where = f"@{event.alias}" if event.alias else f"version {event.from_version}"
    return f"{event.model} {where} (audit #{event.id}, {event.action}): {event.reason}"


def _moved(event: AuditEvent) -> None:
    before = event.from_version or "unset"
    console.print(
        f"[green]{event.model} @{event.alias}: {before} -> {event.to_version or 'unset'}[/] "
        f"({event.action}, audit #{event.id})",
        highlight=False,
    )


def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "production",
    reason: Reason = "",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Skip the validation gate (reason recorded); never the manifest check.",
        ),
    ] = False,
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
) -> None:
    """Point an alias (production by default) at a version whose validation passed."""
    from tradai_strategy.lifecycle.promotion import promote as do_promote

    with registry_session(tracking_uri, audit_db, name) as lc:
        event = do_promote(lc, name, version, alias=to, reason=reason, force=force)
    _moved(event)


def rollback(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Version (default: the previous production).")
    ] = None,
    reason: Reason = "",
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
) -> None:
    """Return production to the previous production version, or to --to VERSION."""
    from tradai_strategy.lifecycle.promotion import rollback as do_rollback

    with registry_session(tracking_uri, audit_db, name) as lc:
        event = do_rollback(lc, name, to=to, reason=reason)
    _moved(event)


def audit(
    model: Annotated[str | None, typer.Option(help="Only this model's events.")] = None,
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """The audit trail, oldest first (reconciled with the live aliases first)."""
    with registry_session(tracking_uri, audit_db, model) as lc:
        events = lc.audit.events(model)
    if as_json:
        import dataclasses
        import json
        import sys

        sys.stdout.write(json.dumps([dataclasses.asdict(e) for e in events], indent=2) + "\n")
        return
    console.print(_audit_table(events))


def _audit_table(events: list[AuditEvent]) -> Table:
    """Time to the minute (UTC), the change as ``model @alias from -> to`` on one unbroken
    line; only actor and reason wrap (readable at 80 columns and in a pipe)."""
    table = Table(title="TradAI audit trail (UTC)")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("change", no_wrap=True)
    table.add_column("actor: reason", overflow="fold")
    for e in events:
        where = f"@{e.alias}" if e.alias else f"v{e.from_version}"
        moved = f" {e.from_version or '-'} -> {e.to_version or '-'}" if e.alias else ""
        forced = " (forced)" if e.details.get("forced") else ""
        table.add_row(
            str(e.id),
            e.time[:16].replace("T", " "),
            f"{e.action}{forced}\n{e.model} {where}{moved}",
            f"{e.actor}: {e.reason}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``promote``, ``rollback`` and ``audit`` to the ``tradai`` app."""
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("audit")(audit)
