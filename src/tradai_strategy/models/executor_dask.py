"""The ``dask`` backend of :mod:`tradai_strategy.models.executor`: a Dask distributed
scheduler at ``address``, or a :class:`distributed.LocalCluster` started on 127.0.0.1 and
closed after the run.

A task whose worker died is rescheduled by the scheduler, which fails it with
``KilledWorker`` after ``distributed.scheduler.allowed-failures`` deaths: the cluster this
module starts allows one (so: retried once), a scheduler at ``address`` applies its own.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.core.settings import ExecutorSettings
from tradai_strategy.models.executor_failures import (
    ATTEMPTS,
    ClusterUnreachableError,
    died,
    failure,
    one_line,
    usable_cores,
)

T = TypeVar("T")
R = TypeVar("R")

#: longest wait for a Dask scheduler to answer
CONNECT_TIMEOUT_S = 10.0
#: more time for Dask's handshake once the scheduler's port accepted the connection
HANDSHAKE_MARGIN_S = 5.0
#: how often the number of worker threads is asked again (workers may join a running cluster)
RECOUNT_S = 1.0
#: the scheduler settings of the Dask cluster :func:`run_dask` starts: a task whose worker
#: died is rescheduled once; one task per worker thread, so a death implicates one task only
OWN_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": ATTEMPTS - 1,
    "distributed.scheduler.worker-saturation": 1.0,
}


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


def check_reachable(settings: ExecutorSettings) -> None:
    """One line now (:func:`connect`) when the configured scheduler does not answer."""
    if settings.backend == "dask" and settings.address:
        connect(settings.address).close()


def own_cluster(workers: int) -> Any:
    """A scheduler and ``workers`` one-thread worker processes on 127.0.0.1."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(OWN_CLUSTER_CONFIG):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )


class InFlight:
    """How many tasks to keep submitted: ``fixed``, else 2 per worker thread the cluster has
    (at least 4), asked again every :data:`RECOUNT_S`: workers that join a running cluster
    (another machine's ``dask worker``) get work too."""

    def __init__(self, client: Any, fixed: int | None) -> None:
        self.client, self.fixed = client, fixed
        self.value, self.counted = 4, -RECOUNT_S

    def __call__(self) -> int:
        if self.fixed:
            return self.fixed
        if time.monotonic() - self.counted >= RECOUNT_S:
            self.value = max(4, 2 * sum(self.client.nthreads().values()))
            self.counted = time.monotonic()
        return self.value


def run_dask(
    fn: Callable[[T], R],
    tasks: Iterable[T],
    settings: ExecutorSettings,
    label: Callable[[T], str],
    on_done: Callable[[int, int], None] | None,
    client: Any = None,
    in_flight: int | None = None,
) -> Iterator[R]:
    """Results in task order, each as soon as it and those before it are finished; at most
    ``in_flight`` tasks (default: :class:`InFlight`) submitted at a time."""
    from distributed import KilledWorker, as_completed

    cluster = None
    own_client = client is None
    if client is None:
        if settings.address:
            client = connect(settings.address)
        else:
            cluster = own_cluster(settings.workers or usable_cores())
            client = connect(cluster.scheduler_address)
    try:
        run_id = uuid.uuid4().hex[:8]
        limit = InFlight(client, in_flight)
        source = iter(tasks)
        pending: dict[int, T] = {}
        ready: dict[int, R] = {}
        attempts: dict[int, int] = {}
        index: dict[str, int] = {}
        added = done = handed = 0
        running = as_completed([], loop=client.loop)

        def submit(i: int) -> None:
            key = f"tradai-fit-{run_id}-{i}-{attempts[i]}"
            fut = client.submit(fn, pending[i], key=key, pure=False)
            index[fut.key] = i
            running.add(fut)

        def top_up() -> None:
            nonlocal added
            while running.count() < limit():
                try:
                    pending[added] = next(source)
                except StopIteration:
                    return
                attempts[added] = 1
                submit(added)
                added += 1

        top_up()
        for fut in running:
            i = index.pop(fut.key)
            try:
                ready[i] = fut.result()
            except KilledWorker as err:  # the scheduler's retries of a dying worker are spent
                where = getattr(err.last_worker, "address", "?")
                deaths = err.allowed_failures + 1
                times = {1: "once", 2: "twice"}.get(deaths, f"{deaths} times")
                how = f"the Dask workers training it died {times}"
                raise died(label(pending[i]), f"{how} (the last: {where})") from None
            except Exception as err:
                if isinstance(err, TradAIError) or attempts[i] >= ATTEMPTS:
                    raise failure(label(pending[i]), err, attempts[i]) from err
                attempts[i] += 1
                submit(i)
                continue
            finally:
                fut.release()
            del pending[i]
            done += 1
            if on_done:
                on_done(done, added)
            top_up()
            while handed in ready:
                handed += 1
                yield ready.pop(handed - 1)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
