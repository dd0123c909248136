"""Feature importance of a model bundle's native estimators, and its drift between versions.

LightGBM: total gain of the splits on a feature (``Booster.feature_importance("gain")``);
CatBoost: ``get_feature_importance()`` (PredictionValuesChange); random forest (skops file,
loaded trusting only the bundle's types): ``feature_importances_``, the mean decrease in
impurity over the trees (computed on the training rows, biased towards features with many
distinct values; fine for ranking continuous indicators). Each pair's importances are
turned into shares (summing to 1), the pair's name is taken out of the feature name
(``%-rsi-period_10_BTC/USDT_1h`` -> ``%-rsi-period_10_1h``) and shares are averaged over
pairs, so models of different pairs and versions compare on one scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

#: the bundle manifest's file name (as in :mod:`tradai_strategy.bundle.format`, whose package
#: import pulls in freqtrade's FreqAI: too slow for a report)
MANIFEST = "tradai_bundle.json"


def generic_name(feature: str, pair: str) -> str:
    """``feature`` without the pair token FreqAI puts in it."""
    for token in (pair, pair.replace(":", "")):
        if f"_{token}" in feature:
            return feature.replace(f"_{token}", "")
    return feature


def native_importance(kind: str, model_file: Path, n_features: int) -> np.ndarray:
    """Raw importances of one native model file, in the model's feature order."""
    if kind == "lightgbm":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(model_file))
        values = booster.feature_importance(importance_type="gain")
    elif kind == "catboost":
        import catboost as cb

        model = cb.CatBoost()
        model.load_model(str(model_file), format="cbm")
        values = model.get_feature_importance()
    elif kind == "random_forest":
        from tradai_strategy.bundle.io import load_forest

        values = load_forest(model_file).feature_importances_
    else:
        raise ValueError(
            f"{model_file}: unknown estimator kind {kind!r} (lightgbm, catboost or random_forest)"
        )
    out = np.asarray(values, dtype=float)
    if len(out) != n_features:
        raise ValueError(
            f"{model_file}: {len(out)} importances for {n_features} features in the manifest"
        )
    return out


def bundle_importance(bundle_dir: Path) -> pd.DataFrame:
    """Long table: pair, feature, generic (name without the pair), importance, share."""
    root = Path(bundle_dir)
    path = root / MANIFEST
    if not path.is_file():
        raise ValueError(f"{root}: no {MANIFEST}: not a TradAI model bundle")
    manifest = json.loads(path.read_text())
    frames = []
    for pair, meta in manifest["pairs"].items():
        features = list(meta["features"])
        raw = native_importance(
            str(meta["estimator"]), root / meta["dir"] / meta["model_file"], len(features)
        )
        total = raw.sum()
        frames.append(
            pd.DataFrame(
                {
                    "pair": pair,
                    "feature": features,
                    "generic": [generic_name(f, pair) for f in features],
                    "importance": raw,
                    "share": raw / total if total > 0 else np.zeros_like(raw),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def mean_shares(table: pd.DataFrame) -> pd.Series:
    """Importance share per generic feature, averaged over pairs, largest first."""
    if table.empty:
        return pd.Series(dtype=float)
    n_pairs = table["pair"].nunique()
    shares = table.groupby("generic")["share"].sum() / n_pairs
    return shares.sort_values(ascending=False, kind="stable")


def top_bottom(shares: pd.Series, n: int = 15) -> tuple[pd.Series, pd.Series]:
    """The ``n`` most and the ``n`` least important features (disjoint when fewer than 2n)."""
    top = shares.head(n)
    rest = shares.drop(top.index)
    return top, rest.tail(n)


def importance_drift(new: pd.Series, old: pd.Series) -> tuple[pd.DataFrame, float]:
    """Per feature: old share, new share and their difference (largest moves first), and
    the Spearman rank correlation of the two importance vectors over their common features."""
    both = pd.concat({"old": old, "new": new}, axis=1).fillna(0.0)
    both["delta"] = both["new"] - both["old"]
    both = both.reindex(both["delta"].abs().sort_values(ascending=False, kind="stable").index)
    rho = float("nan")
    if len(both) >= 3 and both["old"].nunique() > 1 and both["new"].nunique() > 1:
        rho = float(stats.spearmanr(both["old"], both["new"]).statistic)
    return both, rho
