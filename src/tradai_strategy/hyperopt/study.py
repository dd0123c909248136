"""Optuna studies of ``tradai hyperopt``: storage, pruner, sampler, workers and the summary.

Studies are resumable: ``n_trials`` is the study's total, so a second run on the same
storage and study name only runs the trials still missing (finished = complete, pruned or
failed; trials left RUNNING by a killed process are not counted). Several worker processes
on one storage share the remaining trials exactly. Storage URLs: ``sqlite:///file.db`` or
``postgresql://user:pass@host/db`` (optuna's RDB storage; PostgreSQL for workers on several
machines) and ``journal:///path/file.log`` (optuna's journal file storage, the safest choice
for several local processes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tradai_strategy.config.errors import TradAIConfigError
from tradai_strategy.hyperopt.data import HyperoptData
from tradai_strategy.hyperopt.objective import METRICS, Metric, Objective
from tradai_strategy.hyperopt.space import Space, check_space

PrunerKind = Literal["median", "hyperband", "none"]
PRUNERS: tuple[str, ...] = ("median", "hyperband", "none")
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

    def __post_init__(self) -> None:
        if self.n_trials < 1:
            raise TradAIConfigError(f"--trials must be >= 1, got {self.n_trials}")
        if self.workers < 1:
            raise TradAIConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.metric not in METRICS:
            raise TradAIConfigError(f"--metric {self.metric!r} is unknown: use ic or sharpe")
        if self.pruner not in PRUNERS:
            raise TradAIConfigError(
                f"--pruner {self.pruner!r} is unknown: use median, hyperband or none"
            )
        if self.workers > 1 and not self.storage:
            raise TradAIConfigError(
                f"--workers {self.workers} needs a shared --storage, e.g. "
                "--storage journal:///hyperopt.log or sqlite:///hyperopt.db"
            )


def open_storage(url: str | None) -> Any:
    """An optuna storage for ``url`` (``None``: in memory); one clear error when unusable."""
    import optuna

    if not url:
        return None
    hint = "use sqlite:///path.db, postgresql://user:pass@host/db or journal:///path.log"
    try:
        if url.startswith("journal:///"):
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(
                JournalFileBackend(url.removeprefix("journal://"))
            )
        if "://" not in url:
            raise ValueError("no scheme")
        return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    except Exception as err:  # sqlalchemy/optuna raise many types for a bad URL
        reason = " ".join(str(err).split())[:160]
        raise TradAIConfigError(f"--storage {url!r} cannot be opened ({reason}): {hint}") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    # several processes on one sqlite file: wait for the write lock instead of failing
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def make_pruner(kind: PrunerKind, n_steps: int) -> Any:
    """optuna's median or hyperband pruner (resource = walk-forward splits), or none."""
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(n_steps, 1))
    return optuna.pruners.NopPruner()


def load_study(
    settings: HyperoptSettings, n_steps: int, storage: Any = None, seed_offset: int = 0
) -> Any:
    """Create or resume the study on ``storage`` (default: open ``settings.storage``, in
    memory without one). The sampler seed moves with the trials already present so a resumed
    run does not replay the first run's random start-up trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None:
        storage = open_storage(settings.storage) or optuna.storages.InMemoryStorage()
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
        pruner=make_pruner(settings.pruner, n_steps),
    )


def finished_trials(study: Any) -> int:
    """Trials that ended (complete, pruned or failed)."""
    return sum(1 for t in study.trials if t.state.name in FINISHED)


def shares(total: int, workers: int) -> list[int]:
    """``total`` trials split over ``workers`` (sums to ``total`` exactly; no zero shares)."""
    base, extra = divmod(total, workers)
    return [n for n in (base + (i < extra) for i in range(workers)) if n > 0]


def _optimize(study: Any, objective: Any, n: int, callbacks: Sequence[Callback]) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=n, callbacks=list(callbacks), catch=())


def _worker(
    settings: HyperoptSettings,
    objective: Any,
    n: int,
    index: int,
    n_steps: int,
    callbacks: Sequence[Callback],
) -> int:
    study = load_study(settings, n_steps, seed_offset=1000 * (index + 1))
    _optimize(study, objective, n, callbacks)
    return n


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


def run_study(
    data: HyperoptData,
    space: Space,
    settings: HyperoptSettings,
    *,
    objective: Any = None,
    callbacks: Sequence[Callback] = (),
) -> HyperoptResult:
    """Run the trials still missing from ``settings.n_trials`` and summarise the study."""
    import time

    check_space(space)
    started = time.perf_counter()
    n_steps = next(iter(data.by_horizon.values())).n_splits
    objective = objective or Objective(data, space, settings.metric, settings.cost)
    study = load_study(settings, n_steps)
    todo = max(settings.n_trials - finished_trials(study), 0)
    parts = shares(todo, settings.workers)
    if len(parts) <= 1:
        _optimize(study, objective, todo, callbacks)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(parts), mp_context=ctx) as pool:
            futures = [
                pool.submit(_worker, settings, objective, n, i, n_steps, callbacks)
                for i, n in enumerate(parts)
            ]
            for fut in futures:
                fut.result()
        study = load_study(settings, n_steps)
    return summarise(study, settings, todo, time.perf_counter() - started)


def summarise(study: Any, settings: HyperoptSettings, ran: int, wall: float) -> HyperoptResult:
    """Trial counts, the best trial and the overfitting statistics over the trials."""
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
    )


def overfitting_stats(complete: Sequence[Any], best_number: int) -> dict[str, float]:
    """PBO (CSCV over the trials' OOS returns) and the best trial's Deflated Sharpe ratio."""
    from tradai_strategy.validation.overfitting import (
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
