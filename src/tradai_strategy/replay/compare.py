"""The replay's trades next to a backtest's of the same span: which are the same trade.

A trade of the dry-run bot and one of the backtest are *the same* when they have the same
pair and open in the same candle (the bot opens one second after the candle boundary, the
backtest at it). For those the exit is compared too (same candle, same reason) and the
entry price. The rest is listed with where it came from, so the differences can be read:

* the backtest fills entries and exits at the candle's open and checks stoploss / ROI against
  each candle's high and low; the dry-run bot sees one price per candle (the replay
  exchange's ticker), so an intra-candle stop or ROI exit can happen a candle later, or not;
* one different exit shifts what follows on that pair (``max_open_trades``, a busy slot);
* the backtest closes the trades still open at its end (``force_exit``); the replay leaves
  them open, as a bot that keeps running would;
* the bot's last iteration acts on the span's last candle and fills at the open of the
  candle after it, outside the backtest's span: such trades are counted apart (``beyond``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds

from tradai_strategy.core.errors import TradAIConfigError

__all__ = ["TradeOverlap", "backtest_overlap", "compare_trades", "replay_trades"]

_COLUMNS = ["pair", "open_date", "close_date", "open_rate", "close_rate", "exit_reason"]


def replay_trades(db_url: str) -> pd.DataFrame:
    """The trades in a replay's freqtrade database (sqlite), one row per trade."""
    if not db_url.startswith("sqlite:///"):
        raise TradAIConfigError(
            f"comparing trades reads a sqlite trade database, not {db_url}: replay with "
            "--db-url sqlite:///<file>"
        )
    path = Path(db_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as con:
        df = pd.read_sql(
            "select pair, open_date, close_date, open_rate, close_rate, exit_reason, "
            "close_profit as profit_ratio, is_open from trades order by id",
            con,
        )
    for col in ("open_date", "close_date"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df


@dataclass(frozen=True)
class TradeOverlap:
    """Counts and the joined table (``where``: both, replay, backtest)."""

    table: pd.DataFrame
    replay: int
    backtest: int
    both: int
    same_exit: int
    entry_price_gap: float  # median |replay / backtest - 1| of the entry price, matched trades
    beyond: int = 0  # replay trades opened after the span (its last signal's entry)

    @property
    def share(self) -> float:
        """Matched trades over the larger of the two lists (1.0: the same trade list)."""
        return self.both / max(self.replay, self.backtest, 1)

    def text(self) -> str:
        beyond = (
            f" ({self.beyond} more replay trade(s) opened after the span, on its last signal)"
            if self.beyond
            else ""
        )
        return (
            f"{self.both} of {self.replay} replay / {self.backtest} backtest trades open in the "
            f"same candle ({self.share:.0%}){beyond}; {self.same_exit} of them also close in "
            f"the same candle for the same reason; entry price gap median "
            f"{self.entry_price_gap:.2%}"
        )


def _keyed(trades: pd.DataFrame, timeframe: pd.Timedelta) -> pd.DataFrame:
    out = trades[[c for c in _COLUMNS if c in trades.columns]].copy()
    for col in ("open_date", "close_date"):
        out[col] = pd.to_datetime(out[col], utc=True)
    out["open_candle"] = out["open_date"].dt.floor(timeframe)
    out["close_candle"] = out["close_date"].dt.floor(timeframe)
    return out


def compare_trades(
    replay: pd.DataFrame,
    backtest: pd.DataFrame,
    timeframe: str | pd.Timedelta,
    until: pd.Timestamp | None = None,
) -> TradeOverlap:
    """Join the two trade lists on (pair, open candle); see the module doc. Replay trades
    opened at or after ``until`` (the backtest's end) are counted apart."""
    tf = timeframe
    if not isinstance(tf, pd.Timedelta):
        tf = pd.Timedelta(seconds=timeframe_to_seconds(tf))
    mine = _keyed(replay, tf)
    beyond = mine["open_candle"] >= until if until is not None else mine["open_candle"].isna()
    joined = mine[~beyond].merge(
        _keyed(backtest, tf),
        on=["pair", "open_candle"],
        how="outer",
        suffixes=("_replay", "_backtest"),
        indicator="where",
    )
    joined["where"] = joined["where"].map(
        {"both": "both", "left_only": "replay", "right_only": "backtest"}
    )
    both = joined[joined["where"] == "both"]
    same_exit = (both["close_candle_replay"] == both["close_candle_backtest"]) & (
        both["exit_reason_replay"] == both["exit_reason_backtest"]
    )
    gap = (both["open_rate_replay"] / both["open_rate_backtest"] - 1).abs()
    return TradeOverlap(
        table=joined.sort_values(["open_candle", "pair"]).reset_index(drop=True),
        replay=int((~beyond).sum()),
        backtest=len(backtest),
        both=len(both),
        same_exit=int(same_exit.sum()),
        entry_price_gap=float(gap.median()) if len(gap) else 0.0,
        beyond=int(beyond.sum()),
    )


def backtest_overlap(
    config_files: list[Path],
    strategy: str,
    summary: Any,
    timeframe: str,
    **options: Any,
) -> TradeOverlap:
    """Backtest the span a replay covered (``summary``: its
    :class:`~tradai_strategy.replay.run.ReplaySummary`) with the same config, strategy and
    model, compare the trade lists and write ``trade_overlap.csv`` beside the signals.

    ``options``: ``freqaimodel``, ``datadir``, ``userdir``, ``strategy_path``,
    ``freqaimodel_path`` as the replay got them.
    """
    from tradai_strategy.data.freqtrade_runner import backtest

    tf = pd.Timedelta(seconds=timeframe_to_seconds(timeframe))
    first = pd.Timestamp(summary.first_candle, tz="UTC")
    stop = pd.Timestamp(summary.last_candle, tz="UTC") + tf
    workdir = Path(summary.signals).parent
    result = backtest(
        config_files,
        strategy,
        timerange=f"{int(first.timestamp())}-{int(stop.timestamp())}",
        results_dir=workdir / "backtest_results",
        extra_args=["--cache", "none"],
        **options,
    )
    overlap = compare_trades(replay_trades(summary.db_url), result.trades, tf, until=stop)
    overlap.table.to_csv(workdir / "trade_overlap.csv", index=False)
    return overlap
