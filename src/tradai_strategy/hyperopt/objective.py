"""The ``tradai hyperopt`` objective: mean out-of-sample score over purged walk-forward splits.

Every split fits the estimator (one thread, as ``tradai validate`` does, through
:func:`~tradai_strategy.models.fitting.fit_one`) on each pair and scores its test rows on
the non-overlapping label grid. ``ic`` is the Spearman rank IC of the predictions with the
realised label, ``sharpe`` the per-period Sharpe ratio of the sign-of-prediction strategy
net of ``cost``. After each split the trial reports either the running mean over splits
(median/hyperband pruners: the value converges to the objective) or every pair's score of
that split as its own instance, step ``split * n_pairs + pair`` (optuna's WilcoxonPruner
pairs those with the best trial's scores on the same instances). A NaN score is returned as
is (optuna marks the trial failed and the study goes on).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tradai_strategy.hyperopt.data import HyperoptData
from tradai_strategy.hyperopt.space import Space, split_params
from tradai_strategy.hyperopt.storage import quiet_experimental
from tradai_strategy.models.fitting import FitTask, fit_one
from tradai_strategy.stats.metrics import rank_ic, sharpe_ratio, sign_strategy_returns

Metric = Literal["ic", "sharpe"]
METRICS: tuple[str, ...] = ("ic", "sharpe")
#: called after each split with the evaluation so far; returns True to stop (prune)
Reporter = Callable[["Evaluation"], bool]


@dataclass
class Evaluation:
    """Scores of one configuration: the objective value, per split, and OOS net returns."""

    value: float
    split_scores: list[float]
    returns: list[float]
    pruned: bool = False
    #: score of every pair in every split evaluated so far (``[split][pair]``)
    pair_scores: list[list[float]] = field(default_factory=list)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if len(finite) == len(values) and finite else float("nan")


def evaluate(
    data: HyperoptData,
    values: dict[str, Any],
    metric: Metric = "ic",
    *,
    cost: float = 0.0,
    reporter: Reporter | None = None,
) -> Evaluation:
    """Score one configuration (estimator parameters plus window hooks) over every split."""
    model_params, window = split_params(values)
    params = {**data.base_params, **model_params}
    prep = data.get(window.get("label_period_candles"))
    days = window.get("train_period_days")
    scores: list[float] = []
    returns: list[float] = []
    by_pair: list[list[float]] = []
    for j in range(prep.n_splits):
        per_pair = []
        for p, pd_ in enumerate(prep.pairs):
            train, test = prep.splits[p][j]
            if days is not None:
                first = pd_.dates.iloc[int(train[-1])] - np.timedelta64(int(days), "D")
                train = train[(pd_.dates.iloc[train] > first).to_numpy()]
            task = FitTask(p, j, data.seed)
            res = fit_one(
                task, pd_.task, data.estimator, params, pd_.X, pd_.y, train, test, train[-1:]
            )
            on_grid = pd_.grid[test]
            pred = res.test_pred[on_grid]
            net = sign_strategy_returns(pred, pd_.forward_return[test][on_grid], cost).net
            returns.extend(float(r) for r in net)
            if metric == "ic":
                per_pair.append(rank_ic(pred, pd_.realised[test][on_grid]))
            else:
                per_pair.append(sharpe_ratio(net))
        scores.append(_mean(per_pair))
        by_pair.append(per_pair)
        partial = Evaluation(_mean(scores), scores, returns, pair_scores=by_pair)
        if reporter is not None and math.isfinite(partial.value) and reporter(partial):
            partial.pruned = True
            return partial
    return Evaluation(_mean(scores), scores, returns, pair_scores=by_pair)


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """The trial's values for every dimension of ``space``."""
    return {name: dim.suggest(trial, name) for name, dim in space.items()}


@dataclass
class Objective:
    """Picklable optuna objective (worker processes receive it whole)."""

    data: HyperoptData
    space: Space
    metric: Metric = "ic"
    cost: float = 0.0
    #: report each (split, pair) score as an instance (WilcoxonPruner) instead of the mean
    per_instance: bool = False

    def __call__(self, trial: Any) -> float:
        import optuna

        values = suggest(trial, self.space)

        def report(partial: Evaluation) -> bool:
            j = len(partial.split_scores) - 1
            if self.per_instance:
                row = partial.pair_scores[j]
                for p, score in enumerate(row):
                    if math.isfinite(score):
                        trial.report(score, j * len(row) + p)
            else:
                trial.report(partial.value, j)
            with quiet_experimental():  # WilcoxonPruner is experimental
                return bool(trial.should_prune())

        ev = evaluate(self.data, values, self.metric, cost=self.cost, reporter=report)
        trial.set_user_attr("split_scores", [float(s) for s in ev.split_scores])
        trial.set_user_attr("returns", [round(r, 8) for r in ev.returns])
        if ev.pruned:
            raise optuna.TrialPruned(f"pruned after split {len(ev.split_scores) - 1}")
        return ev.value
