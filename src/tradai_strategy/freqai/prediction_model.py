"""TradAIPredictionModel: an inference-only FreqAI model fed by a prediction table or MLflow.

Nothing is trained and, with a CSV source, no feature is computed: the backtest and the
dry-run/live loop only join the source's predictions to the candles
(:func:`~tradai_strategy.serving.prediction_source.attach_predictions`). That is why an
inference backtest costs about what the same trades cost without FreqAI, where FreqAI's own
"reuse the saved predictions" path still computes the features and walks its windows. With
``train_period_days: 0`` freqtrade loads no training window either
(:mod:`~tradai_strategy.freqai.inference_base`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.prediction_table import DATE, DO_PREDICT, label_columns
from tradai_strategy.freqai.inference_base import InferenceOnlyModel
from tradai_strategy.serving.prediction_source import (
    CsvPredictionSource,
    attach_predictions,
    empty_predictions,
    source_settings,
    strategy_labels,
    uncovered,
)

logger = logging.getLogger(__name__)


class TradAIPredictionModel(InferenceOnlyModel):
    """Serve predictions from ``freqai.tradai.prediction_source`` (csv or mlflow).

    Backtest: one join per pair over the whole timerange (FreqAI's window loop is skipped).
    Dry-run/live: the same join on every candle; no training thread is started. Candles
    without a prediction get ``do_predict = 0`` (with a warning when that happens inside the
    backtest timerange or on the newest live candle).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_cfg = source_settings(self.config)
        self.csv: CsvPredictionSource | None = None
        self.bundle_source: Any = None
        if self.source_cfg["type"] == "csv":
            self.csv = CsvPredictionSource(
                Path(self.source_cfg["path"]).expanduser(),
                timeframe=self.config.get("timeframe"),
            )
            self.csv.load()  # fail before the backtest starts on a missing or invalid file
        else:
            from tradai_strategy.serving.mlflow_source import MlflowPredictionSource

            self.bundle_source = MlflowPredictionSource(self.config, self.source_cfg)

    # ---- FreqAI entry points ---------------------------------------------------------
    def start_backtesting(
        self, dataframe: pd.DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any
    ) -> FreqaiDataKitchen:
        pair = metadata["pair"]
        preds = self._predictions(pair, dataframe, dk, strategy)
        tr = TimeRange.parse_timerange(self.config.get("timerange"))
        inside = dataframe[DATE]
        if tr.startts:
            inside = inside[inside >= tr.startdt]
        if tr.stopts:
            inside = inside[inside < tr.stopdt]
        missing = uncovered(inside, preds)
        if missing:
            logger.warning(
                "TradAI: %s has no prediction for %d of the %d candles in the backtest "
                "timerange (%s -> %s); they get do_predict=0",
                pair,
                missing,
                len(inside),
                inside.min(),
                inside.max(),
            )
        self._finish(dataframe, preds, dk)
        return dk

    def start_live(
        self, dataframe: pd.DataFrame, metadata: dict, strategy: Any, dk: FreqaiDataKitchen
    ) -> FreqaiDataKitchen:
        pair = metadata["pair"]
        try:
            preds = self._predictions(pair, dataframe, dk, strategy)
        except TradAIConfigError:
            raise
        except Exception as err:  # never crash the bot loop: no prediction = do_predict 0
            logger.error("TradAI: no predictions for %s (%s); do_predict=0", pair, err)
            preds = empty_predictions(dataframe, strategy_labels(strategy, dataframe, metadata))
        if uncovered(dataframe[DATE].tail(1), preds):
            logger.warning(
                "TradAI: no prediction for %s at %s; do_predict=0",
                pair,
                dataframe[DATE].iloc[-1],
            )
        self._finish(dataframe, preds, dk)
        return dk

    def predict(
        self, unfiltered_df: pd.DataFrame, dk: FreqaiDataKitchen, **kwargs: Any
    ) -> tuple[pd.DataFrame, npt.NDArray[np.int_]]:
        """Predictions of ``dk.pair`` aligned row by row with ``unfiltered_df`` (by date)."""
        preds = self._predictions(dk.pair, unfiltered_df, dk, None)
        joined = attach_predictions(unfiltered_df[[DATE]], preds)
        labels = label_columns(list(preds.columns))
        dk.label_list = labels
        return joined[labels].reset_index(drop=True), joined[DO_PREDICT].to_numpy()

    # ---- helpers ---------------------------------------------------------------------
    def _predictions(
        self, pair: str, dataframe: pd.DataFrame, dk: FreqaiDataKitchen, strategy: Any
    ) -> pd.DataFrame:
        if self.csv is not None:
            if getattr(self, "live", False):
                self.csv.load()  # cheap stat(); re-reads only a changed file
            return self.csv.for_pair(pair)
        return self.bundle_source.predictions(pair, dataframe, dk, strategy)

    def _finish(self, dataframe: pd.DataFrame, preds: pd.DataFrame, dk: FreqaiDataKitchen) -> None:
        dk.return_dataframe = attach_predictions(dataframe, preds)
        labels = label_columns(list(preds.columns))
        dk.label_list = labels
        last = preds.iloc[-1] if len(preds) else None
        for stat in ("mean", "std"):
            values = dk.data.setdefault(f"labels_{stat}", {})
            for label in labels:
                col = f"{label}_{stat}"
                if last is not None and col in preds.columns:
                    values[label] = float(last[col])
