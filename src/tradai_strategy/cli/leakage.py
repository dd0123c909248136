"""``tradai check-leakage``: the lookahead guard on the command line.

Exit codes: 0 no finding, 1 findings (listed in a table, optionally written as JSON),
2 bad input (one line naming the option or file and the fix).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ConfigOpt,
    DatadirOpt,
    PairsOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    UserdirOpt,
    freqtrade_args,
)
from tradai_strategy.core.logs import quiet_logging

if TYPE_CHECKING:
    from tradai_strategy.validation.lookahead import LookaheadReport

console = Console()


def render_report(report: LookaheadReport, out: Console) -> None:
    """A table of the findings (nothing when clean), then the summary line."""
    if not report.ok:
        table = Table(title=f"Lookahead findings: {report.strategy}", show_lines=False)
        for name in ("kind", "pair", "column", "first row", "size", "what it means"):
            table.add_column(name, overflow="fold")
        for f in report.findings:
            where = "" if f.row is None else f"{f.row} ({f.date})"
            if "equals" in f.kind:
                size = f"corr {f.difference:+.4f}"
            elif f.difference == 0 and f.details.get("nan_mismatch_rows"):
                size = "NaN vs value"
            else:
                size = "-" if f.kind == "target_not_forward" else f"{f.difference:.3g}"
            table.add_row(f.kind, f.pair, f.column, where, size, f.message)
        out.print(table)
    style = "green" if report.ok else "bold red"
    out.print(f"[{style}]{report.summary_line()}[/]", highlight=False, soft_wrap=True)


def check_leakage(
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    timerange: TimerangeOpt = None,
    pairs: PairsOpt = None,
    samples: Annotated[int, typer.Option(help="Cut points per pair.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the cut sampling.")] = 0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
    allow_gaps: AllowGapsOpt = False,
) -> None:
    """Check a FreqAI strategy for lookahead: features recomputed on truncated candles must
    not change, targets must look forward, no feature may copy a target or a future close,
    informative candles must be merged after they close. No model is trained."""
    from tradai_strategy.data.candle_check import allow_gaps as gap_policy
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.validation.lookahead import check_lookahead

    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    pair_list = [p.strip() for p in pairs.split(",") if p.strip()] if pairs else None
    with quiet_logging(), gap_policy(allow_gaps):
        cfg = resolve_config(args)
        report = check_lookahead(
            cfg, pairs=pair_list, timerange=timerange, samples=samples, seed=seed
        )
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    render_report(report, console)
    if json_out is not None:
        console.print(f"wrote {json_out}", highlight=False)
    raise typer.Exit(0 if report.ok else 1)


def register(app: typer.Typer) -> None:
    """Add ``check-leakage`` to the ``tradai`` app."""
    app.command("check-leakage")(check_leakage)
