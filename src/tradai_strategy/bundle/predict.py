"""From the strategy's candles to a bundle's prediction rows (shared by the MLflow models).

Features are computed by FreqAI's own data kitchen through the strategy's
``feature_engineering_*`` functions, exactly as in training; predictions come back as rows
of a prediction table (:mod:`tradai_strategy.data.prediction_table`), so every inference
path ends in the same :func:`~tradai_strategy.serving.prediction_source.attach_predictions`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.bundle.format import PairModel
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.settings import tradai_block
from tradai_strategy.data.prediction_table import DATE, DI_VALUES, DO_PREDICT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingSettings:
    """``freqai.tradai`` keys of the MLflow-backed models.

    ``model_uri`` (or ``prediction_source.model_uri``): ``models:/Name@alias``;
    ``tracking_uri``: the MLflow server or store (default: TradAI's, see
    :mod:`tradai_strategy.registry.store`); ``reload_check_seconds``: how often, in candle
    time, the alias is checked in dry-run/live (default: one candle); ``registry_timeout_seconds``:
    the longest a candle waits for the registry (default 10); ``allow_in_sample``: use
    predictions on candles the model was trained on (default false: ``do_predict = 0``).
    """

    model_uri: str
    tracking_uri: str | None
    reload_check_seconds: float
    registry_timeout_seconds: float
    allow_in_sample: bool
    with_di: bool

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ServingSettings:
        freqai = config.get("freqai") or {}
        tradai = tradai_block(config)
        source = tradai.get("prediction_source") or {}
        uri = tradai.get("model_uri") or (source.get("model_uri") if source else None)
        if not uri:
            raise TradAIConfigError(
                "freqai.tradai.model_uri is missing: set it to models:/<name>@<alias> "
                "(e.g. models:/RadStrategy@production)"
            )
        candle = float(timeframe_to_seconds(config.get("timeframe", "1h")))
        values = {}
        for key, default in (("reload_check_seconds", candle), ("registry_timeout_seconds", 10.0)):
            value = tradai.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise TradAIConfigError(
                    f"freqai.tradai.{key} must be a non-negative number of seconds, got {value!r}"
                )
            values[key] = float(value)
        return cls(
            model_uri=str(uri),
            tracking_uri=tradai.get("tracking_uri") or source.get("tracking_uri"),
            allow_in_sample=bool(tradai.get("allow_in_sample", False)),
            with_di=bool(freqai.get("feature_parameters", {}).get("DI_threshold", 0)),
            **values,
        )


def strategy_features(
    dk: FreqaiDataKitchen, strategy: Any, dataframe: pd.DataFrame, pair: str
) -> pd.DataFrame:
    """The strategy's FreqAI features of ``pair`` for every candle of ``dataframe``."""
    frame = dk.use_strategy_to_populate_indicators(
        strategy, prediction_dataframe=dataframe, pair=pair
    )
    return dk.remove_special_chars_from_feature_names(frame)


def prediction_rows(model: PairModel, frame: pd.DataFrame, with_di: bool) -> pd.DataFrame:
    """Prediction-table rows (date, labels, their training mean/std, do_predict[, DI])."""
    pred, do_predict, di = model.predict(frame)
    out: dict[str, Any] = {DATE: frame[DATE].to_numpy()}
    if model.classes:  # FreqAI's classifier columns: label, then each class's probability
        out[model.labels[0]] = pred[model.labels[0]].to_numpy()
    for name in model.outputs:
        out[name] = pred[name].to_numpy()
        out[f"{name}_mean"] = float(model.labels_mean.get(name, 0.0))
        out[f"{name}_std"] = float(model.labels_std.get(name, 0.0))
    out[DO_PREDICT] = do_predict
    if with_di:
        out[DI_VALUES] = di
    return pd.DataFrame(out)


def guard_in_sample(
    rows: pd.DataFrame, model: PairModel, allow: bool, since: pd.Timestamp | None = None
) -> pd.DataFrame:
    """``do_predict = 0`` on candles inside the model's training data (unless allowed).

    :param since: warn only about such candles from this date on (the backtest start:
        earlier candles only warm up indicators).
    """
    if allow or rows.empty:
        return rows
    dates = pd.to_datetime(rows[DATE], utc=True)
    inside = dates <= model.train_end
    if (inside & (dates >= since)).any() if since is not None else inside.any():
        logger.warning(
            "TradAI: %d candles of %s are inside the model's training data (up to %s): "
            "do_predict=0 on them (freqai.tradai.allow_in_sample: true to use them)",
            int((inside & (dates >= since)).sum()) if since is not None else int(inside.sum()),
            model.pair,
            model.train_end,
        )
    if inside.any():
        rows = rows.copy()
        rows[DO_PREDICT] = np.where(inside, 0, rows[DO_PREDICT])
    return rows
