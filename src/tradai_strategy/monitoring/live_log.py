"""Prediction logging for the live/dry-run MLflow model (champion and optional shadow).

Config (``freqai.tradai``): ``prediction_log`` (default true), ``prediction_log_path``
(default ``<user_data>/tradai_predictions.sqlite``), ``prediction_log_retention_days``
(30) and ``shadow_alias`` (e.g. ``"challenger"``: that alias's version also predicts every
candle, logged with role ``shadow``, never used for trading; no fallback when it is unset).

Realised targets are filled on every new candle from the candles themselves
(:func:`~tradai_strategy.monitoring.prediction_log.realised_from_candles`, the strategy's
label over ``label_period_candles``). Nothing here may stop or slow a prediction: the
writes run in order on one background thread (:meth:`LivePredictionLogger.flush` waits for
them), and every failure is logged and swallowed.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.freqai.bundle import PairModel
from tradai_strategy.freqai.bundle_client import (
    MANIFEST_TAG,
    NoServableVersionError,
    RegistryBundleLoader,
)
from tradai_strategy.freqai.model_watcher import ModelWatcher
from tradai_strategy.monitoring.prediction_log import (
    PredictionLog,
    default_prediction_log_path,
    realised_from_candles,
)

logger = logging.getLogger(__name__)
DATE = "date"


@dataclass(frozen=True)
class LogSettings:
    enabled: bool
    path: Path
    retention_days: int
    horizon: int
    shadow_alias: str | None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LogSettings:
        freqai = config.get("freqai") or {}
        tradai = freqai.get("tradai") or {}
        userdir = Path(config.get("user_data_dir") or "user_data")
        path = tradai.get("prediction_log_path") or default_prediction_log_path(userdir)
        horizon = int((freqai.get("feature_parameters") or {}).get("label_period_candles", 12))
        return cls(
            enabled=bool(tradai.get("prediction_log", True)),
            path=Path(path),
            retention_days=int(tradai.get("prediction_log_retention_days", 30)),
            horizon=horizon,
            shadow_alias=tradai.get("shadow_alias") or None,
        )


class ShadowLoader(RegistryBundleLoader):
    """Loader of ``models:/Name@alias`` that never falls back to ``@fallback``.

    It shares the served model's cache folder, so its served-version record is keyed by its
    own alias: remembering or forgetting the shadow never touches the served model's record.
    """

    @property
    def served_path(self) -> Path:
        return self.cache_dir / f"served-shadow-{self.ref.alias or self.ref.version}.json"

    def resolve(self) -> tuple[str, str | None]:
        from tradai_strategy.registry.client import RegistryClient

        registry = RegistryClient(self.tracking_uri)
        version = self._call("alias lookup", registry.resolve, self.ref.name, self.ref.alias)
        if version is None:
            raise NoServableVersionError(
                f"{self.ref.uri}: alias not set, nothing to shadow (set it with tradai promote "
                f"{self.ref.name} VERSION --to {self.ref.alias})"
            )
        mv = self._call("version lookup", registry.client.get_model_version, self.ref.name, version)
        return str(mv.version), (mv.tags or {}).get(MANIFEST_TAG)


class ShadowWatcher(ModelWatcher):
    """The watcher of the shadow alias: same loading and hot swap, its own log wording."""

    def _alert_stop(self, reason: str) -> None:
        logger.warning("TradAI: no shadow predictions (%s)", reason)


class LivePredictionLogger:
    """Writes champion/shadow predictions and realised targets; never raises."""

    def __init__(self, settings: LogSettings, model_name: str) -> None:
        self.settings = settings
        self.model_name = model_name
        self.log: PredictionLog | None = None
        self._last_prune: pd.Timestamp | None = None
        self._realised_until: dict[str, pd.Timestamp] = {}  # per pair: newest time realised
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradai-plog")
        self._failing: set[str] = set()  # what is failing now: logged once per streak
        try:
            self.log = PredictionLog(settings.path)
        except Exception as err:
            logger.error("TradAI: prediction log %s unusable (%s): not logging", settings.path, err)

    def _submit(self, what: str, fn: Any, *args: Any) -> None:
        """Queue one write (in order, off the prediction path)."""
        if self.log is None:
            return
        with contextlib.suppress(RuntimeError):  # closed: the bot is stopping
            self._writer.submit(self._guard, what, fn, *args)

    def flush(self) -> None:
        """Wait until every queued write is done."""
        self._writer.submit(lambda: None).result()

    def close(self) -> None:
        """Finish the queued writes and stop the writer thread."""
        self._writer.shutdown(wait=True)

    def _guard(self, what: str, fn: Any, *args: Any) -> None:
        if self.log is None:
            return
        try:
            fn(*args)
            self._failing.discard(what)
        except Exception as err:
            if what not in self._failing:  # once per failure streak, not every candle
                logger.error("TradAI: could not %s in %s (%s)", what, self.settings.path, err)
            self._failing.add(what)

    def predictions(
        self, pair: str, version: str, model: PairModel, rows: pd.DataFrame, role: str
    ) -> None:
        """Log ``rows`` (prediction-table rows) after the model's training end."""
        self._submit("log predictions", self._write, pair, version, model, rows.copy(), role)

    def _write(
        self, pair: str, version: str, model: PairModel, rows: pd.DataFrame, role: str
    ) -> None:
        assert self.log is not None
        dates = pd.to_datetime(rows[DATE], utc=True)
        keep = (dates > model.train_end).to_numpy()
        score = model.score_column
        if not keep.any() or score is None:  # a classifier without an "up" class: no score
            return
        self.log.log(
            pd.DataFrame(
                {
                    "time": dates[keep].to_numpy(),
                    "pair": pair,
                    "model": self.model_name,
                    "version": str(version),
                    "role": role,
                    "prediction": rows.loc[keep, score].to_numpy(dtype=float),
                }
            )
        )

    def realised(self, pair: str, candles: pd.DataFrame) -> None:
        """Fill realised targets of logged rows whose horizon has passed; prune daily."""
        # plain arrays (cheap to take; freqtrade may change its frame later)
        recent = (candles[DATE].to_numpy(copy=True), candles["close"].to_numpy(copy=True))
        self._submit("record realised targets", self._realise, pair, recent)

    def _realise(self, pair: str, recent: tuple[Any, Any]) -> None:
        assert self.log is not None
        candles = pd.DataFrame({DATE: recent[0], "close": recent[1]})
        done = self._realised_until.get(pair)
        if done is not None:  # only the candles whose horizon passed since the last call
            dates = pd.to_datetime(candles[DATE], utc=True)
            candles = candles.iloc[int(dates.searchsorted(done, side="right")) :]
        rows = realised_from_candles(candles, self.settings.horizon, pair=pair)
        if not rows.empty:
            self.log.record_realised(rows)
            self._realised_until[pair] = rows["time"].max()
        last = pd.Timestamp(candles[DATE].iloc[-1])
        last = last.tz_localize("UTC") if last.tzinfo is None else last
        if self._last_prune is None or last - self._last_prune >= pd.Timedelta(days=1):
            self._last_prune = last
            self.log.prune(self.settings.retention_days, now=last)
