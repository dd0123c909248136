"""Log a model bundle to MLflow as a pyfunc model (with a signature) and register it.

The bundle folder goes in unchanged as the pyfunc's ``bundle`` artifact; the model code is
TradAI's :class:`~tradai_strategy.bundle.pyfunc.BundlePyfuncModel` ("model from
code", so nothing is pickled). The manifest's sha256 is recorded on the model version as
the tag ``tradai.manifest_sha256``: the serving side checks the downloaded manifest against
it, and the manifest checks every other file.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.bundle.format import MANIFEST, read_manifest
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.core import tags as tag
from tradai_strategy.registry import store

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


def register_bundle(
    bundle_dir: str | Path,
    name: str,
    *,
    alias: str | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tags: dict[str, str] | None = None,
) -> str:
    """Log ``bundle_dir`` as a pyfunc model, register it as ``name`` and return the version.

    :param alias: also point this alias (e.g. ``"production"``) at the new version.
    :param tracking_uri: default: :func:`tradai_strategy.registry.store.tracking_uri`.
    """
    import mlflow

    root = Path(bundle_dir)
    manifest = read_manifest(root)
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    try:
        return _register(root, manifest, name, alias, tracking_uri, experiment, tags)
    finally:  # leave the process-wide MLflow URIs as they were
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def _register(
    root: Path,
    manifest: dict[str, Any],
    name: str,
    alias: str | None,
    tracking_uri: str | None,
    experiment: str,
    tags: dict[str, str] | None,
) -> str:
    import mlflow
    from mlflow import MlflowClient

    uri = store.configure(tracking_uri)
    experiment_id = store.get_or_create_experiment(experiment, uri)
    manifest_sha = sha256_file(root / MANIFEST)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "tradai_bundle_model.py"
        from tradai_strategy.bundle.pyfunc import MODEL_CODE

        code.write_text(MODEL_CODE)
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"bundle-{name}"):
            mlflow.log_params(
                {
                    "strategy": manifest.get("strategy"),
                    "timeframe": manifest.get("timeframe"),
                    "pairs": ",".join(manifest["pairs"]),
                    "identifier": (manifest.get("source") or {}).get("identifier"),
                }
            )
            mlflow.set_tags({tag.MANIFEST: manifest_sha, **(tags or {})})
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                artifacts={"bundle": str(root)},
                signature=bundle_signature(manifest),
                input_example=example_input(root, next(iter(manifest["pairs"]))),
                pip_requirements=_requirements(manifest),
                registered_model_name=name,
            )
    version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_model_version_tag(name, version, tag.MANIFEST, manifest_sha)
    for pair, meta in manifest["pairs"].items():
        client.set_model_version_tag(
            name, version, f"{tag.TRAIN_END_PREFIX}{pair}", meta["train_end"]
        )
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
