"""One drift check of a served model: its bundle's reference against the current window.

:func:`current_features` computes the strategy's FreqAI features on the candles of the data
folder (the IO edge); :func:`check_bundle_drift` compares the last ``days`` of them with the
bundle's reference, per feature and pair, plus the drift of the model's outputs, and
returns a :class:`DriftReport` (table + JSON). The overall level is the worst of every
feature's and every pair's prediction level; ``critical`` is the retrain threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.bundle.format import ModelBundle, PairModel
from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.monitoring.reference import (
    comparable_current,
    load_reference,
    model_outputs,
    reference_space,
)
from tradai_strategy.stats.drift import (
    drift_summary,
    last_days,
    pair_drift,
    prediction_drift,
    worst_level,
)


@dataclass
class DriftReport:
    """Result of :func:`check_bundle_drift`."""

    model: str
    version: str | None
    days: float
    warn: float
    critical: float
    window: dict[str, tuple[str, str, int]]  # pair -> (first, last candle, rows)
    features: pd.DataFrame  # pair, feature, ks, psi, level, note
    summary: pd.DataFrame  # index pair (+ ALL): features, warn, critical, max_ks, ...
    predictions: pd.DataFrame  # pair, ks, psi, level
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        return worst_level([*self.features["level"], *self.predictions["level"]])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: model, version, thresholds, window, level, summary, predictions,
        features (one record per pair and feature)."""
        return {
            "model": self.model,
            "version": self.version,
            "days": self.days,
            "thresholds": {"warn": self.warn, "critical": self.critical, "statistic": "ks"},
            "level": self.level,
            "window": {
                p: {"first": a, "last": b, "rows": n} for p, (a, b, n) in self.window.items()
            },
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "predictions": self.predictions.to_dict(orient="records"),
            "features": self.features.to_dict(orient="records"),
            "notes": self.notes,
        }


def current_features(
    config: dict[str, Any],
    pairs: list[str],
    *,
    datadir: Path | None = None,
    timerange: str | None = None,
) -> dict[str, pd.DataFrame]:
    """The strategy's features (``date`` + ``%`` columns) of each pair on the data folder."""
    from tradai_strategy.data.features import build_features, load_candles, load_strategy

    strategy = load_strategy(config)
    candles = load_candles(config, pairs, timerange, datadir)
    return {
        pair: build_features(config, strategy, pair, candles, with_targets=False).frame
        for pair in pairs
    }


def bundle_drift(
    config: dict[str, Any],
    bundle: ModelBundle,
    *,
    model: str,
    version: str | None = None,
    pairs: list[str] | None = None,
    datadir: Path | None = None,
    timerange: str | None = None,
    days: float = 20,
    warn: float = 0.1,
    critical: float = 0.2,
    hint: str = "",
) -> tuple[DriftReport, list[str]]:
    """The drift check of ``bundle`` on the strategy's features of ``config``'s data:
    :func:`current_features` then :func:`check_bundle_drift`.

    ``pairs`` (default: the config's whitelist pairs the bundle has). Returns the report and
    the whitelist pairs skipped because the bundle has no model for them (none when ``pairs``
    is given). ``hint`` ends the error when no pair is left to check.
    """
    whitelist = config.get("exchange", {}).get("pair_whitelist", [])
    chosen = pairs or [p for p in whitelist if p in bundle.models]
    skipped = [] if pairs else [p for p in whitelist if p not in bundle.models]
    if not chosen:
        raise MonitoringError(
            f"no pair to check: the whitelist ({', '.join(whitelist)}) and the bundle "
            f"({', '.join(bundle.pairs)}) share no pair" + (f"; {hint}" if hint else "")
        )
    current = current_features(config, chosen, datadir=datadir, timerange=timerange)
    report = check_bundle_drift(
        bundle, current, model=model, version=version, days=days, warn=warn, critical=critical
    )
    return report, skipped


def output_drift(
    model: PairModel,
    reference: np.ndarray,
    current: np.ndarray,
    *,
    warn: float,
    critical: float,
    bins: int,
) -> dict[str, Any]:
    """Drift of the model's output (``output`` names it): a regressor's prediction, or the
    class probability that drifted most (by KS) of a classifier's."""
    if reference.ndim == 1:
        out = prediction_drift(reference, current, warn=warn, critical=critical, bins=bins)
        return {**out, "output": model.labels[0]}
    classes = list(model.classes or [])
    per_class = [
        prediction_drift(reference[:, i], current[:, i], warn=warn, critical=critical, bins=bins)
        for i in range(len(classes))
    ]
    worst = int(np.argmax([float(d["ks"]) for d in per_class]))
    return {**per_class[worst], "output": f"P({classes[worst]})"}


def check_bundle_drift(
    bundle: ModelBundle,
    current: dict[str, pd.DataFrame],
    *,
    model: str,
    version: str | None = None,
    days: float = 20,
    warn: float = 0.1,
    critical: float = 0.2,
    bins: int = 10,
) -> DriftReport:
    """Drift of each pair's last ``days`` of ``current`` features against the bundle's
    reference sample.

    :raises MonitoringError: missing reference, empty window, timestamps out of order,
        features differing from the model's.
    """
    if not current:
        raise MonitoringError("no pair to check: the whitelist and the bundle share no pair")
    refs, curs, window, preds, notes = {}, {}, {}, [], []
    for pair, frame in current.items():
        try:
            pair_model = bundle.model(pair)
        except Exception as err:
            raise MonitoringError(" ".join(str(err).split())) from None
        space = reference_space(bundle, pair)
        ref = load_reference(bundle, pair)
        recent = last_days(frame, days)
        missing = [f for f in pair_model.features if f not in recent.columns]
        if missing:
            raise MonitoringError(
                f"{pair}: the strategy does not compute {len(missing)} of the model's features "
                f"({', '.join(missing[:3])}): run the strategy the model was trained with"
            )
        cur = comparable_current(pair_model, space, recent)
        refs[pair], curs[pair] = ref.loc[:, pair_model.features], cur
        dates = pd.to_datetime(recent["date"], utc=True)
        window[pair] = (dates.iloc[0].isoformat(), dates.iloc[-1].isoformat(), len(recent))
        if space == "pipeline":
            notes.append(f"{pair}: reference in the model's input space (pipeline not invertible)")
        out = output_drift(
            pair_model,
            model_outputs(pair_model, space, refs[pair]),
            model_outputs(pair_model, space, cur),
            warn=warn,
            critical=critical,
            bins=bins,
        )
        preds.append({"pair": pair, **out})
    table = pair_drift(refs, curs, warn=warn, critical=critical, bins=bins)
    constant = table.loc[table["note"] != "", ["pair", "feature", "note"]]
    notes += [f"{r.pair} {r.feature}: {r.note}" for r in constant.itertuples()]
    return DriftReport(
        model=model,
        version=version,
        days=days,
        warn=warn,
        critical=critical,
        window=window,
        features=table,
        summary=drift_summary(table, warn=warn, critical=critical),
        predictions=pd.DataFrame(preds, columns=["pair", "ks", "psi", "level", "output"]),
        notes=notes,
    )
