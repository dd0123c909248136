"""Where the audit trail lives and what happens when it is busy: the same trail from every
working folder (a tracking server's trail recorded in the registry), a trail locked by another
writer is a bounded wait and one line, an unreadable trail is one line."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from inference_helpers import MlflowServer
from registry_helpers import cli, make_store

from tradai_strategy.core import tags as tag
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.registry.audit import AUDIT_DB, LOCK_WAIT_ENV, audit_path

NAME = "tradai-trail"


def test_default_trail_never_depends_on_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADAI_AUDIT_DB", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    server = "http://alice:s3cret@mlflow.example:5000"
    seen = set()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        seen.add(
            (
                audit_path(server),
                audit_path("sqlite:///../store/mlflow.db"),
                audit_path(f"file://{tmp_path}/mlruns"),
            )
        )
    assert len(seen) == 1, seen  # it used to be the working folder for a server
    remote, local, files = seen.pop()
    assert remote == tmp_path / "state" / "tradai" / "audit" / "http_mlflow.example_5000.sqlite"
    assert "s3cret" not in str(remote)
    assert local == tmp_path / "store" / AUDIT_DB
    assert files == tmp_path / AUDIT_DB
    monkeypatch.setenv("TRADAI_AUDIT_DB", str(tmp_path / "mine.sqlite"))
    assert audit_path(server) == tmp_path / "mine.sqlite"


def test_a_locked_trail_is_a_bounded_wait_then_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = make_store(tmp_path, NAME, ["passed"])
    trail = Lifecycle.open(uri).audit.path
    monkeypatch.setenv(LOCK_WAIT_ENV, "1")
    holder = sqlite3.connect(trail, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the trail
    try:
        started = time.monotonic()
        code, out = cli(uri, "promote", NAME, "1", "--reason", "first")
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 2, out
    assert out.startswith(f"error: audit trail {trail} is locked by another process (waited 1 s)")
    assert "Traceback" not in out and waited < 15  # it used to wait 60 s, then a traceback
    assert Lifecycle.open(uri).registry.aliases(NAME) == {}  # nothing changed
    code, out = cli(uri, "promote", NAME, "1", "--reason", "first")
    assert code == 0, out


def test_an_unreadable_trail_is_one_line(tmp_path: Path) -> None:
    uri = make_store(tmp_path, NAME, ["passed"])
    (tmp_path / AUDIT_DB).write_bytes(b"this is no sqlite database at all" * 100)
    code, out = cli(uri, "promote", NAME, "1", "--reason", "first")
    assert code == 2 and out.startswith(f"error: audit trail {tmp_path / AUDIT_DB} is unreadable")
    assert "restore it from a backup" in out and "Traceback" not in out


@pytest.mark.e2e
@pytest.mark.xdist_group("mlflow-server")
def test_a_servers_trail_follows_the_registry_not_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_store(tmp_path, NAME, ["passed", "passed"])
    (tmp_path / "server").mkdir()
    shutil.copyfile(tmp_path / "mlflow.db", tmp_path / "server" / "server.db")
    monkeypatch.delenv("TRADAI_AUDIT_DB", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    server = MlflowServer(tmp_path / "server")
    try:
        for folder in ("desk", "cron"):
            (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / "desk")
        assert cli(server.uri, "promote", NAME, "1", "--reason", "first")[0] == 0
        assert cli(server.uri, "promote", NAME, "2", "--reason", "second")[0] == 0
        # another folder (a cron job): same trail, so rollback knows the history
        monkeypatch.chdir(tmp_path / "cron")
        code, out = cli(server.uri, "rollback", NAME, "--reason", "v2 misbehaves")
        assert code == 0, out  # it used to say "no history": a new, empty trail in cron/
        lc = Lifecycle.open(server.uri, model=NAME)
        assert lc.registry.aliases(NAME) == {"production": "1"}
        assert [e.action for e in lc.audit.events(NAME)] == ["promote", "promote", "rollback"]
        recorded = lc.registry.client.get_registered_model(NAME).tags[tag.AUDIT_TRAIL]
        assert recorded == f"{socket.gethostname()}:{lc.audit.path}"
        assert not list((tmp_path / "desk").iterdir()) and not list((tmp_path / "cron").iterdir())
        # the registry names a trail on another machine: refused, never a second history
        lc.registry.client.set_registered_model_tag(NAME, tag.AUDIT_TRAIL, "ops-box:/srv/a.db")
        code, out = cli(server.uri, "promote", NAME, "2", "--reason", "again")
        assert code == 2 and "the audit trail of tradai-trail is ops-box:/srv/a.db" in out
        assert lc.registry.aliases(NAME) == {"production": "1"}
        # an explicit trail is used and recorded as the model's
        mine = tmp_path / "copy.sqlite"
        shutil.copyfile(lc.audit.path, mine)
        code, out = cli(
            server.uri, "promote", NAME, "2", "--reason", "again", "--audit-db", str(mine)
        )
        assert code == 0, out
        recorded = lc.registry.client.get_registered_model(NAME).tags[tag.AUDIT_TRAIL]
        assert recorded == f"{socket.gethostname()}:{mine}"
    finally:
        server.stop()
