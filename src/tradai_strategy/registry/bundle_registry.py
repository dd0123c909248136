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
from tradai_strategy.registry import store
from tradai_strategy.registry.faults import fault_point

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "tradai-bundles"


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


def _requirements(manifest: dict[str, Any]) -> list[str]:
    versions = manifest.get("versions", {})
    needed = ["scikit-learn", "datasieve", "skops", "pandas", "numpy", "pyarrow"]
    needed += sorted({meta["estimator"] for meta in manifest["pairs"].values()})
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
    finally:  # leave the process-wide MLflow URIs as they were
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
        pip_requirements=_requirements(manifest),
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
    manifest_sha = sha256_file(root / MANIFEST)
    with tempfile.TemporaryDirectory() as tmp:
        files_sha = save_pyfunc(root, manifest, Path(tmp) / "model")
        final_tags = {
            **version_tags,
            **{f"{tag.TRAIN_END_PREFIX}{p}": m["train_end"] for p, m in manifest["pairs"].items()},
            tag.MANIFEST: manifest_sha,
            tag.MODEL_FILES: files_sha,
        }
        owner = {tag.OWNER: process_owner(), tag.BUNDLE_PATH: str(root.resolve())}
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"bundle-{name}") as run:
            run_id = run.info.run_id
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
            fault_point("after_version_create")
    version = str(mv.version)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    logger.info(
        "TradAI: registered %s version %s%s", name, version, f" as @{alias}" if alias else ""
    )
    return version


def example_input(bundle_dir: str | Path, pair: str, rows: int = 5) -> pd.DataFrame:
    """A few reference rows of ``pair``'s features (for trying the pyfunc model)."""
    root = Path(bundle_dir)
    meta = read_manifest(root)["pairs"][pair]
    return pd.read_parquet(root / meta["dir"] / "reference_features.parquet").head(rows)
