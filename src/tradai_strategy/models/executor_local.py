"""The ``local`` backend of :mod:`tradai_strategy.models.executor`: a ``forkserver`` process
pool (the caller may have threads, so forking it is unsafe; the fork server imports the
task's modules once and its workers start already warm).

A worker that dies breaks the whole pool, and the pool cannot say which task killed it: each
task leaves a mark file while it runs (:func:`~.executor_worker.run_marked`), so the driver
knows which tasks were running, starts a new pool, reruns those one at a time (alone, a task
that dies again is the cause: one error naming it) and then the rest.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.models.executor_failures import ATTEMPTS, died, failure
from tradai_strategy.models.executor_worker import adopt_environment, run_marked

T = TypeVar("T")
R = TypeVar("R")


class LocalRun(Generic[T, R]):
    """The bookkeeping of one local run: unfinished tasks, failures, deaths, finished
    results not yet handed out, live futures."""

    def __init__(
        self,
        fn: Callable[[T], R],
        label: Callable[[T], str],
        on_done: Callable[[int, int], None] | None,
        marks: str,
    ) -> None:
        self.fn, self.label, self.on_done, self.marks = fn, label, on_done, marks
        self.added = 0
        self.done = 0
        self.handed = 0
        self.pending: dict[int, T] = {}  # added, not finished (kept for a retry)
        self.ready: dict[int, R] = {}  # finished, waiting for the ones before them
        self.failures: dict[int, int] = {}
        self.deaths: dict[int, int] = {}
        self.stray_deaths = 0
        self.suspects: list[int] = []
        self.futures: dict[Future[Any], int] = {}

    def add(self, task: T) -> int:
        self.pending[self.added] = task
        self.added += 1
        return self.added - 1

    def submit(self, pool: ProcessPoolExecutor, i: int) -> None:
        self.futures[pool.submit(run_marked, self.fn, self.marks, i, self.pending[i])] = i

    def collect(self, pool: ProcessPoolExecutor) -> None:
        """Wait for a future to finish; resubmit a failed task once; raise
        :class:`FitFailedError` when it cannot be retried."""
        if not self.futures:
            return
        finished, _ = wait(self.futures, return_when=FIRST_COMPLETED)
        for fut in finished:
            i = self.futures.pop(fut)
            try:
                self.ready[i] = fut.result()
            except BrokenProcessPool:
                self.futures[fut] = i
                raise
            except Exception as err:
                self.failures[i] = self.failures.get(i, 0) + 1
                if isinstance(err, TradAIError) or self.failures[i] >= ATTEMPTS:
                    raise failure(self.label(self.pending[i]), err, self.failures[i]) from err
                self.submit(pool, i)
                continue
            del self.pending[i]  # its data is not needed any more
            self.done += 1
            if self.on_done:
                self.on_done(self.done, self.added)

    def drain(self, pool: ProcessPoolExecutor) -> None:
        while self.futures:
            self.collect(pool)

    def take_ready(self) -> Iterator[R]:
        """The finished results that come next in task order."""
        while self.handed in self.ready:
            self.handed += 1
            yield self.ready.pop(self.handed - 1)

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
            raise died(self.label(self.pending[running[0]]), "its worker process died twice")
        self.suspects = running


def run_local(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    workers: int,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    preload: Sequence[str] = (),
    in_flight: int | None = None,
) -> Iterator[R]:
    """Results in task order, each as soon as it and those before it are finished. At most
    ``in_flight`` tasks (default 2 per worker) are submitted and not finished: the next task
    is taken from ``tasks`` when one finishes, so the tasks' data is not all held at once."""
    marks = tempfile.mkdtemp(prefix="tradai-running-")
    run: LocalRun[T, R] = LocalRun(fn, label, on_done, marks)
    source = iter(tasks)
    more = True
    limit = in_flight or 2 * workers
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
                for i in sorted(run.pending):  # lost with the previous pool
                    run.submit(pool, i)
                while True:
                    while more and len(run.futures) < limit:
                        try:
                            task = next(source)
                        except StopIteration:
                            more = False
                            break
                        run.submit(pool, run.add(task))
                    if not run.futures:
                        break
                    run.collect(pool)
                    yield from run.take_ready()
                yield from run.take_ready()
                return
            except BrokenProcessPool:
                run.blame()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        shutil.rmtree(marks, ignore_errors=True)
