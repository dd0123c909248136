"""``tradai validate``: purged walk-forward / combinatorial purged CV of a FreqAI strategy.

Exit codes: 0 the verdict passed, 1 it failed (reasons printed), 2 bad input (one line
naming the option or file and the fix). Heavy imports stay inside the command function so
``tradai --help`` stays fast.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ConfigOpt,
    CostOpt,
    DatadirOpt,
    FitClusterOpt,
    FitWorkersOpt,
    PairsOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    TrackingUriOpt,
    UserdirOpt,
    err_console,
    fail,
    fmt_num,
    freqtrade_args,
)
from tradai_strategy.core import tags as tag
from tradai_strategy.core.logs import quiet_logging

if TYPE_CHECKING:
    from tradai_strategy.validation.report import ValidationReport

# a wide console when piped: the tables have a dozen numeric columns
console = Console() if sys.stdout.isatty() else Console(width=150)


#: table header and number format of each metric column
COLUMNS = {
    "rank_ic": ("RankIC", "+.3f"),
    "ic": ("IC", "+.3f"),
    "hit_rate": ("hit", ".3f"),
    "auc": ("AUC", ".3f"),
    "sharpe": ("Sharpe", "+.3f"),
    "sortino": ("Sortino", "+.3f"),
    "turnover": ("turn", ".2f"),
    "net_return": ("net/period", "+.5f"),
}


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    vals = [
        float(r[key]) for r in rows if isinstance(r.get(key), int | float) and math.isfinite(r[key])
    ]
    return sum(vals) / len(vals) if vals else float("nan")


def render_report(report: ValidationReport, out: Console) -> None:
    """Per-split and per-path tables, the headline numbers and the verdict (a multi-class
    target: its accuracy against the baselines and the accuracy gate instead)."""
    if report.classification is not None:
        from tradai_strategy.cli.validate_classes import render_classes

        render_classes(report.classification, out)
        _render_fits_and_verdict(report, out)
        return
    s = report.settings
    chosen = [c for c in s.get("metrics", COLUMNS) if c in COLUMNS]
    splits = Table(title=f"Splits ({s.get('cv')}; mean over pairs and seeds; Sharpe per period)")
    for col in ("split", "test", "train", "test n", "purged", "train RIC"):
        splits.add_column(col, justify="right", no_wrap=True)
    for col in (*(COLUMNS[c][0] for c in chosen), "fit s"):
        splits.add_column(col, justify="right", no_wrap=True)
    by_split: dict[int, list[dict[str, Any]]] = {}
    for row in report.splits:
        by_split.setdefault(int(row["split"]), []).append(row)
    for j, rows in sorted(by_split.items()):
        counts = (str(round(_mean(rows, key))) for key in ("n_train", "n_test", "n_purged"))
        splits.add_row(
            str(j),
            str(rows[0]["test"]),
            *counts,
            fmt_num(_mean(rows, "train_rank_ic"), "+.3f"),
            *(fmt_num(_mean(rows, c), COLUMNS[c][1]) for c in chosen),
            fmt_num(sum(r["fit_seconds"] for r in rows), ".2f"),
        )
    out.print(splits)
    paths = Table(title="Backtest paths (non-overlapping rows, all pairs)")
    for col in ("path", "rows", *(COLUMNS[c][0] for c in chosen), "portf. SR/yr"):
        paths.add_column(col, justify="right", no_wrap=True)
    for row in report.paths:
        paths.add_row(
            str(row["path"]),
            str(round(row["n"])),
            *(fmt_num(row[c], COLUMNS[c][1]) for c in chosen),
            fmt_num(row["portfolio_sharpe_annual"], "+.2f"),
        )
    out.print(paths)
    m = report.summary
    v = report.verdict.metrics
    decay = ", ".join(f"h={h}: {fmt_num(ic, '+.3f')}" for h, ic in report.ic_decay.items())
    lines = [
        f"RankIC {fmt_num(m['rank_ic'], '+.4f')} +/- {fmt_num(m['rank_ic_se'], '.4f')} "
        f"(t = {fmt_num(m['rank_ic_tstat'], '+.2f')}, n = {round(m['n_nonoverlapping'])} "
        f"non-overlapping rows; split-demeaned {fmt_num(m.get('rank_ic_demeaned'), '+.4f')}), "
        f"IC {fmt_num(m['ic'], '+.4f')}, ICIR {fmt_num(m['icir'], '+.2f')}",
        f"IC decay: {decay}",
        f"Sharpe per period: train {fmt_num(m['train_sharpe'], '+.3f')}, "
        f"validation {fmt_num(m['val_sharpe'], '+.3f')}; "
        f"portfolio {fmt_num(m['portfolio_sharpe'], '+.3f')} "
        f"({fmt_num(m['portfolio_sharpe_annual'], '+.2f')} "
        f"a year), PSR {fmt_num(v.get('psr'), '.3f')}, DSR {fmt_num(v.get('dsr'), '.3f')} "
        f"({s.get('n_trials')} trial(s))",
        f"seeds: IC std {fmt_num(v.get('seed_ic_std'), '.4f')}; PBO over seeds "
        f"{fmt_num(m.get('pbo_over_seeds'), '.2f')} (informative)",
    ]
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)
    _render_fits_and_verdict(report, out)


def _render_fits_and_verdict(report: ValidationReport, out: Console) -> None:
    out.print(
        f"fits: {round(report.timings.get('n_fits', 0))} in "
        f"{fmt_num(report.timings.get('fit_wall_seconds'), '.1f')} s "
        f"on {report.settings.get('n_jobs')} worker(s) "
        f"(sum of fit times {fmt_num(report.timings.get('fit_seconds_sum'), '.1f')} s)",
        highlight=False,
        soft_wrap=True,
    )
    verdict = report.verdict
    if verdict.passed:
        out.print("[bold green]verdict: PASS[/]")
    else:
        out.print("[bold red]verdict: FAIL[/]")
        for reason in verdict.reasons:
            out.print(f"  - {reason}", highlight=False, soft_wrap=True)
    for warning in verdict.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def _names(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


def validate(
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    timerange: TimerangeOpt = None,
    pairs: PairsOpt = None,
    cv: Annotated[str, typer.Option(help="walkforward or cpcv.")] = "cpcv",
    n_groups: Annotated[int, typer.Option(help="CPCV groups N / walk-forward test blocks.")] = 6,
    k: Annotated[int, typer.Option("--k", help="CPCV test groups per split.")] = 2,
    purge: Annotated[int, typer.Option(help="Purge in bars (>= label_period_candles).")] = 21,
    embargo: Annotated[int, typer.Option(help="Embargo in bars after each test group.")] = 5,
    seeds: Annotated[int, typer.Option(help="Seeds per split (stability check).")] = 10,
    jobs: Annotated[int, typer.Option(help="Worker processes (0: one per core).")] = 0,
    cost: CostOpt = 0.001,
    n_trials: Annotated[
        int, typer.Option(help="Configurations tried so far (deflates the Sharpe ratio).")
    ] = 1,
    metrics: Annotated[
        str,
        typer.Option(
            help="Comma-separated table columns among rank_ic, ic, hit_rate, auc, sharpe, "
            "sortino, turnover, net_return (default: all)."
        ),
    ] = "",
    tracking_uri: TrackingUriOpt = None,
    no_tracking: Annotated[
        bool, typer.Option("--no-tracking", help="Do not log the run to MLflow.")
    ] = False,
    skip_leakage_check: Annotated[
        bool,
        typer.Option("--skip-leakage-check", help="Skip the lookahead pre-flight (recorded)."),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Registered model name: validate this version's strategy/config and tag it "
            "tradai.validation_status=passed/failed (the promotion gate). Needs --version.",
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Version of --model to validate and tag.")
    ] = None,
    min_ic: Annotated[float, typer.Option(help="Verdict: least validation RankIC.")] = 0.03,
    min_ic_tstat: Annotated[float, typer.Option(help="Verdict: least IC t-statistic.")] = 2.0,
    max_sharpe_gap: Annotated[
        float, typer.Option(help="Verdict: largest train - validation Sharpe (per period).")
    ] = 0.5,
    max_seed_ic_std: Annotated[
        float, typer.Option(help="Verdict: largest std of the IC over seeds.")
    ] = 0.02,
    min_dsr: Annotated[float, typer.Option(help="Verdict: least deflated Sharpe ratio.")] = 0.95,
    min_accuracy: Annotated[
        float,
        typer.Option(
            help="Verdict of a multi-class (regime) target: least OOS accuracy; it must also "
            "beat persistence by --accuracy-margin with one-sided p < 0.05."
        ),
    ] = 0.75,
    accuracy_margin: Annotated[
        float, typer.Option(help="Verdict of a multi-class target: margin over persistence.")
    ] = 0.02,
    report_out: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="HTML report path (default: beside --json, else "
            "USERDIR/tradai_runs/validate-STRATEGY-TIME/validation_report.html).",
        ),
    ] = None,
    split_runs: Annotated[
        bool,
        typer.Option(
            "--split-runs", help="Also log one nested MLflow run per split (~0.2 s each)."
        ),
    ] = False,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write the HTML report.")
    ] = False,
    allow_gaps: AllowGapsOpt = False,
    train_workers: FitWorkersOpt = None,
    cluster: FitClusterOpt = None,
) -> None:
    """Cross-validate the strategy's FreqAI model (purged walk-forward or CPCV) on its own
    features and targets; report per-split and per-path metrics and the verdict (IC strength
    and significance, train-vs-validation Sharpe gap, seed stability, deflated Sharpe). A
    multi-class target (regimes) reports accuracy, balanced accuracy, kappa, log loss and
    the confusion matrix next to the majority and persistence baselines, and its verdict is
    the accuracy gate (--min-accuracy, beating persistence by --accuracy-margin).
    With --model/--version the verdict is written on that registered version's tags
    (timerange default: the version's training range)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from tradai_strategy.data.candle_check import allow_gaps as gap_policy
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.models.executor_options import executor_options
    from tradai_strategy.stats.overfitting import Thresholds
    from tradai_strategy.validation.pipeline import run_validation
    from tradai_strategy.validation.runner import DEFAULT_METRICS, ValidationSettings

    if model is not None and version is None:
        fail("--model needs --version: name the registered version to validate and tag")
    if version is not None and model is None:
        fail("--version needs --model: name the registered model")
    if model is not None and no_tracking:
        fail("--no-tracking cannot be used with --model: the version's tags name the MLflow run")
    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    pair_list = [p.strip() for p in pairs.split(",") if p.strip()] if pairs else None
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    bar = progress.add_task("fitting", total=None)
    options: dict[str, Any] = {
        "cv": cv,
        "n_groups": n_groups,
        "k": k,
        "purge": purge,
        "embargo": embargo,
        "seeds": seeds,
        "jobs": jobs,
        "cost": cost,
        "n_trials": n_trials,
        "metrics": _names(metrics) or DEFAULT_METRICS,
        "thresholds": Thresholds(
            min_ic=min_ic,
            min_ic_tstat=min_ic_tstat,
            max_sharpe_gap=max_sharpe_gap,
            max_seed_ic_std=max_seed_ic_std,
            min_dsr=min_dsr,
        ),
        "min_accuracy": min_accuracy,
        "accuracy_margin": accuracy_margin,
    }
    run_kw: dict[str, Any] = {
        "pairs": pair_list,
        "skip_leakage_check": skip_leakage_check,
        "progress": lambda done, total: progress.update(bar, completed=done, total=total),
        "notify": lambda msg: err_console.print(msg, highlight=False, soft_wrap=True),
    }
    run_id: str | None = None
    tagged: dict[str, str] = {}
    if model is not None and version is not None:
        from tradai_strategy.lifecycle.gate import validate_and_tag

        with progress, gap_policy(allow_gaps), executor_options(train_workers, cluster):
            gate = validate_and_tag(
                args,
                model,
                version,
                tracking_uri=tracking_uri,
                timerange=timerange,
                split_runs=split_runs,
                **options,
                **run_kw,
            )
        report, run_id, tagged = gate.report, gate.run_id, gate.tags
    else:
        settings = ValidationSettings(**options)
        with quiet_logging(), executor_options(train_workers, cluster):
            cfg = resolve_config(args)
            with progress, gap_policy(allow_gaps):
                report = run_validation(
                    cfg, settings, timerange=timerange, datadir=datadir, **run_kw
                )
    render_report(report, console)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        console.print(f"wrote {json_out}", highlight=False)
    if run_id is None and not no_tracking:
        from tradai_strategy.validation.tracking import log_report

        run_id = log_report(report, tracking_uri, split_runs=split_runs)
    if run_id is not None:
        console.print(f"MLflow run {run_id}", highlight=False)
    if not no_report:
        html = _write_html(report, report_out, json_out, args, run_id, tracking_uri)
        console.print(f"wrote {html}", highlight=False)
    if tagged:
        status = tagged[tag.VALIDATION_STATUS]
        console.print(
            f"{model} version {version}: tradai.validation_status={status}", highlight=False
        )
    raise typer.Exit(0 if report.verdict.passed else 1)


def _write_html(
    report: ValidationReport,
    out: Path | None,
    json_out: Path | None,
    args: dict[str, Any],
    run_id: str | None,
    tracking_uri: str | None,
) -> Path:
    """The HTML report (engineer C's page), also logged to the MLflow run when there is one."""
    from tradai_strategy.core.paths import run_folder
    from tradai_strategy.reports.model_report import write_validation_report

    if out is None and json_out is not None:
        out = json_out.with_suffix(".html")
    if out is None:
        userdir = args.get("user_data_dir") or "user_data"
        folder = run_folder(userdir, f"validate-{report.settings.get('strategy')}")
        out = folder / "validation_report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    path = write_validation_report(report, out)
    if run_id is not None:
        from tradai_strategy.registry.client import RegistryClient

        RegistryClient(tracking_uri).client.log_artifact(run_id, str(path), "report")
    return path


def register(app: typer.Typer) -> None:
    """Add ``validate`` to the ``tradai`` app."""
    app.command("validate")(validate)
