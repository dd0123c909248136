"""``tradai replay``: freqtrade's own dry-run bot on recorded candles, offline, fast.

The bot (``freqtrade trade --dry-run``'s ``Worker``, in-process) trades against a replay
exchange that serves the datadir's candles up to a simulated clock, one candle per bot
iteration (:mod:`tradai_strategy.replay`). Its log goes to ``<userdir>/replay/replay.log``;
the console shows a summary.

Exit codes: 0 the replay ran to its end, 2 bad input (one line naming the option or file and
the fix, before the bot starts) or a bot that stopped itself (the line names the log).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import (
    ConfigOpt,
    DatadirOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    UserdirOpt,
    console,
    fmt_num,
    freqtrade_args,
)

if TYPE_CHECKING:
    from rich.console import Console

    from tradai_strategy.replay.run import ReplaySummary


def render_summary(summary: ReplaySummary, out: Console) -> None:
    """One table: span, trades, profit, signals and model versions served, outputs."""
    table = Table(title=f"Replay {summary.first_candle} .. {summary.last_candle} (UTC)")
    table.add_column("")
    table.add_column("value", overflow="fold")
    rows = [
        ("candles replayed", str(summary.candles)),
        ("pairs", ", ".join(summary.pairs)),
        ("trades closed / open", f"{summary.trades_closed} / {summary.trades_open}"),
        (
            "profit (closed trades)",
            f"{fmt_num(summary.profit_abs, '+.2f')} ({fmt_num(summary.profit_pct, '+.2f')} %)",
        ),
        ("entry signals", str(summary.entry_signals)),
        ("predictions served (do_predict=1)", str(summary.predictions_served)),
        ("model versions served", ", ".join(summary.versions_served) or "-"),
        ("FreqAI trainings (pairs trained)", str(summary.trainings)),
        ("wall time", f"{summary.seconds:.1f} s"),
        ("trade database", summary.db_url),
        ("bot log", summary.log),
        ("signals per candle", summary.signals),
    ]
    for event in summary.extra.get("events", []):
        rows.append((f"event {event['at'][:16]} {event['do']}", event["result"]))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def replay(
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    freqaimodel: Annotated[
        str | None, typer.Option(help="FreqAI model class, e.g. TradAIMLflowModel.")
    ] = None,
    strategy_path: StrategyPathOpt = None,
    freqaimodel_path: Annotated[
        Path | None,
        typer.Option(help="Folder of FreqAI model classes (default: TradAI's own)."),
    ] = None,
    userdir: UserdirOpt = None,
    datadir: DatadirOpt = None,
    timerange: TimerangeOpt = None,
    max_candles: Annotated[
        int | None,
        typer.Option(help="Stop after this many candles (default: the whole --timerange)."),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Scripted lifecycle events (JSON/TOML: at, do = promote | rollback | "
            "registry_down | registry_up | retrain | retrain_check | scheduler), applied at "
            "their simulated time (docs/replay.md)."
        ),
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option(
            help="freqtrade's trade database (default: sqlite <userdir>/tradesv3.replay.sqlite)."
        ),
    ] = None,
    compare_backtest: Annotated[
        bool,
        typer.Option(
            "--compare-backtest",
            help="Afterwards, backtest the replayed span with the same config and model and "
            "compare the trade lists (<userdir>/replay/trade_overlap.csv).",
        ),
    ] = False,
) -> None:
    """Paper-trade a span of recorded candles with freqtrade's own dry-run bot.

    The bot runs offline on the datadir's candles, on a simulated clock that
    moves one candle per bot iteration; orders fill as freqtrade's dry-run
    fills them, at the open of the candle after the signal. --events moves
    aliases, cuts the registry or runs the retraining policy at simulated
    times; --compare-backtest joins the trades with a backtest's.

    Example: tradai replay --config configs/inference.json --strategy
    RadStrategy --freqaimodel TradAIMLflowModel --timerange 20250301-20250401
    """

    from tradai_strategy.core.paths import freqaimodels_path
    from tradai_strategy.replay.run import run_replay

    freqtrade_args(config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir)
    assert config is not None  # freqtrade_args ends the command without one
    with console.status("replaying ..."):
        summary = run_replay(
            config,
            strategy,
            freqaimodel=freqaimodel,
            strategy_path=strategy_path,
            freqaimodel_path=freqaimodel_path or freqaimodels_path(),
            userdir=userdir,
            datadir=datadir,
            timerange=timerange,
            max_candles=max_candles,
            db_url=db_url,
            events=events,
        )
    render_summary(summary, console)
    if compare_backtest:
        from tradai_strategy.replay.compare import backtest_overlap

        if len(summary.versions_served) > 1:
            console.print(
                "[yellow]the replay served versions "
                f"{', '.join(summary.versions_served)}; the backtest serves the config's model "
                "as it is now: trades after the first version change may differ for that "
                "reason alone[/]"
            )
        with console.status("backtesting the replayed span ..."):
            overlap = backtest_overlap(
                config,
                strategy,
                summary,
                summary.timeframe,
                freqaimodel=freqaimodel,
                datadir=datadir,
                userdir=userdir,
                strategy_path=strategy_path,
                freqaimodel_path=freqaimodel_path or freqaimodels_path(),
            )
        console.print(f"replay vs backtest: {overlap.text()}", highlight=False)
        console.print(f"trade by trade: {Path(summary.signals).parent / 'trade_overlap.csv'}")


def register(app: typer.Typer) -> None:
    """Add ``replay`` to the app."""
    app.command("replay")(replay)
