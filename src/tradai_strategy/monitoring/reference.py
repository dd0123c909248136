"""The drift reference stored in a model bundle, and the model outputs it implies.

``tradai train`` writes, per pair, ``reference_features.parquet`` (an evenly spaced sample
of the training features, up to 2000 rows) and ``reference_summary.json`` (their quantiles)
into the bundle (:mod:`tradai_strategy.bundle.source`). The sample is in feature
units (``reference_space: "features"``) unless the feature pipeline could not be inverted
(PCA and the like: ``"pipeline"``, the model's input space); :func:`comparable_current`
brings the current features into the same space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.bundle.format import ModelBundle, PairModel
from tradai_strategy.bundle.io import class_probabilities
from tradai_strategy.core.errors import MonitoringError

REFERENCE_FILE = "reference_features.parquet"


def reference_space(bundle: ModelBundle, pair: str) -> str:
    """``features`` or ``pipeline`` (see the module docstring)."""
    return str(bundle.manifest["pairs"].get(pair, {}).get("reference_space", "features"))


def load_reference(bundle: ModelBundle, pair: str) -> pd.DataFrame:
    """The reference sample of ``pair``'s training features.

    :raises MonitoringError: the pair is not in the bundle or its reference file is missing.
    """
    meta = bundle.manifest["pairs"].get(pair)
    if meta is None:
        raise MonitoringError(
            f"pair {pair} is not in the bundle (it has {', '.join(bundle.manifest['pairs'])}): "
            "check only the bundle's pairs"
        )
    path = Path(bundle.path) / meta["dir"] / REFERENCE_FILE
    if not path.is_file():
        raise MonitoringError(
            f"missing drift reference {path}: the bundle was built without reference "
            "features; retrain and register it with this version of TradAI"
        )
    frame = pd.read_parquet(path)
    if frame.empty:
        raise MonitoringError(f"the drift reference {path} has no rows: retrain the model")
    return frame


def comparable_current(model: PairModel, space: str, current: pd.DataFrame) -> pd.DataFrame:
    """``current``'s model features, in the reference's space."""
    x = current.loc[:, model.features]
    if space != "pipeline":
        return x.reset_index(drop=True)
    clean = x.replace([np.inf, -np.inf], np.nan).fillna(0)
    xt, _, _ = model.feature_pipeline.transform(clean, outlier_check=False)
    return pd.DataFrame(np.asarray(xt, dtype=float), columns=model.features)


def model_outputs(model: PairModel, space: str, features: pd.DataFrame) -> np.ndarray:
    """The estimator's raw output for feature rows in ``space`` (for prediction drift): a
    regressor's first output (rows), a classifier's probability of each of its classes
    (rows x classes, in ``model.classes`` order; a LightGBM model's first column alone
    would be one class's, and CatBoost's or a forest's ``predict`` gives class names).

    Raw output, before the label pipeline's inverse transform: that transform is monotone
    (a scaler), which leaves KS and quantile-binned PSI unchanged.
    """
    x = features.loc[:, model.features].replace([np.inf, -np.inf], np.nan).fillna(0)
    if space != "pipeline":
        x, _, _ = model.feature_pipeline.transform(x, outlier_check=False)
    if model.classes:
        return class_probabilities(model.kind, model.estimator, x, len(model.classes))
    raw = model.estimator.predict(np.asarray(x, dtype=float))
    return np.asarray(raw, dtype=float).reshape(len(features), -1)[:, 0]
