"""Serve the bundle a registry alias points at, and follow the alias without a restart.

:class:`ModelWatcher` keeps the loaded bundle and, on :meth:`tick` (once per candle in
dry-run/live), asks the registry at most once per ``check_seconds`` of candle time which
version the alias names. A new version is downloaded, verified and loaded in a background
thread; the caller waits at most ``timeout_seconds`` for it, so an unreachable registry never
stalls the bot: the cached version keeps serving and an alert is logged. A version that
fails to load (corrupted, incompatible) is logged once and skipped until the alias moves.

A retired version is never served: when the alias is unset or retired the loader resolves
``@fallback`` (a warning is logged once per change); when nothing is servable the watcher
drops the current version, so the model returns ``do_predict = 0`` until one is promoted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import pandas as pd
from freqtrade.exceptions import OperationalException

from tradai_strategy.bundle.format import ModelBundle
from tradai_strategy.serving.loader import (
    ModelNotFoundError,
    NoServableVersionError,
    RegistryBundleLoader,
    RegistryUnavailableError,
)

logger = logging.getLogger(__name__)


class _Rejected(Exception):
    """The resolved version failed to load before: not tried again until the alias moves."""


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
        self._unreachable = False  # the last check could not reach the registry
        self._noted: str | None = None  # the fallback/nothing-servable reason last logged
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradai-registry")

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    # ---- backtest: load once, fail loudly ------------------------------------------------
    def require(self) -> ModelBundle:
        """Resolve and load synchronously; any problem raises (backtests must not guess)."""
        if self.current is None:
            version, sha = self.loader.resolve()
            self._note_fallback()
            bundle = self.loader.fetch(version, sha)
            if self.accept is not None:
                self.accept(bundle)
            self._serve(Served(version, sha, bundle))
        assert self.current is not None
        return self.current.bundle

    # ---- dry-run / live ----------------------------------------------------------------
    def tick(self, candle: pd.Timestamp) -> None:
        """Check the registry if a check is due at this candle; swap in a new version."""
        if self._pending is not None and self._pending.done():
            self._collect(self._pending)
        last = self._last_check
        due = last is None or (candle - last).total_seconds() >= self.check_seconds
        if self.current is None and last is not None and candle > last:
            due = True  # nothing served: look again at every new candle (not every pair)
        if self._pending is None and due:
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
        if self.current is None and self._pending is None and self._unreachable:
            self._restore_from_cache()

    def _check(self) -> Served | None:
        """Runs in the background thread: ``None`` when nothing changed."""
        version, sha = self.loader.resolve()
        current = self.current
        if current is not None and version == current.version:
            return None
        try:
            if version == self._rejected:
                raise _Rejected(f"version {version} was rejected before")
            return Served(version, sha, self.loader.fetch(version, sha))
        except RegistryUnavailableError:
            raise  # not the version's fault: try again at the next check
        except Exception as err:
            self._rejected = version
            if current is not None and self.loader.retired(current.version):
                raise NoServableVersionError(
                    f"{self.loader.ref.uri}: version {current.version} is retired and version "
                    f"{version} cannot be served ({err})"
                ) from None
            if isinstance(err, _Rejected):
                return None  # logged when it was rejected
            raise

    def _collect(self, future: Future[Served | None]) -> None:
        self._pending = None
        try:
            served = future.result()
        except RegistryUnavailableError as err:
            self._unreachable = True
            self.last_error = str(err)
            logger.warning(
                "TradAI ALERT: registry unreachable (%s); keep serving %s", err, self._describe()
            )
            return
        except NoServableVersionError as err:
            self._unreachable = False
            self._stop_serving(str(err))
            return
        except ModelNotFoundError as err:
            self._unreachable = False
            self.last_error = str(err)
            logger.error("TradAI: %s; keep serving %s", err, self._describe())
            return
        except Exception as err:  # corrupted, incompatible, unreadable: never crash the bot
            self._unreachable = False
            self.last_error = f"{type(err).__name__}: {err}"
            logger.error("TradAI: cannot load the new model version (%s)", self.last_error)
            return
        self._unreachable = False
        self._note_fallback()
        if served is not None:
            try:
                if self.accept is not None:
                    self.accept(served.bundle)
            except OperationalException as err:
                self._rejected = served.version
                self.last_error = str(err)
                logger.error("TradAI ALERT: version %s rejected (%s)", served.version, err)
                if self.current is not None and self.loader.retired(self.current.version):
                    self._stop_serving(f"version {self.current.version} is retired")
                return
            self._serve(served)

    def _note_fallback(self) -> None:
        """Log once each time the reason for serving @fallback appears or goes away."""
        note = self.loader.note
        if note == self._noted:
            return
        if note:
            logger.warning("TradAI WARNING: %s %s", self.loader.ref.uri, note)
        elif self._noted:
            logger.warning("TradAI: %s is servable again", self.loader.ref.uri)
        self._noted = note

    def _stop_serving(self, reason: str) -> None:
        """Nothing may be served: drop the current version (and its restart record)."""
        self.last_error = reason
        self.loader.forget()
        if self.current is None and self._noted == reason:
            return
        self._alert_stop(reason)
        self._noted = reason
        self.current = None

    def _alert_stop(self, reason: str) -> None:
        """Say (once per reason) that nothing is served any more."""
        logger.warning(
            "TradAI ALERT: %s; stop serving %s: do_predict=0 until a version is promoted",
            reason,
            self._describe(),
        )

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
