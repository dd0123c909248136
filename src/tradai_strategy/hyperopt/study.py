"""Optuna studies of ``tradai hyperopt``: storage, pruner, sampler, workers and the summary.

Studies are resumable: ``n_trials`` is the study's total, so a second run on the same
storage and study name only runs the trials still missing (finished = complete, pruned or
failed; trials left RUNNING by a killed process are not counted). Several worker processes
on one storage share the remaining trials exactly. Storage URLs: ``sqlite:///file.db`` or
``postgresql://user:pass@host/db`` (optuna's RDB storage; PostgreSQL for workers on several
machines) and ``journal:///path/file.log`` (optuna's journal file storage, the safest choice
for several local processes).

Trials of a killed run are failed by their stale heartbeat and not counted (see
:mod:`tradai_strategy.hyperopt.storage`).

Several workers run on the executor of parallel training (:mod:`tradai_strategy.models.
executor`): a local process pool, or the Dask scheduler at ``cluster`` (each worker runs
its share of trials against the shared storage, which the cluster's machines must reach:
PostgreSQL, or a journal/sqlite file on a folder they all mount). A worker that fails or
dies is retried once (:class:`StopAtTotal` keeps the study at its total), then the run
stops with one line naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.hyperopt.data import HyperoptData
from tradai_strategy.hyperopt.objective import METRICS, Metric, Objective
from tradai_strategy.hyperopt.space import Space, check_space
from tradai_strategy.hyperopt.storage import (
    fail_stale,
    open_storage,
    quiet_experimental,
    stale_numbers,
)

PrunerKind = Literal["median", "hyperband", "wilcoxon", "none"]
PRUNERS: tuple[str, ...] = ("median", "hyperband", "wilcoxon", "none")
FINISHED = ("COMPLETE", "PRUNED", "FAIL")
Callback = Callable[[Any, Any], None]


@dataclass(frozen=True)
class HyperoptSettings:
    """How ``tradai hyperopt`` searches."""

    n_trials: int = 100
    study_name: str = "tradai-hyperopt"
    storage: str | None = None
    workers: int = 1
    metric: Metric = "ic"
    pruner: PrunerKind = "median"
    cost: float = 0.0
    seed: int = 42
    #: seconds between heartbeats of a running trial (RDB storages; 0: off)
    heartbeat: int = 30
    #: Dask scheduler address the workers run on (None: local processes)
    cluster: str | None = None

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise TradAIConfigError(f"--trials must be >= 1, got {self.n_trials}")
        if self.workers < 1:
            raise TradAIConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.metric not in METRICS:
            raise TradAIConfigError(f"--metric {self.metric!r} is unknown: use ic or sharpe")
        if self.pruner not in PRUNERS:
            raise TradAIConfigError(
                f"--pruner {self.pruner!r} is unknown: use {', '.join(PRUNERS)}"
            )
        if self.heartbeat < 0:
            raise TradAIConfigError(
                f"--heartbeat must be >= 0 seconds (0 turns it off), got {self.heartbeat}"
            )
        if self.workers > 1 and not self.storage:
            raise TradAIConfigError(
                f"--workers {self.workers} needs a shared --storage, e.g. "
                "--storage journal:///hyperopt.log or sqlite:///hyperopt.db"
            )
        if self.cluster and not self.storage:
            raise TradAIConfigError(
                f"--cluster {self.cluster} needs a --storage the cluster's machines reach: "
                "postgresql://..., or journal:///<shared folder>/hyperopt.log"
            )


def make_pruner(kind: PrunerKind, n_steps: int) -> Any:
    """The optuna pruner of ``kind``; the resource is the split (walk-forward or CPCV).

    ``median`` and ``hyperband`` see the running mean over splits. The median pruner may stop
    a trial after its first split once 5 trials completed: on real candles that gave 1.89x the
    trials per CPU minute of no pruning with the same median held-out IC of the best
    parameters, 1.56x when it waited for the second split (``benchmarks/bench_hyperopt.py``).
    ``wilcoxon`` sees every (split, pair) score as one instance and prunes a trial once a
    one-sided Wilcoxon signed-rank test says it is worse than the best trial on the same
    instances (p < 0.1); it needs more instances than 4 splits x 2 pairs to save much.
    """
    import optuna

    if kind == "median":  # no warm-up: see benchmarks/bench_hyperopt.py and the README
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 1))
    if kind == "wilcoxon":
        with quiet_experimental():
            return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=4)
    return optuna.pruners.NopPruner()


def load_study(
    settings: HyperoptSettings,
    n_steps: int,
    storage: Any = None,
    seed_offset: int = 0,
    pruner: Any = None,
) -> Any:
    """Create or resume the study on ``storage`` (default: open ``settings.storage``, in
    memory without one). The sampler seed moves with the trials already present so a resumed
    run does not replay the first run's random start-up trials. ``pruner`` (an optuna
    pruner) replaces the one named by ``settings.pruner``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None:
        storage = (
            open_storage(settings.storage, settings.heartbeat) or optuna.storages.InMemoryStorage()
        )
    probe = optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
    )
    offset = len(probe.trials) + seed_offset
    return optuna.load_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=settings.seed + offset, n_startup_trials=5),
        pruner=pruner if pruner is not None else make_pruner(settings.pruner, n_steps),
    )


def finished_trials(study: Any) -> int:
    """Trials that ended (complete, pruned or failed), heartbeat-stale ones excepted."""
    stale = stale_numbers(study)
    return sum(1 for t in study.trials if t.state.name in FINISHED and t.number not in stale)


def shares(total: int, workers: int) -> list[int]:
    """``total`` trials split over ``workers`` (sums to ``total`` exactly; no zero shares)."""
    base, extra = divmod(total, workers)
    return [n for n in (base + (i < extra) for i in range(workers)) if n > 0]


@dataclass(frozen=True)
class StopAtTotal:
    """Stop once the study holds ``total`` counted trials: separate ``tradai hyperopt`` runs on
    one storage (other machines) then overshoot by at most their trials still running."""

    total: int

    def __call__(self, study: Any, trial: Any) -> None:
        if finished_trials(study) >= self.total:
            study.stop()


def _optimize(
    study: Any, objective: Any, n: int, callbacks: Sequence[Callback], total: int
) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n, callbacks=[*callbacks, StopAtTotal(total)], catch=())


@dataclass(frozen=True)
class StudyPart:
    """One worker's share of a study: ``trials`` trials (task of the executor)."""

    settings: HyperoptSettings
    objective: Any
    trials: int
    index: int
    n_steps: int
    callbacks: tuple[Callback, ...] = ()
    pruner: Any = None

    def label(self) -> str:
        return f"study worker {self.index + 1} ({self.trials} trials)"


def run_part(part: StudyPart) -> int:
    """Run one worker's trials on the shared storage (in an executor's worker process)."""
    study = load_study(
        part.settings, part.n_steps, seed_offset=1000 * (part.index + 1), pruner=part.pruner
    )
    _optimize(study, part.objective, part.trials, part.callbacks, part.settings.n_trials)
    return part.trials


def _run_parts(parts: list[StudyPart], settings: HyperoptSettings) -> None:
    from tradai_strategy.core.settings import ExecutorSettings
    from tradai_strategy.models.executor import run_tasks

    if settings.cluster:
        backend = ExecutorSettings("dask", settings.workers, settings.cluster)
    else:
        backend = ExecutorSettings("local", len(parts))
    run_tasks(
        run_part,
        parts,
        backend,
        label=StudyPart.label,
        preload=("tradai_strategy.hyperopt.study",),
    )


@dataclass
class HyperoptResult:
    """The finished study's headline numbers."""

    study_name: str
    metric: str
    n_trials: int
    states: dict[str, int]
    ran: int
    best_value: float
    best_params: dict[str, Any]
    best_number: int
    wall_seconds: float
    overfitting: dict[str, float] = field(default_factory=dict)
    numbers: list[int] = field(default_factory=list)
    #: trials of a killed run, failed by their stale heartbeat (not counted in ``n_trials``)
    stale: list[int] = field(default_factory=list)


def run_study(
    data: HyperoptData,
    space: Space,
    settings: HyperoptSettings,
    *,
    objective: Any = None,
    callbacks: Sequence[Callback] = (),
    pruner: Any = None,
) -> HyperoptResult:
    """Run the trials still missing from ``settings.n_trials`` and summarise the study.

    Heartbeat-stale trials of a killed run are failed first and not counted. ``pruner`` (an
    optuna pruner object) replaces ``settings.pruner`` (the benchmark compares variants).
    """
    import time

    import optuna

    check_space(space)
    started = time.perf_counter()
    n_steps = next(iter(data.by_horizon.values())).n_splits
    study = load_study(settings, n_steps, pruner=pruner)
    if objective is None:
        per_instance = isinstance(study.pruner, optuna.pruners.WilcoxonPruner)
        objective = Objective(data, space, settings.metric, settings.cost, per_instance)
    fail_stale(study)
    todo = max(settings.n_trials - finished_trials(study), 0)
    parts = shares(todo, settings.workers)
    if len(parts) <= 1 and not settings.cluster:
        _optimize(study, objective, todo, callbacks, settings.n_trials)
    elif parts:
        tasks = [
            StudyPart(settings, objective, n, i, n_steps, tuple(callbacks), pruner)
            for i, n in enumerate(parts)
        ]
        _run_parts(tasks, settings)
        study = load_study(settings, n_steps, pruner=pruner)
    return summarise(study, settings, todo, time.perf_counter() - started)


def summarise(study: Any, settings: HyperoptSettings, ran: int, wall: float) -> HyperoptResult:
    """Trial counts, the best trial and the overfitting statistics over the trials."""
    stale = stale_numbers(study)
    trials = study.trials
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    if not complete:
        raise TradAIConfigError(
            f"study {settings.study_name!r}: no trial completed ({states}); check the data and "
            "the search space (every trial failed or was pruned)"
        )
    best = max(complete, key=lambda t: t.value)
    return HyperoptResult(
        study_name=settings.study_name,
        metric=settings.metric,
        n_trials=len(trials),
        states=states,
        ran=ran,
        best_value=float(best.value),
        best_params=dict(best.params),
        best_number=int(best.number),
        wall_seconds=wall,
        overfitting=overfitting_stats(complete, best.number),
        numbers=sorted(t.number for t in trials),
        stale=sorted(stale),
    )


def overfitting_stats(complete: Sequence[Any], best_number: int) -> dict[str, float]:
    """PBO (CSCV over the trials' OOS returns) and the best trial's Deflated Sharpe ratio."""
    from tradai_strategy.stats.overfitting import (
        deflated_sharpe_ratio,
        pbo_cscv,
        sharpe_moments,
    )

    series = {t.number: t.user_attrs.get("returns", []) for t in complete}
    lengths = [len(v) for v in series.values() if v]
    out: dict[str, float] = {"n_complete": float(len(complete))}
    if not lengths:
        return out
    n = max(set(lengths), key=lengths.count)  # trials of the same horizon share OOS rows
    kept = {k: np.asarray(v, dtype=float) for k, v in series.items() if len(v) == n}
    srs = {k: sharpe_moments(v) for k, v in kept.items()}
    finite = [s[0] for s in srs.values() if math.isfinite(s[0])]
    if best_number in srs and len(finite) >= 1:
        sr, skew, kurt, n_obs = srs[best_number]
        var = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
        if math.isfinite(sr) and n_obs >= 2:
            out["best_sharpe"] = sr
            out["dsr"] = deflated_sharpe_ratio(sr, n_obs, len(kept), var, skew, kurt)
    if len(kept) >= 2:
        matrix = np.column_stack(list(kept.values()))
        slices = 16 if n >= 64 else 8 if n >= 32 else 0
        if slices:
            out["pbo"] = pbo_cscv(matrix, n_slices=slices).pbo
    return out
