"""Log a model bundle to MLflow as a pyfunc model (with a signature) and register it.

The bundle folder goes in unchanged as the pyfunc's data; ``MLmodel`` names the loader
module :mod:`tradai_strategy.bundle.pyfunc` of the installed package, so the store holds no
code and no pickle. Two sha256 tags make every stored file verifiable from the registry:
``tradai.manifest_sha256`` (the bundle manifest, which lists the bundle's files) and
``tradai.model_files_sha256`` (the list of every file of the MLflow model folder, MLmodel and
the environment files included: :mod:`tradai_strategy.bundle.model_files`).

Crash safety: the model version is created last, in one call carrying all its tags and its
description, after every artifact is uploaded (the bundle first, ``MLmodel`` and the file
list last). A process killed earlier leaves no version, only its run in ``RUNNING`` (tagged
``tradai.owner``/``tradai.bundle_path``), which :mod:`tradai_strategy.registry.repair` marks
FAILED on the next start. Killed after the version exists, the version is complete; the run
is marked FINISHED the same way.

A failure before the version exists (an exception, not a kill) deletes what the run
uploaded and ends it FAILED (:func:`abandon_run`, best effort: when the store refuses the
write, the run stays RUNNING; the next registration of this process marks it FAILED, and so
does the next registry command once this process is gone). A full disk anywhere in it
(ENOSPC, EDQUOT, EFBIG, SQLite's "database or disk is full") is one
:class:`~tradai_strategy.core.errors.DiskFullError` line naming what was written, where to
free space and what was left: nothing registered.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.bundle.format import MANIFEST, read_manifest
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.bundle.model_files import FILE_LIST, write_file_list
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import DiskFullError, TradAIError, disk_full
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.registry import store
from tradai_strategy.registry.faults import fault_point

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "tradai-bundles"
#: what a failed registration leaves in the registry
NOTHING = "nothing registered"
#: logs a traceback for every failed database write before raising it
_MLFLOW_DB_LOGGER = "mlflow.store.db.utils"
#: (tracking URI, run id) of failed registrations whose run the store refused to end
_ABANDONED: set[tuple[str, str]] = set()


def bundle_signature(manifest: dict[str, Any]) -> Any:
    """Inputs: every pair's features (optional unless all pairs have them); outputs: labels
    (a classifier's class and class probabilities) and ``do_predict``; param ``pair``."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    pairs = manifest["pairs"]
    feature_sets = [list(meta["features"]) for meta in pairs.values()]
    common = set.intersection(*(set(f) for f in feature_sets))
    ordered = list(dict.fromkeys(f for feats in feature_sets for f in feats))
    inputs = Schema([ColSpec("double", f, required=f in common) for f in ordered])
    first = next(iter(pairs.values()))
    if first.get("classes"):  # the predicted class, then one probability per class
        columns = [ColSpec("string", first["labels"][0])]
        columns += [ColSpec("double", c) for c in first["classes"]]
    else:
        columns = [ColSpec("double", lab) for lab in first["labels"]]
    outputs = Schema([*columns, ColSpec("long", "do_predict")])
    params = ParamSchema([ParamSpec("pair", "string", next(iter(pairs)))])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


#: the pip package of each estimator the base requirements do not already hold
ESTIMATOR_PACKAGES = {"lightgbm": "lightgbm", "catboost": "catboost", "random_forest": None}


def requirements(manifest: dict[str, Any]) -> list[str]:
    """The pip requirements of a bundle's pyfunc: the base stack and its estimators'."""
    versions = manifest.get("versions", {})
    needed = ["scikit-learn", "datasieve", "skops", "pandas", "numpy", "pyarrow"]
    packages = {
        ESTIMATOR_PACKAGES.get(m["estimator"], m["estimator"]) for m in manifest["pairs"].values()
    }
    needed += sorted(p for p in packages if p)
    return [f"{n}=={versions[n]}" if n in versions else n for n in needed]


def process_owner() -> str:
    """``<host> <pid> <start time>`` of this process (the ``tradai.owner`` run tag)."""
    try:
        import psutil

        started = f"{psutil.Process().create_time():.2f}"
    except Exception:  # no psutil: the pid alone
        started = "?"
    return f"{socket.gethostname()} {os.getpid()} {started}"


def register_bundle(
    bundle_dir: str | Path,
    name: str,
    *,
    alias: str | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tags: dict[str, str] | None = None,
    version_tags: dict[str, str] | None = None,
    description: str | None = None,
    on_run: Callable[[str], None] | None = None,
) -> str:
    """Log ``bundle_dir`` as a pyfunc model, register it as ``name`` and return the version.

    :param alias: also point this alias (e.g. ``"production"``) at the new version.
    :param tracking_uri: default: :func:`tradai_strategy.registry.store.tracking_uri`.
    :param tags: tags of the run.
    :param version_tags: tags of the version, written with it (besides the sha256 and
        ``tradai.train_end.<pair>`` tags this function adds).
    :param description: the version's description, written with it.
    :param on_run: called with the run id while the run is open, before the version
        exists (the caller's metrics, params and files of the run).
    """
    import mlflow

    root = Path(bundle_dir)
    manifest = read_manifest(root)
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    quiet = _DiskFullRecords()  # reported once, in the one error line
    logging.getLogger(_MLFLOW_DB_LOGGER).addFilter(quiet)
    try:
        return _register(
            root,
            manifest,
            name,
            alias,
            tracking_uri,
            experiment,
            tags or {},
            version_tags or {},
            description,
            on_run,
        )
    except Exception as err:  # before the run: the store itself is full
        if isinstance(err, TradAIError) or disk_full(err) is None:
            raise
        where = _db_folder(store.tracking_uri(tracking_uri))
        raise DiskFullError.of(err, f"registering {root} as {name}", where, NOTHING) from err
    finally:  # leave the process-wide MLflow URIs and logging as they were
        logging.getLogger(_MLFLOW_DB_LOGGER).removeFilter(quiet)
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def save_pyfunc(root: Path, manifest: dict[str, Any], out: Path) -> str:
    """The MLflow model folder of the bundle at ``root`` in ``out`` (loader module, no code),
    with its file list; return the list's sha256."""
    import mlflow

    from tradai_strategy.bundle.pyfunc import LOADER_MODULE

    mlflow.pyfunc.save_model(
        path=str(out),
        loader_module=LOADER_MODULE,
        data_path=str(root),
        signature=bundle_signature(manifest),
        input_example=example_input(root, next(iter(manifest["pairs"]))),
        pip_requirements=requirements(manifest),
    )
    return write_file_list(out)


def _upload(model_dir: Path) -> None:
    """Upload the model folder as the run's ``model`` artifact: the bundle first, MLmodel
    and the file list last (an interrupted upload is never a loadable model)."""
    import mlflow

    mlflow.log_artifacts(str(model_dir / "data"), "model/data")
    fault_point("during_artifact_upload")
    last = ("MLmodel", FILE_LIST)
    for item in sorted(model_dir.iterdir()):
        if item.name in ("data", *last):
            continue
        if item.is_dir():
            mlflow.log_artifacts(str(item), f"model/{item.name}")
        else:
            mlflow.log_artifact(str(item), "model")
    for name in last:
        mlflow.log_artifact(str(model_dir / name), "model")


def _register(
    root: Path,
    manifest: dict[str, Any],
    name: str,
    alias: str | None,
    tracking_uri: str | None,
    experiment: str,
    run_tags: dict[str, str],
    version_tags: dict[str, str],
    description: str | None,
    on_run: Callable[[str], None] | None,
) -> str:
    import mlflow
    from mlflow import MlflowClient

    uri = store.configure(tracking_uri)
    experiment_id = store.get_or_create_experiment(experiment, uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    _close_abandoned(client, uri)
    manifest_sha = sha256_file(root / MANIFEST)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with quiet_logging():  # MLflow's "Validating input example" INFO line
                files_sha = save_pyfunc(root, manifest, Path(tmp) / "model")
        except Exception as err:
            if disk_full(err) is None:
                raise
            what = f"preparing the MLflow model of {root}"
            raise DiskFullError.of(err, what, tempfile.gettempdir(), NOTHING) from err
        final_tags = {
            **version_tags,
            **{f"{tag.TRAIN_END_PREFIX}{p}": m["train_end"] for p, m in manifest["pairs"].items()},
            tag.MANIFEST: manifest_sha,
            tag.MODEL_FILES: files_sha,
        }
        owner = {tag.OWNER: process_owner(), tag.BUNDLE_PATH: str(root.resolve())}
        run = mlflow.start_run(experiment_id=experiment_id, run_name=f"bundle-{name}")
        run_id = run.info.run_id
        try:
            mlflow.set_tags({**owner, tag.MANIFEST: manifest_sha, **run_tags})
            mlflow.log_params(
                {
                    "strategy": manifest.get("strategy"),
                    "timeframe": manifest.get("timeframe"),
                    "pairs": ",".join(manifest["pairs"]),
                    "identifier": (manifest.get("source") or {}).get("identifier"),
                }
            )
            if on_run is not None:
                on_run(run_id)
            _upload(Path(tmp) / "model")
            fault_point("before_version_create")
            store.ensure_registered_model(client, name)
            mv = client.create_model_version(
                name,
                source=mlflow.get_artifact_uri("model"),
                run_id=run_id,
                tags=final_tags,
                description=description,
            )
        except BaseException as err:  # no version: nothing of the run is worth keeping
            left = abandon_run(run_id, run.info.artifact_uri, uri)
            if isinstance(err, TradAIError) or disk_full(err) is None:
                raise
            what = f"registering {root} as {name} (run {run_id})"
            where = _store_folder(err, uri, run.info.artifact_uri)
            raise DiskFullError.of(err, what, where, f"{NOTHING}; {left}") from err
        fault_point("after_version_create")
        _end_run(run_id)
    version = str(mv.version)
    if alias:
        try:
            client.set_registered_model_alias(name, alias, version)
        except Exception as err:
            if disk_full(err) is None:
                raise
            done = f"{name} version {version} is registered (complete), @{alias} is not set"
            fix = f"point it there with `tradai promote {name} {version} --to {alias} --reason ...`"
            full = DiskFullError.of(err, f"setting @{alias}", _db_folder(uri), done, then=fix)
            raise full from err
    logger.info(
        "TradAI: registered %s version %s%s", name, version, f" as @{alias}" if alias else ""
    )
    return version


def abandon_run(run_id: str, artifact_uri: str, uri: str) -> str:
    """Best effort, never raising: delete what run ``run_id`` (the active MLflow run, of the
    store at ``uri``) uploaded and end it FAILED. Returns what was done, for the error line."""
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    done = []
    try:
        get_artifact_repository(artifact_uri).delete_artifacts()
        done.append("its uploads were deleted")
    except Exception as err:
        logger.debug("TradAI: the uploads of failed run %s stay: %s", run_id, err)
        done.append(f"its uploads could not be deleted ({artifact_uri})")
    try:
        mlflow.end_run("FAILED")  # pops the active run first, then writes its status
        done.append("the run is marked FAILED")
    except Exception as err:
        logger.debug("TradAI: failed run %s not marked FAILED: %s", run_id, err)
        _ABANDONED.add((uri, run_id))
        done.append("the run stays RUNNING until the next registry command marks it FAILED")
    return ", ".join(done)


def _close_abandoned(client: Any, uri: str) -> None:
    """Mark FAILED the runs of this process's failed registrations the store refused to
    close then (reconcile leaves a live process's runs alone); best effort."""
    for key in sorted(k for k in _ABANDONED if k[0] == uri):
        try:
            client.set_terminated(key[1], "FAILED")
        except Exception as err:
            logger.debug("TradAI: failed run %s still not marked FAILED: %s", key[1], err)
            continue
        _ABANDONED.discard(key)


def _end_run(run_id: str) -> None:
    """End the active run FINISHED; when the store refuses (its version is complete, and the
    next registry command marks it FINISHED: :mod:`~tradai_strategy.registry.repair`), go
    on."""
    import mlflow

    try:
        mlflow.end_run()
    except Exception as err:
        logger.debug("TradAI: run %s of a registered version not marked FINISHED: %s", run_id, err)


class _DiskFullRecords(logging.Filter):
    """Drop MLflow's log record of a database write that found no room (its traceback):
    the exception goes on to the caller, who reports it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and disk_full(record.exc_info[1]))


def _db_folder(uri: str) -> str | None:
    db = store.sqlite_path(uri)
    return str(db.absolute().parent) if db is not None else None


def _store_folder(err: BaseException, uri: str, artifact_uri: str) -> str | None:
    """Where a failed registration wrote: the sqlite database's folder when SQLite said it
    is full, else a local artifact folder (None: another store; the failing file tells)."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    found = disk_full(err)
    if hasattr(found, "sqlite_errorname") or "database or disk is full" in str(found).lower():
        return _db_folder(uri)
    if artifact_uri.startswith("file:"):
        return str(local_file_uri_to_path(artifact_uri))
    return None


def example_input(bundle_dir: str | Path, pair: str, rows: int = 5) -> pd.DataFrame:
    """A few reference rows of ``pair``'s features (for trying the pyfunc model)."""
    root = Path(bundle_dir)
    meta = read_manifest(root)["pairs"][pair]
    return pd.read_parquet(root / meta["dir"] / "reference_features.parquet").head(rows)
