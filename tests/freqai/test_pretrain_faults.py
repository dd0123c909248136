"""A training worker that dies mid-run (issue 19): the fit it was running is retried once and
the run equals the serial run; a fit whose worker dies twice stops the run with one line
naming the (pair, window). Real worker processes, killed by the registry crash tests' fault
hook (``TRADAI_FAULT_INJECT``, ``os._exit(137)`` inside the fit): a local process pool, and a
Dask scheduler with 2 worker processes on 127.0.0.1 (torn down after)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pretrain_helpers import assert_same_run, run, write_candles

from tradai_strategy.registry.faults import FAULT_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("freqai-pretrain")]

#: the fit the die-twice tests kill every time it starts
DOOMED = "ETH/USDT window 1"


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_candles(tmp_path_factory.mktemp("fault-candles"))


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, candles: Path) -> tuple[Any, Path]:
    return run(tmp_path_factory.mktemp("serial"), candles, None)


@pytest.fixture
def dask_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Start (once per test) a Dask scheduler configured as the docs say (a dead worker's task
    rescheduled once) and 2 worker processes with ``TRADAI_FAULT_INJECT=fault``; the
    scheduler's address. The nanny restarts a killed worker with the same environment."""
    distributed = pytest.importorskip("distributed")
    import dask

    from tradai_strategy.models.executor import OWN_CLUSTER_CONFIG

    clusters: list[Any] = []

    def start(fault: str) -> str:
        monkeypatch.setenv(FAULT_ENV, fault)
        with dask.config.set(OWN_CLUSTER_CONFIG):
            cluster = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
        clusters.append(cluster)
        return str(cluster.scheduler_address)

    try:
        yield start
    finally:
        for cluster in clusters:
            cluster.close(timeout=30)


def one_line_error(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value).strip()
    assert "\n" not in message
    return message


def test_local_worker_dying_once_is_retried(
    tmp_path: Path, candles: Path, serial: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    died = tmp_path / "died"
    monkeypatch.setenv(FAULT_ENV, f"during_fit:once={died}")
    local = run(tmp_path, candles, {"backend": "local", "workers": 2})
    assert died.exists()  # a worker did die in a fit; its fit was rerun
    assert_same_run(serial, local)


def test_local_worker_dying_twice_names_the_fit(
    tmp_path: Path, candles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, f"during_fit@{DOOMED}")
    with pytest.raises(Exception, match="its worker process died twice") as err:
        run(tmp_path, candles, {"backend": "local", "workers": 2})
    assert one_line_error(err).startswith(f"{DOOMED} (training 2024")


def test_dask_worker_dying_once_is_retried(
    tmp_path: Path, candles: Path, serial: Any, dask_cluster: Callable[[str], str]
) -> None:
    died = tmp_path / "died"
    address = dask_cluster(f"during_fit:once={died}")
    on_dask = run(tmp_path, candles, {"backend": "dask", "address": address})
    assert died.exists()
    assert_same_run(serial, on_dask)


def test_dask_worker_dying_twice_names_the_fit(
    tmp_path: Path, candles: Path, dask_cluster: Callable[[str], str]
) -> None:
    address = dask_cluster(f"during_fit@{DOOMED}")
    with pytest.raises(Exception, match="the Dask workers training it died twice") as err:
        run(tmp_path, candles, {"backend": "dask", "address": address})
    assert one_line_error(err).startswith(f"{DOOMED} (training 2024")
