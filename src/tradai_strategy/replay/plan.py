"""Everything a replay decides before the bot starts: its config, its span, its folders.

Bad input ends here, in one line, before freqtrade builds a bot: a config freqtrade refuses,
a whitelisted pair without candles, a timerange outside the candles, a model that cannot
load (:mod:`~tradai_strategy.replay.preflight`).

An interrupted replay of the same database, identifier and span resumes where it stopped
(:mod:`~tradai_strategy.replay.resume`).

The bot gets its **own** data folder (``<userdir>/replay/data``) holding only the candles
that closed before the replay starts, as a live bot's datadir would: freqtrade's dry-run
start-up (FreqAI's ``download_all_data_for_training``) writes into the datadir, and the
recorded datadir must neither be rewritten nor show the bot a single future candle. The rest
arrives through the replay exchange as time passes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade.configuration import Configuration, TimeRange
from freqtrade.data.history.datahandlers.idatahandler import get_datahandler
from freqtrade.enums import CandleType, TradingMode
from freqtrade.exceptions import FreqtradeException
from freqtrade.exchange import timeframe_to_seconds

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.data.freqtrade_runner import ensure_userdir
from tradai_strategy.replay.feed import CandleFeed
from tradai_strategy.replay.preflight import check_model
from tradai_strategy.replay.resume import ReplayState, identity, load_state

__all__ = ["DEFAULT_DB_NAME", "ReplayPlan", "plan_replay"]

DEFAULT_DB_NAME = "tradesv3.replay.sqlite"


@dataclass(frozen=True)
class ReplayPlan:
    """A checked replay: the bot's config and the candles it acts on -- the span's, or
    those left of it when an interrupted run of the same replay resumes (``done`` > 0)."""

    args: dict[str, Any]
    config: dict[str, Any]
    feed: CandleFeed
    pairs: list[str]
    timeframe: str
    first_signal: datetime
    candles: int
    workdir: Path
    span: ReplayState
    done: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "replay.log"

    @property
    def tf(self) -> timedelta:
        return timedelta(seconds=timeframe_to_seconds(self.timeframe))


def _resolve(args: dict[str, Any]) -> dict[str, Any]:
    try:
        with quiet_logging():
            return Configuration(dict(args), None).get_config()
    except FreqtradeException as exc:
        raise TradAIConfigError(" ".join(str(exc).split())) from exc


def _check_span(
    feed: CandleFeed, pairs: list[str], timeframe: str, timerange: str | None, max_candles: int
) -> tuple[datetime, int]:
    """First signal candle and candle count, or one line on what is wrong."""
    tf_ms = timeframe_to_seconds(timeframe) * 1000
    firsts, lasts = [], []
    for pair in pairs:
        data = feed.series(pair, timeframe)
        if data.empty:
            raise TradAIDataError(
                f"{pair} has no {timeframe} candles in {feed.datadir}: download them or "
                "remove the pair from the whitelist"
            )
        firsts.append((int(data.dates_ms[0]), pair))
        lasts.append((int(data.dates_ms[-1]), pair))
    if not timerange:
        raise TradAIConfigError("--timerange is missing: give the span to replay, e.g. 20240201-")
    tr = TimeRange.parse_timerange(timerange)
    if not tr.startts:
        raise TradAIConfigError(f"--timerange {timerange} has no start: e.g. 20240201-20240301")
    start_ms = tr.startts * 1000
    start_ms += -start_ms % tf_ms  # first candle open at or after the start
    (first_ms, first_pair), (last_ms, last_pair) = max(firsts), min(lasts)
    data_end_ms = last_ms + tf_ms
    stop_ms = tr.stopts * 1000 if tr.stopts else data_end_ms

    def fmt(ms: int) -> str:
        return f"{datetime.fromtimestamp(ms / 1000, UTC):%Y-%m-%d %H:%M}"

    if start_ms <= first_ms or start_ms >= last_ms:
        raise TradAIDataError(
            f"--timerange {timerange} starts outside the candles: it must start after "
            f"{fmt(first_ms)} (first candle of {first_pair}) and before {fmt(last_ms)} (last "
            f"candle of {last_pair})"
        )
    if stop_ms > data_end_ms:
        raise TradAIDataError(
            f"--timerange {timerange} ends after the candles: the last {timeframe} candle of "
            f"{last_pair} opens at {fmt(last_ms)}; end the timerange at {fmt(data_end_ms)} or "
            "earlier, or leave its end open"
        )
    candles = (stop_ms - start_ms) // tf_ms
    if max_candles:
        candles = min(candles, max_candles)
    if candles < 1:
        raise TradAIConfigError(f"--timerange {timerange} holds no full {timeframe} candle")
    return datetime.fromtimestamp(start_ms / 1000, UTC), int(candles)


def _bot_config(config: dict[str, Any], workdir: Path, db_url: str | None) -> dict[str, Any]:
    """The resolved config, made a dry-run bot that reaches nothing outside the process."""
    config = dict(config)
    config["dry_run"] = True
    config["initial_state"] = "running"
    config["datadir"] = workdir / "data"
    config["db_url"] = db_url or f"sqlite:///{Path(config['user_data_dir']) / DEFAULT_DB_NAME}"
    config["exchange"] = {**config["exchange"], "enable_ws": False}
    for service in ("api_server", "telegram", "webhook", "discord", "external_message_consumer"):
        if service in config:
            config[service] = {**config[service], "enabled": False}
    config.pop("timerange", None)
    config.pop("fiat_display_currency", None)  # its converter asks coingecko at start-up
    return config


def write_history(feed: CandleFeed, config: dict[str, Any], pairs: list[str], until: datetime):
    """Copy the recorded candles of ``pairs`` (every timeframe and candle type on disk) that
    open before ``until`` into the bot's datadir (a fresh folder)."""
    dest = Path(config["datadir"])
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    fmt = config.get("dataformat_ohlcv", "feather")
    source = get_datahandler(feed.datadir, fmt)
    target = get_datahandler(dest, fmt)
    mode = TradingMode(config.get("trading_mode") or "spot")
    wanted = set(pairs)
    for pair, timeframe, candle_type in source.ohlcv_get_available_data(feed.datadir, mode):
        if pair not in wanted:
            continue
        df = source.ohlcv_load(
            pair, timeframe, CandleType.from_string(candle_type), fill_missing=False,
            warn_no_data=False,
        )  # fmt: skip
        target.ohlcv_store(pair, timeframe, df[df["date"] < until], CandleType(candle_type))


def plan_replay(
    config_files: list[Path],
    strategy: str,
    *,
    freqaimodel: str | None = None,
    userdir: Path | None = None,
    datadir: Path | None = None,
    strategy_path: Path | None = None,
    freqaimodel_path: Path | None = None,
    timerange: str | None = None,
    max_candles: int | None = None,
    db_url: str | None = None,
) -> ReplayPlan:
    """Resolve and check a replay (module doc); writes the bot's start-up datadir."""
    if max_candles is not None and max_candles < 1:
        raise TradAIConfigError(f"--max-candles {max_candles}: give a positive number")
    ensure_userdir(userdir)
    args: dict[str, Any] = {
        "config": [str(p) for p in config_files],
        "strategy": strategy,
        "command": "trade",
        "dry_run": True,
    }
    optional = {
        "user_data_dir": userdir,
        "datadir": datadir,
        "strategy_path": strategy_path,
        "freqaimodel": freqaimodel,
        "freqaimodel_path": freqaimodel_path,
    }
    args.update({k: str(v) for k, v in optional.items() if v is not None})
    resolved = _resolve(args)
    timeframe = resolved.get("timeframe")
    if not timeframe:
        raise TradAIConfigError('the config sets no timeframe: add e.g. "timeframe": "1h"')
    mode = str(resolved.get("trading_mode") or "spot")
    feed = CandleFeed(
        Path(resolved["datadir"]),
        resolved.get("dataformat_ohlcv", "feather"),
        CandleType.get_default(mode).value,
    )
    freqai = resolved.get("freqai") or {}
    corr = (freqai.get("feature_parameters") or {}).get("include_corr_pairlist") or []
    whitelist = list(resolved["exchange"].get("pair_whitelist") or [])
    pairs = list(dict.fromkeys([*whitelist, *corr]))
    first_signal, candles = _check_span(feed, pairs, timeframe, timerange, max_candles or 0)
    check_model(resolved)
    workdir = Path(resolved["user_data_dir"]) / "replay"
    config = _bot_config(resolved, workdir, db_url)
    span = identity(config, first_signal, candles)
    found = load_state(workdir)
    done = found.done if found is not None and found.resumes(span) else 0
    tf = timedelta(seconds=timeframe_to_seconds(timeframe))
    start = first_signal + done * tf
    write_history(feed, config, pairs, start)
    return ReplayPlan(
        args, config, feed, pairs, timeframe, start, candles - done, workdir, span, done
    )
