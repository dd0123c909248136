"""Run independent tasks (model fits) in a process pool or on a Dask cluster.

:func:`run_tasks` maps one picklable function over picklable tasks and returns the results in
task order. ``serial`` runs them here, ``local`` in a ``forkserver`` process pool (the caller
may have threads, so forking it is unsafe; the fork server imports the task's modules once
and its workers start already warm), ``dask`` on a Dask distributed scheduler (``address``)
or on a :class:`distributed.LocalCluster` it starts on 127.0.0.1 and stops after.

Failures: a task whose function raises a :class:`TradAIError` (bad data or config: it would
fail again) stops the run at once; any other failure is retried once, then stops the run.
Either way the error is one :class:`FitFailedError` line naming the task. A local worker that
dies breaks the pool: the pool is started again once for the unfinished tasks.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tradai_strategy.core.errors import TradAIConfigError, TradAIError
from tradai_strategy.core.settings import ExecutorSettings

T = TypeVar("T")
R = TypeVar("R")

#: longest wait for a Dask scheduler to answer
CONNECT_TIMEOUT_S = 10.0
#: one retry per task for failures that are not a TradAIError
ATTEMPTS = 2


#: a progress display for :func:`run_tasks` callers: called with the number of tasks, returns
#: the ``on_done(done, total)`` callback and a function that closes the display. The
#: ``tradai`` command registers its progress bar here (:mod:`.executor_options`).
ProgressFactory = Callable[[int], tuple[Callable[[int, int], None], Callable[[], None]]]
progress_displays: list[ProgressFactory] = []


class FitFailedError(TradAIError):
    """A task failed (twice, unless its cause was a TradAIError); the message names it."""


class ClusterUnreachableError(TradAIConfigError):
    """No Dask scheduler answered at the configured address."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def one_line(err: BaseException) -> str:
    """``err`` as one line: its type (unless a TradAIError) and first message line."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, TradAIError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def failure(label: str, err: BaseException, attempts: int) -> FitFailedError:
    """The error that stops a run when the task ``label`` failed with ``err``."""
    if isinstance(err, TradAIError):
        return FitFailedError(f"{label}: {one_line(err)}")
    tries = "twice" if attempts > 1 else "once"
    return FitFailedError(
        f"{label} failed {tries} ({one_line(err)}); fix the cause and rerun, or train this "
        "run serially (freqai.tradai.executor.backend: serial) to see the full traceback"
    )


def warm_up(preload: Sequence[str]) -> None:
    """Start the local pool's fork server now, importing ``preload`` in the background, so
    the first fits do not wait for those imports (seconds for freqtrade and the estimators)."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A :class:`distributed.Client` on ``address``; one line when nothing answers."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterUnreachableError(
            f"freqai.tradai.executor.address {address}: no Dask scheduler answered within "
            f"{timeout:.0f} s ({one_line(err)}): start one (dask scheduler; dask worker "
            f"{address}) or fix the address"
        ) from None


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
    """``[fn(t) for t in tasks]`` on the configured backend, in task order.

    ``tasks`` may be a generator: each task is submitted as soon as it is produced, so the
    workers start while the caller still prepares the next ones.

    :param label: how a failure names a task, e.g. ``"BTC/USDT window 3 (20250101-20250401)"``.
    :param on_done: called with (tasks done, tasks submitted so far) after each finished task.
    :param client: a connected Dask client to use (``dask`` only; otherwise one is made).
    :param preload: modules the local pool's fork server imports once (``fn``'s module).
    """
    if settings.backend == "serial":
        return run_serial(fn, tasks, label, on_done)
    if settings.backend == "local":
        workers = settings.workers or usable_cores()
        return run_local(fn, tasks, workers, label, on_done, preload)
    return run_dask(fn, tasks, settings, label, on_done, client)


def run_serial(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
) -> list[R]:
    results: list[R] = []
    for i, task in enumerate(tasks):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                results.append(fn(task))
                break
            except Exception as err:
                if isinstance(err, TradAIError) or attempt == ATTEMPTS:
                    raise failure(label(task), err, attempt) from err
        if on_done:
            on_done(i + 1, i + 1)
    return results


class LocalRun:
    """The bookkeeping of one local run: tasks seen, attempts, results, live futures."""

    def __init__(self, fn: Callable[[T], R], label: Callable[[T], str], on_done: Any) -> None:
        self.fn, self.label, self.on_done = fn, label, on_done
        self.seen: list[Any] = []
        self.attempts: dict[int, int] = {}
        self.results: dict[int, Any] = {}
        self.futures: dict[Future[Any], int] = {}

    def submit(self, pool: ProcessPoolExecutor, i: int) -> None:
        self.attempts[i] = self.attempts.get(i, 0) + 1
        self.futures[pool.submit(self.fn, self.seen[i])] = i

    def collect(self, pool: ProcessPoolExecutor, block: bool) -> None:
        """Take the finished futures (waiting for one when ``block``); resubmit a failed
        task once; raise :class:`FitFailedError` when it cannot be retried."""
        if not self.futures:
            return
        finished, _ = wait(self.futures, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in finished:
            i = self.futures.pop(fut)
            try:
                self.results[i] = fut.result()
            except BrokenProcessPool:
                self.futures[fut] = i
                raise
            except Exception as err:
                if isinstance(err, TradAIError) or self.attempts[i] >= ATTEMPTS:
                    raise failure(self.label(self.seen[i]), err, self.attempts[i]) from err
                self.submit(pool, i)
                continue
            if self.on_done:
                self.on_done(len(self.results), len(self.seen))


def run_local(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    workers: int,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    preload: Sequence[str] = (),
) -> list[R]:
    run = LocalRun(fn, label, on_done)
    source = iter(tasks)
    broken = 0
    ctx = multiprocessing.get_context("forkserver")
    if preload:
        ctx.set_forkserver_preload(list(preload))  # no effect once the server runs
    while True:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        try:
            run.futures = {}
            for i in range(len(run.seen)):
                if i not in run.results:
                    run.submit(pool, i)
            for task in source:
                run.seen.append(task)
                run.submit(pool, len(run.seen) - 1)
                run.collect(pool, block=False)
            while run.futures:
                run.collect(pool, block=True)
            return [run.results[i] for i in range(len(run.seen))]
        except BrokenProcessPool as err:
            broken += 1
            if broken >= ATTEMPTS:
                running = [run.label(run.seen[i]) for f, i in run.futures.items() if f.running()]
                named = ", ".join(running[:3]) or "a fit"
                raise FitFailedError(
                    f"a training worker process died twice (while running {named}): "
                    "out of memory? lower freqai.tradai.executor.workers or rerun serially"
                ) from err
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def run_dask(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    settings: ExecutorSettings,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    client: Any = None,
) -> list[R]:
    from distributed import as_completed

    cluster = None
    own_client = client is None
    if client is None:
        if settings.address:
            client = connect(settings.address)
        else:
            from distributed import LocalCluster

            cluster = LocalCluster(
                n_workers=settings.workers or usable_cores(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = connect(cluster.scheduler_address)
    try:
        run_id = uuid.uuid4().hex[:8]
        seen: list[T] = []
        attempts: dict[int, int] = {}
        index: dict[str, int] = {}
        futures = []
        for i, task in enumerate(tasks):
            seen.append(task)
            attempts[i] = 1
            fut = client.submit(fn, task, key=f"tradai-fit-{run_id}-{i}-1", pure=False)
            index[fut.key] = i
            futures.append(fut)
        results: dict[int, R] = {}
        pending = as_completed(futures, loop=client.loop)
        for fut in pending:
            i = index[fut.key]
            try:
                results[i] = fut.result()
            except Exception as err:
                if isinstance(err, TradAIError) or attempts[i] >= ATTEMPTS:
                    raise failure(label(seen[i]), err, attempts[i]) from err
                attempts[i] += 1
                retry = client.submit(
                    fn, seen[i], key=f"tradai-fit-{run_id}-{i}-{attempts[i]}", pure=False
                )
                index[retry.key] = i
                pending.add(retry)
                continue
            finally:
                fut.release()
            if on_done:
                on_done(len(results), len(seen))
        return [results[i] for i in range(len(seen))]
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
