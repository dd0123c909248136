"""Candles for the lookahead guard: cut points, truncation at a cut, a past-only data provider.

A *cut* is a moment in time: the close of one base-timeframe candle. Truncating at a cut keeps,
for every candle series (base pair, correlated pairs, every included timeframe), exactly the
candles that had **closed** by then — what a live bot would have seen. A higher-timeframe
candle that is still open at the cut is dropped, so a feature that merges such a candle before
it closes sees different data in the truncated run and is caught.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.data.history import load_pair_history
from freqtrade.enums import CandleType, RunMode
from freqtrade.exchange import timeframe_to_minutes, timeframe_to_prev_date

from tradai_strategy.data.features import Candles

#: cuts per cycle: aligned to the largest higher timeframe, one candle inside it, random
_CUT_KINDS = 3


@dataclass(frozen=True)
class Cut:
    """Truncation point: rows ``0..row`` of the base frame are kept.

    ``time`` is the close time of row ``row`` (when its data became known); ``aligned`` lists
    the higher timeframes whose candles close exactly at ``time`` (none open at the cut).
    """

    row: int
    time: pd.Timestamp
    aligned: tuple[str, ...]


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """Length of one candle (``"4h"`` -> 4 hours)."""
    return pd.Timedelta(minutes=timeframe_to_minutes(timeframe))


def higher_timeframes(base: str, timeframes: Iterable[str]) -> list[str]:
    """The timeframes longer than ``base``, shortest first, without duplicates."""
    base_minutes = timeframe_to_minutes(base)
    longer = {tf for tf in timeframes if timeframe_to_minutes(tf) > base_minutes}
    return sorted(longer, key=timeframe_to_minutes)


def _is_aligned(timeframe: str, when: pd.Timestamp) -> bool:
    return timeframe_to_prev_date(timeframe, when.to_pydatetime()) == when.to_pydatetime()


def sample_cuts(
    dates: pd.Series,
    timeframe: str,
    higher: list[str],
    samples: int,
    *,
    first: int,
    last: int,
    seed: int,
) -> list[Cut]:
    """``samples`` cut points between rows ``first`` and ``last`` (inclusive), deterministic.

    Without higher timeframes the rows are uniform draws. With them, the draws cycle through
    three kinds so both sides of the informative-merge check are covered: a cut where a candle
    of the largest higher timeframe has just closed, a cut one base candle later (inside an
    open candle of every higher timeframe) and an unsnapped random cut.

    >>> d = pd.Series(pd.date_range("2025-01-01", periods=200, freq="1h", tz="UTC"))
    >>> cuts = sample_cuts(d, "1h", ["4h"], 6, first=20, last=190, seed=0)
    >>> [(c.row, c.time.hour, c.aligned) for c in cuts[:2]]  # a 4h close, then 1h inside
    [(163, 20, ('4h',)), (128, 9, ())]
    """
    closes = pd.DatetimeIndex(dates) + timeframe_delta(timeframe)
    rng = np.random.default_rng(seed)
    rows = rng.integers(first, last + 1, size=samples)
    chosen: list[int] = []
    for i, row in enumerate(rows):
        kind = i % _CUT_KINDS
        r = int(row)
        if higher and kind < 2:
            boundary = pd.Timestamp(timeframe_to_prev_date(higher[-1], closes[r].to_pydatetime()))
            target = boundary if kind == 0 else boundary + timeframe_delta(timeframe)
            r = int(closes.searchsorted(target, side="right")) - 1
            r = min(max(r, first), last)
        if r not in chosen:
            chosen.append(r)
    return [
        Cut(
            row=r,
            time=closes[r],
            aligned=tuple(tf for tf in higher if _is_aligned(tf, closes[r])),
        )
        for r in chosen
    ]


def truncate(frame: pd.DataFrame, timeframe: str, cut_time: pd.Timestamp) -> pd.DataFrame:
    """The candles of ``frame`` that had closed at ``cut_time`` (a copy)."""
    if frame.empty:
        return frame.copy()
    closes = pd.DatetimeIndex(frame["date"]) + timeframe_delta(timeframe)
    return frame.iloc[: int(closes.searchsorted(cut_time, side="right"))].copy()


class CandleSource:
    """Full candles of every series the check needs; series asked for later are loaded lazily."""

    def __init__(
        self,
        config: dict[str, Any],
        candles: Candles,
        *,
        timerange: str | None,
        datadir: Path,
    ) -> None:
        self.config = config
        self.candles: Candles = dict(candles)
        self.timerange = timerange
        self.datadir = datadir

    def get(self, pair: str, timeframe: str) -> pd.DataFrame:
        """The full series of ``pair``/``timeframe`` (empty when there is no data)."""
        key = (pair, timeframe)
        if key not in self.candles:
            futures = self.config.get("trading_mode") == "futures"
            self.candles[key] = load_pair_history(
                pair=pair,
                timeframe=timeframe,
                datadir=self.datadir,
                timerange=TimeRange.parse_timerange(self.timerange) if self.timerange else None,
                data_format=self.config.get("dataformat_ohlcv", "feather"),
                candle_type=CandleType.FUTURES if futures else CandleType.SPOT,
            )
        return self.candles[key]

    def truncated(self, cut_time: pd.Timestamp | None) -> Candles:
        """Every loaded series, truncated at ``cut_time`` (all of it when ``None``)."""
        if cut_time is None:
            return dict(self.candles)
        return {key: truncate(df, key[1], cut_time) for key, df in self.candles.items()}

    def earliest_cut(self) -> pd.Timestamp | None:
        """First moment at which every loaded series has at least two closed candles."""
        times = [
            df["date"].iloc[1] + timeframe_delta(tf)
            for (_, tf), df in self.candles.items()
            if len(df) > 1
        ]
        return max(times) if times else None


class PastOnlyProvider:
    """Stands in for freqtrade's ``DataProvider`` (``strategy.dp``) during the check.

    ``get_pair_dataframe`` returns only the candles closed at the cut, as in a live bot, so a
    strategy that fetches informative candles itself is held to the same rule as FreqAI's own
    timeframes. Anything else a strategy asks of the data provider is not available here.
    """

    def __init__(self, source: CandleSource, cut_time: pd.Timestamp | None) -> None:
        self._source = source
        self._cut_time = cut_time

    @property
    def runmode(self) -> RunMode:
        return RunMode.BACKTEST

    def current_whitelist(self) -> list[str]:
        return list(self._source.config.get("exchange", {}).get("pair_whitelist", []))

    def get_pair_dataframe(
        self, pair: str, timeframe: str | None = None, candle_type: str = ""
    ) -> pd.DataFrame:
        tf = timeframe or str(self._source.config["timeframe"])
        frame = self._source.get(pair, tf)
        if self._cut_time is None:
            return frame.copy()
        return truncate(frame, tf, self._cut_time)

    def historic_ohlcv(self, pair: str, timeframe: str, candle_type: str = "") -> pd.DataFrame:
        return self.get_pair_dataframe(pair, timeframe, candle_type)
