"""Prediction logging for the live/dry-run MLflow model (champion and optional shadow).

Config (``freqai.tradai``): ``prediction_log`` (default true), ``prediction_log_path``
(default ``<user_data>/tradai_predictions.sqlite``), ``prediction_log_retention_days``
(30) and ``shadow_alias`` (e.g. ``"challenger"``: that alias's version also predicts every
candle, logged with role ``shadow``, never used for trading; no fallback when it is unset).

Realised targets are filled on every new candle from the candles themselves, once the label
horizon ``label_period_candles`` has passed: TradAI's built-in targets (``&-s_close``,
``&-s_updown``'s ``up`` score) against the forward mean return, as
:func:`~tradai_strategy.monitoring.prediction_log.realised_from_candles` computes it; a
strategy's own target (``&-fwd_logret``...) against that label, computed by the strategy's
``set_freqai_targets`` on the candles (:meth:`LivePredictionLogger.bind_targets`; a
TradAIStrategy binds itself). A custom target whose label cannot be computed that way is not
compared with anything: its realised values stay empty and the log says why, once.

A classifier's rows also carry the predicted class and every class probability; its realised
class is filled the same way: ``up``/``down`` from the sign of the forward mean return,
the ``regime`` target's label from :func:`~tradai_strategy.core.regimes.regime_labels` on
the candles (settings ``freqai.tradai.regime``; a row whose trailing quantiles reach before
the candles the bot holds stays without one), a custom class label from the strategy.
Nothing here may stop or slow a prediction: the writes run in order on one background
thread (:meth:`LivePredictionLogger.flush` waits for them) on plain arrays (the thread shares
the GIL with the bot), and every failure is logged and swallowed.
"""

from __future__ import annotations

import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.bundle.format import PairModel
from tradai_strategy.core import tags as tag
from tradai_strategy.core.labels import RETURN_LABEL, UPDOWN_LABEL, forward_mean_return
from tradai_strategy.core.regimes import REGIME_LABEL, RegimeSettings, regime_labels
from tradai_strategy.core.settings import label_period_candles, tradai_block
from tradai_strategy.monitoring.prediction_log import (
    PredictionLog,
    default_prediction_log_path,
    epoch_ms,
)
from tradai_strategy.serving.loader import NoServableVersionError, RegistryBundleLoader
from tradai_strategy.serving.watcher import ModelWatcher

logger = logging.getLogger(__name__)
DATE = "date"


@dataclass(frozen=True)
class LogSettings:
    enabled: bool
    path: Path
    retention_days: int
    horizon: int
    shadow_alias: str | None
    #: the ``regime`` target's settings (its realised labels are computed with them)
    regime: RegimeSettings | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LogSettings:
        tradai = tradai_block(config)
        userdir = Path(config.get("user_data_dir") or "user_data")
        path = tradai.get("prediction_log_path") or default_prediction_log_path(userdir)
        horizon = label_period_candles(config)
        return cls(
            regime=RegimeSettings.from_config(config),
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
        return str(mv.version), (mv.tags or {}).get(tag.MANIFEST)


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
        self._realised_until: dict[str, int] = {}  # per pair: newest epoch ms realised
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tradai-plog")
        self._failing: set[str] = set()  # what is failing now: logged once per streak
        self._labels: dict[str, str] = {}  # per pair: the served model's first label
        self._classes: dict[str, list[str]] = {}  # per pair: the served classifier's classes
        self._said: set[str] = set()  # realised-target notices already logged
        self.strategy: Any = None  # the strategy whose set_freqai_targets gives the labels
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
            self._failed(what, err)

    def _failed(self, what: str, err: Exception) -> None:
        """Log a failure once per streak. Runs on the writer thread only (a failure found on
        the prediction path is queued behind the writes before it), so an earlier write that
        succeeds later cannot end the streak out of order."""
        if what not in self._failing:  # once per failure streak, not every candle
            logger.error("TradAI: could not %s in %s (%s)", what, self.settings.path, err)
        self._failing.add(what)

    def _failed_here(self, what: str, err: Exception) -> None:
        """A failure on the prediction path: reported in order on the writer thread."""
        with contextlib.suppress(RuntimeError):  # closed: the bot is stopping
            self._writer.submit(self._failed, what, err)

    def bind_targets(self, strategy: Any) -> None:
        """Compute realised values of the strategy's own targets with its
        ``set_freqai_targets`` (a TradAIStrategy calls this on every candle)."""
        self.strategy = strategy

    def predictions(
        self, pair: str, version: str, model: PairModel, rows: pd.DataFrame, role: str
    ) -> None:
        """Log ``rows`` (prediction-table rows) after the model's training end: the score
        (a regressor's label, ``P(up)``), and for a classifier also the predicted class and
        every class probability."""
        score = model.score_column
        classes = [str(c) for c in (getattr(model, "classes", None) or [])]
        if self.log is None or (score is None and not classes) or rows.empty:
            return
        # plain arrays for the writer thread: it shares the GIL with the bot, so it must
        # not spend milliseconds building DataFrames
        try:
            values = rows[score].to_numpy(dtype=float, copy=True) if score else None
            end = int(pd.Timestamp(model.train_end).value // 1_000_000)
            times = epoch_ms(rows[DATE], "served predictions")
            label = (list(getattr(model, "labels", None) or []) or [score])[0]
            if role == "champion":  # the quantity its realised values must be
                self._labels[pair] = str(label)
                if classes:
                    self._classes[pair] = classes
                else:
                    self._classes.pop(pair, None)
            if classes:
                predicted = rows[label].to_numpy(dtype=object, copy=True)
                proba = rows[classes].to_numpy(dtype=float, copy=True)
                cargs = (pair, str(version), role, times, predicted, proba, classes, values, end)
                self._submit("log predictions", self._write_classes, *cargs)
                return
            args = (pair, str(version), role, times, values, end)
        except Exception as err:  # never into the bot: the prediction stands
            self._failed_here("log predictions", err)
            return
        self._submit("log predictions", self._write, *args)

    def _write(
        self, pair: str, version: str, role: str, ms: np.ndarray, values: np.ndarray, end: int
    ) -> None:
        assert self.log is not None
        keep = ms > end
        if keep.any():
            self.log.insert(ms[keep], pair, self.model_name, version, role, values[keep])

    def _write_classes(
        self,
        pair: str,
        version: str,
        role: str,
        ms: np.ndarray,
        predicted: np.ndarray,
        proba: np.ndarray,
        classes: list[str],
        score: np.ndarray | None,
        end: int,
    ) -> None:
        assert self.log is not None
        keep = ms > end
        if keep.any():
            self.log.insert_classes(
                ms[keep],
                pair,
                self.model_name,
                version,
                role,
                predicted[keep],
                proba[keep],
                classes,
                self.settings.horizon,
                None if score is None else score[keep],
            )

    def realised(self, pair: str, candles: pd.DataFrame) -> None:
        """Fill realised targets of logged rows whose horizon has passed; prune daily."""
        if self.log is None:
            return
        # plain arrays (cheap to take; freqtrade may change its frame later)
        try:
            times = epoch_ms(candles[DATE], "candles")
            custom = self._custom_label(pair)
            if custom is not None and self.strategy is None:
                self._say_once(
                    pair,
                    f"{pair}: realised values of {custom} are not recorded: the prediction log "
                    "computes a custom target with the strategy's set_freqai_targets and no "
                    "strategy is bound (a TradAIStrategy binds itself); the forward return is "
                    "not the same quantity, so nothing is compared",
                )
                return
            frame = candles.copy() if custom is not None else None  # the strategy's input
            recent = (times, candles["close"].to_numpy(dtype=float, copy=True), frame)
        except Exception as err:  # never into the bot
            self._failed_here("record realised targets", err)
            return
        self._submit("record realised targets", self._realise, pair, recent)

    def _custom_label(self, pair: str) -> str | None:
        """The served model's label when it is not TradAI's built-in target."""
        label = self._labels.get(pair)
        builtin = label in (None, RETURN_LABEL, UPDOWN_LABEL, REGIME_LABEL) and not getattr(
            self.strategy, "custom_targets", False
        )
        return None if builtin else label

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            logger.warning("TradAI: %s", message)

    def _strategy_label(
        self, pair: str, label: str, frame: pd.DataFrame, classes: bool = False
    ) -> np.ndarray | None:
        """The strategy's own label on the candles (NaN, or None for a class label, where
        the horizon has not passed), or None (said once) when it cannot be computed."""
        try:
            out = self.strategy.set_freqai_targets(frame, metadata={"pair": pair})
            if classes:
                found = out[label]
                text = found.astype(object).map(str).where(found.notna(), None)
                labels = text.to_numpy(dtype=object, copy=True)
                labels[max(0, len(labels) - self.settings.horizon) :] = None  # future
                return labels
            values = pd.to_numeric(out[label], errors="raise").to_numpy(dtype=float, copy=True)
        except Exception as err:
            self._say_once(
                pair,
                f"{pair}: realised values of {label} are not recorded: the strategy's "
                f"set_freqai_targets did not give it from the candles ({type(err).__name__}: "
                f"{err}); nothing is compared with the predictions",
            )
            return None
        values[max(0, len(values) - self.settings.horizon) :] = np.nan  # future not known
        return values

    def _realise(
        self, pair: str, recent: tuple[np.ndarray, np.ndarray, pd.DataFrame | None]
    ) -> None:
        assert self.log is not None
        ms, close, frame = recent
        done = self._realised_until.get(pair)
        # only the candles whose horizon passed since the last call
        start = 0 if done is None else int(np.searchsorted(ms, done, side="right"))
        classes = pair in self._classes
        values: np.ndarray | None = None
        labels: np.ndarray | None = None
        if frame is None and self._labels.get(pair) == REGIME_LABEL:
            h = self.settings.horizon
            full = regime_labels(pd.Series(close), h, self.settings.regime).to_numpy(object)
            labels = full[start:]
        elif frame is None:
            values = forward_mean_return(close[start:], self.settings.horizon)
            if classes:  # TradAI's up/down target: the sign of the same forward return
                labels = np.where(values > 0, "up", "down").astype(object)
                labels[np.isnan(values)] = None
        else:
            full = self._strategy_label(pair, self._labels[pair], frame, classes)
            if full is None:
                return
            if classes:
                labels = full[start:]
            else:
                values = full[start:]
        newest: list[int] = []
        if values is not None:
            known = ~np.isnan(values)
            if known.any():
                times = ms[start:][known]
                self.log.set_realised(times, pair, values[known])
                newest.append(int(times.max()))
        if labels is not None:
            known = np.array([lab is not None for lab in labels], dtype=bool)
            if known.any():
                times = ms[start:][known]
                self.log.set_realised_labels(times, pair, labels[known])
                newest.append(int(times.max()))
        if newest:
            self._realised_until[pair] = max(newest)
        last = pd.Timestamp(int(ms[-1]), unit="ms", tz="UTC")
        if self._last_prune is None or last - self._last_prune >= pd.Timedelta(days=1):
            self._last_prune = last
            self.log.prune(self.settings.retention_days, now=last)
