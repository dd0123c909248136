"""``run_replay``: freqtrade's dry-run bot on recorded candles, and what it did.

The bot is freqtrade's (``Worker``/``FreqtradeBot``, in-process) with a replay exchange
(:mod:`~tradai_strategy.replay.exchange`) on a simulated clock
(:mod:`~tradai_strategy.replay.bot`). Outputs, under ``<userdir>/replay/``:

* freqtrade's own dry-run trade database (``--db-url``; default
  ``<userdir>/tradesv3.replay.sqlite``), readable with any freqtrade tool;
* ``replay.log``: the bot's log (timestamps are simulated time);
* ``signals.csv``: per (pair, candle) what the strategy decided (``enter_long``, ...,
  ``do_predict``, the predictions, the model version served): the table a backtest of the
  same span is compared with;
* ``summary.json``: :class:`ReplaySummary` (``candles``: processed by this run; a resumed
  run also reports ``extra.resumed_at_candle``; the signals cover the whole span).
* ``state.json``: how far the span got (:mod:`~tradai_strategy.replay.resume`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.freqtradebot import FreqtradeBot

from tradai_strategy.core.logs import capture_output
from tradai_strategy.replay.bot import ReplayClock, ReplayWorker
from tradai_strategy.replay.events import load_events
from tradai_strategy.replay.exchange import ReplayMarketData, replay_exchange
from tradai_strategy.replay.plan import ReplayPlan, plan_replay
from tradai_strategy.replay.resume import save_state
from tradai_strategy.replay.scripted import EventScript

logger = logging.getLogger(__name__)

__all__ = ["SIGNAL_COLUMNS", "ReplaySummary", "SignalRecorder", "run_replay"]

#: strategy columns recorded per (pair, candle), when the strategy sets them
SIGNAL_COLUMNS = ("enter_long", "enter_short", "exit_long", "exit_short", "enter_tag")


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did (``summary.json``)."""

    candles: int
    first_candle: str
    last_candle: str
    pairs: list[str]
    timeframe: str
    trades_closed: int
    trades_open: int
    profit_abs: float
    profit_pct: float
    entry_signals: int
    predictions_served: int
    versions_served: list[str]
    trainings: int
    seconds: float
    db_url: str
    log: str
    signals: str
    extra: dict[str, Any] = field(default_factory=dict)


def _served_version(bot: FreqtradeBot) -> str:
    """The model version a TradAI model with a watcher serves now ('' for others)."""
    watcher = getattr(getattr(bot.strategy, "freqai", None), "watcher", None)
    current = getattr(watcher, "current", None)
    return str(getattr(current, "version", "") or "")


class SignalRecorder:
    """After each bot iteration: the newest analyzed candle of every pair, as decided.

    Rows go to a journal (``signals.jsonl``, one line per row, flushed each iteration), so a
    killed replay keeps what it recorded; a resumed one drops the rows of steps at or after
    its resume point (an iteration the killed run had not finished) and appends.
    """

    def __init__(self, timeframe: str, journal: Path, first_step: int = 0) -> None:
        self.timeframe = timeframe
        self.journal = journal
        self.first_step = first_step
        kept: list[str] = []
        if first_step and journal.exists():
            kept = [ln for ln in journal.read_text().splitlines() if ln.strip()]
            kept = [ln for ln in kept if json.loads(ln)["step"] < first_step]
        journal.write_text("".join(f"{ln}\n" for ln in kept))

    def __call__(self, bot: FreqtradeBot, step: int) -> None:
        version = _served_version(bot)
        lines = []
        for pair in bot.active_pair_whitelist:
            df, _ = bot.dataprovider.get_analyzed_dataframe(pair, self.timeframe)
            if df.empty:
                continue
            last = df.iloc[-1]
            row: dict[str, Any] = {"step": self.first_step + step, "date": str(last["date"])}
            row["pair"] = pair
            for col in (*SIGNAL_COLUMNS, "do_predict"):
                if col in df.columns:
                    row[col] = _plain(last[col])
            row.update({c: _plain(last[c]) for c in df.columns if str(c).startswith("&-")})
            row["version"] = version
            lines.append(json.dumps(row) + "\n")
        with self.journal.open("a") as fh:
            fh.writelines(lines)

    def frame(self) -> pd.DataFrame:
        lines = [ln for ln in self.journal.read_text().splitlines() if ln.strip()]
        df = pd.DataFrame([json.loads(ln) for ln in lines])
        if not df.empty:
            df["date"] = pd.to_datetime(df["date"], utc=True)
        return df


def _plain(value: Any) -> Any:
    """A JSON-able scalar (numpy numbers, None/NaN, text)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """freqtrade's config loading installs its own root handlers (console): undo that."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def _trades_summary(wallet: float) -> dict[str, Any]:
    from freqtrade.persistence import Trade

    trades = Trade.get_trades_proxy()
    closed = [t for t in trades if not t.is_open]
    profit = float(sum(t.close_profit_abs or 0.0 for t in closed))
    return {
        "trades_closed": len(closed),
        "trades_open": len(trades) - len(closed),
        "profit_abs": profit,
        "profit_pct": 100.0 * profit / wallet if wallet else 0.0,
    }


def _flag_count(df: pd.DataFrame, col: str) -> int:
    if col not in df.columns:
        return 0
    return int((pd.to_numeric(df[col], errors="coerce").fillna(0) == 1).sum())


def _clock(plan: ReplayPlan) -> ReplayClock:
    return ReplayClock(plan.first_signal, plan.candles, plan.tf)


def _run_bot(
    plan: ReplayPlan, recorder: SignalRecorder, script: EventScript | None
) -> tuple[int, int, dict[str, Any]]:
    """Run the bot over the plan's candles; (iterations, trainings, trade summary)."""
    market = ReplayMarketData(plan.feed, plan.timeframe, plan.pairs)
    clock = _clock(plan)
    between = script.run_due if script is not None else None

    def done(step: int) -> None:
        save_state(plan.workdir, replace(plan.span, done=plan.done + step + 1))

    with replay_exchange(market, plan.pairs), clock:
        worker: ReplayWorker | None = None
        try:
            worker = ReplayWorker(plan.args, plan.config, clock, recorder, between, done)
            worker.replay()
        finally:
            if worker is not None:
                worker.exit()
        iterations = worker.iterations if worker else 0
        trainings = worker.trainings if worker else 0
        wallet = float(plan.config.get("dry_run_wallet") or 0.0)
        return iterations, trainings, _trades_summary(wallet)


def run_replay(
    config_files: list[Path],
    strategy: str,
    **options: Any,
) -> ReplaySummary:
    """Replay ``--timerange`` (or ``--max-candles`` of it) with freqtrade's dry-run bot.

    ``options`` are :func:`~tradai_strategy.replay.plan.plan_replay`'s (``freqaimodel``,
    ``userdir``, ``datadir``, ``strategy_path``, ``freqaimodel_path``, ``timerange``,
    ``max_candles``, ``db_url``) and ``events`` (a scripted events file,
    :mod:`~tradai_strategy.replay.events`). Bad input raises a
    :class:`~tradai_strategy.core.errors.TradAIError` before the bot starts; a bot that
    stops itself raises :class:`~tradai_strategy.replay.bot.ReplayBotStopped`.
    """
    began = time.monotonic()
    events_file: Path | None = options.pop("events", None)
    with _root_logging_kept():
        plan = plan_replay(config_files, strategy, **options)
    script: EventScript | None = None
    if events_file is not None:
        span = ReplayClock(plan.first_signal - plan.done * plan.tf, plan.span.candles, plan.tf)
        events = load_events(events_file, span.time_at(0), span.time_at(span.candles - 1))
        # a resumed replay: the events up to its first iteration were applied before the kill
        events = [ev for ev in events if ev.at > span.time_at(plan.done)]
        script = EventScript(events, plan.config, plan.workdir, plan.feed.datadir)
    plan.workdir.mkdir(parents=True, exist_ok=True)
    if plan.done:
        logger.info("replay: resuming at candle %d of %d", plan.done + 1, plan.span.candles)
    save_state(plan.workdir, replace(plan.span, done=plan.done))
    recorder = SignalRecorder(plan.timeframe, plan.workdir / "signals.jsonl", plan.done)
    try:
        if script is not None:
            plan = replace(plan, config=script.bot_config(plan.config))
        with _root_logging_kept(), capture_output(plan.log_path):
            iterations, trainings, trades = _run_bot(plan, recorder, script)
    finally:
        if script is not None:
            script.close()
    signals = recorder.frame()
    signals_path = plan.workdir / "signals.csv"
    signals.to_csv(signals_path, index=False)
    served = signals["version"] if "version" in signals.columns else pd.Series(dtype=str)
    extra: dict[str, Any] = {"resumed_at_candle": plan.done} if plan.done else {}
    if script is not None:
        extra["events"] = script.applied
    first = plan.first_signal - plan.done * plan.tf
    summary = ReplaySummary(
        candles=iterations,
        first_candle=f"{first:%Y-%m-%d %H:%M}",
        last_candle=f"{plan.first_signal + (max(iterations, 1) - 1) * plan.tf:%Y-%m-%d %H:%M}",
        pairs=plan.pairs,
        timeframe=plan.timeframe,
        entry_signals=_flag_count(signals, "enter_long") + _flag_count(signals, "enter_short"),
        predictions_served=_flag_count(signals, "do_predict"),
        versions_served=sorted({str(v) for v in served if str(v) not in ("", "nan")}),
        trainings=trainings,
        seconds=round(time.monotonic() - began, 2),
        db_url=str(plan.config["db_url"]),
        log=str(plan.log_path),
        signals=str(signals_path),
        **trades,
        extra=extra,
    )
    (plan.workdir / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary
