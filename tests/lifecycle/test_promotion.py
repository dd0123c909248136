"""Promotion gate, rollback and the append-only audit trail (real sqlite MLflow store)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from registry_helpers import cli, make_store

from tradai_strategy.lifecycle.promotion import Lifecycle, promote, retire, rollback
from tradai_strategy.registry.audit import AUDIT_DB
from tradai_strategy.registry.client import RegistryError

NAME = "tradai-promo"


@pytest.fixture
def uri(tmp_path: Path) -> str:
    """A store with NAME versions 1..3; 1 and 2 passed validation, 3 is pending."""
    return make_store(tmp_path, NAME, ["passed", "passed", "pending"])


def test_promote_promote_rollback_audited_in_order(uri: str, tmp_path: Path) -> None:
    assert cli(uri, "promote", NAME, "1", "--reason", "first") == (
        0,
        f"{NAME} @production: unset -> 1 (promote, audit #1)",
    )
    assert cli(uri, "promote", NAME, "2", "--reason", "better IC")[0] == 0
    code, out = cli(uri, "rollback", NAME, "--reason", "live drawdown")
    assert code == 0 and "@production: 2 -> 1 (rollback, audit #3)" in out
    lc = Lifecycle.open(uri)
    assert lc.registry.resolve(NAME, "production") == "1"
    events = lc.audit.events(NAME)
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("promote", None, "1"),
        ("promote", "1", "2"),
        ("rollback", "2", "1"),
    ]
    assert [e.reason for e in events] == ["first", "better IC", "live drawdown"]
    assert (tmp_path / AUDIT_DB).is_file()  # beside the MLflow store
    code, out = cli(uri, "audit", "--model", NAME)
    assert code == 0 and "TradAI audit trail" in out
    # each change on one unbroken line, even at the runner's 80 columns
    assert f"{NAME} @production 1 -> 2" in out and f"{NAME} @production 2 -> 1" in out


def test_gate_refuses_unvalidated_version_unless_forced(uri: str) -> None:
    code, out = cli(uri, "promote", NAME, "3", "--reason", "try")
    assert code == 2
    assert "version 3 has tradai.validation_status='pending', not 'passed'" in out
    assert "--force" in out
    lc = Lifecycle.open(uri)
    assert lc.registry.resolve(NAME, "production") is None and lc.audit.events() == []
    code, out = cli(uri, "promote", NAME, "3", "--force", "--reason", "hotfix, PBO later")
    assert code == 0
    (event,) = lc.audit.events(NAME)
    assert event.details == {"forced": True, "validation_status": "pending"}
    assert event.reason == "hotfix, PBO later"


def test_bad_inputs_one_line_each(uri: str) -> None:
    cases = {
        ("promote", "nope", "1", "--reason", "x"): "model 'nope' is not registered",
        ("promote", NAME, "9", "--reason", "x"): "has no version 9",
        ("promote", NAME, "1", "--to", "prod", "--reason", "x"): "alias 'prod' is unknown",
        ("promote", NAME, "1"): "--reason is empty",
        ("rollback", NAME, "--reason", "x"): "has no @production version",
    }
    for args, expected in cases.items():
        code, out = cli(uri, *args)
        assert code == 2 and expected in out, (args, out)
    cli(uri, "promote", NAME, "1", "--reason", "x")
    code, out = cli(uri, "rollback", NAME, "--reason", "x")
    assert code == 2 and "no production history before version 1: pass --to VERSION" in out
    code, out = cli(uri, "rollback", NAME, "--to", "2", "--reason", "explicit")
    assert code == 0 and "1 -> 2" in out


def test_retired_version_is_never_promoted(uri: str) -> None:
    lc = Lifecycle.open(uri)
    lc.registry.set_tags(NAME, 2, {"tradai.retired": "true"})
    with pytest.raises(RegistryError, match="version 2 is retired"):
        promote(lc, NAME, 2, reason="x", force=True)


def test_retire_tags_and_removes_every_alias_audited(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="first")
    promote(lc, NAME, 2, reason="second")
    promote(lc, NAME, 2, alias="staging", reason="stage")
    promote(lc, NAME, 1, alias="fallback", reason="safe")
    code, out = cli(uri, "retire", NAME, "2", "--reason", "IC < 0 for 30 days")
    assert code == 0
    assert f"{NAME} version 2 retired (audit #5); aliases removed: @production, @staging" in out
    assert lc.registry.aliases(NAME) == {"fallback": "1"}
    tags = lc.registry.version(NAME, 2).tags
    assert tags["tradai.retired"] == "true"
    assert tags["tradai.retired_reason"] == "IC < 0 for 30 days"
    assert tags["tradai.retired_at"].endswith("+00:00") and tags["tradai.retired_by"]
    rows = [(e.action, e.alias, e.from_version, e.to_version) for e in lc.audit.events(NAME)]
    assert rows[4:] == [
        ("retire", None, "2", None),
        ("retire", "production", "2", None),
        ("retire", "staging", "2", None),
    ]
    # never again: promote (even forced), rollback to it, retire twice
    code, out = cli(uri, "promote", NAME, "2", "--force", "--reason", "x")
    assert code == 2 and "version 2 is retired: it can never be promoted" in out
    with pytest.raises(RegistryError, match="version 2 is retired: it can never be rolled back"):
        rollback(lc, NAME, to=2, reason="x")
    code, out = cli(uri, "retire", NAME, "2", "--reason", "again")
    assert code == 2 and "already retired (IC < 0 for 30 days): nothing to do" in out
    assert len(lc.audit.events(NAME)) == 7


def test_rollback_to_a_retired_previous_version_is_refused(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="first")
    promote(lc, NAME, 2, reason="second")
    retire(lc, NAME, 1, reason="leaky feature")
    with pytest.raises(RegistryError, match=r"version 1 is retired.*pass --to VERSION"):
        rollback(lc, NAME, reason="drawdown")
    assert lc.registry.resolve(NAME, "production") == "2"


def test_production_moves_log_lifecycle_metrics_on_the_run(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="first")
    promote(lc, NAME, 2, reason="second")
    rollback(lc, NAME, reason="drawdown")
    promote(lc, NAME, 2, alias="staging", reason="not production: nothing logged")

    def history(version: int, key: str) -> list[float]:
        run_id = lc.registry.version(NAME, version).run_id
        return [m.value for m in lc.registry.client.get_metric_history(str(run_id), key)]

    assert history(1, "model_version") == [1.0, 1.0]
    assert history(1, "rollback_count") == [0.0, 1.0]
    assert history(2, "model_version") == [2.0]
    assert history(2, "rollback_count") == [0.0]


def test_audit_trail_is_append_only(uri: str) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="x")
    con = sqlite3.connect(lc.audit.path)
    for sql in ("UPDATE events SET reason = 'y'", "DELETE FROM events"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()


def test_failed_move_writes_no_row(uri: str) -> None:
    lc = Lifecycle.open(uri)

    def boom() -> None:
        raise RuntimeError("registry down")

    with pytest.raises(RuntimeError):
        lc.audit.move_alias(
            action="promote",
            model=NAME,
            alias="production",
            to_version="1",
            reason="x",
            current=lambda: None,
            move=boom,
        )
    assert lc.audit.events() == []


def test_concurrent_promotes_are_serialized_and_consistent(uri: str) -> None:
    """Threads; tests/test_reconcile.py does the same with processes."""
    errors: list[BaseException] = []

    def run(version: int) -> None:
        try:
            promote(Lifecycle.open(uri), NAME, version, reason=f"thread {version}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(v,)) for v in (1, 2, 1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    lc = Lifecycle.open(uri)
    events = lc.audit.events(NAME)
    assert len(events) == 4
    # each row's "from" is the previous row's "to": no move was lost or interleaved
    assert [e.from_version for e in events[1:]] == [e.to_version for e in events[:-1]]
    assert lc.registry.resolve(NAME, "production") == events[-1].to_version
