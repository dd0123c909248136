"""Promotion gate, rollback and the append-only audit trail (real sqlite MLflow store)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradai_strategy.cli import app
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.registry.audit import AUDIT_DB
from tradai_strategy.registry.client import RegistryError

NAME = "tradai-promo"
runner = CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    """A store with NAME versions 1..3; 1 and 2 passed validation, 3 is pending."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lc = Lifecycle.open(uri)
    lc.registry.client.create_registered_model(NAME)
    (tmp_path / "src").mkdir()
    for status in ("passed", "passed", "pending"):
        mv = lc.registry.client.create_model_version(NAME, (tmp_path / "src").as_uri())
        lc.registry.set_tags(NAME, mv.version, {"tradai.validation_status": status})
    return uri


def _cli(uri: str, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, [*args, "--tracking-uri", uri])
    return res.exit_code, " ".join(res.output.split())


def test_promote_promote_rollback_audited_in_order(uri: str, tmp_path: Path) -> None:
    assert _cli(uri, "promote", NAME, "1", "--reason", "first") == (
        0,
        f"{NAME} @production: unset -> 1 (promote, audit #1)",
    )
    assert _cli(uri, "promote", NAME, "2", "--reason", "better IC")[0] == 0
    code, out = _cli(uri, "rollback", NAME, "--reason", "live drawdown")
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
    code, out = _cli(uri, "audit", "--model", NAME)
    assert code == 0 and "TradAI audit trail" in out  # (columns fold on a narrow terminal)


def test_gate_refuses_unvalidated_version_unless_forced(uri: str) -> None:
    code, out = _cli(uri, "promote", NAME, "3", "--reason", "try")
    assert code == 2
    assert "version 3 has tradai.validation_status='pending', not 'passed'" in out
    assert "--force" in out
    lc = Lifecycle.open(uri)
    assert lc.registry.resolve(NAME, "production") is None and lc.audit.events() == []
    code, out = _cli(uri, "promote", NAME, "3", "--force", "--reason", "hotfix, PBO later")
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
        code, out = _cli(uri, *args)
        assert code == 2 and expected in out, (args, out)
    _cli(uri, "promote", NAME, "1", "--reason", "x")
    code, out = _cli(uri, "rollback", NAME, "--reason", "x")
    assert code == 2 and "no production history before version 1: pass --to VERSION" in out
    code, out = _cli(uri, "rollback", NAME, "--to", "2", "--reason", "explicit")
    assert code == 0 and "1 -> 2" in out


def test_retired_version_is_never_promoted(uri: str) -> None:
    lc = Lifecycle.open(uri)
    lc.registry.set_tags(NAME, 2, {"tradai.retired": "true"})
    with pytest.raises(RegistryError, match="version 2 is retired"):
        promote(lc, NAME, 2, reason="x", force=True)


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
