"""Lifecycle metrics: derivation (hand-computed), Prometheus text, ``tradai metrics``."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from registry_helpers import cli, cli_stdout, make_store, runner

from tradai_strategy.cli.app import app
from tradai_strategy.lifecycle.lifecycle_metrics import ModelMetrics, derive, prometheus_text
from tradai_strategy.lifecycle.promotion import Lifecycle, promote, retire, rollback
from tradai_strategy.registry.audit import AuditEvent
from tradai_strategy.registry.client import VersionInfo

NAME = "tradai-metrics"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _event(i: int, action: str, model: str = "m") -> AuditEvent:
    return AuditEvent(i, "t", "me", action, model, "production", None, "1", "r", {})


def test_derive_hand_computed() -> None:
    # versions 2 and 4 survive retention (1 and 3 deleted): retrainings = 4 - 1 = 3
    versions = [
        VersionInfo("m", "4", ("production",), {}),
        VersionInfo("m", "2", ("fallback", "staging"), {"tradai.retired": "true"}),
    ]
    events = [_event(1, "promote"), _event(2, "rollback"), _event(3, "rollback", "other")]
    got = derive("m", versions, events, 12.5)
    assert got == ModelMetrics(
        model="m",
        alias_versions={"fallback": 2, "production": 4, "staging": 2},
        latest_version=4,
        retraining_count=3,
        rollback_count=1,
        retired_count=1,
        training_duration_s=12.5,
    )
    assert derive("m", [], [], None) == ModelMetrics("m", {}, None, 0, 0, 0, None)


def test_prometheus_text_parses_back() -> None:
    metrics = [
        ModelMetrics("a", {"production": 3}, 3, 2, 1, 0, 42.0),
        ModelMetrics("b", {}, None, 0, 0, 0, None),
    ]
    text = prometheus_text(metrics)
    assert "# TYPE tradai_retrainings_total counter" in text
    assert _samples(text) == {
        ("tradai_model_version", (("alias", "production"), ("model", "a"))): 3.0,
        ("tradai_model_latest_version", (("model", "a"),)): 3.0,
        ("tradai_retrainings_total", (("model", "a"),)): 2.0,
        ("tradai_retrainings_total", (("model", "b"),)): 0.0,
        ("tradai_rollbacks_total", (("model", "a"),)): 1.0,
        ("tradai_rollbacks_total", (("model", "b"),)): 0.0,
        ("tradai_retired_versions", (("model", "a"),)): 0.0,
        ("tradai_retired_versions", (("model", "b"),)): 0.0,
        ("tradai_training_duration_seconds", (("model", "a"), ("version", "3"))): 42.0,
    }


@pytest.fixture
def uri(tmp_path: Path) -> str:
    durations = [{"training_duration_s": 30.0 + i} for i in range(3)]
    return make_store(tmp_path, NAME, ["passed"] * 3, durations)


def test_metrics_command_from_the_live_registry(uri: str, tmp_path: Path) -> None:
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, reason="a")
    promote(lc, NAME, 2, reason="b")
    rollback(lc, NAME, reason="c")
    retire(lc, NAME, 3, reason="d")
    promote(lc, NAME, 2, alias="fallback", reason="e")
    code, text = cli_stdout(uri, "metrics")
    assert code == 0
    assert _samples(text) == {
        ("tradai_model_version", (("alias", "fallback"), ("model", NAME))): 2.0,
        ("tradai_model_version", (("alias", "production"), ("model", NAME))): 1.0,
        ("tradai_model_latest_version", (("model", NAME),)): 3.0,
        ("tradai_retrainings_total", (("model", NAME),)): 2.0,
        ("tradai_rollbacks_total", (("model", NAME),)): 1.0,
        ("tradai_retired_versions", (("model", NAME),)): 1.0,
        ("tradai_training_duration_seconds", (("model", NAME), ("version", "3"))): 32.0,
    }
    out = tmp_path / "textfile" / "tradai.prom"
    code, msg = cli(uri, "metrics", "--out", str(out))
    assert code == 0 and f"wrote {out}" in msg
    assert out.read_text() == text
    assert not out.with_name("tradai.prom.tmp").exists()


def test_metrics_show_subcommand_still_works(tmp_path: Path) -> None:
    res = runner.invoke(app, ["metrics", "show", "--identifier", "x", "--userdir", str(tmp_path)])
    assert res.exit_code == 2
    assert "tradai_metrics.json does not exist" in " ".join(res.output.split())
    res = runner.invoke(app, ["metrics", "--help"])
    assert res.exit_code == 0 and "show" in res.output and "--out" in res.output
