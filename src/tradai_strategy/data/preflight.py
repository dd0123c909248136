"""Pre-flight check of the candle files a freqtrade backtest will need.

Freqtrade only discovers missing or too-short data deep inside a backtest (FreqAI sometimes
only after training several models), with messages that do not say how to fix it.
:func:`check_backtest_data` inspects a *resolved* freqtrade configuration up front and
raises a single, actionable error instead; it also runs the candle pre-flight
(:mod:`~tradai_strategy.data.candle_check`) on the files' contents.
"""

from __future__ import annotations

import logging
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import freqtrade.exchange as ft_exchange_pkg
from freqtrade.configuration import TimeRange
from freqtrade.data.history.datahandlers.idatahandler import IDataHandler, get_datahandlerclass
from freqtrade.enums import CandleType, TradingMode
from freqtrade.exchange import MAP_EXCHANGE_CHILDCLASS, Exchange, timeframe_to_seconds
from freqtrade.misc import deep_merge_dicts
from freqtrade.plugins.pairlist.pairlist_helpers import expand_pairlist

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import not_a_pair
from tradai_strategy.data.candle_check import check_candles
from tradai_strategy.data.downloads import download_command
from tradai_strategy.data.offline import pairs_in_datadir

logger = logging.getLogger(__name__)

__all__ = [
    "DataRequirement",
    "MissingDataError",
    "TimerangeOutsideDataError",
    "check_backtest_data",
    "download_command",
    "required_data",
]

_MAX_LISTED = 6
_MAX_SAMPLED = 5


class MissingDataError(TradAIDataError):
    """Candle files needed by the backtest do not exist."""

    def __init__(self, message: str, missing: list[Path], commands: list[str]) -> None:
        super().__init__(message)
        self.missing = missing
        self.commands = commands


class TimerangeOutsideDataError(TradAIDataError):
    """The requested ``--timerange`` (plus FreqAI training window) is not covered by data."""


@dataclass(frozen=True)
class DataRequirement:
    """One candle file a backtest reads."""

    pair: str
    timeframe: str
    candle_type: CandleType
    path: Path
    check_range: bool = True


def _exchange_ft_has(config: dict[str, Any]) -> dict[str, Any]:
    """ft_has of the configured exchange class (incl. futures overrides), no instantiation."""
    name = str(config["exchange"]["name"])
    cls_name = MAP_EXCHANGE_CHILDCLASS.get(name, name).title()
    ex_cls = getattr(ft_exchange_pkg, cls_name, Exchange)
    if not (isinstance(ex_cls, type) and issubclass(ex_cls, Exchange)):
        ex_cls = Exchange
    ft_has = dict(ex_cls.combine_ft_has(include_futures=True))
    if params := config["exchange"].get("_ft_has_params"):
        ft_has = deep_merge_dicts(params, ft_has)
    return ft_has


def _strategy_attrs(config: dict[str, Any]) -> tuple[list[str], int]:
    """Timeframe(s) and startup_candle_count of the configured strategy (or strategy list).

    The config's ``timeframe`` wins over the strategy's, as in freqtrade.  Strategies are
    loaded on a copy of the config; without a strategy only the config is used.
    """
    startup = int(config.get("startup_candle_count") or 0)
    names = list(config.get("strategy_list") or []) or (
        [config["strategy"]] if config.get("strategy") else []
    )
    timeframes: list[str] = [str(config["timeframe"])] if config.get("timeframe") else []
    if names:
        from freqtrade.resolvers import StrategyResolver

        for name in names:
            strat_conf = deepcopy(config)
            strat_conf["strategy"] = name
            strategy = StrategyResolver.load_strategy(strat_conf)
            if not config.get("timeframe") and strategy.timeframe:
                timeframes.append(str(strategy.timeframe))
            startup = max(startup, int(strategy.startup_candle_count or 0))
    return sorted(set(timeframes), key=timeframe_to_seconds), startup


def _is_regex(entry: str) -> bool:
    """A whitelist entry freqtrade expands as a regular expression (``.*/USDT``)."""
    return bool(set(entry) & set("*?[]()|^$\\{}+"))


def _whitelist(config: dict[str, Any], datadir: Path, mode: TradingMode) -> list[str]:
    """Concrete whitelist: regex entries are expanded against the pairs present on disk."""
    raw = [str(p) for p in config["exchange"].get("pair_whitelist") or []]
    if not any(_is_regex(p) for p in raw):
        return raw
    return expand_pairlist(raw, pairs_in_datadir(datadir, mode), keep_invalid=True)


def required_data(
    config: dict[str, Any], *, timeframes: list[str] | None = None
) -> list[DataRequirement]:
    """All candle files a backtest with this resolved configuration will read.

    :param timeframes: strategy timeframe(s); default: from the config or the strategy.
    """
    datadir = Path(config["datadir"])
    mode = TradingMode(str(config.get("trading_mode") or "spot"))
    candle_type = CandleType.get_default(mode)
    handler = get_datahandlerclass(str(config.get("dataformat_ohlcv") or "feather"))
    strategy_tfs = timeframes if timeframes is not None else _strategy_attrs(config)[0]
    pairs = _whitelist(config, datadir, mode)
    wanted: dict[tuple[str, str, CandleType], bool] = {}

    def want(pair: str, timeframe: str, ctype: CandleType, check_range: bool = True) -> None:
        key = (pair, timeframe, ctype)
        wanted[key] = wanted.get(key, False) or check_range

    base_tfs = list(strategy_tfs)
    if config.get("timeframe_detail"):
        base_tfs.append(str(config["timeframe_detail"]))
    for pair in pairs:
        for tf in base_tfs:
            want(pair, tf, candle_type)

    freqai = config.get("freqai") or {}
    if freqai.get("enabled"):
        fparams = freqai.get("feature_parameters") or {}
        include_tfs = [str(tf) for tf in fparams.get("include_timeframes") or []]
        corr = [str(p) for p in fparams.get("include_corr_pairlist") or []]
        for pair in dict.fromkeys([*pairs, *corr]):
            for tf in include_tfs:
                want(pair, tf, candle_type)

    if mode == TradingMode.FUTURES:
        ft_has = _exchange_ft_has(config)
        mark_type = CandleType.from_string(str(ft_has["mark_ohlcv_price"]))
        for pair in pairs:
            want(pair, str(ft_has["funding_fee_timeframe"]), CandleType.FUNDING_RATE, False)
            want(pair, str(ft_has["mark_ohlcv_timeframe"]), mark_type, False)

    return [
        DataRequirement(p, tf, ct, handler._pair_data_filename(datadir, p, tf, ct), rng)
        for (p, tf, ct), rng in wanted.items()
    ]


def _needed_start(config: dict[str, Any], timerange: TimeRange) -> datetime | None:
    if not timerange.startts:
        return None
    start = timerange.startdt
    assert start is not None
    freqai = config.get("freqai") or {}
    if freqai.get("enabled"):
        start -= timedelta(days=float(freqai.get("train_period_days") or 0))
    return start


def _download_start(config: dict[str, Any], timerange: TimeRange, timeframe: str) -> datetime:
    """Start for download-data: the needed start minus the indicator warm-up."""
    needed = _needed_start(config, timerange)
    assert needed is not None
    startup = int(config.get("startup_candle_count") or 0)
    freqai = config.get("freqai") or {}
    if freqai.get("enabled"):
        periods = (freqai.get("feature_parameters") or {}).get("indicator_periods_candles") or []
        startup = max([startup, *[int(p) for p in periods]])
    return needed - timedelta(seconds=startup * timeframe_to_seconds(timeframe))


def _timerange_arg(config: dict[str, Any], timeframes: list[str]) -> str | None:
    """``--timerange`` value covering the configured timerange plus warm-up/training."""
    if not config.get("timerange"):
        return None
    timerange = TimeRange.parse_timerange(str(config["timerange"]))
    start = ""
    if timerange.startts:
        largest = max(timeframes, key=timeframe_to_seconds)
        start = _download_start(config, timerange, largest).strftime("%Y%m%d")
    stop = ""
    if timerange.stopts:
        assert timerange.stopdt is not None
        stop_dt = timerange.stopdt
        if stop_dt != stop_dt.replace(hour=0, minute=0, second=0, microsecond=0):
            stop_dt += timedelta(days=1)
        stop = stop_dt.strftime("%Y%m%d")
    return f"{start}-{stop}" if (start or stop) else None


def _existing_span(config: dict[str, Any], present: list[DataRequirement]) -> str | None:
    """``--timerange`` spanning the data already on disk (sampled), so new files match it."""
    fmt = str(config.get("dataformat_ohlcv") or "feather")
    handler: IDataHandler = get_datahandlerclass(fmt)(Path(config["datadir"]))
    spans = []
    for req in [r for r in present if r.check_range][:_MAX_SAMPLED]:
        first, last, count = handler.ohlcv_data_min_max(req.pair, req.timeframe, req.candle_type)
        if count:
            spans.append((first, last + timedelta(seconds=timeframe_to_seconds(req.timeframe))))
    if not spans:
        return None
    start = min(a for a, _ in spans)
    end = max(b for _, b in spans)
    if end != end.replace(hour=0, minute=0, second=0, microsecond=0):
        end += timedelta(days=1)
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def _is_main(req: DataRequirement) -> bool:
    return req.candle_type in (CandleType.SPOT, CandleType.FUTURES)


def _grouped_commands(
    config: dict[str, Any], reqs: list[DataRequirement], timerange: str | None = None
) -> list[str]:
    """One download command per distinct set of timeframes (usually exactly one).

    ``timerange`` defaults to the configured timerange widened by warm-up/training.
    """
    main_tfs: dict[str, set[str]] = {}
    for req in reqs:
        main_tfs.setdefault(req.pair, set()).update([req.timeframe] if _is_main(req) else [])
    if any(not tfs for tfs in main_tfs.values()):
        # only funding/mark files missing: download-data fetches those with any timeframe
        fallback = {r.timeframe for r in reqs if _is_main(r)} or {str(config.get("timeframe"))}
        main_tfs = {p: (tfs or set(fallback)) for p, tfs in main_tfs.items()}
    groups: dict[tuple[str, ...], list[str]] = {}
    for pair, tfs in main_tfs.items():
        key = tuple(sorted(tfs, key=timeframe_to_seconds))
        groups.setdefault(key, []).append(pair)
    return [
        download_command(config, pairs, list(tfs), timerange or _timerange_arg(config, list(tfs)))
        for tfs, pairs in groups.items()
    ]


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M")


def _check_ranges(config: dict[str, Any], reqs: list[DataRequirement]) -> None:
    timerange = TimeRange.parse_timerange(str(config["timerange"]))
    needed_start = _needed_start(config, timerange)
    needed_stop = timerange.stopdt if timerange.stopts else None
    fmt = str(config.get("dataformat_ohlcv") or "feather")
    handler: IDataHandler = get_datahandlerclass(fmt)(Path(config["datadir"]))
    bad: list[tuple[DataRequirement, datetime, datetime]] = []
    spans: list[tuple[datetime, datetime]] = []
    for req in reqs:
        if not req.check_range:
            continue
        first, last, count = handler.ohlcv_data_min_max(req.pair, req.timeframe, req.candle_type)
        end = last + timedelta(seconds=timeframe_to_seconds(req.timeframe))
        spans.append((first, end))
        if (
            count == 0
            or (needed_start is not None and first > needed_start)
            or (needed_stop is not None and end < needed_stop)
        ):
            bad.append((req, first, end))
    if not bad:
        return

    freqai = config.get("freqai") or {}
    train_days = float(freqai.get("train_period_days") or 0) if freqai.get("enabled") else 0.0
    need = f"from {_fmt(needed_start)}" if needed_start else "from the first candle"
    if train_days:
        need += f" (incl. FreqAI train_period_days={train_days:g})"
    need += f" to {_fmt(needed_stop)}" if needed_stop else " to the last candle"
    covers = [
        f"{r.pair} {r.timeframe} covers {_fmt(a)} to {_fmt(b)}"
        if a < b
        else f"{r.pair} {r.timeframe} is empty"
        for r, a, b in bad[:_MAX_LISTED]
    ]
    if len(bad) > _MAX_LISTED:
        covers.append(f"and {len(bad) - _MAX_LISTED} more")
    common_start = max(s for s, _ in spans) + timedelta(days=train_days)
    common_end = min(e for _, e in spans)
    # whole days inside the common span
    day_start = common_start.replace(hour=0, minute=0, second=0, microsecond=0)
    if day_start < common_start:
        day_start += timedelta(days=1)
    day_end = common_end.replace(hour=0, minute=0, second=0, microsecond=0)
    fixes = []
    if day_start < day_end:
        fixes.append(f"use --timerange {day_start:%Y%m%d}-{day_end:%Y%m%d} (what the data allows)")
    fixes.append(
        "download the missing range: "
        + "; ".join(_grouped_commands(config, [r for r, _, _ in bad]))
    )
    raise TimerangeOutsideDataError(
        f"Timerange {config['timerange']} needs data {need}, but "
        + "; ".join(covers)
        + ". To fix: "
        + " or ".join(fixes)
    )


def check_backtest_data(config: dict[str, Any]) -> None:
    """Raise if the candle files this backtest needs are missing, too short or would be
    silently repaired by freqtrade's loader.

    :param config: resolved freqtrade configuration (``datadir``, ``exchange``, ...).
    :raises MissingDataError: files missing; lists each path and the download command.
    :raises TimerangeOutsideDataError: ``timerange`` (plus FreqAI ``train_period_days``)
        not covered by the files.
    :raises CandleDataError: the files hold rows freqtrade would silently repair (duplicate
        timestamps, NaN/non-positive prices, gaps; :mod:`~tradai_strategy.data.candle_check`).
    """
    for pair in config["exchange"].get("pair_whitelist") or []:
        why = not_a_pair(str(pair))
        if why and not _is_regex(str(pair)):  # a regex entry is expanded, not a pair
            raise TradAIConfigError(f"exchange.pair_whitelist: {why}")
    timeframes, startup = _strategy_attrs(config)
    config = {**config, "startup_candle_count": startup}
    reqs = required_data(config, timeframes=timeframes)
    missing = [r for r in reqs if not r.path.is_file()]
    if missing:
        timerange = None
        if not config.get("timerange"):
            present = [r for r in reqs if r.path.is_file()]
            timerange = _existing_span(config, present)
        commands = _grouped_commands(config, missing, timerange)
        lines = [f"Missing candle data for backtesting ({len(missing)} file(s)):"]
        lines += [f"  {r.path}" for r in missing]
        lines.append("Download it with:")
        lines += [f"  {cmd}" for cmd in commands]
        raise MissingDataError("\n".join(lines), [r.path for r in missing], commands)
    # the contents first: duplicates appended at the end of a file also fool the range check
    _check_contents(config, reqs, startup)
    if config.get("timerange"):
        _check_ranges(config, reqs)
    logger.info("Preflight: all %d candle files present in %s", len(reqs), config["datadir"])


def _check_contents(config: dict[str, Any], reqs: list[DataRequirement], startup: int) -> None:
    """The candle pre-flight (:func:`~tradai_strategy.data.candle_check.check_candles`) on
    the strategy's candle files, over the rows the backtest reads (timerange, FreqAI
    training window and warm-up)."""
    main = [r for r in reqs if r.check_range]
    if not main:
        return
    timerange = (
        TimeRange.parse_timerange(str(config["timerange"])) if config.get("timerange") else None
    )
    start = _needed_start(config, timerange) if timerange is not None else None
    stop = timerange.stopdt if timerange is not None and timerange.stopts else None
    check_candles(
        config,
        [(r.pair, r.timeframe) for r in main],
        candle_type=main[0].candle_type,
        start=start,
        stop=stop,
        startup_candles=startup,
    )
