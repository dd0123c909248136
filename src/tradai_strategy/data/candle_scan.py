"""What is wrong inside one candle series, seen before freqtrade's loader repairs it.

freqtrade's ``clean_ohlcv_dataframe`` merges rows that share a timestamp (first open, highest
high, lowest low, last close, summed volume -- even when the rows disagree), and
``ohlcv_fill_up_missing_data`` forward-fills a NaN close and fills every missing candle with
a flat zero-volume one; the most it says is an INFO line. :func:`scan_candles` looks at the
raw rows instead (vectorised: a 120 000-row file takes milliseconds) and
:func:`on_candle_grid` tells candle open times from other dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.exchange import timeframe_to_seconds

__all__ = ["CandleScan", "Gap", "fmt_time", "on_candle_grid", "scan_candles"]

OHLC = ("open", "high", "low", "close")
_DAY_NS = 86_400 * 10**9


def fmt_time(when: pd.Timestamp | None) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC), the way the pre-flight messages print a candle."""
    return "-" if when is None else pd.Timestamp(when).strftime("%Y-%m-%d %H:%M")


def _utc_index(dates: Any) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(pd.to_datetime(dates, utc=True))
    return index.as_unit("ns")


def on_candle_grid(dates: Any, timeframe: str) -> npt.NDArray[np.bool_]:
    """Which ``dates`` are open times of ``timeframe`` candles (freqtrade's grid, UTC).

    Intraday timeframes that divide a day sit on multiples of their length since the epoch;
    ``1w`` candles open on Monday 00:00, ``1M`` on the 1st of the month, ``1y`` on January 1st;
    any other multi-day timeframe is only checked to open at midnight.

    >>> d = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 01:00"], utc=True)
    >>> on_candle_grid(d, "1h").tolist()
    [True, False, True]
    """
    index = _utc_index(dates)
    ns = index.asi8
    seconds = timeframe_to_seconds(timeframe)
    if seconds <= 86_400 and 86_400 % seconds == 0:
        return np.asarray(ns % (seconds * 10**9) == 0)
    midnight = np.asarray(ns % _DAY_NS == 0)
    unit = timeframe[-1]
    if unit == "w" and seconds == 7 * 86_400:
        return midnight & np.asarray(index.dayofweek == 0)
    if unit == "M":
        return midnight & np.asarray(index.day == 1)
    if unit == "y":
        return midnight & np.asarray((index.day == 1) & (index.month == 1))
    return midnight


def _missing_between(unique: pd.DatetimeIndex, timeframe: str) -> npt.NDArray[np.int64]:
    """Candles missing between consecutive distinct timestamps (sorted)."""
    unit = timeframe[-1]
    if unit in ("M", "y"):  # calendar candles: count months, not seconds
        months = np.asarray(unique.year * 12 + unique.month, dtype=np.int64)
        step = int(timeframe[:-1] or 1) * (12 if unit == "y" else 1)
        return np.diff(months) // step - 1
    step = timeframe_to_seconds(timeframe) * 10**9
    return np.diff(unique.asi8) // step - 1


@dataclass(frozen=True)
class Gap:
    """Missing candles between two candles of a series."""

    after: pd.Timestamp  #: the last candle before the gap
    missing: int  #: how many candles are missing

    def describe(self, timeframe: str) -> str:
        span = pd.Timedelta(seconds=timeframe_to_seconds(timeframe) * self.missing)
        length = f"{span.days} d" if span.days >= 2 else f"{span.total_seconds() / 3600:g} h"
        return f"{self.missing} candles ({length}) missing after {fmt_time(self.after)}"


@dataclass(frozen=True)
class CandleScan:
    """What :func:`scan_candles` found in one series (counts, first occurrence)."""

    timeframe: str
    rows: int
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    duplicates: int = 0  #: timestamps on more than one row
    first_duplicate: pd.Timestamp | None = None
    conflicting: int = 0  #: of them, timestamps whose rows disagree (OHLCV)
    first_conflict: pd.Timestamp | None = None
    bad_prices: int = 0  #: rows with a NaN/inf or non-positive open/high/low/close
    bad_price_columns: tuple[str, ...] = ()
    first_bad_price: pd.Timestamp | None = None
    bad_volume: int = 0  #: rows with a NaN/inf or negative volume
    first_bad_volume: pd.Timestamp | None = None
    off_grid: int = 0  #: timestamps that are not candle open times of the timeframe
    first_off_grid: pd.Timestamp | None = None
    gaps: tuple[Gap, ...] = ()  #: every hole of one candle or more

    @property
    def corrupt(self) -> bool:
        """Rows freqtrade would merge or forward-fill: always refused."""
        return bool(self.duplicates or self.bad_prices or self.bad_volume or self.off_grid)

    def long_gaps(self, max_missing: int) -> list[Gap]:
        """Gaps of more than ``max_missing`` candles."""
        return [g for g in self.gaps if g.missing > max_missing]

    def corruption(self) -> list[str]:
        """One phrase per kind of corrupt row."""
        out = []
        if self.duplicates:
            if self.conflicting == self.duplicates:
                out.append(
                    f"{self.duplicates} conflicting duplicate timestamp(s) (rows with different "
                    f"OHLCV for the same candle, first {fmt_time(self.first_conflict)})"
                )
            elif self.conflicting:
                out.append(
                    f"{self.duplicates} duplicate timestamp(s) (first "
                    f"{fmt_time(self.first_duplicate)}), {self.conflicting} of them conflicting "
                    f"(different OHLCV for the same candle, first "
                    f"{fmt_time(self.first_conflict)})"
                )
            else:
                out.append(
                    f"{self.duplicates} duplicate timestamp(s) (identical rows, first "
                    f"{fmt_time(self.first_duplicate)})"
                )
        if self.bad_prices:
            out.append(
                f"{self.bad_prices} candle(s) with NaN/inf or non-positive "
                f"{'/'.join(self.bad_price_columns)} (first {fmt_time(self.first_bad_price)})"
            )
        if self.bad_volume:
            out.append(
                f"{self.bad_volume} candle(s) with NaN/inf or negative volume (first "
                f"{fmt_time(self.first_bad_volume)})"
            )
        if self.off_grid:
            out.append(
                f"{self.off_grid} timestamp(s) off the {self.timeframe} candle grid (first "
                f"{fmt_time(self.first_off_grid)})"
            )
        return out

    def gap_problem(self, max_missing: int) -> str | None:
        """The phrase for the gaps longer than ``max_missing`` candles, if any."""
        long = self.long_gaps(max_missing)
        if not long:
            return None
        worst = max(long, key=lambda g: g.missing)
        text = (
            f"{len(long)} gap(s) of more than {max_missing} missing candle(s) "
            f"(first: {long[0].describe(self.timeframe)}"
        )
        if worst is not long[0]:
            text += f"; longest: {worst.describe(self.timeframe)}"
        return text + ")"


def _first(index: pd.DatetimeIndex, mask: npt.NDArray[np.bool_]) -> pd.Timestamp | None:
    return index[int(np.argmax(mask))] if mask.any() else None


def scan_candles(frame: pd.DataFrame, timeframe: str) -> CandleScan:
    """Duplicates, bad prices/volumes, off-grid timestamps and gaps of one raw candle series.

    :param frame: raw candles (``date``, ``open``, ``high``, ``low``, ``close``[, ``volume``]),
        in any order, as read from the file (before freqtrade's cleaning).
    """
    if frame.empty:
        return CandleScan(timeframe, 0)
    dates = _utc_index(frame["date"])
    order = np.argsort(dates.asi8, kind="stable")
    dates = dates[order]
    columns = [c for c in (*OHLC, "volume") if c in frame.columns]
    values = frame[columns].to_numpy(dtype=float, na_value=np.nan)[order]
    found: dict[str, Any] = {"first": dates[0], "last": dates[-1]}

    ns = dates.asi8
    same = ns[1:] == ns[:-1]  # row i+1 repeats the timestamp of row i
    if same.any():
        equal = (values[1:] == values[:-1]) | (np.isnan(values[1:]) & np.isnan(values[:-1]))
        differs = same & ~equal.all(axis=1)
        repeated = dates[1:][same]
        found["duplicates"] = len(repeated.unique())
        found["first_duplicate"] = repeated[0]
        if differs.any():
            conflicts = dates[1:][differs]
            found["conflicting"] = len(conflicts.unique())
            found["first_conflict"] = conflicts[0]

    n_prices = sum(c in OHLC for c in columns)
    prices = values[:, :n_prices]
    bad = ~np.isfinite(prices) | (prices <= 0)
    rows = bad.any(axis=1)
    if rows.any():
        found["bad_prices"] = int(rows.sum())
        found["bad_price_columns"] = tuple(
            c for c, hit in zip(columns[:n_prices], bad.any(axis=0), strict=True) if hit
        )
        found["first_bad_price"] = _first(dates, rows)
    if "volume" in columns:
        volume = values[:, -1]
        bad_volume = ~np.isfinite(volume) | (volume < 0)
        if bad_volume.any():
            found["bad_volume"] = int(bad_volume.sum())
            found["first_bad_volume"] = _first(dates, bad_volume)

    off = ~on_candle_grid(dates, timeframe)
    if off.any():
        found["off_grid"] = int(off.sum())
        found["first_off_grid"] = _first(dates, off)

    unique = dates[np.r_[True, ~same]]
    missing = _missing_between(unique, timeframe)
    holes = np.flatnonzero(missing > 0)
    found["gaps"] = tuple(Gap(unique[i], int(missing[i])) for i in holes)
    return CandleScan(timeframe, len(frame), **found)
