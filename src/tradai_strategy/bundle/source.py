"""Read one pair's model out of a FreqAI training run and write its bundle artifacts.

FreqAI saves each window's model in ``<model_dir>/sub-train-<BASE>_<timestamp>/`` as
``cb_<base>_<timestamp>_*``: metadata JSON, pickled pipelines, training features and dates,
and — written by TradAI's ``TrainingPredictionModel`` — the estimator in its native format.
The pickles read here are this machine's own training output; the bundle gets none of them.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.bundle.io import (
    MODEL_FILES,
    class_probabilities,
    dump_pipeline,
    load_estimator,
)
from tradai_strategy.core.errors import TradAIDataError

_FOLDER_RE = re.compile(r"^sub-train-(?P<coin>.+)_(?P<ts>\d+)$")
_NATIVE_SUFFIX = {
    "lightgbm": "_model.lgb.txt",
    "catboost": "_model.cbm",
    "random_forest": "_model.skops",
}
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass
class PairParts:
    """What FreqAI and TradAI saved for one pair's latest window."""

    pair: str
    folder: Path
    timestamp: int
    metadata: dict[str, Any]
    estimator: str
    model_path: Path
    feature_pipeline: Any
    label_pipeline: Any
    train_features: pd.DataFrame
    train_dates: pd.Series
    #: FreqAI's pickled estimator of the window (``_model.joblib``), None when not saved
    pickled: Any = None

    @property
    def classes(self) -> list[str] | None:
        """A classifier's class labels in its probability-column order; None: regression."""
        from sklearn.base import is_classifier

        if self.pickled is None or not is_classifier(self.pickled):
            return None
        return [str(c) for c in self.pickled.classes_]


def _unpickle(path: Path) -> Any:
    """Load a pickle FreqAI wrote during the local training run (never a registry file)."""
    import cloudpickle

    with path.open("rb") as fh:
        return cloudpickle.load(fh)


def _latest_folder(model_dir: Path, pair: str) -> tuple[Path, int]:
    coin = pair.split("/")[0]
    found = []
    for folder in model_dir.glob(f"sub-train-{coin}_*"):
        match = _FOLDER_RE.match(folder.name)
        if match and match["coin"] == coin and folder.is_dir():
            found.append((int(match["ts"]), folder))
    if not found:
        raise TradAIDataError(
            f"{model_dir}: no trained window for {pair} (no sub-train-{coin}_* folder): "
            f"was {pair} in the training run's whitelist?"
        )
    ts, folder = max(found)
    return folder, ts


def collect_pair_parts(model_dir: Path, pair: str) -> PairParts:
    """The latest window's model of ``pair`` in a FreqAI model folder."""
    folder, ts = _latest_folder(model_dir, pair)
    stem = folder / f"cb_{pair.split('/')[0].lower()}_{ts}"
    meta_path = Path(f"{stem}_metadata.json")
    if not meta_path.is_file():
        raise TradAIDataError(f"{folder}: no {meta_path.name}: the window did not finish training")
    natives = [(k, Path(f"{stem}{s}")) for k, s in _NATIVE_SUFFIX.items()]
    native = next(((k, p) for k, p in natives if p.is_file()), None)
    pipeline = Path(f"{stem}_feature_pipeline.pkl")
    if native is None or not pipeline.is_file():
        raise TradAIDataError(
            f"{folder}: no native model or no saved pipelines: train with --freqaimodel "
            "TrainingPredictionModel (or TrainingClassifierModel) and "
            "freqai.save_backtest_models: true"
        )
    metadata = json.loads(meta_path.read_text())
    joblib_path = Path(f"{stem}_model.joblib")
    pickled = _unpickle(joblib_path) if joblib_path.is_file() else None
    if pickled is None and set(metadata.get("labels_mean") or {}) - set(metadata["label_list"]):
        # FreqAI keys a classifier's labels_mean by class: without the estimator file the
        # class order of the native model's probabilities is unknown
        raise TradAIDataError(
            f"{folder}: a classifier window without {joblib_path.name}: its class order is "
            "unknown; train again with freqai.save_backtest_models: true"
        )
    features = list(metadata["training_features_list"])
    if not any(pair.replace(":", "") in f for f in features):
        raise TradAIDataError(
            f"{folder}: its features do not name {pair} (e.g. {features[0]}): another pair "
            f"with base currency {pair.split('/')[0]} was trained under this identifier"
        )
    return PairParts(
        pair=pair,
        folder=folder,
        timestamp=ts,
        metadata=metadata,
        estimator=native[0],
        model_path=native[1],
        feature_pipeline=_unpickle(pipeline),
        label_pipeline=_unpickle(Path(f"{stem}_label_pipeline.pkl")),
        train_features=pd.read_pickle(f"{stem}_trained_df.pkl"),
        train_dates=pd.read_pickle(f"{stem}_trained_dates_df.pkl"),
        pickled=pickled,
    )


def _check_native_matches_pickle(parts: PairParts, x: pd.DataFrame) -> None:
    """The native file must predict what FreqAI's pickled estimator predicts (1e-9):
    values for a regressor, class probabilities for a classifier."""
    if parts.pickled is None:
        return
    classes = parts.classes
    task = "classification" if classes else "regression"
    native = load_estimator(parts.estimator, parts.model_path, task)
    if classes:
        a = class_probabilities(parts.estimator, native, x, len(classes)).ravel()
        b = np.asarray(parts.pickled.predict_proba(x), dtype=float).ravel()
    else:
        a = np.asarray(native.predict(x.to_numpy(dtype=float)), dtype=float).ravel()
        b = np.asarray(parts.pickled.predict(x), dtype=float).ravel()
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12):
        diff = f"max diff {np.max(np.abs(a - b)):.3g}" if a.shape == b.shape else "shapes differ"
        raise TradAIDataError(
            f"{parts.model_path}: the native model predicts differently from FreqAI's pickled "
            f"estimator ({diff}): retrain the window"
        )


def _reference(parts: PairParts, rows: int) -> tuple[pd.DataFrame, str]:
    """An evenly spaced sample of the training features, in feature units when possible."""
    x = parts.train_features
    space = "pipeline"
    try:
        raw, _, _ = parts.feature_pipeline.inverse_transform(x)
        x, space = pd.DataFrame(np.asarray(raw), columns=x.columns), "features"
    except Exception:  # PCA & co. are not invertible column by column: keep model space
        pass
    if len(x) > rows:
        x = x.iloc[np.linspace(0, len(x) - 1, rows).round().astype(int)]
    return x.reset_index(drop=True), space


def _summary(x: pd.DataFrame, space: str) -> dict[str, Any]:
    q = x.quantile(list(QUANTILES))
    return {
        "space": space,
        "rows": len(x),
        "features": {
            col: {
                "mean": float(x[col].mean()),
                "std": float(x[col].std()),
                "min": float(x[col].min()),
                "max": float(x[col].max()),
                "quantiles": {str(p): float(q.loc[p, col]) for p in QUANTILES},
            }
            for col in x.columns
        },
    }


def write_pair_parts(parts: PairParts, folder: Path, reference_rows: int) -> dict[str, Any]:
    """Write one pair's bundle artifacts; return its manifest entry (without sha256s)."""
    folder.mkdir(parents=True, exist_ok=True)
    _check_native_matches_pickle(parts, parts.train_features.head(200))
    shutil.copyfile(parts.model_path, folder / MODEL_FILES[parts.estimator])
    dump_pipeline(parts.feature_pipeline, folder / "feature_pipeline.skops")
    dump_pipeline(parts.label_pipeline, folder / "label_pipeline.skops")
    ref, space = _reference(parts, reference_rows)
    ref.to_parquet(folder / "reference_features.parquet", index=False)
    (folder / "reference_summary.json").write_text(json.dumps(_summary(ref, space), indent=1))
    dates = pd.to_datetime(parts.train_dates, utc=True)
    meta = parts.metadata
    classes = parts.classes
    return {
        "estimator": parts.estimator,
        "task": "classification" if classes else "regression",
        **({"classes": classes} if classes else {}),
        "features": list(meta["training_features_list"]),
        "labels": list(meta["label_list"]),
        "labels_mean": dict(meta.get("labels_mean") or {}),
        "labels_std": dict(meta.get("labels_std") or {}),
        "train_start": dates.min().isoformat(),
        "train_end": dates.max().isoformat(),
        "train_rows": len(parts.train_features),
        "model_timestamp": parts.timestamp,
        "source_folder": parts.folder.name,
        "reference_space": space,
    }
