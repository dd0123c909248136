"""``tradai train``: leakage pre-flight, walk-forward training, bundle, MLflow version.

The console shows one status line per phase and a summary table; freqtrade's and FreqAI's
logs go to ``<run folder>/train.log`` (``--verbose`` prints them instead).

Exit codes: 0 registered, 1 the lookahead pre-flight found leaking features (nothing
trained), 2 bad input (one line naming the option and the fix).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ClusterOpt,
    ConfigOpt,
    DatadirOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    TrackingUriOpt,
    TrainWorkersOpt,
    UserdirOpt,
    console,
    fail,
    freqtrade_args,
)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from tradai_strategy.lifecycle.train import TrainResult

PHASES = ("lookahead pre-flight", "training backtest", "bundle", "register")
LOG_NAME = "train.log"


class PhaseDisplay:
    """One status line for the running phase; a ✓ line with its duration when it ends.

    Called with each phase's name as it starts (``train_and_register(progress=...)``).
    """

    def __init__(self, out: Console, status: Status | None = None) -> None:
        self.out = out
        self.status = status
        self.current: str | None = None
        self.started = 0.0
        self.done: list[tuple[str, float]] = []

    def __call__(self, phase: str) -> None:
        import time

        self.finish()
        self.current, self.started = phase, time.monotonic()
        if self.status is not None:
            self.status.update(f"[bold]{phase}[/] ...")
        else:
            self.out.print(f"[bold]{phase}[/] ...", highlight=False)

    def finish(self) -> None:
        import time

        if self.current is None:
            return
        took = time.monotonic() - self.started
        self.done.append((self.current, took))
        self.out.print(f"[green]✓[/] {self.current} [dim]{took:.1f} s[/]", highlight=False)
        self.current = None


def render_result(result: TrainResult, log: Path | None = None) -> None:
    """The registered version: metrics, tags, where its files are."""
    table = Table(title=f"{result.model_name} version {result.version}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("version", f"{result.model_name} v{result.version}")
    table.add_section()
    for key, value in sorted(result.metrics.items()):
        table.add_row(key, f"{value:.4g}")
    table.add_section()
    for key, text in sorted(result.tags.items()):
        table.add_row(key, text)
    table.add_section()
    table.add_row("mlflow run", result.run_id)
    table.add_row("run folder", str(result.run_dir))
    if log is not None:
        table.add_row("full log", str(log))
    if result.extra.get("report"):
        table.add_row("report", str(result.extra["report"]))
    console.print(table)
    console.print(f"leakage pre-flight: {result.leakage_summary}", highlight=False)
    console.print(
        f"[green]registered {result.model_name} version {result.version}[/]", highlight=False
    )


def _run_quietly(run: Callable[..., TrainResult], log: Path, **kwargs: Any) -> TrainResult:
    """``run`` with its logs and prints in ``log``; a phase display on the terminal."""
    import sys

    from rich.console import Console

    from tradai_strategy.core.logs import capture_output

    out = Console(file=sys.stdout)  # the terminal: bound before stdout goes to the log
    with out.status("starting ...") as status:
        phases = PhaseDisplay(out, status)
        with capture_output(log):
            result = run(progress=phases, **kwargs)
        phases.finish()
    return result


def _run_verbose(run: Callable[..., TrainResult], **kwargs: Any) -> TrainResult:
    from tradai_strategy.core.logs import verbose_logging

    with verbose_logging():
        return run(progress=PhaseDisplay(console), **kwargs)


def train(
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    timerange: TimerangeOpt = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use generated markets instead of the exchange API.")
    ] = False,
    skip_leakage_check: Annotated[
        bool,
        typer.Option("--skip-leakage-check", help="Do not run the lookahead pre-flight."),
    ] = False,
    model_name: Annotated[
        str | None,
        typer.Option("--model-name", help="Registered model name (default tradai-STRATEGY)."),
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Print freqtrade/FreqAI logs on the console instead of <run folder>/train.log.",
        ),
    ] = False,
    allow_gaps: AllowGapsOpt = False,
    train_workers: TrainWorkersOpt = None,
    cluster: ClusterOpt = None,
    freqaimodel_path: Annotated[
        Path | None,
        typer.Option(
            help="Folder of your own FreqAI model classes (default: the installed package's)."
        ),
    ] = None,
) -> None:
    """Train a FreqAI strategy walk-forward with TrainingPredictionModel (TrainingClassifierModel
    for freqai.tradai.target updown) and register the latest window's model bundle in MLflow
    (validation status: pending).

    Console: one line per phase and a summary table; full logs: <run folder>/train.log.
    """
    import os

    from freqtrade.exceptions import OperationalException

    from tradai_strategy.core.errors import TradAIDataError
    from tradai_strategy.core.paths import freqaimodels_path, run_folder
    from tradai_strategy.data.candle_check import allow_gaps as gap_policy
    from tradai_strategy.data.freqtrade_runner import FreqtradeRunError
    from tradai_strategy.lifecycle.train import LeakageFound, train_and_register
    from tradai_strategy.models.executor_options import executor_options
    from tradai_strategy.registry.client import RegistryError

    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    if freqaimodel_path is not None and not freqaimodel_path.is_dir():
        fail(
            f"--freqaimodel-path {freqaimodel_path} is not a folder: pass the folder of your models"
        )
    models_path = freqaimodel_path or freqaimodels_path()
    kwargs: dict[str, Any] = {
        "args": args,
        "timerange": timerange,
        "offline": offline,
        "skip_leakage_check": skip_leakage_check,
        "model_name": model_name,
        "tracking_uri": tracking_uri,
        "freqaimodel_path": models_path,
    }
    stamped = run_folder(args.get("user_data_dir") or "user_data", "train")  # the log's name
    log: Path | None = None if verbose else stamped.with_name(f"{stamped.name}-{os.getpid()}.log")
    where = f" (full log: {log})" if log else ""
    try:
        with gap_policy(allow_gaps), executor_options(train_workers, cluster):
            if log is None:
                result = _run_verbose(train_and_register, **kwargs)
            else:
                result = _run_quietly(train_and_register, log, **kwargs)
    except LeakageFound as err:
        fail(f"training refused: {err}{where}", code=1)
    except (
        FreqtradeRunError,
        OperationalException,
        TradAIDataError,
        RegistryError,
    ) as err:
        fail(" ".join(str(err).split()) + where)
    except BaseException:
        if log is not None:
            console.print(f"[red]training failed[/]: full log in {log}", highlight=False)
        raise
    if log is not None and result.run_dir.is_dir():
        log = log.replace(result.run_dir / LOG_NAME)
    render_result(result, log)


def register(app: typer.Typer) -> None:
    """Add ``train`` and the lifecycle commands (promote, rollback, audit) to the app."""
    from tradai_strategy.cli import promote as cli_promote

    app.command("train")(train)
    cli_promote.register(app)
