"""Candle pre-flight: refuse the candle files freqtrade would silently repair.

freqtrade cleans every candle file it loads: rows sharing a timestamp are merged (even when
they disagree), a NaN close is forward-filled and every missing candle becomes a flat
zero-volume one -- with at most an INFO line. :func:`check_candles` reads the raw files first
(:mod:`~tradai_strategy.data.candle_scan`), only the rows the run reads, and refuses with one
line per file naming the problem and the fix:

* duplicate timestamps, NaN/inf or non-positive prices, NaN/inf or negative volume,
  timestamps off the candle grid: corrupt data, always refused (re-download the file);
* gaps of more than ``freqai.tradai.max_gap_candles`` missing candles (default
  :data:`DEFAULT_MAX_GAP_CANDLES`): missing data, refused unless gaps are allowed (the
  ``--allow-gaps`` option, :func:`allow_gaps`); then freqtrade fills them and a warning names
  them.

It runs before every backtest and hyperopt (:func:`~tradai_strategy.data.preflight.
check_backtest_data`) and whenever candles are loaded outside one
(:func:`~tradai_strategy.data.features.load_candles`: lookahead check, validation, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.data.history.datahandlers.idatahandler import IDataHandler, get_datahandlerclass
from freqtrade.enums import CandleType, TradingMode
from freqtrade.exchange import timeframe_to_seconds

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.candle_scan import CandleScan, scan_candles
from tradai_strategy.data.downloads import download_command

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_GAP_CANDLES",
    "MAX_GAP_KEY",
    "CandleDataError",
    "FileScan",
    "allow_gaps",
    "check_candles",
    "gaps_allowed",
    "max_gap_candles",
    "scan_files",
]

#: Longest gap (missing candles in a row) accepted without ``--allow-gaps``: a short exchange
#: outage on 1h candles (Binance's have lasted 1-2 hours) passes, a hole of a day or more (an
#: interrupted download) never does. The real Binance spot files (8 pairs 1h/4h, 2 pairs 5m,
#: 2024-09..2026-02) have no gap at all. Why 3: docs/data-checks.md.
DEFAULT_MAX_GAP_CANDLES = 3
MAX_GAP_KEY = "freqai.tradai.max_gap_candles"

_ALLOW_GAPS: ContextVar[bool] = ContextVar("tradai_allow_gaps", default=False)


@contextmanager
def allow_gaps(enabled: bool = True) -> Iterator[None]:
    """Within the block, gaps longer than the limit are filled by freqtrade (with a warning
    naming them) instead of refused: the ``--allow-gaps`` option. Corrupt rows are still
    refused."""
    token = _ALLOW_GAPS.set(enabled)
    try:
        yield
    finally:
        _ALLOW_GAPS.reset(token)


def gaps_allowed() -> bool:
    """Whether the caller is inside :func:`allow_gaps`."""
    return _ALLOW_GAPS.get()


def max_gap_candles(config: dict[str, Any]) -> int:
    """``freqai.tradai.max_gap_candles`` of the config, else :data:`DEFAULT_MAX_GAP_CANDLES`."""
    tradai = (config.get("freqai") or {}).get("tradai") or {}
    value = tradai.get("max_gap_candles", DEFAULT_MAX_GAP_CANDLES)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TradAIConfigError(
            f"{MAX_GAP_KEY} must be a non-negative integer (missing candles in a row), got "
            f"{value!r}: fix it or remove it (default {DEFAULT_MAX_GAP_CANDLES})"
        )
    return value


@dataclass(frozen=True)
class FileScan:
    """The scan of one candle file, limited to the rows the run reads."""

    pair: str
    timeframe: str
    path: Path
    scan: CandleScan
    file_first: pd.Timestamp  #: first candle of the whole file (for the re-download span)
    file_last: pd.Timestamp


class CandleDataError(TradAIDataError):
    """Candle files hold rows freqtrade would silently merge, forward-fill or invent."""

    def __init__(self, message: str, refused: list[FileScan]) -> None:
        super().__init__(message)
        self.refused = refused


def _handler(config: dict[str, Any], datadir: Path) -> IDataHandler:
    return get_datahandlerclass(str(config.get("dataformat_ohlcv") or "feather"))(datadir)


def scan_files(
    config: dict[str, Any],
    series: Iterable[tuple[str, str]],
    *,
    datadir: Path | None = None,
    candle_type: CandleType | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
    startup_candles: int = 0,
) -> list[FileScan]:
    """Scan the raw candle file of each ``(pair, timeframe)``; files that do not exist are
    skipped (the missing-data pre-flight names them).

    :param start: first candle the run needs; ``startup_candles`` candles of each timeframe
        before it are scanned too (indicator warm-up). ``None``: from the first row.
    :param stop: last candle the run needs (``None``: to the last row).
    """
    ddir = Path(datadir or config["datadir"])
    mode = TradingMode(str(config.get("trading_mode") or "spot"))
    ctype = candle_type or CandleType.get_default(mode)
    handler = _handler(config, ddir)
    out = []
    for pair, timeframe in dict.fromkeys(series):
        path = handler._pair_data_filename(ddir, pair, timeframe, ctype)
        if not path.is_file():
            continue
        raw = handler._ohlcv_load(pair, timeframe, timerange=None, candle_type=ctype)
        if raw.empty:
            continue
        dates = pd.to_datetime(raw["date"], utc=True)
        keep = pd.Series(True, index=raw.index)
        if start is not None:
            warmup = timedelta(seconds=startup_candles * timeframe_to_seconds(timeframe))
            keep &= dates >= pd.Timestamp(start - warmup)
        if stop is not None:
            keep &= dates <= pd.Timestamp(stop)
        scan = scan_candles(raw.loc[keep], timeframe)
        out.append(FileScan(pair, timeframe, path, scan, dates.min(), dates.max()))
    return out


def _redownload(config: dict[str, Any], files: list[FileScan]) -> str:
    """One download-data command replacing ``files`` (their whole span, with --erase)."""
    first = min(f.file_first for f in files)
    last = max(f.file_last for f in files) + pd.Timedelta(days=1)
    return download_command(
        config,
        list(dict.fromkeys(f.pair for f in files)),
        sorted({f.timeframe for f in files}, key=timeframe_to_seconds),
        f"{first:%Y%m%d}-{last:%Y%m%d}",
        erase=True,
    )


def _line(f: FileScan, limit: int, allowed: bool) -> str:
    problems = f.scan.corruption()
    gap = None if allowed else f.scan.gap_problem(limit)
    if gap:
        problems.append(gap)
    if f.scan.corrupt:
        fix = "re-download it (command below)"
        if gap:
            fix += ", then pass --allow-gaps if the exchange has no candles for the gaps"
    else:
        fix = (
            "re-download it (command below) if the exchange has those candles, else pass "
            f"--allow-gaps to let freqtrade fill them with flat zero-volume candles (or raise "
            f"{MAX_GAP_KEY}, now {limit})"
        )
    return f"{f.pair} {f.timeframe} ({f.path}): {'; '.join(problems)}: {fix}"


def check_candles(
    config: dict[str, Any],
    series: Iterable[tuple[str, str]],
    *,
    datadir: Path | None = None,
    candle_type: CandleType | None = None,
    start: datetime | None = None,
    stop: datetime | None = None,
    startup_candles: int = 0,
    allow_gaps: bool | None = None,
) -> list[FileScan]:
    """Refuse candle files that freqtrade would silently repair (see the module doc).

    Arguments as in :func:`scan_files`; ``allow_gaps`` ``None``: :func:`gaps_allowed`.
    :return: the scans (all passed).
    :raises CandleDataError: one line per refused file, then the re-download command.
    :raises TradAIConfigError: a bad ``freqai.tradai.max_gap_candles``.
    """
    limit = max_gap_candles(config)
    allowed = gaps_allowed() if allow_gaps is None else allow_gaps
    scans = scan_files(
        config,
        series,
        datadir=datadir,
        candle_type=candle_type,
        start=start,
        stop=stop,
        startup_candles=startup_candles,
    )
    gappy = [f for f in scans if f.scan.long_gaps(limit)]
    refused = [f for f in scans if f.scan.corrupt or (f.scan.long_gaps(limit) and not allowed)]
    if refused:
        lines = [_line(f, limit, allowed) for f in refused]
        message = (
            f"{len(refused)} candle file(s) hold rows freqtrade would silently merge, "
            "forward-fill or invent (nothing was run):\n  "
            + ";\n  ".join(lines)
            + f";\nre-download: {_redownload(config, refused)}"
        )
        raise CandleDataError(message, refused)
    for f in gappy:
        logger.warning(
            "TradAI: %s %s: %s; freqtrade fills them with flat zero-volume candles (--allow-gaps)",
            f.pair,
            f.timeframe,
            f.scan.gap_problem(limit),
        )
    short = sum(len(f.scan.gaps) for f in scans if not f.scan.long_gaps(limit))
    logger.info(
        "TradAI candle pre-flight: %d file(s) clean%s",
        len(scans),
        f", {short} gap(s) of at most {limit} candle(s) filled by freqtrade" if short else "",
    )
    return scans
