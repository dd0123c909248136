"""The model lifecycle through a real ``mlflow server`` on 127.0.0.1 (sqlite backend), the way
production users run it: train -> v1 -> promote -> train -> v2 -> promote -> rollback -> v1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freqai_helpers import STRATEGIES, small_training_config, timerange
from inference_helpers import MlflowServer
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.lifecycle.train import git_commit
from tradai_strategy.registry.audit import AuditTrail
from tradai_strategy.registry.client import RegistryClient
from tradai_strategy.serving.loader import serving_version

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("mlflow-server")]
PAIRS = ["BTC/USDT", "ETH/USDT"]
TIMERANGE = timerange(40, 56)  # one 15-day window after 30 training days
TAGS = (
    "strategy",
    "pairs",
    "timeframe",
    "data_range",
    "config_hash",
    "git_commit",
    "identifier",
    "feature_list_hash",
    "validation_status",
)
runner = CliRunner()


def _cli(*args: str, code: int = 0) -> str:
    res = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert res.exit_code == code, res.output
    return res.stdout if code == 0 else res.output


@pytest.fixture
def server(tmp_path: Path):
    srv = MlflowServer(tmp_path / "server")
    try:
        yield srv
    finally:
        srv.stop()


def test_train_promote_train_promote_rollback_through_a_real_server(
    tmp_path: Path, server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADAI_ACTOR", "e2e-test")
    data = tmp_path / "data"
    write_synthetic_data(PAIRS, "1h", 60, seed=11, signal="planted", datadir=data)
    cfg = small_training_config(data, "e2e", pairs=PAIRS, backtest_period_days=15, trees=30)
    (tmp_path / "train.json").write_text(json.dumps(cfg))
    uri = ("--tracking-uri", server.uri)
    audit = ("--audit-db", str(tmp_path / "audit.db"))
    train = (
        "train",
        *("--config", str(tmp_path / "train.json"), "--strategy", "RadStrategy"),
        *("--strategy-path", str(STRATEGIES), "--datadir", str(data)),
        *("--userdir", str(tmp_path / "user_data"), "--timerange", TIMERANGE),
        *("--offline", "--model-name", "rad", *uri),
    )
    # train -> v1 with every tag, registered through the server
    assert "registered rad version 1" in _cli(*train)
    reg = RegistryClient(server.uri)
    v1 = reg.version("rad", 1)
    assert {f"tradai.{t}" for t in TAGS} <= set(v1.tags)
    assert v1.tags["tradai.strategy"] == "RadStrategy"
    assert v1.tags["tradai.pairs"] == "BTC/USDT,ETH/USDT" and v1.tags["tradai.timeframe"] == "1h"
    assert v1.tags["tradai.data_range"] == TIMERANGE and v1.tags["tradai.identifier"] == "e2e"
    assert v1.tags["tradai.git_commit"] == git_commit()
    assert len(v1.tags["tradai.config_hash"]) == 64
    assert len(v1.tags["tradai.feature_list_hash"]) == 64
    assert v1.tags["tradai.validation_status"] == "pending"
    # the gate: pending validation needs --force (with its reason)
    out = _cli("promote", "rad", "1", "--reason", "first model", *uri, *audit, code=2)
    assert "tradai.validation_status='pending'" in " ".join(out.split())
    _cli("promote", "rad", "1", "--force", "--reason", "first model", *uri, *audit)
    # train again -> v2 -> promote -> rollback -> production is v1
    assert "registered rad version 2" in _cli(*train, "--skip-leakage-check")
    _cli("promote", "rad", "2", "--force", "--reason", "retrained", *uri, *audit)
    assert reg.aliases("rad") == {"production": "2"}
    _cli("rollback", "rad", "--reason", "v2 misbehaves", *uri, *audit)
    assert reg.aliases("rad") == {"production": "1"}
    assert serving_version(reg, "rad").version == "1"  # what a bot would serve now
    # the audit trail has those events, in order, and `tradai audit` shows them
    events = AuditTrail(tmp_path / "audit.db").events("rad")
    moves = [(e.action, e.from_version, e.to_version, e.reason) for e in events]
    assert moves == [
        ("promote", None, "1", "first model"),
        ("promote", "1", "2", "retrained"),
        ("rollback", "2", "1", "v2 misbehaves"),
    ]
    assert [e.details.get("forced") for e in events[:2]] == [True, True]
    assert all(e.actor == "e2e-test" for e in events)
    shown = json.loads(_cli("audit", "--model", "rad", "--json", *uri, *audit))
    assert [
        (r["action"], r["to_version"], r["reason"], r["details"].get("forced")) for r in shown
    ] == [
        ("promote", "1", "first model", True),
        ("promote", "2", "retrained", True),
        ("rollback", "1", "v2 misbehaves", None),
    ]
    # `tradai status --json` reports production v1
    doc = json.loads(_cli("status", "--json", "--model", "rad", *uri, *audit))
    (model,) = doc["models"]
    assert model["model"] == "rad" and model["versions"] == 2 and model["latest"] == "2"
    assert model["aliases"]["production"]["version"] == "1"
