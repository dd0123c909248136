"""Append-only audit trail of alias moves: one sqlite row per event, beside the MLflow store.

Every alias move goes through :meth:`AuditTrail.move_alias` (and every other registry change
through :meth:`AuditTrail.record`): inside one ``BEGIN IMMEDIATE`` transaction of the audit
database the row is inserted, the change is made, then the row is committed. So concurrent
moves are serialized (the second waits for the first), a move that fails leaves no row, and a
row is only committed after its move happened. A process killed between the move and the
commit leaves a moved alias with no row: :func:`tradai_strategy.lifecycle.promotion.reconcile`
finds and records those on the next start. Triggers refuse UPDATE and DELETE on the table.

Where it lives (:func:`audit_path`): ``TRADAI_AUDIT_DB`` when set; beside a local store
(``mlflow.db``, an ``mlruns`` folder); for a tracking server, in the user's state folder under
a name made from the server's address, so every working folder of the machine shares one
trail (:mod:`tradai_strategy.registry.trail` also records it in the registry). A trail held
by another writer is waited for ``TRADAI_AUDIT_LOCK_WAIT`` seconds (default 30), then the
command stops with one line (:class:`AuditTrailError`); nothing was changed.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.registry.faults import FAULT_ENV, fault_point

__all__ = [
    "AUDIT_DB",
    "AUDIT_ENV",
    "FAULT_ENV",
    "LOCK_WAIT_ENV",
    "AuditEvent",
    "AuditTrail",
    "AuditTrailError",
    "audit_path",
    "current_actor",
    "local_store_dir",
]

AUDIT_DB = "tradai_audit.sqlite"
AUDIT_ENV = "TRADAI_AUDIT_DB"
LOCK_WAIT_ENV = "TRADAI_AUDIT_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 30.0


class AuditTrailError(TradAIError):
    """The audit trail cannot be used (locked by another writer, not a database)."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    model TEXT NOT NULL,
    alias TEXT,
    from_version TEXT,
    to_version TEXT,
    reason TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit trail."""

    id: int
    time: str
    actor: str
    action: str
    model: str
    alias: str | None
    from_version: str | None
    to_version: str | None
    reason: str
    details: dict[str, Any]


def local_store_dir(tracking_uri: str) -> Path | None:
    """The folder holding a local store (``sqlite:///`` file, ``file:`` or plain path), else
    None (a tracking server or a remote database)."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent
    parts = urlsplit(tracking_uri)
    if parts.scheme == "file":
        return Path(parts.path).resolve().parent
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive)
        return Path(tracking_uri).resolve().parent
    return None


def state_dir() -> Path:
    """TradAI's per-user state folder: ``$XDG_STATE_HOME/tradai`` (``~/.local/state/tradai``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tradai"


def audit_path(tracking_uri: str) -> Path:
    """The default audit database of the store at ``tracking_uri`` (see the module doc).

    Never the working folder: from any folder the same store has the same trail.
    """
    env = os.environ.get(AUDIT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    local = local_store_dir(tracking_uri)
    if local is not None:
        return local / AUDIT_DB
    parts = urlsplit(tracking_uri)
    address = f"{parts.scheme}_{parts.hostname or ''}_{parts.port or ''}{parts.path}"
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", address).strip("_")
    return state_dir() / "audit" / f"{slug}.sqlite"


def lock_wait() -> float:
    """Seconds a command waits for another writer of the trail (``TRADAI_AUDIT_LOCK_WAIT``)."""
    raw = os.environ.get(LOCK_WAIT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_LOCK_WAIT
    except ValueError:
        raise AuditTrailError(
            f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds: set e.g. {LOCK_WAIT_ENV}=30"
        ) from None


def current_actor() -> str:
    """``TRADAI_ACTOR``, else the login name."""
    env = os.environ.get("TRADAI_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class AuditTrail:
    """The append-only event table at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.wait = lock_wait()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect()
        try:
            with self._readable():
                con.executescript(_SCHEMA)
        finally:
            con.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=self.wait, isolation_level=None)

    @contextmanager
    def _readable(self) -> Iterator[None]:
        """sqlite's "locked" and "not a database" as one line naming the file and the fix."""
        try:
            yield
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) and "busy" not in str(err):
                raise
            raise AuditTrailError(
                f"audit trail {self.path} is locked by another process (waited "
                f"{self.wait:.0f} s): let the other tradai command finish and run this one "
                f"again (nothing was changed; {LOCK_WAIT_ENV} sets the wait)"
            ) from None
        except sqlite3.DatabaseError as err:
            raise AuditTrailError(
                f"audit trail {self.path} is unreadable ({err}): restore it from a backup "
                f"(nothing was changed)"
            ) from None

    def record(
        self,
        *,
        action: str,
        model: str,
        reason: str,
        alias: str | None = None,
        from_version: str | Callable[[], str | None] | None = None,
        to_version: str | None = None,
        apply: Callable[[], object] | None = None,
        details: dict[str, Any] | None = None,
        fault: str = "after_alias_move",
    ) -> AuditEvent:
        """Serialize, insert one event row, run ``apply`` and commit; all or nothing.

        :param from_version: a value, or a callable read inside the lock (an alias's
            current version).
        :param apply: the registry change the row describes; if it raises, no row is written.
        :param fault: the test-only crash point between ``apply`` and the commit
            (:mod:`tradai_strategy.registry.faults`).
        """
        with self.locked() as con:
            previous = from_version() if callable(from_version) else from_version
            event = self.insert(
                con,
                action=action,
                model=model,
                reason=reason,
                alias=alias,
                from_version=previous,
                to_version=to_version,
                details=details,
            )
            if apply is not None:
                apply()
                fault_point(fault)
        return event

    @staticmethod
    def insert(
        con: sqlite3.Connection,
        *,
        action: str,
        model: str,
        reason: str,
        alias: str | None,
        from_version: str | None,
        to_version: str | None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Insert one row on ``con`` (inside the caller's transaction; it commits)."""
        row = (
            datetime.now(UTC).isoformat(timespec="milliseconds"),
            current_actor(),
            action,
            model,
            alias,
            from_version,
            to_version,
            reason,
            json.dumps(details or {}, sort_keys=True),
        )
        cur = con.execute(
            "INSERT INTO events (time, actor, action, model, alias, from_version, "
            "to_version, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        return _event((int(cur.lastrowid or 0), *row))

    def move_alias(
        self,
        *,
        action: str,
        model: str,
        alias: str,
        to_version: str | None,
        reason: str,
        current: Callable[[], str | None],
        move: Callable[[], object],
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Serialize, read the alias's current version, move it and commit the event row.

        :param to_version: the version the alias will point at; None: the alias is removed.
        :param current: reads the version the alias points at now (inside the lock).
        :param move: moves the alias; if it raises, no row is written.
        """
        return self.record(
            action=action,
            model=model,
            reason=reason,
            alias=alias,
            from_version=current,
            to_version=to_version,
            apply=move,
            details=details,
        )

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock (``BEGIN IMMEDIATE``): committed when the
        block ends, rolled back when it raises (also on a kill signal's exception).

        Reconciliation reads the live aliases under this lock, so it never mistakes a move
        in progress (moved, row not yet committed) for an interrupted one.
        """
        con = self._connect()
        try:
            with self._readable():
                con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def last_alias_rows(self, con: sqlite3.Connection) -> dict[tuple[str, str], AuditEvent]:
        """The newest event per (model, alias) among rows that name an alias (read on
        ``con``, e.g. :meth:`locked`'s)."""
        rows = con.execute(
            "SELECT * FROM events WHERE id IN "
            "(SELECT MAX(id) FROM events WHERE alias IS NOT NULL GROUP BY model, alias)"
        ).fetchall()
        events = [_event(r) for r in rows]
        return {(e.model, str(e.alias)): e for e in events}

    @staticmethod
    def retire_row(con: sqlite3.Connection, model: str, version: str) -> int | None:
        """The id of the ``retire`` row of ``model`` ``version`` (read on ``con``), or None."""
        row = con.execute(
            "SELECT MIN(id) FROM events WHERE model = ? AND action = 'retire' "
            "AND alias IS NULL AND from_version = ?",
            (model, version),
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def events(self, model: str | None = None) -> list[AuditEvent]:
        """All events (of ``model``), oldest first."""
        query = "SELECT * FROM events"
        params: tuple[str, ...] = ()
        if model is not None:
            query += " WHERE model = ?"
            params = (model,)
        con = self._connect()
        try:
            with self._readable():
                rows = con.execute(query + " ORDER BY id", params).fetchall()
        finally:
            con.close()
        return [_event(r) for r in rows]


def _event(r: tuple[Any, ...]) -> AuditEvent:
    return AuditEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], json.loads(r[9]))
