"""Shared pytest fixtures: offline in-process freqtrade, real-data opt-in, network guard."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import Sink

from tradai_strategy.data.freqtrade_runner import BacktestResult, backtest

TESTS_DIR = Path(__file__).resolve().parent
TEST_STRATEGIES_DIR = TESTS_DIR / "strategies"

OfflineBacktest = Callable[..., BacktestResult]


@pytest.fixture
def test_strategies_dir() -> Path:
    """Directory holding the tests' freqtrade strategies (``SampleNonMLStrategy``)."""
    return TEST_STRATEGIES_DIR


@pytest.fixture
def offline_freqtrade(tmp_path: Path) -> Iterator[OfflineBacktest]:
    """Callable running ``freqtrade backtesting`` in-process and offline.

    Same signature as :func:`tradai_strategy.data.freqtrade_runner.backtest`, with
    ``offline=True``, ``userdir`` a fresh temporary user_data directory and
    ``strategy_path`` defaulting to ``tests/strategies``.
    """
    userdir = tmp_path / "user_data"

    def run(
        config_paths: str | Path | Sequence[str | Path], strategy: str, **kwargs: Any
    ) -> BacktestResult:
        kwargs.setdefault("userdir", userdir)
        kwargs.setdefault("strategy_path", TEST_STRATEGIES_DIR)
        kwargs["offline"] = True
        return backtest(config_paths, strategy, **kwargs)

    yield run


@pytest.fixture
def real_datadir() -> Path:
    """Real Binance candles from ``$TRADAI_REAL_DATA``; skips the test when unavailable."""
    value = os.environ.get("TRADAI_REAL_DATA")
    if not value:
        pytest.skip("TRADAI_REAL_DATA not set (point it at ../shared/data/binance)")
    path = Path(value).expanduser()
    if not path.is_dir() or not any(path.rglob("*.feather")):
        pytest.skip(f"TRADAI_REAL_DATA={value} has no *.feather files")
    return path


def _is_local(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # AF_UNIX paths and the like
    host = str(address[0])
    return host in {"localhost", "::1"} or host.startswith("127.")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any non-loopback DNS lookup or connection fail immediately (OSError)."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is None or _is_local((host,)):
            return real_getaddrinfo(host, *args, **kwargs)
        raise OSError(f"network disabled in tests (lookup of {host!r})")

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local(address):
            raise OSError(f"network disabled in tests (connect to {address!r})")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local(address):
            raise OSError(f"network disabled in tests (connect to {address!r})")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A running :class:`alert_helpers.Sink` (shut down after the test)."""
    s = Sink()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


@pytest.fixture
def dask_scheduler() -> Iterator[str]:
    """A real Dask scheduler and 2 worker processes on 127.0.0.1 (its address), closed after
    the test."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close(timeout=30)
