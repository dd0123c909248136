"""Serve the bundle a registry alias points at, and follow the alias without a restart.

:class:`ModelWatcher` keeps the loaded bundle and, on :meth:`tick` (once per candle in
dry-run/live), asks the registry at most once per ``check_seconds`` of candle time which
version the alias names. A new version is downloaded, verified and loaded in a background
thread; the caller waits at most ``timeout_seconds`` for it, so an unreachable registry never
stalls the bot: the cached version keeps serving and an alert is logged. A version that
fails to load (corrupted, incompatible) is logged once and skipped until the alias moves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import pandas as pd
from freqtrade.exceptions import OperationalException

from tradai_strategy.freqai.bundle import ModelBundle
from tradai_strategy.freqai.bundle_client import (
    ModelNotFoundError,
    RegistryBundleLoader,
    RegistryUnavailableError,
)

logger = logging.getLogger(__name__)


@dataclass
class Served:
    version: str
    manifest_sha: str | None
    bundle: ModelBundle


class ModelWatcher:
    """The currently served bundle of one model URI, with throttled hot reload."""

    def __init__(
        self,
        loader: RegistryBundleLoader,
        check_seconds: float,
        timeout_seconds: float,
        accept: Callable[[ModelBundle], None] | None = None,
    ) -> None:
        self.loader = loader
        self.check_seconds = check_seconds
        self.timeout_seconds = timeout_seconds
        self.accept = accept
        self.current: Served | None = None
        self.last_error: str | None = None
        self._last_check: pd.Timestamp | None = None
        self._rejected: str | None = None
        self._pending: Future[Served | None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradai-registry")

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    # ---- backtest: load once, fail loudly ------------------------------------------------
    def require(self) -> ModelBundle:
        """Resolve and load synchronously; any problem raises (backtests must not guess)."""
        if self.current is None:
            version, sha = self.loader.resolve()
            self._serve(Served(version, sha, self.loader.fetch(version, sha)))
        assert self.current is not None
        return self.current.bundle

    # ---- dry-run / live ----------------------------------------------------------------
    def tick(self, candle: pd.Timestamp) -> None:
        """Check the registry if a check is due at this candle; swap in a new version."""
        if self._pending is not None and self._pending.done():
            self._collect(self._pending)
        due = self._last_check is None or (
            (candle - self._last_check).total_seconds() >= self.check_seconds
        )
        if self._pending is None and (due or self.current is None):
            self._last_check = candle
            self._pending = self._pool.submit(self._check)
            try:
                self._pending.result(timeout=self.timeout_seconds)
            except FutureTimeout:
                logger.warning(
                    "TradAI ALERT: the registry at %s did not answer within %.0f s; serving "
                    "%s meanwhile",
                    self.loader.tracking_uri,
                    self.timeout_seconds,
                    self._describe(),
                )
                return
            except Exception:
                pass  # reported by _collect
            self._collect(self._pending)
        if self.current is None and self._pending is None:
            self._restore_from_cache()

    def _check(self) -> Served | None:
        """Runs in the background thread: ``None`` when nothing changed."""
        version, sha = self.loader.resolve()
        if self.current is not None and version == self.current.version:
            return None
        if version == self._rejected:
            return None
        try:
            return Served(version, sha, self.loader.fetch(version, sha))
        except RegistryUnavailableError:
            raise  # not the version's fault: try again at the next check
        except Exception:
            self._rejected = version
            raise

    def _collect(self, future: Future[Served | None]) -> None:
        self._pending = None
        try:
            served = future.result()
        except RegistryUnavailableError as err:
            self.last_error = str(err)
            logger.warning(
                "TradAI ALERT: registry unreachable (%s); keep serving %s", err, self._describe()
            )
            return
        except ModelNotFoundError as err:
            self.last_error = str(err)
            logger.error("TradAI: %s; keep serving %s", err, self._describe())
            return
        except Exception as err:  # corrupted, incompatible, unreadable: never crash the bot
            self.last_error = f"{type(err).__name__}: {err}"
            logger.error("TradAI: cannot load the new model version (%s)", self.last_error)
            return
        if served is not None:
            try:
                if self.accept is not None:
                    self.accept(served.bundle)
            except OperationalException as err:
                self._rejected = served.version
                self.last_error = str(err)
                logger.error("TradAI: version %s rejected (%s)", served.version, err)
                return
            self._serve(served)

    def _serve(self, served: Served) -> None:
        previous = self._describe()
        self.current = served
        self.last_error = None
        self.loader.remember(served.version, served.manifest_sha)
        logger.info(
            "TradAI: now serving %s version %s (was: %s)",
            self.loader.ref.uri,
            served.version,
            previous,
        )

    def _restore_from_cache(self) -> None:
        """Registry down at start: serve the version served last time, from the disk cache."""
        last = self.loader.last_served()
        if last is None:
            return
        try:
            bundle = self.loader.fetch(*last)
        except OperationalException as err:
            logger.error("TradAI: cached version %s unusable (%s)", last[0], err)
            return
        logger.warning("TradAI: registry unreachable, serving cached version %s", last[0])
        self._serve(Served(last[0], last[1], bundle))

    def _describe(self) -> str:
        return f"version {self.current.version}" if self.current else "no model"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
