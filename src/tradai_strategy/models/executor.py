"""Run independent tasks (model fits) in a process pool or on a Dask cluster.

:func:`iter_tasks` maps one picklable function over picklable tasks and yields the results in
task order, each as soon as it and those before it are finished (:func:`run_tasks`: the
list). ``serial`` runs them here, ``local`` in a process pool (:mod:`.executor_local`),
``dask`` on a Dask distributed scheduler (:mod:`.executor_dask`). Tasks are taken from the
caller's iterable as workers free up (at most 2 per worker in flight), so a caller that
builds them lazily and consumes the results as they come holds a bounded number of either.

Failures: a task whose function raises a :class:`TradAIError` (bad data or config: it would
fail again) stops the run at once; any other failure is retried once, then stops the run.
A worker process that dies (killed, out of memory, a crash in native code) is retried once
too; each backend's module says how it finds the task. Either way the error is one
:class:`FitFailedError` line naming the task.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.core.settings import ExecutorSettings, tradai_block
from tradai_strategy.models.executor_dask import (
    CONNECT_TIMEOUT_S,
    HANDSHAKE_MARGIN_S,
    OWN_CLUSTER_CONFIG,
    check_reachable,
    connect,
    run_dask,
)
from tradai_strategy.models.executor_failures import (
    ATTEMPTS,
    ClusterUnreachableError,
    FitFailedError,
    failure,
    usable_cores,
)
from tradai_strategy.models.executor_local import run_local
from tradai_strategy.models.fitting import ESTIMATOR_MODULES

__all__ = [
    "ATTEMPTS",
    "CONNECT_TIMEOUT_S",
    "HANDSHAKE_MARGIN_S",
    "OWN_CLUSTER_CONFIG",
    "ClusterUnreachableError",
    "FitFailedError",
    "ProgressFactory",
    "check_reachable",
    "connect",
    "iter_tasks",
    "progress_displays",
    "run_tasks",
    "usable_cores",
    "warm_up",
    "warm_up_backtest",
]

T = TypeVar("T")
R = TypeVar("R")

#: a progress display for :func:`run_tasks` callers: called with the number of tasks, returns
#: the ``on_done(done, total)`` callback and a function that closes the display. The
#: ``tradai`` command registers its progress bar here (:mod:`.executor_options`).
ProgressFactory = Callable[[int], tuple[Callable[[int, int], None], Callable[[], None]]]
progress_displays: list[ProgressFactory] = []


def warm_up(preload: Sequence[str]) -> None:
    """Start the local pool's fork server now, importing ``preload`` in the background, so
    the first fits do not wait for those imports (seconds for freqtrade and the estimators)."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


#: FreqAI's model bases a backtest's fit worker runs (freqtrade, its data kitchen and
#: scikit-learn: ~2.4 s of imports here), imported once by the fork server
FREQAI_FIT_MODULES = (
    "freqtrade.freqai.base_models.BaseRegressionModel",
    "freqtrade.freqai.base_models.BaseClassifierModel",
)


def backtest_fit_modules(estimator: str) -> tuple[str, ...]:
    """What a backtest's fit worker imports before its first fit: FreqAI's model bases and
    the estimator library (the package's own fit code, ~0.07 s more, on its first task)."""
    return (*FREQAI_FIT_MODULES, ESTIMATOR_MODULES.get(estimator, estimator))


def warm_up_backtest(config: dict[str, Any]) -> bool:
    """Start the local pool's fork server when ``config`` is a backtest (or hyperopt) whose
    FreqAI windows train on the local executor; True when it did. Called as early as the
    config is known (the strategy's construction, before freqtrade loads the candles), so
    the workers' imports overlap with that instead of delaying the first fits. A config this
    cannot read is left for the model to report."""
    from freqtrade.enums import RunMode

    if config.get("runmode") not in (RunMode.BACKTEST, RunMode.HYPEROPT):
        return False
    try:
        executor = ExecutorSettings.from_config(config)
        estimator = str(tradai_block(config).get("estimator", "lightgbm")).lower()
    except TradAIError:
        return False
    if executor.backend != "local" or not config.get("freqai", {}).get("enabled"):
        return False
    warm_up(backtest_fit_modules(estimator))
    return True


def run_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    settings: ExecutorSettings,
    *,
    label: Callable[[T], str] = str,
    on_done: Callable[[int, int], None] | None = None,
    client: Any = None,
    preload: Sequence[str] = (),
) -> list[R]:
    """``[fn(t) for t in tasks]`` on the configured backend (see :func:`iter_tasks`)."""
    return list(
        iter_tasks(
            fn, tasks, settings, label=label, on_done=on_done, client=client, preload=preload
        )
    )


def iter_tasks(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    settings: ExecutorSettings,
    *,
    label: Callable[[T], str] = str,
    on_done: Callable[[int, int], None] | None = None,
    client: Any = None,
    preload: Sequence[str] = (),
    in_flight: int | None = None,
) -> Iterator[R]:
    """``fn(t) for t in tasks`` on the configured backend, in task order.

    ``tasks`` may be a generator: a task is taken when a worker can start it, so the workers
    fit while the caller still prepares the next ones.

    :param label: how a failure names a task, e.g. ``"BTC/USDT window 3 (20250101-20250401)"``.
    :param on_done: called with (tasks done, tasks taken so far) after each finished task.
    :param client: a connected Dask client to use (``dask`` only; otherwise one is made).
    :param preload: modules the local pool's fork server imports once (``fn``'s module).
    :param in_flight: most tasks submitted and not finished (default 2 per worker).
    """
    if settings.backend == "serial":
        return run_serial(fn, tasks, label, on_done)
    if settings.backend == "local":
        workers = settings.workers or usable_cores()
        return run_local(fn, tasks, workers, label, on_done, preload, in_flight)
    return run_dask(fn, tasks, settings, label, on_done, client, in_flight)


def run_serial(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
) -> Iterator[R]:
    for i, task in enumerate(tasks):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = fn(task)
                break
            except Exception as err:
                if isinstance(err, TradAIError) or attempt == ATTEMPTS:
                    raise failure(label(task), err, attempt) from err
        if on_done:
            on_done(i + 1, i + 1)
        yield result
