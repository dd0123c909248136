"""Score the out-of-sample predictions of ``tradai validate`` and reach the verdict.

Honest counting (see GUIDE section 4 and :mod:`tradai_strategy.stats.ic`): every metric
that counts rows is computed on *non-overlapping* rows only — the rows on a time grid of
one label horizon (``bar_number % h == 0``), the same grid for every pair, so the pairs'
returns line up in time. Headline IC: per seed, each pair's mean RankIC over the backtest
paths (CPCV) or its one walk-forward path, averaged over pairs weighted by rows; then the
mean over seeds. Its standard error is ``1/sqrt(n)`` with ``n`` the non-overlapping rows of
one path summed over pairs (pairs move together, so read it as a lower bound).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.exchange import timeframe_to_minutes

from tradai_strategy.stats import metrics as m
from tradai_strategy.stats.overfitting import (
    Evidence,
    Verdict,
    assess,
    pbo_cscv,
    sharpe_moments,
)
from tradai_strategy.stats.splitters import (
    CombinatorialPurgedCV,
    PurgedWalkForwardCV,
    cpcv_test_groups,
)
from tradai_strategy.validation.classes import is_multiclass, score_classes
from tradai_strategy.validation.paths import path_predictions
from tradai_strategy.validation.runner import FitResult, PairData, ValidationSettings

Splits = Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]
HOURS_PER_YEAR = 365.25 * 24


@dataclass
class ValidationReport:
    """Everything ``tradai validate`` measured; ``to_dict`` is JSON-ready."""

    settings: dict[str, Any]
    pairs: dict[str, dict[str, Any]]
    splits: list[dict[str, Any]]
    paths: list[dict[str, Any]]
    summary: dict[str, float]
    ic_decay: dict[int, float]
    verdict: Verdict
    timings: dict[str, float] = field(default_factory=dict)
    leakage: dict[str, Any] | None = None
    #: multi-class targets: accuracy next to the baselines (:mod:`.classes`)
    classification: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "settings": self.settings,
                "pairs": self.pairs,
                "summary": self.summary,
                "ic_decay": {str(k): v for k, v in self.ic_decay.items()},
                "verdict": self.verdict.to_dict(),
                "timings": self.timings,
                "leakage": self.leakage,
                "classification": self.classification,
                "splits": self.splits,
                "paths": self.paths,
            }
        )


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _score(pd_: PairData, rows: npt.NDArray[np.int64], pred: Any, cost: float) -> dict[str, float]:
    return m.score_predictions(pred, pd_.realised[rows], pd_.forward_return[rows], cost)


def _mean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


@dataclass
class _Scores:
    """What the per-pair passes collect for the tables and the verdict."""

    seeds: list[int]
    by_key: dict[tuple[int, int, int], FitResult]
    cost: float
    horizons: list[int]
    split_rows: list[dict[str, Any]] = field(default_factory=list)
    paths: dict[tuple[int, int], list[dict[str, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # (seed, path) -> one score dict per pair
    portfolio: dict[tuple[int, int], list[pd.Series]] = field(
        default_factory=lambda: defaultdict(list)
    )
    seed_pair_ic: dict[int, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # seed -> (pair's mean path RankIC, its non-overlapping rows)
    demeaned_ic: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    train_sharpe: list[float] = field(default_factory=list)
    val_sharpe: list[float] = field(default_factory=list)
    ks: list[float] = field(default_factory=list)
    decay: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))


def _score_splits(sc: _Scores, p: int, pd_: PairData, cv: Any, splits: Splits, grid: Any) -> None:
    n = len(pd_.dates)
    for j, (train, test) in enumerate(splits):
        # rows that could have trained but were purged or embargoed
        usable = int(test[0]) if isinstance(cv, PurgedWalkForwardCV) else n - len(test)
        row: dict[str, Any] = {
            "pair": pd_.pair,
            "split": j,
            "test": _test_label(cv, j),
            "n_train": len(train),
            "n_test": len(test),
            "n_purged": usable - len(train),
        }
        per_seed = []
        for s in sc.seeds:
            f = sc.by_key[(p, j, s)]
            te, tr = grid[test], grid[train]
            scores = _score(pd_, test[te], f.test_pred[te], sc.cost)
            in_sample = _score(pd_, train[tr], f.train_pred, sc.cost)
            scores.update(train_rank_ic=in_sample["rank_ic"], train_sharpe=in_sample["sharpe"])
            per_seed.append(scores)
            sc.train_sharpe.append(in_sample["sharpe"])
            sc.ks.append(m.ks_statistic(f.train_pred, f.test_pred))
        row.update({k: _mean([d[k] for d in per_seed]) for k in per_seed[0]})
        row["fit_seconds"] = float(sum(sc.by_key[(p, j, s)].fit_seconds for s in sc.seeds))
        sc.split_rows.append(row)


def _score_paths(sc: _Scores, p: int, pd_: PairData, cv: Any, splits: Splits, grid: Any) -> None:
    n = len(pd_.dates)
    for s in sc.seeds:
        fits = [sc.by_key[(p, j, s)] for j in range(len(splits))]
        paths = path_predictions(cv, n, splits, {j: f.test_pred for j, f in enumerate(fits)})
        classes = None
        if pd_.task == "classification":
            labels = {j: f.test_class for j, f in enumerate(fits)}
            classes = path_predictions(cv, n, splits, labels, dtype=object)  # type: ignore[arg-type]
        ics = []
        for q, pred in enumerate(paths):
            rows = np.flatnonzero(grid & np.isfinite(pred))
            scores = _score(pd_, rows, pred[rows], sc.cost)
            if classes is not None:
                truth, guess = pd_.y[rows].astype(str), classes[q][rows].astype(str)
                scores["accuracy"] = m.accuracy(truth, guess)
            sc.paths[(s, q)].append(scores)
            ics.append(scores["rank_ic"])
            sc.val_sharpe.append(scores["sharpe"])
            net = m.sign_strategy_returns(pred[rows], pd_.forward_return[rows], sc.cost).net
            when = pd.DatetimeIndex(pd_.dates.iloc[rows])
            sc.portfolio[(s, q)].append(pd.Series(net, index=when))
            for h, r in m.ic_decay(pred, pd_.close, sc.horizons).items():
                sc.decay[h].append(r.ic)
        n_rows = float(np.count_nonzero(grid & np.isfinite(paths[0])))
        sc.seed_pair_ic[s].append((_mean(ics), n_rows))
        # each split's predictions minus their mean: removes the per-model level offset whose
        # correlation with earlier returns biases pooled ICs (README, "Window-demeaned IC")
        centred = {j: f.test_pred - np.nanmean(f.test_pred) for j, f in enumerate(fits)}
        for pred in path_predictions(cv, n, splits, centred):
            rows = np.flatnonzero(grid & np.isfinite(pred))
            sc.demeaned_ic[s].append(m.rank_ic(pred[rows], pd_.realised[rows]))


def _path_rows(sc: _Scores, n_pairs: int, ppy: float) -> list[dict[str, Any]]:
    rows = []
    for q in range(len({q for (_, q) in sc.paths})):
        entries = [d for s in sc.seeds for d in sc.paths[(s, q)]]
        row = {"path": q, **{k: _mean([d[k] for d in entries]) for k in entries[0]}}
        row["n"] = _mean([d["n"] for d in sc.paths[(sc.seeds[0], q)]]) * n_pairs
        row["portfolio_sharpe"] = _mean(
            [m.sharpe_ratio(_portfolio(sc.portfolio[(s, q)])) for s in sc.seeds]
        )
        row["portfolio_sharpe_annual"] = row["portfolio_sharpe"] * math.sqrt(ppy)
        rows.append(row)
    return rows


def build_report(
    pairs: Sequence[PairData],
    cvs: Sequence[PurgedWalkForwardCV | CombinatorialPurgedCV],
    splits: Sequence[Splits],
    fits: Sequence[FitResult],
    settings: ValidationSettings,
    horizon: int,
    timeframe: str,
) -> ValidationReport:
    """Per-split and per-path metrics, headline numbers and the verdict."""
    sc = _Scores(
        seeds=sorted({f.task.seed for f in fits}),
        by_key={(f.task.pair, f.task.split, f.task.seed): f for f in fits},
        cost=settings.cost,
        horizons=sorted({1, max(1, horizon // 2), horizon, 2 * horizon}),
    )
    ppy = HOURS_PER_YEAR * 60 / timeframe_to_minutes(timeframe) / horizon
    pair_info: dict[str, dict[str, Any]] = {}
    for p, pd_ in enumerate(pairs):
        grid = pd_.grid
        info = {"rows": len(pd_.dates), "dropped_rows": pd_.dropped_rows, "label": pd_.label}
        pair_info[pd_.pair] = info
        _score_splits(sc, p, pd_, cvs[p], splits[p], grid)
        _score_paths(sc, p, pd_, cvs[p], splits[p], grid)
    path_rows = _path_rows(sc, len(pairs), ppy)
    seed_ics = [
        float(np.average([ic for ic, _ in v], weights=[w for _, w in v]))
        if all(math.isfinite(ic) for ic, _ in v)
        else float("nan")
        for v in (sc.seed_pair_ic[s] for s in sc.seeds)
    ]
    n_headline = float(sum(w for _, w in sc.seed_pair_ic[sc.seeds[0]]))
    ic = _mean(seed_ics)
    ic_se = 1.0 / math.sqrt(n_headline) if n_headline > 0 else float("nan")
    all_port = [_portfolio(sc.portfolio[key]) for key in sorted(sc.portfolio)]
    pooled = np.concatenate([r.to_numpy() for r in all_port]) if all_port else np.empty(0)
    _, skew, kurt, _ = sharpe_moments(pooled)
    port_sr = _mean([m.sharpe_ratio(r) for r in all_port])
    n_periods = int(np.median([len(r) for r in all_port])) if all_port else 0
    ic_series = m.ic_summary([r["rank_ic"] for r in sc.split_rows])
    summary = {
        "rank_ic": ic,
        "rank_ic_se": ic_se,
        "rank_ic_tstat": ic / ic_se if ic_se > 0 else float("nan"),
        "n_nonoverlapping": n_headline,
        "rank_ic_demeaned": _mean([_mean(sc.demeaned_ic[s]) for s in sc.seeds]),
        **{k: _mean([r[k] for r in path_rows]) for k in ("ic", "hit_rate", "auc")},
        "icir": ic_series.icir,
        "ic_series_tstat": ic_series.tstat,
        "train_sharpe": _mean(sc.train_sharpe),
        "val_sharpe": _mean(sc.val_sharpe),
        "portfolio_sharpe": port_sr,
        "portfolio_sharpe_annual": port_sr * math.sqrt(ppy),
        "portfolio_periods": float(n_periods),
        **{k: _mean([r[k] for r in path_rows]) for k in ("sortino", "turnover", "net_return")},
        "pred_ks_train_vs_test": _mean(sc.ks),
        "pbo_over_seeds": _pbo_over_seeds([_portfolio(sc.portfolio[(s, 0)]) for s in sc.seeds]),
    }
    if pairs and pairs[0].task == "classification":
        summary["accuracy"] = _mean([r.get("accuracy", float("nan")) for r in path_rows])
    evidence = Evidence(
        ic=ic,
        ic_se=ic_se,
        train_sharpe=summary["train_sharpe"],
        val_sharpe=summary["val_sharpe"],
        val_sharpe_portfolio=port_sr,
        n_periods=n_periods,
        skew=skew,
        kurtosis=kurt,
        seed_ics=seed_ics if len(sc.seeds) > 1 else [],
        n_trials=settings.n_trials,
    )
    summary.update({f"seed_ic_{i}": v for i, v in enumerate(seed_ics)})
    verdict = assess(evidence, settings.thresholds)
    classification = None
    if is_multiclass(pairs):  # regimes: the accuracy gate decides, not the IC
        classification, verdict = score_classes(pairs, cvs, splits, fits, settings, horizon)
    return ValidationReport(
        settings={},
        pairs=pair_info,
        splits=sc.split_rows,
        paths=path_rows,
        summary=summary,
        ic_decay={h: _mean(v) for h, v in sorted(sc.decay.items())},
        verdict=verdict,
        classification=classification,
    )


def _test_label(cv: PurgedWalkForwardCV | CombinatorialPurgedCV, split: int) -> str:
    """Which groups (CPCV) or block (walk-forward) a split tests."""
    if isinstance(cv, CombinatorialPurgedCV):
        return ",".join(str(g) for g in cpcv_test_groups(cv.n_groups, cv.k)[split])
    return str(split)


def _portfolio(parts: list[pd.Series]) -> pd.Series:
    """Equal-weight portfolio of the pairs' per-period returns, aligned on the time grid."""
    if not parts:
        return pd.Series(dtype=float)
    return pd.concat(parts, axis=1).mean(axis=1).sort_index()


def _pbo_over_seeds(series: list[pd.Series]) -> float:
    """PBO with the seeds as trials (informative: equivalent seeds give about 0.5)."""
    if len(series) < 2:
        return float("nan")
    mat = pd.concat(series, axis=1).dropna().to_numpy()
    slices = min(16, (len(mat) // 4) // 2 * 2)
    if slices < 2:
        return float("nan")
    return pbo_cscv(mat, n_slices=slices).pbo
