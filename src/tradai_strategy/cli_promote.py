"""``tradai promote``, ``tradai rollback`` and ``tradai audit``: alias moves with an audit row.

Exit codes: 0 done, 2 refused or bad input (one line naming the model/version/alias and the
fix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli_common import console, fail

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.promotion import Lifecycle
    from tradai_strategy.registry.audit import AuditEvent

TrackingUri = Annotated[
    str | None, typer.Option(help="MLflow tracking URI (default sqlite:///mlflow.db).")
]
AuditDb = Annotated[
    str | None, typer.Option(help="Audit database (default: beside the MLflow store).")
]
Reason = Annotated[str, typer.Option(help="Why: recorded in the audit trail.")]


def _open(tracking_uri: str | None, audit_db: str | None) -> Lifecycle:
    from tradai_strategy.lifecycle.promotion import Lifecycle

    return Lifecycle.open(tracking_uri, audit_db)


def _moved(event: AuditEvent) -> None:
    before = event.from_version or "unset"
    console.print(
        f"[green]{event.model} @{event.alias}: {before} -> {event.to_version}[/] "
        f"({event.action}, audit #{event.id})",
        highlight=False,
    )


def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version to promote.")],
    to: Annotated[str, typer.Option("--to", help="Alias to move.")] = "production",
    reason: Reason = "",
    force: Annotated[
        bool, typer.Option("--force", help="Skip the validation gate (reason recorded).")
    ] = False,
    tracking_uri: TrackingUri = None,
    audit_db: AuditDb = None,
) -> None:
    """Point an alias (production by default) at a version whose validation passed."""
    from tradai_strategy.lifecycle.promotion import promote as do_promote
    from tradai_strategy.registry.client import RegistryError

    try:
        event = do_promote(
            _open(tracking_uri, audit_db), name, version, alias=to, reason=reason, force=force
        )
    except RegistryError as err:
        fail(str(err))
    _moved(event)


def rollback(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    to: Annotated[
        str | None, typer.Option("--to", help="Version (default: the previous production).")
    ] = None,
    reason: Reason = "",
    tracking_uri: TrackingUri = None,
    audit_db: AuditDb = None,
) -> None:
    """Return production to the previous production version, or to --to VERSION."""
    from tradai_strategy.lifecycle.promotion import rollback as do_rollback
    from tradai_strategy.registry.client import RegistryError

    try:
        event = do_rollback(_open(tracking_uri, audit_db), name, to=to, reason=reason)
    except RegistryError as err:
        fail(str(err))
    _moved(event)


def audit(
    model: Annotated[str | None, typer.Option(help="Only this model's events.")] = None,
    tracking_uri: TrackingUri = None,
    audit_db: AuditDb = None,
) -> None:
    """The audit trail, oldest first."""
    events = _open(tracking_uri, audit_db).audit.events(model)
    table = Table(title="TradAI audit trail")
    for col in ("#", "time", "actor", "action", "model", "alias", "from", "to", "reason"):
        table.add_column(col, overflow="fold")
    for e in events:
        table.add_row(
            str(e.id),
            e.time,
            e.actor,
            e.action + (" (forced)" if e.details.get("forced") else ""),
            e.model,
            e.alias or "",
            e.from_version or "",
            e.to_version or "",
            e.reason,
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``promote``, ``rollback`` and ``audit`` to the ``tradai`` app."""
    app.command("promote")(promote)
    app.command("rollback")(rollback)
    app.command("audit")(audit)
