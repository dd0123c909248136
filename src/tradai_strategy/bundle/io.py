"""Safe, verifiable files of a model bundle: native estimators, skops pipelines, sha256.

Nothing in a bundle is a pickle. Estimators are stored in their library's own format
(LightGBM text, CatBoost ``cbm``) or, for a scikit-learn random forest, with ``skops`` and
loaded trusting only :data:`TRUSTED_FOREST_TYPES`; FreqAI's datasieve pipelines go through
``skops`` and are loaded with an explicit list of trusted types
(:data:`TRUSTED_PIPELINE_TYPES`) — a file naming any other type is refused. Every
artifact's sha256 is recorded in the manifest and checked on load.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIDataError

#: The only non-sklearn types a bundle pipeline may contain (FreqAI's datasieve steps).
TRUSTED_PIPELINE_TYPES: tuple[str, ...] = (
    "datasieve.pipeline.Pipeline",
    "datasieve.transforms.dbscan.DBSCAN",
    "datasieve.transforms.dissimilarity_index.DissimilarityIndex",
    "datasieve.transforms.noise.Noise",
    "datasieve.transforms.pca.PCA",
    "datasieve.transforms.sklearn_wrapper.SKLearnWrapper",
    "datasieve.transforms.svm_outlier_extractor.SVMOutlierExtractor",
    "datasieve.transforms.variance_threshold.VarianceThreshold",
)
#: Pipeline attributes datasieve sets to a pandas Index (not skops-serialisable).
_INDEX_ATTRS = ("feature_list", "features_in", "label_list")
MODEL_FILES = {
    "lightgbm": "model.lgb.txt",
    "catboost": "model.cbm",
    "random_forest": "model.skops",
}
#: The types a random-forest file may contain beyond those skops trusts by default.
TRUSTED_FOREST_TYPES: tuple[str, ...] = ("sklearn.tree._tree.Tree",)
#: The estimator a random-forest file must hold.
FOREST_CLASSES = ("RandomForestClassifier", "RandomForestRegressor")
#: The module prefix of each estimator kind.
_KIND_MODULES = {
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "random_forest": "sklearn.ensemble",
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def replace_folder(new: Path, dest: Path) -> None:
    """Put the complete folder ``new`` at ``dest`` (a sibling: same filesystem) by renames
    only: an existing ``dest`` is moved aside first, put back if the second rename fails,
    deleted last. (Killed between the two renames, the old folder is kept as
    ``.<name>.old-<pid>`` beside ``dest``.)"""
    if not dest.exists():
        new.rename(dest)
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    dest.rename(old)
    try:
        new.rename(dest)
    except BaseException:
        old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def verify_artifacts(root: Path, expected: dict[str, str]) -> None:
    """Check every ``relative path -> sha256`` of ``expected`` under ``root``."""
    for rel, sha in expected.items():
        path = root / rel
        if not path.is_file():
            raise TradAIDataError(
                f"bundle {root}: artifact {rel} is missing: the bundle is incomplete; "
                "download or build it again"
            )
        got = sha256_file(path)
        if got != sha:
            raise TradAIDataError(
                f"bundle {root}: artifact {rel} is corrupted (sha256 {got[:12]}... != "
                f"{sha[:12]}... in the manifest); download or build the bundle again"
            )


# ---- pipelines ---------------------------------------------------------------------------
def dump_pipeline(pipeline: Any, path: Path) -> None:
    """Write a fitted datasieve pipeline with skops (pandas Index attributes become lists)."""
    import skops.io as sio

    clean = copy.deepcopy(pipeline)
    for attr in _INDEX_ATTRS:
        value = getattr(clean, attr, None)
        if isinstance(value, pd.Index):
            setattr(clean, attr, [str(v) for v in value])
    data = sio.dumps(clean)
    unknown = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_PIPELINE_TYPES))
    if unknown:
        raise TradAIDataError(
            f"{path.name}: pipeline step type(s) {', '.join(unknown)} cannot go into a bundle "
            "(only FreqAI's datasieve steps and scikit-learn estimators are trusted)"
        )
    path.write_bytes(data)


def load_pipeline(path: Path) -> Any:
    """Load a skops pipeline, trusting only :data:`TRUSTED_PIPELINE_TYPES` (and skops' own)."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.load(path, trusted=list(TRUSTED_PIPELINE_TYPES))
    except UntrustedTypesFoundException as err:
        raise TradAIDataError(
            f"{path}: refused to load untrusted type(s) ({' '.join(str(err).split())})"
        ) from None
    except Exception as err:  # not a skops file (e.g. a pickle): never unpickled
        raise TradAIDataError(
            f"{path}: not a readable skops pipeline ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}): build and register the bundle again"
        ) from None


# ---- estimators --------------------------------------------------------------------------
def estimator_kind(model: Any) -> str:
    module = type(model).__module__
    for kind, prefix in _KIND_MODULES.items():
        if module.startswith(prefix):
            return kind
    raise TradAIDataError(
        f"estimator {type(model).__name__} has no format TradAI can bundle: "
        "use LightGBM, CatBoost or random_forest"
    )


def load_forest(path: Path) -> Any:
    """A skops random forest, trusting only skops' defaults and :data:`TRUSTED_FOREST_TYPES`
    (any other type is refused before anything is built); it must be a random forest."""
    import skops.io as sio

    model = sio.load(path, trusted=list(TRUSTED_FOREST_TYPES))
    if type(model).__name__ not in FOREST_CLASSES:
        raise TypeError(f"holds a {type(model).__name__}, not a random forest")
    return model


def load_estimator(kind: str, path: Path, task: str) -> Any:
    """Load a native model file (LightGBM text, CatBoost ``cbm``: parsed, never unpickled);
    returns an object with ``predict(X)``. An unreadable file is a :class:`TradAIDataError`."""
    if kind not in MODEL_FILES:
        raise TradAIDataError(
            f"{path}: unknown estimator kind {kind!r} (lightgbm, catboost or random_forest)"
        )
    try:
        if kind == "random_forest":
            return load_forest(path)
        if kind == "lightgbm":
            import lightgbm as lgb

            return lgb.Booster(model_file=str(path))
        import catboost as cb

        model = cb.CatBoostRegressor() if task == "regression" else cb.CatBoostClassifier()
        model.load_model(str(path), format="cbm")
        return model
    except Exception as err:
        raise TradAIDataError(
            f"{path}: not a readable {kind} model ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}): build and register the bundle again"
        ) from None


def class_probabilities(kind: str, estimator: Any, x: Any, n_classes: int) -> np.ndarray:
    """``(rows, classes)`` probabilities of a native classifier, columns in the order of the
    trained estimator's ``classes_`` (which the bundle records at build time)."""
    values = x.to_numpy(dtype=float) if isinstance(x, pd.DataFrame) else np.asarray(x, float)
    if kind in ("catboost", "random_forest"):
        proba = np.asarray(estimator.predict_proba(named(estimator, values)), dtype=float)
    else:
        proba = np.asarray(estimator.predict(values), dtype=float)
    if proba.ndim == 1:  # LightGBM binary: P(second class)
        proba = np.column_stack([1.0 - proba, proba])
    if proba.shape[1] != n_classes:
        raise TradAIDataError(
            f"the {kind} model gives {proba.shape[1]} class probabilities, the bundle names "
            f"{n_classes} classes: rebuild the bundle"
        )
    return proba


def named(estimator: Any, values: np.ndarray) -> Any:
    """``values`` as a frame with the feature names a scikit-learn estimator was fitted with
    (it warns on a bare array); unchanged for any other estimator."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or type(estimator).__module__.startswith("catboost"):
        return values
    return pd.DataFrame(values, columns=list(names))


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle's predictions depend on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in (
        "freqtrade",
        "lightgbm",
        "catboost",
        "scikit-learn",  # also the random forest's library
        "datasieve",
        "skops",
        "numpy",
        "pandas",
        "tradai-strategy",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out
