"""Bad inputs to the registry commands: one clear line each and exit code 2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from registry_helpers import cli, make_store, runner

from tradai_strategy.cli.app import app
from tradai_strategy.lifecycle.promotion import Lifecycle, promote, retire
from tradai_strategy.replay.registry_server import free_port

NAME = "tradai-err"


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return make_store(tmp_path, NAME, ["passed", "passed", "pending"])


def test_unknown_model_version_alias(uri: str) -> None:
    cases = {
        ("promote", "nope", "1", "--reason", "x"): "model 'nope' is not registered",
        ("rollback", "nope", "--reason", "x"): "model 'nope' is not registered",
        ("retire", "nope", "1", "--reason", "x"): "model 'nope' is not registered",
        ("status", "--model", "nope"): "model 'nope' is not registered in sqlite:///",
        ("audit", "--model", "nope"): f"known models: {NAME}",
        ("metrics", "--model", "nope"): "model 'nope' is not registered",
        ("promote", NAME, "9", "--reason", "x"): "has no version 9: versions are 3, 2, 1",
        ("retire", NAME, "9", "--reason", "x"): "has no version 9",
        ("rollback", NAME, "--to", "9", "--reason", "x"): "has no version 9",
        ("promote", NAME, "1", "--to", "prod", "--reason", "x"): (
            "alias 'prod' is unknown: use one of production, staging, challenger, fallback"
        ),
        ("retire", NAME, "1"): "--reason is empty",
    }
    for args, expected in cases.items():
        code, out = cli(uri, *args)
        assert code == 2, (args, out)
        assert out.startswith("error: ") and expected in out, (args, out)
    assert Lifecycle.open(uri).audit.events() == []


def test_retired_and_history_refusals(uri: str) -> None:
    lc = Lifecycle.open(uri)
    code, out = cli(uri, "rollback", NAME, "--reason", "x")
    assert code == 2 and f"model '{NAME}' has no @production version: nothing to roll back" in out
    promote(lc, NAME, 1, reason="first")
    code, out = cli(uri, "rollback", NAME, "--reason", "x")
    assert code == 2 and "no production history before version 1: pass --to VERSION" in out
    retire(lc, NAME, 2, reason="bad")
    code, out = cli(uri, "promote", NAME, "2", "--to", "staging", "--reason", "x")
    assert code == 2 and f"{NAME} version 2 is retired: it can never be promoted" in out
    code, out = cli(uri, "rollback", NAME, "--to", "2", "--reason", "x")
    assert code == 2 and "version 2 is retired: it can never be rolled back to" in out
    assert lc.registry.aliases(NAME) == {"production": "1"}


@pytest.mark.parametrize("via_env", [False, True])
def test_unreachable_tracking_server_fails_fast(
    via_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # bound then released: nothing listens
    if via_env:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
        args = ["status"]
    else:
        args = ["promote", NAME, "1", "--reason", "x", "--tracking-uri", dead]
    started = time.monotonic()
    res = runner.invoke(app, args)
    elapsed = time.monotonic() - started
    out = " ".join(res.output.split())
    assert res.exit_code == 2, out
    assert f"error: tracking server {dead} unreachable" in out
    assert "start it or pass --tracking-uri" in out
    assert elapsed < 5.0
