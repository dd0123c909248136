"""Where TradAI's MLflow tracking and registry data live, and their safe first use.

Resolution order: an explicit URI (``--tracking-uri``), ``MLFLOW_TRACKING_URI``, then
TradAI's default: a sqlite store ``mlflow.db`` in the current folder, artifacts beside it in
``mlruns/``. MLflow is imported lazily: it takes seconds to import.

The first use of a new sqlite store creates its tables and runs MLflow's migrations; two
processes doing that at once collide (``table ... already exists``) and one of them loses its
work. :func:`ensure_store` serializes that first use across processes with an exclusive lock
on ``<db>.lock`` beside the database; :func:`get_or_create_experiment` and
:func:`ensure_registered_model` accept losing a creation race to another process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlruns"
_ALREADY_EXISTS = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}
#: URIs whose MLflow stores this process has opened (tables created, migrations done)
_READY: set[str] = set()


def tracking_uri(explicit: str | None = None) -> str:
    """The MLflow tracking URI TradAI uses."""
    if explicit:
        return explicit
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / DEFAULT_DB).resolve()}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///")
    return None if not path or path.startswith(":memory:") else Path(path)


def missing_store(uri: str | None) -> Path | None:
    """The database file of a sqlite tracking URI (``None``: the default) that does not exist,
    else None: reading a registry there would create an empty one (a typo, usually)."""
    db = sqlite_path(tracking_uri(uri))
    return db if db is not None and not db.is_file() else None


def artifact_location(uri: str) -> str | None:
    """Artifact root for new experiments of a local sqlite store (beside the db file)."""
    db = sqlite_path(uri)
    return (db.parent / DEFAULT_ARTIFACTS).resolve().as_uri() if db is not None else None


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """An exclusive inter-process lock on ``<db>.lock`` for a sqlite store (no-op otherwise)."""
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with db.with_name(db.name + ".lock").open("a+b") as fh:
        _lock(fh.fileno())
        try:
            yield
        finally:
            _unlock(fh.fileno())


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt
        import time

        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                time.sleep(0.1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def ensure_store(uri: str) -> None:
    """Open ``uri``'s tracking and registry stores once per process, under :func:`store_lock`
    for a sqlite store: the first opening creates the tables and migrates them, alone."""
    if uri in _READY or sqlite_path(uri) is None:
        return
    from mlflow import MlflowClient

    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    _READY.add(uri)


def configure(explicit: str | None = None) -> str:
    """Point the MLflow client at TradAI's store (opened safely) and return the URI."""
    import mlflow

    uri = tracking_uri(explicit)
    ensure_store(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def get_or_create_experiment(name: str, uri: str | None = None) -> str:
    """Experiment id for ``name``, creating it (artifacts beside a sqlite db) when missing."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = configure(uri)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    try:
        return str(mlflow.create_experiment(name, artifact_location=artifact_location(uri)))
    except MlflowException as err:
        exp = mlflow.get_experiment_by_name(name)
        if err.error_code in _ALREADY_EXISTS and exp is not None:  # another process won
            return str(exp.experiment_id)
        raise


def ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model ``name`` unless it exists (also when another process
    creates it at the same moment)."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if err.error_code not in _ALREADY_EXISTS:
            raise
