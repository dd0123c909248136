"""The replay's own registry server: a real ``mlflow server`` on 127.0.0.1 it can cut off.

A scripted ``registry_down`` must make the registry unreachable for the bot the way an outage
does -- connections refused -- without touching the registry itself. So when a replay's
events include an outage, the bot does not open the local store (``sqlite:///...``) its
config names: it talks over HTTP to an ``mlflow server`` serving that same store on
127.0.0.1, through a :class:`Gate` (a TCP forwarder on its own port of 127.0.0.1).
``registry_down`` closes the gate -- its port refuses connections and open ones are cut --
and ``registry_up`` opens it again on the same port. (Stopping and restarting the server
itself is as honest but costs 15-20 s per start on a busy 2-core machine; the bot cannot
tell the difference: its registry's address refuses connections either way.)
The store stays where it is; the lifecycle events (promote, rollback) write it directly, as
``tradai promote --tracking-uri sqlite:///...`` would, whether the gate is open or not.
Every wait is bounded; the server's output goes to a log file beside the bot's.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tradai_strategy.core.errors import TradAIError

__all__ = ["Gate", "RegistryServer", "RegistryServerError"]

#: real seconds an ``mlflow server`` gets to answer its health check after a start
START_TIMEOUT_SECONDS = 120.0
#: real seconds it gets to exit after SIGTERM before it is killed
STOP_TIMEOUT_SECONDS = 20.0


class RegistryServerError(TradAIError):
    """The replay's registry server did not start (its log says why)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RegistryServer:
    """``mlflow server`` for the store at ``backend_uri``, on 127.0.0.1 (module doc)."""

    def __init__(
        self,
        backend_uri: str,
        artifact_root: Path,
        log_path: Path,
        port: int | None = None,
        *,
        serve_artifacts: bool = False,
    ) -> None:
        """:param serve_artifacts: the server stores and serves artifacts under
        ``artifact_root`` (clients upload through it); else clients write them there."""
        self.backend_uri = backend_uri
        self.artifact_root = artifact_root  # only for runs created through the server
        self.serve_artifacts = serve_artifacts
        self.log_path = log_path
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Start the server and wait (bounded) until it answers ``/health``."""
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", "1"]
        argv += ["--backend-store-uri", self.backend_uri]
        if self.serve_artifacts:
            argv += ["--artifacts-destination", str(self.artifact_root.resolve())]
        else:
            argv += ["--no-serve-artifacts"]
            argv += ["--default-artifact-root", self.artifact_root.resolve().as_uri()]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RegistryServerError(
                    f"the replay's mlflow server exited ({self._proc.returncode}): see "
                    f"{self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RegistryServerError(
            f"the replay's mlflow server did not answer within {timeout:.0f} s: see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server and its workers (its own process group: SIGTERM, then SIGKILL
        after a bounded wait)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)


class Gate:
    """A TCP forwarder 127.0.0.1:``port`` -> 127.0.0.1:``target`` that can be closed
    (connections refused, open ones cut) and opened again on the same port."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    def open(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
