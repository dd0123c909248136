"""Crash reconciliation: a process killed between alias move and audit commit, repaired on the
next command; concurrent promotes in separate processes (real sqlite MLflow store)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import cli, cli_stdout, make_store

from tradai_strategy.lifecycle.promotion import Lifecycle, promote, reconcile
from tradai_strategy.registry.audit import FAULT_ENV

NAME = "tradai-crash"
TRADAI = [sys.executable, "-m", "tradai_strategy.cli.app"]


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return make_store(tmp_path, NAME, ["passed", "passed", "passed"])


def _tradai(uri: str, *args: str, fault: bool = False) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = "after_alias_move"
    return subprocess.Popen(
        [*TRADAI, *args, "--tracking-uri", uri],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_killed_between_move_and_audit_is_reconciled_on_next_command(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="first")
    proc = _tradai(uri, "promote", NAME, "2", "--reason", "crashes", fault=True)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 137, out
    # the crash left the alias moved and no row for it
    assert lc.registry.resolve(NAME, "production") == "2"
    assert [(e.action, e.to_version) for e in lc.audit.events(NAME)] == [("promote", "1")]

    code, text = cli(uri, "audit", "--model", NAME)
    assert code == 0
    assert f"reconciled {NAME} @production: 1 -> 2" in text
    events = lc.audit.events(NAME)
    assert [(e.action, e.alias, e.from_version, e.to_version) for e in events] == [
        ("promote", "production", None, "1"),
        ("reconcile", "production", "1", "2"),
    ]
    assert "interrupted" in events[1].reason and "row #1 (promote)" in events[1].reason
    # exactly one production alias, on the version the audit trail now ends with
    assert lc.registry.aliases(NAME) == {"production": "2"}
    code, out_json = cli_stdout(uri, "status", "--model", NAME, "--json")
    assert code == 0
    (model,) = json.loads(out_json)["models"]
    assert list(model["aliases"]) == ["production"]
    assert model["aliases"]["production"]["version"] == "2"
    assert reconcile(lc) == []  # nothing left to repair, and nothing written twice
    assert len(lc.audit.events()) == 2
    # the repaired history is usable: rollback goes to what production held before
    promote(lc, NAME, 3, reason="third")
    assert [e.to_version for e in lc.audit.events(NAME)] == ["1", "2", "3"]


def test_moves_outside_tradai_are_recorded_truthfully(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="first")
    promote(lc, NAME, 2, alias="staging", reason="stage")
    lc.registry.delete_alias(NAME, "production")  # behind tradai's back
    lc.registry.set_alias(NAME, "challenger", 3)
    rows = reconcile(lc)
    assert [(e.alias, e.from_version, e.to_version) for e in rows] == [
        ("challenger", None, "3"),
        ("production", "1", None),
    ]
    assert "no row" in rows[0].reason
    assert reconcile(lc, NAME) == []


def test_reconcile_waits_for_a_move_in_progress(uri: str) -> None:
    """A move that is done but not yet committed is not an interrupted one."""
    lc = Lifecycle.open(uri)
    moved, release = threading.Event(), threading.Event()
    found: list[object] = []

    def slow_move() -> None:
        lc.registry.set_alias(NAME, "production", "1")
        moved.set()
        release.wait(30)

    def mover() -> None:
        lc.audit.move_alias(
            action="promote",
            model=NAME,
            alias="production",
            to_version="1",
            reason="slow",
            current=lambda: None,
            move=slow_move,
        )

    a = threading.Thread(target=mover)
    a.start()
    assert moved.wait(30)
    b = threading.Thread(target=lambda: found.append(reconcile(Lifecycle.open(uri))))
    b.start()
    time.sleep(0.5)
    assert b.is_alive()  # blocked on the audit lock
    release.set()
    a.join(30)
    b.join(30)
    assert found == [[]]
    assert [e.action for e in lc.audit.events()] == ["promote"]


def _promote_in_child(uri: str, version: str, start: Any) -> None:
    start.wait(30)
    promote(Lifecycle.open(uri), NAME, version, reason=f"process {version}")


def test_concurrent_promote_processes_are_serialized(uri: str) -> None:
    # forked children (MLflow already imported) released together by one event; this
    # process has not opened the copied store yet, so no database connection is inherited
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_promote_in_child, args=(uri, v, start)) for v in ("1", "2")]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    lc = Lifecycle.open(uri)
    events = lc.audit.events(NAME)
    assert sorted(e.to_version or "" for e in events) == ["1", "2"]
    assert all(e.action == "promote" for e in events)
    # the second row saw the first one's move: no lost update
    assert events[0].from_version is None and events[1].from_version == events[0].to_version
    assert lc.registry.resolve(NAME, "production") == events[1].to_version
    assert reconcile(lc) == []
