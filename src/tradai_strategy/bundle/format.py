"""The model bundle: everything needed to predict outside the training process.

A bundle is a folder::

    tradai_bundle.json                 manifest: pairs, features, labels, labels_mean/std,
                                       training range, FreqAI config subset, library
                                       versions, sha256 of every other file
    pairs/<BASE>_<QUOTE>/model.lgb.txt (or model.cbm)   the estimator, native format
    pairs/<BASE>_<QUOTE>/feature_pipeline.skops         FreqAI's fitted feature pipeline
    pairs/<BASE>_<QUOTE>/label_pipeline.skops           FreqAI's fitted label pipeline
    pairs/<BASE>_<QUOTE>/reference_features.parquet     sample of the training features
    pairs/<BASE>_<QUOTE>/reference_summary.json         their quantiles (for drift checks)

FreqAI trains one model per pair (feature names carry the pair), so a bundle holds one model
per pair. :func:`bundle_from_model_dir` builds a bundle from a TradAI training backtest run
with ``save_backtest_models: true``: for each pair it takes the latest window's model —
the one trained on the most recent data. :func:`load_bundle` verifies every sha256 before
anything is deserialised.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.bundle.io import (
    MODEL_FILES,
    class_probabilities,
    library_versions,
    load_estimator,
    load_pipeline,
    named,
    replace_folder,
    sha256_file,
    verify_artifacts,
)
from tradai_strategy.bundle.source import collect_pair_parts, write_pair_parts
from tradai_strategy.core.errors import DiskFullError, TradAIDataError, disk_full
from tradai_strategy.core.redact import redact_obj

logger = logging.getLogger(__name__)

MANIFEST = "tradai_bundle.json"
FORMAT = "tradai-bundle/1"
#: FreqAI config keys kept in the manifest (what the features and windows depend on).
FREQAI_KEYS = (
    "identifier",
    "train_period_days",
    "backtest_period_days",
    "feature_parameters",
    "data_split_parameters",
    "model_training_parameters",
)


@dataclass
class PairModel:
    """One pair's estimator with FreqAI's pipelines: ``predict`` as FreqAI's regressor does."""

    pair: str
    features: list[str]
    labels: list[str]
    labels_mean: dict[str, float]
    labels_std: dict[str, float]
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    estimator: Any
    feature_pipeline: Any
    label_pipeline: Any
    #: a classifier's class labels (probability-column order); None for a regressor
    classes: list[str] | None = None
    #: the estimator's library (``lightgbm``/``catboost``): how its probabilities are read
    kind: str = "lightgbm"

    @property
    def outputs(self) -> list[str]:
        """Columns beside the labels that carry ``_mean``/``_std`` in FreqAI's output: the
        labels of a regressor, the class-probability columns of a classifier."""
        return list(self.classes) if self.classes else list(self.labels)

    @property
    def score_column(self) -> str | None:
        """The numeric column to rank candles by (IC monitoring): a regressor's first label,
        a classifier's ``up`` probability (TradAI's ``updown`` target); None otherwise (a
        regime model: no one number ranks five regimes; the prediction log keeps its class
        and probabilities and judges it by accuracy, see monitoring.class_accuracy)."""
        if not self.classes:
            return self.labels[0]
        return "up" if "up" in self.classes else None

    def check_features(self, columns: list[str]) -> None:
        """Raise when the strategy's ``%`` features differ from the training features."""
        have = [c for c in columns if str(c).startswith("%") and not str(c).startswith("%%")]
        have_set, want_set = set(have), set(self.features)
        missing = [f for f in self.features if f not in have_set]
        extra = [f for f in have if f not in want_set]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)}: {', '.join(missing[:5])}")
            if extra:
                parts.append(f"extra {len(extra)}: {', '.join(extra[:5])}")
            raise TradAIDataError(
                f"{self.pair}: the strategy's features differ from the bundle's "
                f"({'; '.join(parts)}): run the strategy the model was trained with, or "
                "train and register a new bundle"
            )

    def predict(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Predictions for every row of ``frame`` (which holds the feature columns).

        Same steps as FreqAI's ``BaseRegressionModel.predict``: NaN/inf features become 0,
        the feature pipeline transforms them (outlier flags), the estimator predicts and the
        label pipeline maps back to label units. A classifier, as FreqAI's
        ``BaseClassifierModel``, gives the most probable class in the label column and one
        probability column per class (no label pipeline). Unlike FreqAI, a row with a NaN
        feature also gets ``do_predict = 0``. Returns ``(predictions, do_predict, DI_values)``.
        """
        x = frame.loc[:, self.features].replace([np.inf, -np.inf], np.nan)
        nan_rows = x.isna().any(axis=1).to_numpy()
        x = x.fillna(0)
        xt, outliers, _ = self.feature_pipeline.transform(x, outlier_check=True)
        if self.classes:
            proba = class_probabilities(self.kind, self.estimator, xt, len(self.classes))
            best = np.asarray(self.classes, dtype=object)[np.argmax(proba, axis=1)]
            pred = pd.DataFrame({self.labels[0]: best})
            pred[self.classes] = proba
        else:
            raw = self.estimator.predict(named(self.estimator, np.asarray(xt, dtype=float)))
            raw = np.reshape(np.asarray(raw, dtype=float), (-1, len(self.labels)))
            frame = pd.DataFrame(raw, columns=self.labels)
            pred, _, _ = self.label_pipeline.inverse_transform(frame)
            pred = pd.DataFrame(np.asarray(pred, dtype=float), columns=self.labels)
        do_predict = np.where(nan_rows, 0, np.asarray(outliers)).astype(np.int64)
        di_step = dict(self.feature_pipeline.steps).get("di")
        di = np.asarray(di_step.di_values) if di_step is not None else np.zeros(len(x))
        return pred, do_predict, di


@dataclass
class ModelBundle:
    """A loaded, verified bundle."""

    path: Path
    manifest: dict[str, Any]
    models: dict[str, PairModel]

    @property
    def pairs(self) -> list[str]:
        return list(self.models)

    def model(self, pair: str) -> PairModel:
        found = self.models.get(pair)
        if found is None:
            raise TradAIDataError(
                f"pair {pair} is not in the model bundle (it has {', '.join(self.pairs)}): "
                f"remove it from the whitelist or register a bundle trained on {pair}"
            )
        return found


def _safe_name(pair: str) -> str:
    return pair.replace("/", "_").replace(":", "_")


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise TradAIDataError(f"{root}: no {MANIFEST}: not a TradAI model bundle")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except ValueError as err:
        raise TradAIDataError(f"{path} is corrupted (not JSON: {err})") from None
    if manifest.get("format") != FORMAT:
        raise TradAIDataError(
            f"{path}: bundle format {manifest.get('format')!r} is not {FORMAT!r}: rebuild it "
            "with this version of TradAI"
        )
    return manifest


def load_bundle(path: str | Path, pairs: list[str] | None = None) -> ModelBundle:
    """Load a bundle folder after checking every artifact's sha256.

    :param pairs: load only these pairs (default: all). A pair the bundle lacks is an error.
    """
    root = Path(path)
    manifest = read_manifest(root)
    verify_artifacts(root, manifest["artifacts"])
    wanted = list(pairs) if pairs is not None else list(manifest["pairs"])
    models = {}
    for pair in wanted:
        meta = manifest["pairs"].get(pair)
        if meta is None:
            raise TradAIDataError(
                f"pair {pair} is not in the model bundle (it has "
                f"{', '.join(manifest['pairs'])}): remove it from the whitelist or register "
                f"a bundle trained on {pair}"
            )
        folder = root / meta["dir"]
        models[pair] = PairModel(
            pair=pair,
            features=list(meta["features"]),
            labels=list(meta["labels"]),
            labels_mean={k: float(v) for k, v in meta["labels_mean"].items()},
            labels_std={k: float(v) for k, v in meta["labels_std"].items()},
            train_start=pd.Timestamp(meta["train_start"]),
            train_end=pd.Timestamp(meta["train_end"]),
            estimator=load_estimator(
                meta["estimator"], folder / meta["model_file"], meta.get("task", "regression")
            ),
            feature_pipeline=load_pipeline(folder / "feature_pipeline.skops"),
            label_pipeline=load_pipeline(folder / "label_pipeline.skops"),
            classes=meta.get("classes"),
            kind=meta["estimator"],
        )
    return ModelBundle(path=root, manifest=manifest, models=models)


def bundle_from_model_dir(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    pairs: list[str] | None = None,
    strategy: str | None = None,
    reference_rows: int = 2000,
) -> Path:
    """Build a bundle from a TradAI training run (``<userdir>/models/<identifier>``).

    The run must have been made with ``TrainingPredictionModel`` or
    ``TrainingClassifierModel`` (they write the estimator in its native format) and
    ``freqai.save_backtest_models: true``. For each pair the
    latest window's model is taken. FreqAI's own pickles of that run are read here — they
    are this machine's training output; the bundle itself contains no pickle.

    :param pairs: default: the run's whitelist (``run_params.json``).
    :param strategy: the strategy name, recorded in the manifest.
    :return: ``out_dir``. The bundle is written into a sibling ``.<name>.partial-*`` folder
        and renamed into place when complete (:func:`~tradai_strategy.bundle.io.replace_folder`):
        a bundle already at ``out_dir`` is replaced only then, a folder that is not a bundle
        is refused; on any failure the partial folder is deleted, and a full disk is one
        :class:`~tradai_strategy.core.errors.DiskFullError` line.
    """
    src = Path(model_dir)
    params_path = src / "run_params.json"
    if not params_path.is_file():
        raise TradAIDataError(f"{src}: no run_params.json: not a FreqAI model folder")
    params = json.loads(params_path.read_text())
    pair_list = list(pairs or params.get("pairs") or [])
    out = Path(out_dir)
    existed = _replaceable(out)
    tmp: Path | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # built beside ``out`` and renamed into place when complete: never a half bundle
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        _write_bundle(src, params, pair_list, strategy, reference_rows, tmp)
        replace_folder(tmp, out)
    except Exception as err:
        if disk_full(err) is None:
            raise
        kept = f"{out} is unchanged" if existed else f"nothing was written to {out}"
        raise DiskFullError.of(err, f"writing the bundle {out}", out.parent, kept) from err
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("TradAI: bundle with %s written to %s", ", ".join(pair_list), out)
    return out


def _replaceable(out: Path) -> bool:
    """Whether ``out`` exists; refuse one that holds something other than a bundle (only a
    bundle folder is ever replaced)."""
    if not out.exists():
        return False
    if out.is_dir() and ((out / MANIFEST).is_file() or not any(out.iterdir())):
        return True
    raise TradAIDataError(
        f"--out {out} exists and is not a bundle folder (no {MANIFEST}): choose a new "
        "folder; only a bundle folder is replaced"
    )


def _write_bundle(
    src: Path,
    params: dict[str, Any],
    pair_list: list[str],
    strategy: str | None,
    reference_rows: int,
    tmp: Path,
) -> None:
    """Write the bundle of ``src``'s ``pair_list`` into the empty folder ``tmp``."""
    pair_meta = {}
    for pair in pair_list:
        parts = collect_pair_parts(src, pair)
        rel = f"pairs/{_safe_name(pair)}"
        pair_meta[pair] = write_pair_parts(parts, tmp / rel, reference_rows)
        pair_meta[pair]["dir"] = rel
        pair_meta[pair]["model_file"] = MODEL_FILES[pair_meta[pair]["estimator"]]
    freqai = params.get("freqai") or {}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "source": {"model_dir": str(src.resolve()), "identifier": freqai.get("identifier")},
        "strategy": strategy,
        "timeframe": params.get("timeframe"),
        "task": (
            "classification" if any(m.get("classes") for m in pair_meta.values()) else "regression"
        ),
        "freqai": {k: freqai[k] for k in FREQAI_KEYS if k in freqai},
        "tradai": redact_obj(dict(freqai.get("tradai") or {})),  # no tracking_uri password
        "versions": library_versions(),
        "pairs": pair_meta,
        "artifacts": {
            p.relative_to(tmp).as_posix(): sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file()
        },
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
