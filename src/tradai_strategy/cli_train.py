"""``tradai train``: leakage pre-flight, walk-forward training, bundle, MLflow version.

Exit codes: 0 registered, 1 the lookahead pre-flight found leaking features (nothing
trained), 2 bad input (one line naming the option and the fix).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli_common import (
    ConfigOpt,
    DatadirOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    UserdirOpt,
    console,
    fail,
    freqtrade_args,
)

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.train import TrainResult


def render_result(result: TrainResult) -> None:
    """The registered version, its metrics and tags."""
    table = Table(title=f"{result.model_name} version {result.version}", show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in sorted(result.metrics.items()):
        table.add_row(key, f"{value:.4g}")
    for key, text in sorted(result.tags.items()):
        table.add_row(key, text)
    table.add_row("mlflow run", result.run_id)
    table.add_row("run folder", str(result.run_dir))
    console.print(table)
    console.print(f"leakage pre-flight: {result.leakage_summary}", highlight=False)
    console.print(
        f"[green]registered {result.model_name} version {result.version}[/]", highlight=False
    )


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
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow tracking URI (default sqlite:///mlflow.db).")
    ] = None,
) -> None:
    """Train a FreqAI strategy walk-forward with TrainingPredictionModel and register the
    latest window's model bundle in MLflow (validation status: pending)."""
    from freqtrade.exceptions import OperationalException

    from tradai_strategy.config.errors import TradAIDataError
    from tradai_strategy.data.freqtrade_runner import FreqtradeRunError
    from tradai_strategy.demo import project_user_data
    from tradai_strategy.lifecycle.train import LeakageFound, train_and_register
    from tradai_strategy.registry.client import RegistryError

    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    try:
        models_path: Path | None = project_user_data() / "freqaimodels"
    except FileNotFoundError:
        models_path = None
    try:
        result = train_and_register(
            args,
            timerange=timerange,
            offline=offline,
            skip_leakage_check=skip_leakage_check,
            model_name=model_name,
            tracking_uri=tracking_uri,
            freqaimodel_path=models_path,
        )
    except LeakageFound as err:
        fail(f"training refused: {err}", code=1)
    except (
        FreqtradeRunError,
        OperationalException,
        TradAIDataError,
        RegistryError,
    ) as err:
        fail(" ".join(str(err).split()))
    render_result(result)


def register(app: typer.Typer) -> None:
    """Add ``train`` and the lifecycle commands (promote, rollback, audit) to the app."""
    from tradai_strategy import cli_promote

    app.command("train")(train)
    cli_promote.register(app)
