"""Recorded candles served as an exchange would serve them at a given (simulated) time.

The replay exchange (:mod:`tradai_strategy.replay.exchange`) answers every market-data call
of freqtrade's bot from a :class:`CandleFeed`; the feed never decides what "now" is: it is
handed the simulated wall-clock time on every call. At time ``t``:

* closed candles are those whose open time is ``<= t - timeframe`` (they closed at or before
  ``t``); they are returned as recorded;
* the candle that opened at ``floor(t, timeframe)`` is *forming*: it is returned with its
  open as open/high/low/close and zero volume, so nothing the recorded candle learnt after
  its first trade leaks to the bot (freqtrade drops that partial candle anyway, as it does
  on binance, where ``ohlcv_partial_candle`` is set);
* the *current price* of a pair is the open of its forming candle (the first trade at or
  after the candle boundary), or the last close when the data ends there. A backtest fills
  an entry on a signal at exactly that price (the next candle's open), which is why it is
  the one price the replay quotes (ticker last/bid/ask and a one-level order book).

Candles are read lazily with freqtrade's own data handlers (any supported format), once per
(pair, timeframe, candle type).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.data.history.datahandlers.idatahandler import get_datahandler
from freqtrade.enums import CandleType
from freqtrade.exchange import timeframe_to_msecs

__all__ = ["CandleFeed", "CandleKey", "Series"]

_EPOCH = pd.Timestamp(0, tz="UTC")

#: (pair, timeframe, candle type value) - one recorded candle file
CandleKey = tuple[str, str, str]


@dataclass(frozen=True)
class Series:
    """One recorded candle file as arrays: open times (ms) and ``[open, high, low, close,
    volume]`` rows, sorted by time."""

    dates_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Series:
        if df.empty:
            return cls(np.empty(0, dtype=np.int64), np.empty((0, 5), dtype=np.float64))
        dates = pd.to_datetime(df["date"], utc=True)
        ms = ((dates - _EPOCH) // pd.Timedelta(milliseconds=1)).to_numpy(dtype=np.int64)
        cols = ["open", "high", "low", "close", "volume"]
        return cls(ms, df[cols].to_numpy(dtype=np.float64))

    @property
    def empty(self) -> bool:
        return len(self.dates_ms) == 0


@dataclass
class CandleFeed:
    """Recorded candles of ``datadir`` (freqtrade layout, ``data_format`` files)."""

    datadir: Path
    data_format: str = "feather"
    default_candle_type: str = CandleType.SPOT.value
    _series: dict[CandleKey, Series] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def series(self, pair: str, timeframe: str, candle_type: str | None = None) -> Series:
        """The recorded candles of one file (empty when there is none), loaded once."""
        key: CandleKey = (pair, timeframe, candle_type or self.default_candle_type)
        with self._lock:
            if key not in self._series:
                handler = get_datahandler(self.datadir, self.data_format)
                df = handler.ohlcv_load(
                    pair,
                    timeframe,
                    CandleType.from_string(key[2]),
                    fill_missing=False,
                    drop_incomplete=False,
                    warn_no_data=False,
                )
                self._series[key] = Series.from_frame(df)
            return self._series[key]

    def ohlcv(
        self,
        pair: str,
        timeframe: str,
        now_ms: int,
        *,
        since_ms: int | None = None,
        limit: int | None = None,
        candle_type: str | None = None,
    ) -> list[list[float]]:
        """What ccxt's ``fetch_ohlcv`` returns at ``now_ms``: closed candles and the forming
        one (open price only), from ``since_ms`` (the first ``limit``) or the newest
        ``limit`` when ``since_ms`` is None."""
        data = self.series(pair, timeframe, candle_type)
        tf_ms = timeframe_to_msecs(timeframe)
        forming = now_ms - now_ms % tf_ms
        end = int(np.searchsorted(data.dates_ms, forming, side="right"))  # incl. forming
        start = 0 if since_ms is None else int(np.searchsorted(data.dates_ms, since_ms))
        if since_ms is None and limit:
            start = max(0, end - limit)
        elif limit:
            end = min(end, start + limit)
        dates, values = data.dates_ms[start:end], data.values[start:end]
        # one C-level conversion (a Python loop over 1000 rows was ~2 % of a replay)
        rows: list[list[float]] = np.column_stack([dates.astype(np.float64), values]).tolist()
        if rows and int(rows[-1][0]) == forming:
            first = rows[-1][1]
            rows[-1] = [float(forming), first, first, first, first, 0.0]
        return rows

    def price(self, pair: str, timeframe: str, now_ms: int) -> float | None:
        """The current price at ``now_ms`` (module doc): the forming candle's open, else the
        last close before it; None before the first candle."""
        data = self.series(pair, timeframe)
        tf_ms = timeframe_to_msecs(timeframe)
        forming = now_ms - now_ms % tf_ms
        i = int(np.searchsorted(data.dates_ms, forming, side="right")) - 1
        if i < 0:
            return None
        if data.dates_ms[i] == forming:
            return float(data.values[i, 0])
        return float(data.values[i, 3])

    def last_closed(self, pair: str, timeframe: str, now_ms: int) -> tuple[float, float] | None:
        """(close, volume) of the newest candle closed at ``now_ms`` (ticker volumes)."""
        data = self.series(pair, timeframe)
        tf_ms = timeframe_to_msecs(timeframe)
        i = int(np.searchsorted(data.dates_ms, now_ms - tf_ms, side="right")) - 1
        if i < 0:
            return None
        return float(data.values[i, 3]), float(data.values[i, 4])
