"""Where TradAI's MLflow tracking and registry data live.

Resolution order: an explicit URI (``--tracking-uri``), ``MLFLOW_TRACKING_URI``, then
TradAI's default: a sqlite store ``mlflow.db`` in the current folder, artifacts beside it in
``mlruns/``. MLflow is imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"


def tracking_uri(explicit: str | None = None) -> str:
    """The MLflow tracking URI TradAI uses."""
    if explicit:
        return explicit
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / DEFAULT_DB).resolve()}"


def artifact_location(uri: str) -> str | None:
    """Artifact root for new experiments of a local sqlite store (beside the db file)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / DEFAULT_ARTIFACTS).resolve().as_uri()
    return None


def configure(explicit: str | None = None) -> str:
    """Point the MLflow client at TradAI's store and return the URI."""
    import mlflow

    uri = tracking_uri(explicit)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def get_or_create_experiment(name: str, uri: str | None = None) -> str:
    """Experiment id for ``name``, creating it (artifacts beside a sqlite db) when missing."""
    import mlflow

    uri = configure(uri)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    return str(mlflow.create_experiment(name, artifact_location=artifact_location(uri)))
