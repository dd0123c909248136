"""``tradai retrain simulate``: replay the retraining policy over history.

Exit codes: 0 the replay ran (the tables say how the policy did), 2 bad input (one line naming
the option, file or key and the fix). Heavy imports stay inside the command function so
``tradai --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tradai_strategy.cli.common import (
    ConfigOpt,
    CostOpt,
    DatadirOpt,
    PairsOpt,
    StrategyPathOpt,
    UserdirOpt,
    err_console,
    fail,
    fmt_num,
    freqtrade_args,
)
from tradai_strategy.core.logs import quiet_logging

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.policy import RetrainPolicy
    from tradai_strategy.lifecycle.simulate import SimulationResult

console = Console() if sys.stdout.isatty() else Console(width=140)
_COLOURS = {
    "promoted": "green",
    "staged": "blue",
    "discarded": "yellow",
    "kept": "yellow",
    "retrained": "cyan",
    "rolled back": "magenta",
    "retired": "red",
    "deleted": "dim",
}
COUNT_ROWS = [
    ("retrains", "retrains", "d"),
    ("promotions", "promotions", "d"),
    ("staged for a shadow test", "staged", "d"),
    ("discarded after it", "discarded", "d"),
    ("kept (gate failed)", "kept", "d"),
    ("rollbacks", "rollbacks", "d"),
    ("retirements", "retirements", "d"),
    ("deleted by retention", "deleted", "d"),
]
CLASS_ROWS = [
    ("accuracy (every h-th row)", "accuracy", ".3f"),
    ("  standard error (by candle)", "accuracy_se", ".3f"),
    ("  rows", "n_scored", "d"),
    ("balanced accuracy", "balanced_accuracy", ".3f"),
    ("served share of rows", "coverage", ".3f"),
]


def render_result(result: SimulationResult, out: Console) -> None:
    """The event table, then policy vs never retraining."""
    s = result.settings
    events = Table(title=f"Policy events ({s['from']} .. {s['to']}, {s['policy']})")
    for col in ("date", "action", "version", "reason"):
        events.add_column(col, no_wrap=col != "reason")
    for e in result.events:
        colour = _COLOURS.get(e.action, "white")
        events.add_row(
            f"{e.date:%Y-%m-%d}",
            f"[{colour}]{e.action}[/]",
            f"v{e.version}" if e.version is not None else "-",
            escape(e.reason),
        )
    out.print(events)
    table = Table(
        title=f"Out of sample: policy vs never retraining ({', '.join(s['pairs'])}, "
        f"cost {s['cost']} per unit traded)"
    )
    table.add_column("metric")
    table.add_column("policy", justify="right")
    table.add_column("never retrain", justify="right")
    p, b = result.policy, result.baseline
    if result.multiclass:
        _render_classes(result, table, out)
        return
    rows = [
        ("pooled IC (every h-th row)", "pooled_ic", "+.4f"),
        ("  standard error", "pooled_ic_se", ".4f"),
        ("  rows", "n_rows", "d"),
        ("cross-sectional IC (watched)", "cs_ic", "+.4f"),
        ("  standard error", "cs_ic_se", ".4f"),
        ("  candles", "n_candles", "d"),
        ("net Sharpe per period", "sharpe", "+.3f"),
        ("net Sharpe a year", "sharpe_annual", "+.2f"),
        ("net return (sum)", "net_return", "+.4f"),
        ("turnover per period", "turnover", ".3f"),
        ("served share of rows", "coverage", ".3f"),
        *COUNT_ROWS,
    ]
    for label, key, fmt in rows:
        table.add_row(label, fmt_num(getattr(p, key), fmt), fmt_num(getattr(b, key), fmt))
    out.print(table)
    _render_registry(result, out)
    diff = p.pooled_ic - b.pooled_ic
    se = math.hypot(p.pooled_ic_se, b.pooled_ic_se)
    out.print(
        f"policy - never retrain: pooled IC {fmt_num(diff, '+.4f')} "
        f"(about {fmt_num(diff / se, '+.1f')} "
        "standard errors, both arms on the same rows, so only indicative)",
        highlight=False,
        soft_wrap=True,
    )


def _render_classes(result: SimulationResult, table: Table, out: Console) -> None:
    """A target of more than two classes: accuracy rows, persistence beside them."""
    p, b, pers = result.policy, result.baseline, result.persistence
    for label, key, fmt in [*CLASS_ROWS, *COUNT_ROWS]:
        table.add_row(label, fmt_num(getattr(p, key), fmt), fmt_num(getattr(b, key), fmt))
    out.print(table)
    out.print(
        f"persistence (the regime known at t) on the same rows: accuracy "
        f"{fmt_num(pers.get('accuracy', float('nan')), '.3f')} ± "
        f"{fmt_num(pers.get('accuracy_se', float('nan')), '.3f')}; more than two classes: "
        "gated by the accuracy gate, watched on the live accuracy (no IC or Sharpe)",
        highlight=False,
        soft_wrap=True,
    )
    _render_registry(result, out)


def _render_registry(result: SimulationResult, out: Console) -> None:
    s = result.settings
    kept = ", ".join(f"v{v}" + (f" @{a}" if a else "") for v, a in result.registry)
    out.print(
        f"registry at the end (keep_versions = {s.get('keep_versions', '?')} unaliased): "
        f"{kept or 'empty'}",
        highlight=False,
        soft_wrap=True,
    )


def _policy_args(
    policy: RetrainPolicy,
    config: list[Path] | None,
    strategy: str,
    strategy_path: Path | None,
    datadir: Path | None,
    userdir: Path | None,
) -> dict[str, Any]:
    """freqtrade arguments: the options, else the policy's ``[train]`` table."""
    return freqtrade_args(
        config or [Path(p) for p in policy.train_config],
        strategy or policy.strategy,
        strategy_path=strategy_path
        or (Path(policy.strategy_path) if policy.strategy_path else None),
        datadir=datadir or (Path(policy.datadir) if policy.datadir else None),
        userdir=userdir or Path(policy.userdir),
    )


def simulate(
    date_from: Annotated[
        str, typer.Option("--from", help="First simulated day (UTC), YYYY-MM-DD.")
    ],
    date_to: Annotated[
        str, typer.Option("--to", help="Day after the last simulated day (UTC), YYYY-MM-DD.")
    ],
    policy_path: Annotated[
        Path, typer.Option("--policy", help="Retraining policy TOML to replay.")
    ] = Path("configs/lifecycle.toml"),
    config: ConfigOpt = None,
    strategy: Annotated[
        str, typer.Option("--strategy", "-s", help="Strategy class (default: the policy's).")
    ] = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    pairs: PairsOpt = None,
    train_days: Annotated[
        float | None,
        typer.Option(help="Training window in days (default: freqai.train_period_days)."),
    ] = None,
    holdout: Annotated[
        float, typer.Option(help="Newest share of the window the promotion gate scores.")
    ] = 0.25,
    min_gate_ic: Annotated[
        float | None,
        typer.Option(help="Holdout IC a candidate needs (default: the policy's ic_retrain_below)."),
    ] = None,
    min_accuracy: Annotated[
        float | None,
        typer.Option(
            help="More than two classes: holdout accuracy floor of the gate (default: the "
            "policy's [validation] min_accuracy)."
        ),
    ] = None,
    accuracy_margin: Annotated[
        float | None,
        typer.Option(
            help="More than two classes: margin over persistence (default: the policy's "
            "[validation] accuracy_margin)."
        ),
    ] = None,
    cost: CostOpt = 0.001,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write events and metrics as JSON here.")
    ] = None,
) -> None:
    """Replay the retraining policy day by day over [--from, --to): the deployed model predicts
    out of sample, labels arrive after the label horizon, the policy's schedule, IC-decay, drift,
    rollback and retirement rules act on what was known each day, and each retrain is gated on a
    purged holdout. Prints every decision and the out-of-sample IC, ICIR and net Sharpe of the
    policy next to never retraining (the model trained at --from kept to the end). A target of
    more than two classes (regimes) is gated by the accuracy gate (the policy's [validation]
    min_accuracy and accuracy_margin), watched on its live accuracy ([accuracy]) and scored
    on accuracy next to persistence. Retention (keep_versions) runs after every retrain; the
    registry left at the end is printed."""
    from freqtrade.exceptions import OperationalException
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from tradai_strategy.data.freqtrade_runner import FreqtradeRunError, resolve_config
    from tradai_strategy.lifecycle.policy import load_policy
    from tradai_strategy.lifecycle.simulate import (
        load_simulation_data,
        settings_from_config,
        simulate_policy,
    )

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    try:
        policy = load_policy(policy_path)
        gate = {"min_accuracy": min_accuracy, "accuracy_margin": accuracy_margin}
        if any(v is not None for v in gate.values()):
            from dataclasses import replace

            from tradai_strategy.lifecycle.policy import policy_from_dict

            if min_accuracy is not None:
                policy = replace(policy, min_accuracy=min_accuracy)
            if accuracy_margin is not None:
                policy = replace(policy, accuracy_margin=accuracy_margin)
            policy_from_dict(  # the same range checks as in the file
                {"validation": {k: getattr(policy, k) for k in gate}}, "--min-accuracy"
            )
        args = _policy_args(policy, config, strategy, strategy_path, datadir, userdir)
        pair_list = [p.strip() for p in pairs.split(",") if p.strip()] if pairs else None
        with quiet_logging(logging.WARNING):  # freqtrade warns about partial data ranges
            cfg = resolve_config(args)
            settings = settings_from_config(
                cfg,
                train_period_days=train_days,
                holdout_fraction=holdout,
                min_gate_ic=policy.ic_retrain_below if min_gate_ic is None else min_gate_ic,
                cost=cost,
            )
            data = load_simulation_data(
                cfg, settings, date_from, date_to, pairs=pair_list, datadir=datadir
            )
            with progress:
                bar = progress.add_task("simulating days", total=None)
                result = simulate_policy(
                    policy,
                    data,
                    date_from,
                    date_to,
                    settings,
                    progress=lambda done, total: progress.update(bar, completed=done, total=total),
                    meta={
                        "strategy": cfg.get("strategy"),
                        "config": args["config"],
                        "keep_versions": policy.keep_versions,
                        "min_accuracy": policy.min_accuracy,
                        "accuracy_margin": policy.accuracy_margin,
                    },
                )
    except (FreqtradeRunError, OperationalException) as err:  # no bare ValueError: a bug
        fail(" ".join(str(err).split()))
        return
    render_result(result, console)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        console.print(f"wrote {json_out}", highlight=False)


def register_simulate(retrain_app: typer.Typer) -> None:
    """Add ``simulate`` to the ``tradai retrain`` group."""
    retrain_app.command("simulate")(simulate)
