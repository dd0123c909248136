"""TradAIMLflowModel: serve a registered model bundle, following its alias in dry-run/live.

Features are computed through the strategy as usual; the bundle's pipelines and estimator
predict. Nothing is trained. In dry-run/live the alias is checked at most once per
``reload_check_seconds`` of candle time and a new version is swapped in without a restart
(logged); an unreachable registry leaves the cached version serving (alert logged); with
no loadable version the strategy gets ``do_predict = 0`` and a "no model ready" log line.

In dry-run/live (never in backtests) each new prediction is written to the prediction log
(:mod:`tradai_strategy.serving.live_log`: ``freqai.tradai.prediction_log*`` keys) with its
realised target once the label horizon has passed; with ``freqai.tradai.shadow_alias`` the
alias's version predicts beside the served one (role ``shadow``), logged only, never traded.
A logging or shadow failure is logged and never stops the served predictions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.bundle.format import ModelBundle, PairModel
from tradai_strategy.bundle.predict import (
    ServingSettings,
    guard_in_sample,
    prediction_rows,
    strategy_features,
)
from tradai_strategy.data.prediction_table import DATE
from tradai_strategy.freqai.inference_base import InferenceOnlyModel
from tradai_strategy.registry.client import bound_registry_calls
from tradai_strategy.serving.compat import check_classes, check_trained_for, strategy_classes
from tradai_strategy.serving.loader import RegistryBundleLoader
from tradai_strategy.serving.prediction_source import (
    attach_predictions,
    empty_predictions,
    strategy_labels,
)
from tradai_strategy.serving.watcher import ModelWatcher

logger = logging.getLogger(__name__)


class TradAIMLflowModel(InferenceOnlyModel):
    """Predict with the bundle ``freqai.tradai.model_uri`` names (``models:/Name@alias``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.serving = ServingSettings.from_config(self.config)
        bound_registry_calls(self.serving.registry_timeout_seconds)
        loader = RegistryBundleLoader(
            self.serving.model_uri,
            Path(self.full_path) / "registry_cache",
            self.serving.tracking_uri,
            pairs=None,  # a whitelisted pair the bundle lacks fails alone, not the bundle
        )
        self.watcher = ModelWatcher(
            loader,
            self.serving.reload_check_seconds,
            self.serving.registry_timeout_seconds,
            accept=self._accept,
        )
        self._columns: dict[str, list[str]] = {}  # pair -> last computed feature columns
        self._history: dict[str, pd.DataFrame] = {}  # pair -> predictions served (live)
        self._classes: tuple[str, tuple[str, ...]] | None = None  # the strategy's target
        self.plog: Any = None  # LivePredictionLogger in dry-run/live
        self.shadow: ModelWatcher | None = None
        if self.config.get("runmode") in (RunMode.DRY_RUN, RunMode.LIVE):
            self._start_monitoring(loader)

    def _start_monitoring(self, loader: RegistryBundleLoader) -> None:
        """Prediction log and shadow model (dry-run/live only); failures only logged."""
        from tradai_strategy.serving.live_log import (
            LivePredictionLogger,
            LogSettings,
            ShadowLoader,
            ShadowWatcher,
        )

        settings = LogSettings.from_config(self.config)
        if settings.enabled:
            self.plog = LivePredictionLogger(settings, loader.ref.name)
        if settings.shadow_alias:
            shadow = ShadowLoader(
                f"models:/{loader.ref.name}@{settings.shadow_alias}",
                Path(self.full_path) / "registry_cache",
                self.serving.tracking_uri,
            )
            self.shadow = ShadowWatcher(
                shadow, self.serving.reload_check_seconds, self.serving.registry_timeout_seconds
            )

    # ---- backtest --------------------------------------------------------------------
    def start_backtesting(
        self, dataframe: pd.DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any
    ) -> FreqaiDataKitchen:
        pair = metadata["pair"]
        self._classes = strategy_classes(strategy)
        model = self.watcher.require().model(pair)
        frame = strategy_features(dk, strategy, dataframe, pair)
        model.check_features(list(frame.columns))
        rows = prediction_rows(model, frame, self.serving.with_di)
        start = TimeRange.parse_timerange(self.config.get("timerange")).startdt
        self._warn_warmup(pair, model, frame, start)
        rows = guard_in_sample(rows, model, self.serving.allow_in_sample, start)
        dk.return_dataframe = attach_predictions(dataframe, rows)
        self._save_backtest_predictions(pair, rows)
        return dk

    def _warn_warmup(self, pair: str, model: PairModel, frame: pd.DataFrame, start: Any) -> None:
        """One line when candles of the timerange lack features (do_predict = 0 there): the
        startup candles did not cover the longest feature window (the regime features need
        ``freqai.tradai.regime.lookback`` + ``label_period_candles`` candles)."""
        dates = pd.to_datetime(frame[DATE], utc=True)
        missing = frame.loc[:, model.features].isna().any(axis=1) & (dates >= start)
        if missing.any():
            last = dates[missing].max()
            logger.warning(
                "TradAI: %d candles of %s (up to %s) have no value for some features, so "
                "do_predict=0 on them: the startup candles (startup_candle_count %s) do not "
                "cover the longest feature window (raise startup_candle_count; the regime "
                "features need regime.lookback + label_period_candles), or the candles have gaps",
                int(missing.sum()),
                pair,
                last,
                self.config.get("startup_candle_count"),
            )

    def _save_backtest_predictions(self, pair: str, rows: pd.DataFrame) -> None:
        """FreqAI's file layout, so ``tradai predictions export`` reads them like any run."""
        tr = TimeRange.parse_timerange(self.config.get("timerange"))
        keep = rows[(rows[DATE] >= tr.startdt) & (rows[DATE] < tr.stopdt)] if tr.stopts else rows
        folder = Path(self.full_path) / "backtesting_predictions"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"cb_{pair.split('/')[0].lower()}_{int(tr.startts)}_prediction.feather"
        keep.reset_index(drop=True).to_feather(folder / name)

    # ---- dry-run / live --------------------------------------------------------------
    def start_live(
        self, dataframe: pd.DataFrame, metadata: dict, strategy: Any, dk: FreqaiDataKitchen
    ) -> FreqaiDataKitchen:
        pair = metadata["pair"]
        self._classes = strategy_classes(strategy)
        self.watcher.tick(pd.Timestamp(dataframe[DATE].iloc[-1]))
        served = self.watcher.current
        if served is None:
            logger.warning(
                "TradAI: no model ready for %s (%s): returning do_predict=0",
                pair,
                self.watcher.last_error or f"{self.serving.model_uri} not loaded yet",
            )
            labels = strategy_labels(strategy, dataframe, metadata)
            dk.return_dataframe = attach_predictions(
                dataframe, empty_predictions(dataframe, labels)
            )
            return dk
        try:
            rows = self._live_rows(served.bundle, dataframe, pair, dk, strategy)
        except Exception as err:  # a bad pair or feature set must not stop the bot
            logger.error("TradAI: no prediction for %s (%s): do_predict=0", pair, err)
            labels = served.bundle.manifest["pairs"].get(pair, {}).get("labels") or strategy_labels(
                strategy, dataframe, metadata
            )
            rows = empty_predictions(dataframe, labels)
        dk.return_dataframe = attach_predictions(dataframe, rows)
        return dk

    def _live_rows(
        self,
        bundle: ModelBundle,
        dataframe: pd.DataFrame,
        pair: str,
        dk: FreqaiDataKitchen,
        strategy: Any,
    ) -> pd.DataFrame:
        """Predict the candles not predicted yet; earlier candles keep what was served."""
        model = bundle.model(pair)
        frame = strategy_features(dk, strategy, dataframe, pair)
        self._columns[pair] = list(frame.columns)
        model.check_features(self._columns[pair])
        history = self._history.get(pair)
        if history is not None and len(history):
            frame = frame[frame[DATE] > history[DATE].max()]
            if frame.empty:  # the same candle again (another pass over the pairlist)
                return history
        rows = prediction_rows(model, frame, self.serving.with_di)
        self._monitor(pair, model, rows, frame, dataframe)
        if history is not None and len(history):
            rows = pd.concat([history, rows], ignore_index=True)
        self._history[pair] = rows.tail(len(dataframe)).reset_index(drop=True)
        return self._history[pair]

    def _monitor(
        self,
        pair: str,
        model: PairModel,
        rows: pd.DataFrame,
        frame: pd.DataFrame,
        candles: pd.DataFrame,
    ) -> None:
        """Log the new champion rows, the shadow's rows and realised targets (never raises)."""
        if self.plog is None:
            return
        served = self.watcher.current
        self.plog.predictions(pair, served.version if served else "?", model, rows, "champion")
        if self.shadow is not None:
            try:
                self.shadow.tick(pd.Timestamp(candles[DATE].iloc[-1]))
                current = self.shadow.current
                if current is not None and pair in current.bundle.models:
                    other = current.bundle.model(pair)
                    shadow_rows = prediction_rows(other, frame, False)
                    self.plog.predictions(pair, current.version, other, shadow_rows, "shadow")
            except Exception as err:  # the shadow must never disturb the served model
                logger.error("TradAI: shadow prediction for %s failed (%s)", pair, err)
        self.plog.realised(pair, candles)

    def _accept(self, bundle: ModelBundle) -> None:
        """Refuse a version trained for another timeframe, horizon or class list, or one the
        running strategy cannot feed (raises)."""
        what = f"{self.serving.model_uri} ({bundle.path})"
        check_trained_for(bundle.manifest, self.config, what)
        check_classes(bundle.manifest, self._classes, what)
        for pair, columns in self._columns.items():
            bundle.model(pair).check_features(columns)

    # ---- FreqAI's predict (frames that already hold the features) -------------------
    def predict(self, unfiltered_df: pd.DataFrame, dk: FreqaiDataKitchen, **kwargs: Any) -> Any:
        """FreqAI-style ``(pred_df, do_predict)`` for a frame that already holds the features."""
        bundle = self.watcher.current.bundle if self.watcher.current else self.watcher.require()
        pred, do_predict, di = bundle.model(dk.pair).predict(unfiltered_df)
        dk.DI_values = di
        return pred, do_predict

    def _on_stop(self) -> None:
        if self.plog is not None:
            self.plog.close()
        self.watcher.close()
        if self.shadow is not None:
            self.shadow.close()
        super()._on_stop()
