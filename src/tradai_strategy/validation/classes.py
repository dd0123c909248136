"""``tradai validate`` for a multi-class target (the market regimes): accuracy next to the
naive baselines, and the verdict from the accuracy gate.

A target with more than two classes has no numeric score whose IC or Sharpe means
anything (the validation's numeric score of a classifier is ``P(last class) - 0.5``), so
its verdict is :func:`tradai_strategy.stats.classification.accuracy_gate` instead of the
IC/Sharpe checks. Per pair, seed and backtest path (CPCV: every path; walk-forward: the one
path), the out-of-sample class predictions are scored with
:func:`~tradai_strategy.stats.classification.classification_report` (accuracy, balanced
accuracy, Cohen's kappa, log loss from the class probabilities, confusion matrix) next to

* majority: each split's most frequent *training* class on its test rows;
* persistence: the label of the candle ``h`` earlier (the regime known at ``t``), by time;

and gated: OOS accuracy above ``min_accuracy`` *and* persistence beaten by more than the
margin with one-sided ``p < 0.05`` (overlap-aware error). A pair passes when the gate
passes on at least half of its seed x path runs; the verdict passes when every pair does,
and each failing pair's reason names the condition(s) that failed with their numbers.
Tables show means over seeds and paths; the confusion matrix is each pair's first seed's
first path (one complete out-of-sample history per pair) and their sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradai_strategy.models.fitting import FitResult
from tradai_strategy.stats import classification as cls
from tradai_strategy.stats.overfitting import Verdict
from tradai_strategy.validation.paths import path_predictions
from tradai_strategy.validation.runner import PairData, ValidationSettings

Splits = Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]
SCORES = ("accuracy", "balanced_accuracy", "kappa", "log_loss")


def is_multiclass(pairs: Sequence[PairData]) -> bool:
    """A classification target with more than two classes (over all pairs)."""
    classes = {str(c) for p in pairs if p.task == "classification" for c in p.y}
    return len(classes) > 2


def class_list(pairs: Sequence[PairData]) -> tuple[str, ...]:
    return tuple(sorted({str(c) for p in pairs for c in p.y}))


def _proba(fit: FitResult, classes: Sequence[str]) -> npt.NDArray[np.float64]:
    """The fit's test probabilities in ``classes`` order (0 for a class it never saw)."""
    assert fit.test_proba is not None
    out = np.zeros((len(fit.test_proba), len(classes)))
    for k, name in enumerate(fit.classes):
        out[:, classes.index(name)] = fit.test_proba[:, k]
    return out


def _scores(report: cls.ClassificationReport) -> dict[str, float]:
    return {k: float(getattr(report, k)) for k in SCORES}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean of the finite values (NaN when there is none: a baseline's log loss)."""
    out = {}
    for key in rows[0]:
        vals = np.asarray([r[key] for r in rows], dtype=float)
        vals = vals[np.isfinite(vals)]
        out[key] = float(vals.mean()) if len(vals) else float("nan")
    return out


def score_pair(
    pd_: PairData,
    cv: Any,
    splits: Splits,
    fits: dict[tuple[int, int], FitResult],
    seeds: Sequence[int],
    classes: tuple[str, ...],
    horizon: int,
    settings: ValidationSettings,
) -> dict[str, Any]:
    """One pair's model/majority/persistence scores and gate runs (module docstring)."""
    n = len(pd_.dates)
    dates = pd.DatetimeIndex(pd_.dates)
    labels = pd.Series(pd_.y.astype(str), index=dates, dtype=object)
    persistence = cls.persistence_baseline(labels, horizon)
    majority = {
        j: np.full(len(test), cls.majority_baseline(labels.iloc[train], dates[:1]).iloc[0])
        for j, (train, test) in enumerate(splits)
    }
    majority_paths = path_predictions(cv, n, splits, majority, dtype=object)
    unseen = []  # a class a split's model never saw gets probability 0 on its test rows
    for j, (train, test) in enumerate(splits):
        counts = cls.window_classes(labels.iloc[train], labels.iloc[test])
        unseen += [
            f"{pd_.pair} split {j} (test {dates[test[0]]:%Y-%m-%d} .. {dates[test[-1]]:%Y-%m-%d}):"
            f" class {name!r} has 0 training rows but {k} test rows (its probability there is 0)"
            for name, k in counts.unseen().items()
        ]
    model: list[dict[str, float]] = []
    base: dict[str, list[dict[str, float]]] = {"majority": [], "persistence": []}
    gates: list[cls.GateVerdict] = []
    confusion = None
    for s in seeds:
        per_split = [fits[(j, s)] for j in range(len(splits))]
        guesses = path_predictions(
            cv,
            n,
            splits,
            {j: f.test_class for j, f in enumerate(per_split)},  # type: ignore[misc]
            dtype=object,
        )
        proba = [_proba(f, classes) for f in per_split]
        columns = [
            path_predictions(cv, n, splits, {j: p[:, k] for j, p in enumerate(proba)})
            for k in range(len(classes))
        ]
        for q, guess in enumerate(guesses):
            rows = np.flatnonzero(pd.notna(guess))
            idx = dates[rows]
            pred = pd.Series(guess[rows].astype(str), index=idx, dtype=object)
            prob = pd.DataFrame({c: columns[k][q][rows] for k, c in enumerate(classes)}, idx)
            truth = labels.reindex(idx)
            report = cls.classification_report(truth, pred, prob, classes)
            model.append(_scores(report))
            if confusion is None:
                confusion = report.confusion
            if s == seeds[0]:
                maj = pd.Series(majority_paths[q][rows], index=idx, dtype=object)
                base["majority"].append(_scores(cls.classification_report(truth, maj)))
                pers = persistence.reindex(idx)
                pers_report = cls.classification_report(truth, pers, classes=classes)
                base["persistence"].append(_scores(pers_report))
            gates.append(
                cls.accuracy_gate(
                    labels,
                    pred,
                    horizon,
                    min_accuracy=settings.min_accuracy,
                    margin=settings.accuracy_margin,
                )
            )
    passed = sum(g.passed for g in gates)
    return {
        "model": _mean(model),
        "majority": _mean(base["majority"]),
        "persistence": _mean(base["persistence"]),
        "vs_persistence": {
            "delta": float(np.mean([g.persistence.delta for g in gates])),
            "se": float(np.mean([g.persistence.se for g in gates])),
            "p_value": float(np.median([g.persistence.p_value for g in gates])),
        },
        "gate_runs": len(gates),
        "gate_passed": passed,
        "passed": 2 * passed >= len(gates),
        "gate": next((g for g in gates if not g.passed), gates[0]).text(),
        "failures": "; ".join(next((g.failures for g in gates if not g.passed), ())),
        "confusion": confusion,
        "unseen": unseen,
    }


def score_classes(
    pairs: Sequence[PairData],
    cvs: Sequence[Any],
    splits: Sequence[Splits],
    fits: Sequence[FitResult],
    settings: ValidationSettings,
    horizon: int,
) -> tuple[dict[str, Any], Verdict]:
    """The classification section of the report and the verdict of the accuracy gate."""
    classes = class_list(pairs)
    seeds = sorted({f.task.seed for f in fits})
    per_pair: dict[str, dict[str, Any]] = {}
    for p, pd_ in enumerate(pairs):
        mine = {(f.task.split, f.task.seed): f for f in fits if f.task.pair == p}
        per_pair[pd_.pair] = score_pair(
            pd_, cvs[p], splits[p], mine, seeds, classes, horizon, settings
        )
    confusion = sum(r["confusion"].to_numpy() for r in per_pair.values())
    for r in per_pair.values():  # each pair's own matrix, for the report's per-pair view
        r["confusion"] = r["confusion"].to_numpy().tolist()
    overall = {
        k: _mean([r[k] for r in per_pair.values()]) for k in ("model", "majority", "persistence")
    }
    reasons = [
        f"{pair}: accuracy gate refused on {r['gate_runs'] - r['gate_passed']} of "
        f"{r['gate_runs']} seed x path run(s): {r['failures']}"
        for pair, r in per_pair.items()
        if not r["passed"]
    ]
    metrics = {
        **overall["model"],
        "majority_accuracy": overall["majority"]["accuracy"],
        "persistence_accuracy": overall["persistence"]["accuracy"],
        "delta_vs_persistence": float(
            np.mean([r["vs_persistence"]["delta"] for r in per_pair.values()])
        ),
        "p_vs_persistence_max": float(
            max(r["vs_persistence"]["p_value"] for r in per_pair.values())
        ),
        "min_accuracy": settings.min_accuracy,
        "accuracy_margin": settings.accuracy_margin,
    }
    section = {
        "classes": list(classes),
        "min_accuracy": settings.min_accuracy,
        "margin": settings.accuracy_margin,
        "alpha": cls.ALPHA,
        "pairs": per_pair,
        "overall": overall,
        "confusion": np.asarray(confusion).tolist(),
    }
    warning = (
        "multi-class target: the verdict is the accuracy gate; the IC and Sharpe figures of "
        f"the JSON report and the MLflow run score P({classes[-1]}) - 0.5 and are not used"
    )
    unseen = [line for r in per_pair.values() for line in r["unseen"]]
    return section, Verdict(not reasons, reasons, metrics, [warning, *unseen])
