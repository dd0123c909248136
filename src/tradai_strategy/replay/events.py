"""Scripted lifecycle events applied by a replay at simulated times (``--events FILE``).

The file (JSON: a list, or ``{"events": [...]}``; TOML: ``[[events]]`` tables) lists::

    {"at": "2024-03-05T10:00Z", "do": "promote", "version": "2", "reason": "...", "force": true}
    {"at": "2024-03-05T14:00Z", "do": "rollback"}            # optional "to": "1"
    {"at": "2024-03-05T16:00Z", "do": "registry_down"}
    {"at": "2024-03-05T20:00Z", "do": "registry_up"}
    {"at": "2024-03-06T00:00Z", "do": "retrain", "policy": "configs/lifecycle.toml"}
    {"at": "2024-03-07T00:00Z", "do": "retrain_check"}      # policy: configs/lifecycle.toml
    {"do": "scheduler", "policy": "configs/lifecycle.toml"}  # optional "at": from when

``at`` is UTC (ISO 8601; no offset means UTC). An event at ``T`` is applied before the
first bot iteration at or after ``T``, with the simulated clock at ``T`` (so the audit trail
records ``T``): the bot that wakes up right after ``T`` is the first to see it, as a live
bot would. ``promote``/``rollback`` go through :mod:`tradai_strategy.lifecycle.promotion`
(validation gate, audit trail; ``force`` needs a ``reason``, as ``tradai promote`` does) on
the served model (``freqai.tradai.model_uri``), alias = the served alias unless ``alias``
is given. ``registry_down``/``registry_up`` stop/start the replay's own registry server
make the registry refuse / accept connections
(:mod:`~tradai_strategy.replay.registry_server`). ``retrain`` / ``retrain_check`` run the
retraining policy ``policy`` (default ``configs/lifecycle.toml``) on the served model at
their time: a scripted retrain, or ``tradai retrain --check``'s decision
(:mod:`~tradai_strategy.replay.retrain_job`). ``scheduler`` is ``tradai scheduler`` on the
simulated clock: a ``retrain_check`` at every fire time of the policy's ``[scheduler] cron``
in the replay (after ``at`` when given). A malformed file, an unknown action or an
event outside the replayed span is one line before the bot starts.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError

logger = logging.getLogger(__name__)

__all__ = ["ACTIONS", "ReplayEvent", "apply_event", "load_events"]

ACTIONS = (
    "promote",
    "rollback",
    "registry_down",
    "registry_up",
    "retrain",
    "retrain_check",
    "scheduler",
)
_KEYS = {"at", "do", "version", "to", "alias", "reason", "force", "policy"}
#: the policy a retrain event runs when it names none (``tradai retrain --check``'s default)
DEFAULT_POLICY = "configs/lifecycle.toml"


@dataclass(frozen=True)
class ReplayEvent:
    at: datetime
    do: str
    version: str | None = None
    alias: str | None = None
    reason: str = ""
    force: bool = False
    policy: str | None = None

    def describe(self) -> str:
        what = f"{self.do} {self.version}" if self.version else self.do
        return f"{what} at {self.at:%Y-%m-%d %H:%M:%S}"


def _parse_time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise TradAIConfigError(
                f'{where}: "at" = {value!r} is not a time: e.g. "2024-03-05T10:00Z"'
            ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _event(raw: Any, where: str) -> ReplayEvent:
    if not isinstance(raw, dict):
        raise TradAIConfigError(f"{where}: an event is a table with at and do, got {raw!r}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise TradAIConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(_KEYS)}")
    if "at" not in raw or "do" not in raw:
        raise TradAIConfigError(f'{where}: every event needs "at" and "do"')
    do = str(raw["do"])
    if do not in ACTIONS:
        raise TradAIConfigError(f'{where}: "do" = {do!r} is not one of {", ".join(ACTIONS)}')
    version = raw.get("version") if do == "promote" else raw.get("to")
    if do == "promote" and version is None:
        raise TradAIConfigError(f'{where}: promote needs "version", e.g. "version": "2"')
    force = bool(raw.get("force", False))
    reason = str(raw.get("reason") or "")
    if force and not reason.strip():
        raise TradAIConfigError(f'{where}: "force" needs a "reason" (it goes to the audit trail)')
    return ReplayEvent(
        at=_parse_time(raw["at"], where),
        do=do,
        version=None if version is None else str(version),
        alias=raw.get("alias"),
        reason=reason,
        force=force,
        policy=str(raw.get("policy") or DEFAULT_POLICY) if do.startswith("retrain") else None,
    )


def _scheduled(raw: dict, where: str, first: datetime, last: datetime) -> list[ReplayEvent]:
    """A ``scheduler`` entry: one ``retrain_check`` per fire time of the policy's cron."""
    from tradai_strategy.replay.retrain_job import scheduled_times

    unknown = sorted(set(raw) - {"do", "policy", "at"})
    if unknown:
        raise TradAIConfigError(f"{where}: scheduler takes policy and at, not {unknown}")
    policy = str(raw.get("policy") or DEFAULT_POLICY)
    after = max(first, _parse_time(raw["at"], where)) if "at" in raw else first
    return [
        ReplayEvent(at=at, do="retrain_check", reason="scheduler", policy=policy)
        for at in scheduled_times(policy, after, last)
    ]


def load_events(path: Path, first: datetime, last: datetime) -> list[ReplayEvent]:
    """The events of ``path`` in time order; each must fall in ``(first, last]``: after the
    bot's first iteration (``first``) and at or before its last one (``last``)."""
    try:
        text = path.read_text()
    except OSError as err:
        raise TradAIConfigError(f"--events {path}: cannot read it ({err.strerror})") from None
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        kind = path.suffix[1:] or "json"
        raise TradAIConfigError(f"--events {path}: not valid {kind} ({err})") from None
    if isinstance(data, dict):
        data = data.get("events")
    if not isinstance(data, list) or not data:
        raise TradAIConfigError(f'--events {path}: give a list of events (or "events" = [...])')
    events: list[ReplayEvent] = []
    for i, raw in enumerate(data):
        where = f"--events {path} event {i + 1}"
        if isinstance(raw, dict) and raw.get("do") == "scheduler":
            events += _scheduled(raw, where, first, last)
        else:
            events.append(_event(raw, where))
    for i, ev in enumerate(events):
        if not first < ev.at <= last:
            raise TradAIConfigError(
                f"--events {path} event {i + 1} ({ev.describe()}) is outside the replay: the "
                f"bot runs from {first:%Y-%m-%d %H:%M:%S} to {last:%Y-%m-%d %H:%M:%S} UTC"
            )
    return sorted(events, key=lambda ev: ev.at)


def apply_event(
    ev: EventTarget,
    event: ReplayEvent,
) -> str:
    """Apply one event; returns what happened (one line for the log and the summary)."""
    if event.do == "registry_down":
        ev.set_registry(up=False)
        return "registry unreachable (connections refused)"
    if event.do == "registry_up":
        ev.set_registry(up=True)
        return "registry reachable again"
    if event.policy is not None:
        return ev.retrain(event.do, event.policy, event.at)
    from tradai_strategy.lifecycle.promotion import Lifecycle, promote, rollback

    lc = Lifecycle.open(ev.store_uri, model=ev.model)
    reason = event.reason or f"replay event {event.describe()}"
    if event.do == "promote":
        assert event.version is not None
        alias = event.alias or ev.alias
        row = promote(lc, ev.model, event.version, alias=alias, reason=reason, force=event.force)
    else:
        row = rollback(lc, ev.model, to=event.version, reason=reason)
    return f"@{row.alias}: {row.from_version or '-'} -> {row.to_version}"


@dataclass
class EventTarget:
    """What events act on: the served model in its local store, and the registry switch."""

    store_uri: str
    model: str
    alias: str
    set_registry: Callable[..., None]
    #: ``retrain(action, policy_file, at)`` -> one-line result
    retrain: Callable[[str, str, datetime], str]
