"""Run independent tasks (model fits) in a process pool or on a Dask cluster.

:func:`run_tasks` maps one picklable function over picklable tasks and returns the results in
task order. ``serial`` runs them here, ``local`` in a ``forkserver`` process pool (the caller
may have threads, so forking it is unsafe; the fork server imports the task's modules once
and its workers start already warm), ``dask`` on a Dask distributed scheduler (``address``)
or on a :class:`distributed.LocalCluster` it starts on 127.0.0.1 and stops after.

Failures: a task whose function raises a :class:`TradAIError` (bad data or config: it would
fail again) stops the run at once; any other failure is retried once, then stops the run.
Either way the error is one :class:`FitFailedError` line naming the task.

A worker process that dies (killed, out of memory, a crash in native code) is retried once
too. ``local``: the death breaks the pool; each task leaves a mark file while it runs, so the
driver knows which tasks were running, starts a new pool, reruns those one at a time (alone,
a task that dies again is the cause: one error naming it) and then the rest. ``dask``: the
scheduler reschedules a task whose worker died and fails it with ``KilledWorker`` after
``distributed.scheduler.allowed-failures`` deaths; the cluster this module starts allows one
(so: retried once), a scheduler at ``address`` applies its own setting.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tradai_strategy.core.errors import TradAIConfigError, TradAIError
from tradai_strategy.core.settings import ExecutorSettings
from tradai_strategy.models.executor_worker import adopt_environment, run_marked

T = TypeVar("T")
R = TypeVar("R")

#: longest wait for a Dask scheduler to answer
CONNECT_TIMEOUT_S = 10.0
#: more time for Dask's handshake once the scheduler's port accepted the connection
HANDSHAKE_MARGIN_S = 5.0
#: one retry per task for failures that are not a TradAIError, and for a dead worker
ATTEMPTS = 2
#: the scheduler settings of the Dask cluster :func:`run_dask` starts: a task whose worker
#: died is rescheduled once; one task per worker thread, so a death implicates one task only
OWN_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ATTEMPTS - 1,
    "distributed.scheduler.worker-saturation": 1.0,
}


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


def died(label: str, how: str) -> FitFailedError:
    """The error that stops a run when the worker processes training ``label`` died."""
    return FitFailedError(
        f"{label}: {how} (killed: out of memory, or a crash in the estimator's native code?); "
        "lower freqai.tradai.executor.workers or the model's size, then rerun"
    )


def warm_up(preload: Sequence[str]) -> None:
    """Start the local pool's fork server now, importing ``preload`` in the background, so
    the first fits do not wait for those imports (seconds for freqtrade and the estimators)."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(preload))
    forkserver.ensure_running()


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A :class:`distributed.Client` on ``address``; one line when no scheduler answers.

    A TCP address is first dialled once: a refused connection (nothing listens there, the
    common typo) is reported at once instead of after Dask's ``timeout`` of retries. Dask's
    handshake has no deadline of its own (a port that accepts and stays silent, such as an
    HTTP server, holds it for minutes), so the client is made in a thread given
    ``timeout`` plus a margin."""
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    def unreachable(why: str) -> ClusterUnreachableError:
        return ClusterUnreachableError(
            f"freqai.tradai.executor.address {address}: no Dask scheduler answered ({why}): "
            f"start one (dask scheduler; dask worker {address}) or fix the address"
        )

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            socket.create_connection(parse_host_port(location), timeout=timeout).close()
    except ConnectionRefusedError:
        raise unreachable("connection refused") from None
    except (OSError, ValueError) as err:
        raise unreachable(one_line(err)) from None
    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = Client(address, timeout=timeout, set_as_default=False)
        except BaseException as err:  # reported below, in the caller's thread
            made["error"] = err

    thread = threading.Thread(target=make, name="tradai-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + HANDSHAKE_MARGIN_S)
    if "client" in made:
        return made["client"]
    if isinstance(made.get("error"), OSError | TimeoutError):
        raise unreachable(f"within {timeout:.0f} s: {one_line(made['error'])}") from None
    if "error" in made:  # something answered, not in Dask's protocol
        raise unreachable(f"not a Dask scheduler? {one_line(made['error'])}") from None
    raise unreachable(
        f"the port accepts connections but gave no Dask handshake within "
        f"{timeout + HANDSHAKE_MARGIN_S:.0f} s: is it the scheduler's port (8786 by default), "
        "not the dashboard's?"
    )


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
    """The bookkeeping of one local run: tasks seen, failures, deaths, results, live futures."""

    def __init__(
        self, fn: Callable[[T], R], label: Callable[[T], str], on_done: Any, marks: str
    ) -> None:
        self.fn, self.label, self.on_done, self.marks = fn, label, on_done, marks
        self.seen: list[Any] = []
        self.failures: dict[int, int] = {}
        self.deaths: dict[int, int] = {}
        self.stray_deaths = 0
        self.suspects: list[int] = []
        self.results: dict[int, Any] = {}
        self.futures: dict[Future[Any], int] = {}

    def submit(self, pool: ProcessPoolExecutor, i: int) -> None:
        self.futures[pool.submit(run_marked, self.fn, self.marks, i, self.seen[i])] = i

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
                self.failures[i] = self.failures.get(i, 0) + 1
                if isinstance(err, TradAIError) or self.failures[i] >= ATTEMPTS:
                    raise failure(self.label(self.seen[i]), err, self.failures[i]) from err
                self.submit(pool, i)
                continue
            if self.on_done:
                self.on_done(len(self.results), len(self.seen))

    def drain(self, pool: ProcessPoolExecutor) -> None:
        while self.futures:
            self.collect(pool, block=True)

    def blame(self) -> None:
        """After a worker died: the tasks whose marks are left were running. They are rerun
        one at a time first; one that dies again alone is the cause and stops the run."""
        running = sorted(int(name) for name in os.listdir(self.marks))
        for i in running:
            os.remove(os.path.join(self.marks, str(i)))
        if not running:  # died outside any task (starting, or between two)
            self.stray_deaths += 1
            if self.stray_deaths >= ATTEMPTS:
                raise died("local pool", "worker processes died twice outside any fit")
            return
        for i in running:
            self.deaths[i] = self.deaths.get(i, 0) + 1
        if len(running) == 1 and self.deaths[running[0]] >= ATTEMPTS:
            raise died(self.label(self.seen[running[0]]), "its worker process died twice")
        self.suspects = running


def run_local(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    workers: int,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    preload: Sequence[str] = (),
) -> list[R]:
    marks = tempfile.mkdtemp(prefix="tradai-running-")
    run = LocalRun(fn, label, on_done, marks)
    source = iter(tasks)
    ctx = multiprocessing.get_context("forkserver")
    if preload:
        ctx.set_forkserver_preload(list(preload))  # no effect once the server runs
    try:
        while True:
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=adopt_environment,
                initargs=(dict(os.environ),),
            )
            try:
                run.futures = {}
                while run.suspects:  # running when a worker died: alone, one at a time
                    run.submit(pool, run.suspects[0])
                    run.drain(pool)
                    run.suspects.pop(0)
                for i in range(len(run.seen)):
                    if i not in run.results:
                        run.submit(pool, i)
                for task in source:
                    run.seen.append(task)
                    run.submit(pool, len(run.seen) - 1)
                    run.collect(pool, block=False)
                run.drain(pool)
                return [run.results[i] for i in range(len(run.seen))]
            except BrokenProcessPool:
                run.blame()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        shutil.rmtree(marks, ignore_errors=True)


def run_dask(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    settings: ExecutorSettings,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    client: Any = None,
) -> list[R]:
    import dask
    from distributed import KilledWorker, as_completed

    cluster = None
    own_client = client is None
    if client is None:
        if settings.address:
            client = connect(settings.address)
        else:
            from distributed import LocalCluster

            with dask.config.set(OWN_CLUSTER_CONFIG):
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
            except KilledWorker as err:  # the scheduler's retries of a dying worker are spent
                where = getattr(err.last_worker, "address", "?")
                deaths = err.allowed_failures + 1
                times = {1: "once", 2: "twice"}.get(deaths, f"{deaths} times")
                how = f"the Dask workers training it died {times}"
                raise died(label(seen[i]), f"{how} (the last: {where})") from None
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
