"""A real sqlite MLflow registry with cheap versions (a run with metrics, no training)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.registry.client import RegistryClient
from tradai_strategy.registry.faults import FAULT_ENV

runner = CliRunner()
_TEMPLATES: dict[str, Path] = {}
#: ``tradai`` as a separate process (a crash or a full disk must not take pytest with it)
TRADAI = [sys.executable, "-m", "tradai_strategy.cli.app"]


def empty_store(tmp_path: Path) -> str:
    """A new, migrated, empty sqlite store in ``tmp_path`` (built once per session, copied)."""
    if "empty" not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="tradai-empty-store-"))
        RegistryClient(f"sqlite:///{folder / 'mlflow.db'}").models()
        _TEMPLATES["empty"] = folder / "mlflow.db"
    shutil.copyfile(_TEMPLATES["empty"], tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def tradai_process(uri: str, *args: str, fault: str | None = None) -> subprocess.CompletedProcess:
    """Run ``tradai ARGS --tracking-uri URI`` in a subprocess, ``TRADAI_FAULT_INJECT=fault``."""
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    if fault:
        env[FAULT_ENV] = fault
    return subprocess.run(
        [*TRADAI, *args, "--tracking-uri", uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def bundle_runs(reg: RegistryClient) -> list[Any]:
    """The runs of the ``tradai-bundles`` experiment (registrations)."""
    exp = reg.client.get_experiment_by_name("tradai-bundles")
    return list(reg.client.search_runs([exp.experiment_id])) if exp else []


def make_store(
    tmp_path: Path,
    name: str,
    statuses: list[str],
    metrics: list[dict[str, float]] | None = None,
) -> str:
    """Register ``name`` versions 1..n, version i tagged ``statuses[i-1]``, each on its own
    MLflow run carrying ``metrics[i-1]``; return the sqlite URI of ``tmp_path/mlflow.db``.

    Creating an MLflow database (its migrations) takes seconds: each distinct store is built
    once per test session and copied.
    """
    key = repr((name, statuses, metrics))
    if key not in _TEMPLATES:
        folder = Path(tempfile.mkdtemp(prefix="tradai-registry-"))
        _build(folder, name, statuses, metrics)
        _TEMPLATES[key] = folder / "mlflow.db"
    shutil.copyfile(_TEMPLATES[key], tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _build(
    tmp_path: Path, name: str, statuses: list[str], metrics: list[dict[str, float]] | None
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    lc = Lifecycle.open(uri)
    client = lc.registry.client
    client.create_registered_model(name)
    exp = client.create_experiment("tests", artifact_location=(tmp_path / "art").as_uri())
    for i, status in enumerate(statuses):
        run_id = client.create_run(exp).info.run_id
        for key, value in (metrics[i] if metrics else {}).items():
            client.log_metric(run_id, key, value)
        mv = client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        # a manifest tag (no bundle behind it): a version without one is never promoted
        tags = {"tradai.validation_status": status, "tradai.manifest_sha256": f"{i + 1:064x}"}
        lc.registry.set_tags(name, mv.version, tags)


def cli(uri: str, *args: str) -> tuple[int, str]:
    """Run ``tradai ARGS --tracking-uri URI``; exit code and whitespace-collapsed output."""
    res = runner.invoke(app, [*args, "--tracking-uri", uri])
    return res.exit_code, " ".join(res.output.split())


def cli_stdout(uri: str, *args: str) -> tuple[int, str]:
    """Like :func:`cli` but only stdout, verbatim (for --json and Prometheus text)."""
    res = runner.invoke(app, [*args, "--tracking-uri", uri])
    return res.exit_code, res.stdout
