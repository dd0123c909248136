"""``tradai compare NAME OLD NEW``: two registered versions side by side on the same data.

Exit codes: 0 compared (whatever the recommendation), 2 bad input (one line naming the
version, option or file and the fix). Heavy imports stay inside the command function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ConfigOpt,
    DatadirOpt,
    StrategyOpt,
    StrategyPathOpt,
    TrackingUriOpt,
    UserdirOpt,
    console,
    err_console,
    fail,
    fmt_num,
    freqtrade_args,
)

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.compare import Comparison

#: row label and format of each compared number
ROWS = {
    "sharpe": ("Sharpe", "+.3f"),
    "profit_total": ("profit", "+.2%"),
    "max_drawdown": ("max drawdown", ".2%"),
    "trade_count": ("trades", ".0f"),
}


def _p(value: float) -> str:
    return fmt_num(value, ".2g" if 0 <= value < 1e-3 else ".4f")


def render(result: Comparison) -> None:
    """The side-by-side table, the paired test and the recommendation."""
    old, new = result.old, result.new
    table = Table(
        title=f"{result.name}: version {old.version} vs {new.version} "
        f"({result.strategy}, {result.timerange})"
    )
    for col in ("", f"v{old.version} (old)", f"v{new.version} (new)", "new - old"):
        table.add_column(col, justify="right", no_wrap=True)
    deltas = result.deltas()
    for key, (label, fmt) in ROWS.items():
        dfmt = "+.0f" if key == "trade_count" else ("+.2%" if "%" in fmt else fmt)
        table.add_row(
            label,
            fmt_num(old.metrics.get(key), fmt),
            fmt_num(new.metrics.get(key), fmt),
            fmt_num(deltas[key], dfmt),
        )
    t = result.test
    table.add_row(
        "mean IC (cross-sectional)",
        fmt_num(t.ic_old, "+.4f"),
        fmt_num(t.ic_new, "+.4f"),
        fmt_num(t.delta_ic, "+.4f"),
    )
    console.print(table)
    console.print(
        f"paired test on the {result.method} (label {result.label}, horizon {t.horizon} "
        f"candles, {fmt_num(result.pairs, '.1f')} pairs per candle): "
        f"ΔIC = {fmt_num(t.delta_ic, '+.4f')} ± {fmt_num(t.se, '.4f')} (s.e.), "
        f"t = {fmt_num(t.t_stat, '+.2f')}, p = {_p(t.p_value)} "
        f"(t with {fmt_num(t.n_periods - 1, '.0f')} df); n = {t.n} candles, "
        f"{fmt_num(t.n_periods, '.1f')} non-overlapping periods ({result.n_rows} rows both "
        f"predicted); Wilcoxon p on period means = {_p(t.wilcoxon_p)}",
        highlight=False,
        soft_wrap=True,
    )
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if result.recommendation == "promote":
        console.print(
            f"[bold green]recommendation: promote version {new.version}[/] ({result.rule})",
            highlight=False,
        )
    else:
        console.print(
            f"[bold]recommendation: keep version {old.version}[/] ({result.rule})",
            highlight=False,
        )


def compare(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    old: Annotated[str, typer.Argument(help="Version in place (the baseline).")],
    new: Annotated[str, typer.Argument(help="Candidate version.")],
    timerange: Annotated[
        str,
        typer.Option(help="Candles both versions trade and are scored on, e.g. 20250101-20250401."),
    ] = "",
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use generated markets instead of the exchange API.")
    ] = False,
    tracking_uri: TrackingUriOpt = None,
    min_delta: Annotated[
        float,
        typer.Option(help="Least mean cross-sectional IC gain to recommend the new version."),
    ] = 0.01,
    alpha: Annotated[float, typer.Option(help="Significance level of the paired test.")] = 0.05,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")
    ] = None,
    allow_gaps: AllowGapsOpt = False,
) -> None:
    """Backtest two registered versions with the same config, strategy and candles
    (TradAIMLflowModel pinned to each version) and compare Sharpe, profit, max drawdown,
    trades and the IC of their predictions against the strategy's target: per candle, the
    Spearman IC across the config's pairs (needs >= 2 pairs). A paired test on the
    candle-by-candle IC difference (overlap-aware s.e., t with n/h - 1 df, h =
    label_period_candles) gives the p-value; the new version is recommended when its IC
    is higher by more than --min-delta with p < --alpha."""
    from tradai_strategy.lifecycle.compare import compare_versions

    if not timerange:
        fail("--timerange is missing: give the candles to compare on, e.g. 20250101-20250401")
    if old == new:
        fail(f"version {old} given twice: compare two different versions of {name}")
    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    from tradai_strategy.core.paths import freqaimodels_path
    from tradai_strategy.data.candle_check import allow_gaps as gap_policy

    models_path = freqaimodels_path()
    with gap_policy(allow_gaps):
        result = compare_versions(
            args,
            name,
            old,
            new,
            timerange=timerange,
            tracking_uri=tracking_uri,
            offline=offline,
            freqaimodel_path=models_path,
            min_delta=min_delta,
            alpha=alpha,
            notify=lambda msg: err_console.print(msg, highlight=False),
        )
    render(result)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console.print(f"wrote {json_out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the ``tradai`` app."""
    app.command("compare")(compare)
