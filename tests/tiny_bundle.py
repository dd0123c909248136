"""A real, small model bundle in about a second, without a freqtrade run: LightGBM on the
given (or random) features, FreqAI's datasieve pipelines through skops, TradAI's manifest.
For the registry crash tests and the tampering tests: it loads and predicts like a trained
bundle (:func:`tradai_strategy.bundle.format.load_bundle`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.bundle.format import FORMAT, MANIFEST
from tradai_strategy.bundle.io import dump_pipeline, library_versions, sha256_file

LABEL = "&-s_close"


def _pipeline(frame: pd.DataFrame):
    from datasieve.pipeline import Pipeline
    from datasieve.transforms import SKLearnWrapper
    from sklearn.preprocessing import MinMaxScaler

    pipe = Pipeline([("scaler", SKLearnWrapper(MinMaxScaler(feature_range=(-1, 1))))])
    pipe.fit(frame)
    return pipe


def make_bundle(
    out: Path,
    *,
    features: pd.DataFrame | None = None,
    pairs: tuple[str, ...] = ("BTC/USDT",),
    seed: int = 0,
    train_end: str = "2020-01-01T00:00:00+00:00",
) -> Path:
    """Write a bundle of ``pairs`` to ``out``; each pair's model is trained on ``features``
    (columns: the feature names; default 3 random ``%-f*`` columns) against a noisy linear
    target of them. Returns ``out``."""
    import lightgbm as lgb

    rng = np.random.default_rng(seed)
    if features is None:
        features = pd.DataFrame(rng.normal(size=(300, 3)), columns=["%-f0", "%-f1", "%-f2"])
    x = features.replace([np.inf, -np.inf], np.nan).fillna(0).reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    meta = {}
    for pair in pairs:
        weights = rng.normal(size=x.shape[1])
        z = (x - x.mean()) / x.std().replace(0, 1)
        y = pd.DataFrame({LABEL: z.to_numpy() @ weights + rng.normal(0, 0.1, len(x))})
        fp, lp = _pipeline(x), _pipeline(y)
        xt, _, _ = fp.transform(x)
        yt, _, _ = lp.transform(y)
        booster = lgb.train(
            {"objective": "regression", "num_leaves": 4, "verbose": -1, "seed": seed},
            lgb.Dataset(np.asarray(xt, dtype=float), np.asarray(yt, dtype=float).ravel()),
            num_boost_round=10,
        )
        rel = f"pairs/{pair.replace('/', '_').replace(':', '_')}"
        folder = out / rel
        folder.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(folder / "model.lgb.txt"))
        dump_pipeline(fp, folder / "feature_pipeline.skops")
        dump_pipeline(lp, folder / "label_pipeline.skops")
        x.head(50).to_parquet(folder / "reference_features.parquet", index=False)
        (folder / "reference_summary.json").write_text(json.dumps({"space": "features"}))
        meta[pair] = {
            "estimator": "lightgbm",
            "task": "regression",
            "features": list(x.columns),
            "labels": [LABEL],
            "labels_mean": {LABEL: float(y[LABEL].mean())},
            "labels_std": {LABEL: float(y[LABEL].std())},
            "train_start": "2019-01-01T00:00:00+00:00",
            "train_end": train_end,
            "train_rows": len(x),
            "model_timestamp": 0,
            "source_folder": "tiny",
            "reference_space": "features",
            "dir": rel,
            "model_file": "model.lgb.txt",
        }
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "source": {"model_dir": "tiny", "identifier": "tiny"},
        "strategy": "Tiny",
        "timeframe": "1h",
        "task": "regression",
        "freqai": {},
        "tradai": {},
        "versions": library_versions(),
        "pairs": meta,
        "artifacts": artifact_hashes(out),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def artifact_hashes(root: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every file of a bundle folder but its manifest (what
    an attacker who rewrites the manifest would recompute)."""
    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
