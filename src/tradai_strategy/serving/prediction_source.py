"""Where an inference-only model gets its predictions, and how they meet the strategy's candles.

``freqai.tradai.prediction_source`` is one of

* ``{"type": "csv", "path": "preds.csv"}`` — a prediction table
  (:mod:`tradai_strategy.data.prediction_table`, CSV or parquet), re-read when the file
  changes (an external process may append predictions in dry-run/live);
* ``{"type": "mlflow", "model_uri": "models:/Name@alias"}`` — predictions computed by the
  registered model bundle on the strategy's features
  (:class:`~tradai_strategy.freqai.mlflow_model.TradAIMLflowModel` does that with hot reload).

:func:`attach_predictions` joins predictions to candles on the exact candle date, so a
prediction is never used on a candle earlier than its own timestamp; candles without one get
zeros and ``do_predict = 0``, as FreqAI fills candles outside its backtest windows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import tradai_block
from tradai_strategy.data.prediction_table import DATE, DO_PREDICT, PAIR, read_predictions

logger = logging.getLogger(__name__)

SOURCE_KEY = "freqai.tradai.prediction_source"
_SOURCE_HINT = '{"type": "csv", "path": "preds.csv"} or {"type": "mlflow", "model_uri": ...}'


def source_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The validated ``prediction_source`` block of a config."""
    source = tradai_block(config).get("prediction_source")
    if not isinstance(source, dict):
        raise TradAIConfigError(f"{SOURCE_KEY} is missing: set it to {_SOURCE_HINT}")
    kind = source.get("type")
    if kind == "csv":
        if not source.get("path"):
            raise TradAIConfigError(f"{SOURCE_KEY}.path is missing: the prediction table file")
    elif kind == "mlflow":
        if not str(source.get("model_uri") or "").startswith("models:/"):
            raise TradAIConfigError(
                f"{SOURCE_KEY}.model_uri {source.get('model_uri')!r} is not a registry URI: "
                "use models:/<name>@<alias> or models:/<name>/<version>"
            )
    else:
        raise TradAIConfigError(
            f"{SOURCE_KEY}.type {kind!r} is unknown: use csv or mlflow ({_SOURCE_HINT})"
        )
    return dict(source)


def attach_predictions(dataframe: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Left-join one pair's predictions to the strategy's candles on ``date``.

    :param dataframe: the strategy's candles (``date`` plus anything else); existing
        ``&``/``%%`` columns are replaced, as FreqAI does.
    :param predictions: rows of a prediction table (``date`` + prediction columns; a
        ``pair`` column is ignored).
    :return: ``dataframe`` with the prediction columns; candles without a prediction get 0
        in every prediction column and ``do_predict = 0``.
    """
    preds = predictions.drop(columns=[PAIR], errors="ignore")
    pred_cols = [c for c in preds.columns if c != DATE]
    keep = [
        c for c in dataframe.columns if not str(c).startswith(("&", "%%")) and c not in pred_cols
    ]
    candles = pd.DatetimeIndex(dataframe[DATE])
    dates = pd.DatetimeIndex(preds[DATE])
    if (dates.tz is None) != (candles.tz is None):
        raise TradAIDataError(
            f"prediction dates are {'naive' if dates.tz is None else 'timezone-aware'} but the "
            "candles' are not: give both in UTC"
        )
    if not dates.is_unique:
        raise TradAIDataError(
            f"predictions: {int(dates.duplicated().sum())} duplicate dates for one pair: keep "
            "one prediction per candle"
        )
    # a positional take (not a merge): this runs on every live candle for every pair; both
    # sides in ns, so no date is rounded onto a candle it does not match exactly
    pos = dates.as_unit("ns").get_indexer(candles.as_unit("ns"))
    hit = pos >= 0
    take = np.where(hit, pos, 0)
    cols: dict[str, Any] = {}
    for col in pred_cols:
        values = preds[col].to_numpy()
        cols[col] = np.where(hit, values[take], np.nan) if len(values) else np.zeros(len(pos))
    out = dataframe[keep].reset_index(drop=True)
    new = pd.DataFrame(cols, index=out.index).fillna(0)  # no prediction, or an empty cell: 0
    new[DO_PREDICT] = new[DO_PREDICT].astype(np.int64)
    return pd.concat([out, new], axis=1)


def empty_predictions(
    dataframe: pd.DataFrame, labels: list[str], with_di: bool = False
) -> pd.DataFrame:
    """A prediction table with no rows: every candle gets zeros and ``do_predict = 0``."""
    stats = [f"{lab}_{s}" for lab in labels for s in ("mean", "std")]
    cols: dict[str, Any] = {DATE: dataframe[DATE].iloc[:0]}
    cols.update({c: pd.Series(dtype=float) for c in [*labels, *stats]})
    cols[DO_PREDICT] = pd.Series(dtype=np.int64)
    if with_di:
        cols["DI_values"] = pd.Series(dtype=float)
    return pd.DataFrame(cols)


def strategy_labels(strategy: Any, dataframe: pd.DataFrame, metadata: dict) -> list[str]:
    """The ``&``-columns the strategy's ``set_freqai_targets`` creates (cheap: two rows)."""
    targets = strategy.set_freqai_targets(dataframe.tail(2).copy(), metadata=metadata)
    return [str(c) for c in targets.columns if str(c).startswith("&")]


def uncovered(dates: pd.Series, predictions: pd.DataFrame) -> int:
    """How many of ``dates`` have no prediction row."""
    have = pd.DatetimeIndex(predictions[DATE]).as_unit("ns")
    return int((~pd.DatetimeIndex(dates).as_unit("ns").isin(have)).sum())


@dataclass
class CsvPredictionSource:
    """A prediction table file, grouped by pair; re-read when its modification time changes.

    ``timeframe``: the strategy's; a date that is not one of its candle open times is refused
    (it would match no candle and silently never trade).
    """

    path: Path
    timeframe: str | None = None
    _mtime: float = -1.0
    _by_pair: dict[str, pd.DataFrame] = field(default_factory=dict)

    def load(self) -> None:
        """(Re-)read the file when it changed since the last read."""
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = -1.0
        if mtime == self._mtime and self._by_pair:
            return
        table = read_predictions(self.path, timeframe=self.timeframe)
        self._by_pair = {str(p): rows.reset_index(drop=True) for p, rows in table.groupby(PAIR)}
        self._mtime = mtime
        logger.info(
            "TradAI: %d predictions for %s loaded from %s",
            len(table),
            ", ".join(self._by_pair),
            self.path,
        )

    @property
    def pairs(self) -> list[str]:
        return list(self._by_pair)

    def for_pair(self, pair: str) -> pd.DataFrame:
        """The pair's predictions; raises when the table has none for it."""
        rows = self._by_pair.get(pair)
        if rows is None:
            raise TradAIDataError(
                f"{self.path}: no predictions for pair {pair} (the table has "
                f"{', '.join(self._by_pair) or 'none'}): export them or remove {pair} from "
                "the whitelist"
            )
        return rows
