"""The promotion gate's input: ``validate_version`` tags a registered version passed/failed
(real purged CV on synthetic candles, real sqlite MLflow registry), and ``tradai validate
--model --version`` does the same from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from freqai_helpers import STRATEGIES
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.common import freqtrade_args
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core import tags as tag
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.lifecycle.gate import validate_version
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.registry.client import RegistryClient, RegistryError

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
NAME = "tradai-gate"
TRAINED_ON = "20240101-20240620"
SMALL = {"n_estimators": 60, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 100}
CV: dict[str, Any] = {
    "cv": "walkforward",
    "n_groups": 4,
    "seeds": 1,
    "jobs": 1,
    "skip_leakage_check": True,
}
runner = CliRunner()


def _store(tmp: Path, signal: str) -> tuple[dict[str, Any], str]:
    """Synthetic candles, a config, and a sqlite registry holding NAME version 1 (pending)."""
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 200, seed=3, signal=signal, datadir=data)  # type: ignore[arg-type]
    cfg = build_training_config(
        StrategyMeta(pairs=PAIRS, datadir=str(data), model_training_parameters=SMALL)
    )
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    reg = RegistryClient(uri)
    reg.client.create_registered_model(NAME)
    (tmp / "src").mkdir()
    # a manifest tag (no bundle behind it): a version without one is never promoted
    manifest = {"tradai.manifest_sha256": "0" * 64}
    mv = reg.client.create_model_version(NAME, (tmp / "src").as_uri(), tags=manifest)
    tags = {
        "tradai.strategy": "RadStrategy",
        "tradai.pairs": ",".join(PAIRS),
        "tradai.data_range": TRAINED_ON,
        "tradai.validation_status": "pending",
    }
    reg.set_tags(NAME, mv.version, tags)
    args = freqtrade_args(
        [path],
        "RadStrategy",
        strategy_path=STRATEGIES,
        datadir=data,
        userdir=tmp / "user_data",
    )
    return args, uri


def test_planted_signal_version_is_tagged_passed(tmp_path: Path) -> None:
    args, uri = _store(tmp_path, "planted")
    verdict = validate_version(args, NAME, "1", tracking_uri=uri, split_runs=True, **CV)
    assert verdict.passed, verdict.reasons
    assert verdict.metrics["ic"] > 0.1
    info = RegistryClient(uri).version(NAME, 1)
    assert info.tags["tradai.validation_status"] == "passed"
    assert info.tags[tag.VALIDATION_REASONS] == "all checks passed"
    import mlflow

    run = mlflow.MlflowClient(tracking_uri=uri).get_run(info.tags[tag.VALIDATION_RUN_ID])
    assert run.data.tags["tradai.verdict"] == "pass"
    assert run.data.tags["tradai.model_version"] == "1"
    assert run.data.params["timerange"] == TRAINED_ON  # the version's training range
    assert run.data.params["cv"] == "walkforward"
    children = mlflow.MlflowClient(tracking_uri=uri).search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert len(children) == int(run.data.params["n_splits"]) == 4
    assert all("rank_ic" in c.data.metrics and "test_groups" in c.data.params for c in children)
    event = promote(Lifecycle.open(uri), NAME, 1, reason="validated")  # the gate opens
    assert event.to_version == "1" and event.details["validation_status"] == "passed"


def test_random_walk_version_fails_and_the_gate_stays_shut(tmp_path: Path) -> None:
    args, uri = _store(tmp_path, "none")
    verdict = validate_version(args, NAME, 1, tracking_uri=uri, **CV)
    assert not verdict.passed
    tags = RegistryClient(uri).version(NAME, 1).tags
    assert tags["tradai.validation_status"] == "failed"
    assert tags[tag.VALIDATION_REASONS].startswith("IC too weak")
    assert tags[tag.VALIDATION_REASONS] == "; ".join(verdict.reasons)[:500]
    with pytest.raises(RegistryError, match="validation_status='failed'"):
        promote(Lifecycle.open(uri), NAME, 1, reason="try")


def test_cli_validates_a_version_and_refuses_bad_ones(tmp_path: Path) -> None:
    args, uri = _store(tmp_path, "planted")
    base = ["validate", "--config", args["config"][0], "--strategy", "RadStrategy"]
    base += ["--strategy-path", str(STRATEGIES), "--datadir", args["datadir"]]
    base += ["--userdir", args["user_data_dir"], "--tracking-uri", uri, "--model", NAME]
    base += ["--cv", "walkforward", "--n-groups", "4", "--seeds", "1", "--jobs", "1"]
    base += ["--skip-leakage-check", "--timerange", "20240101-20240501"]
    res = runner.invoke(app, [*base, "--version", "1"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "verdict: PASS" in text and f"{NAME} version 1: tradai.validation_status=passed" in text
    (html,) = (tmp_path / "user_data" / "tradai_runs").glob("validate-RadStrategy-*/*.html")
    assert "TradAI validation" in html.read_text()
    # a stricter threshold flag fails the same version, and the tag follows the new verdict
    res = runner.invoke(app, [*base, "--version", "1", "--min-ic", "0.9", "--no-report"])
    assert res.exit_code == 1, res.output
    assert "IC too weak" in res.output and "< 0.9" in res.output
    tags = RegistryClient(uri).version(NAME, 1).tags
    assert tags["tradai.validation_status"] == "failed" and "< 0.9" in tags[tag.VALIDATION_REASONS]
    cases = {
        ("--version", "7"): "has no version 7",
        (): "--model needs --version",
        ("--version", "1", "--no-tracking"): "--no-tracking cannot be used with --model",
    }
    for extra, message in cases.items():
        res = runner.invoke(app, [*base, *extra])
        assert res.exit_code == 2 and message in " ".join(res.output.split()), (extra, res.output)
    wrong = [*base, "--version", "1"]
    wrong[wrong.index("RadStrategy")] = "OtherStrategy"
    res = runner.invoke(app, wrong)
    assert res.exit_code == 2
    assert "trained with strategy 'RadStrategy', not 'OtherStrategy'" in " ".join(
        res.output.split()
    )
