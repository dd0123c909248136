"""The ``tradai`` command."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tradai_strategy.cli import status as cli_status
from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ClusterOpt,
    TradAIGroup,
    TrainWorkersOpt,
    fail,
)

app = typer.Typer(
    help="TradAI: honest walk-forward training and an ML model lifecycle for Freqtrade/FreqAI.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=TradAIGroup,  # the one error handler: one line + exit 2, or traceback + exit 1
)
data_app = typer.Typer(help="Market data helpers.", no_args_is_help=True)
config_app = typer.Typer(help="Config generation.", no_args_is_help=True)
metrics_app = typer.Typer(
    help="Lifecycle metrics in Prometheus text (no subcommand); `show`: a backtest's OOS IC.",
    invoke_without_command=True,
    callback=cli_status.metrics_root,
)
app.add_typer(data_app, name="data")
app.add_typer(config_app, name="config")
app.add_typer(metrics_app, name="metrics")
console = Console()


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def backtest(
    ctx: typer.Context,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use generated markets instead of the exchange API.")
    ] = False,
    reuse_models: Annotated[
        bool,
        typer.Option(
            "--reuse-models",
            help="Let FreqAI load the models saved under the config's identifier by an "
            "earlier run instead of refusing.",
        ),
    ] = False,
    allow_gaps: AllowGapsOpt = False,
    train_workers: TrainWorkersOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Run `freqtrade backtesting` in-process; any other argument goes to freqtrade unchanged.

    TradAI's FreqAI models are found by name (the package's freqaimodel folder unless you
    pass `--freqaimodel-path`). Results are never taken from freqtrade's cache (`--cache
    none` unless you pass `--cache`), and a training backtest refuses an identifier that
    already has saved models unless `--reuse-models` is given.

    Example: tradai backtest --offline --config configs/train.json --strategy RadStrategy
    --freqaimodel TrainingPredictionModel --timerange 20250101-20250401
    """
    from rich.markup import escape

    from tradai_strategy.core.logs import collected_warnings
    from tradai_strategy.core.paths import freqaimodels_path
    from tradai_strategy.data.candle_check import allow_gaps as gap_policy
    from tradai_strategy.data.freqtrade_runner import run_freqtrade
    from tradai_strategy.models.executor_options import executor_options

    argv = ["backtesting", *ctx.args]
    if "--cache" not in argv:
        argv += ["--cache", "none"]  # a moved @production must run, not a cached result
    if "--freqaimodel-path" not in argv:
        argv += ["--freqaimodel-path", str(freqaimodels_path())]  # TradAI's models by name
    with (
        gap_policy(allow_gaps),
        executor_options(train_workers, cluster),
        collected_warnings() as warned,
    ):
        code = run_freqtrade(argv, offline=offline, fresh_models=not reuse_models)
    if warned:  # e.g. in-sample candles served do_predict = 0: why a backtest has no trades
        console.print(
            "[yellow]TradAI warnings during this backtest (they can explain few or no trades):[/]",
            highlight=False,
        )
        for message in warned[:8]:
            console.print(f"  - {escape(message)}", highlight=False, soft_wrap=True)
        if len(warned) > 8:
            console.print(f"  ... and {len(warned) - 8} more in the log above", highlight=False)
    raise typer.Exit(code)


@data_app.command("synth")
def data_synth(
    pairs: Annotated[str, typer.Option(help="Comma-separated pairs.")] = "BTC/USDT,ETH/USDT",
    timeframe: Annotated[str, typer.Option(help="Candle timeframe.")] = "1h",
    days: Annotated[int, typer.Option(help="Number of days of candles.")] = 120,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same candles).")] = 7,
    signal: Annotated[
        str, typer.Option(help="none: pure random walk; planted: a known predictable part.")
    ] = "none",
    start: Annotated[str, typer.Option(help="First candle (UTC date).")] = "2024-01-01",
    datadir: Annotated[Path, typer.Option(help="Where to write the feather files.")] = Path(
        "user_data/data/binance"
    ),
) -> None:
    """Write deterministic synthetic candles in freqtrade's feather format."""
    from tradai_strategy.data.synthetic import write_synthetic_data

    if signal not in ("none", "planted"):
        fail(f"--signal {signal!r} is unknown: use none or planted")
    pair_list = [p.strip() for p in pairs.split(",") if p.strip()]
    paths = write_synthetic_data(
        pair_list,
        timeframe,
        days,
        seed,
        signal,  # type: ignore[arg-type]  # checked above
        datadir,
        start=start,
    )
    for p in paths:
        console.print(f"wrote {p}")


@config_app.command("build")
def config_build(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("configs"),
    strategy: Annotated[str, typer.Option(help="Strategy class name.")] = "RadStrategy",
    pairs: Annotated[str, typer.Option(help="Comma-separated pairs.")] = "BTC/USDT,ETH/USDT",
    timeframe: Annotated[str, typer.Option(help="Candle timeframe.")] = "1h",
    estimator: Annotated[
        str, typer.Option(help="lightgbm, catboost or random_forest (its own parameter preset).")
    ] = "lightgbm",
    target: Annotated[
        str, typer.Option(help="return (regression), updown or regime (classifiers).")
    ] = ("return"),
    label_period_candles: Annotated[
        int, typer.Option(help="Label horizon in candles (purge follows it at run time).")
    ] = 12,
    model_name: Annotated[
        str | None,
        typer.Option(
            help="Registered model the inference config serves (default tradai-STRATEGY)."
        ),
    ] = None,
    identifier: Annotated[
        str | None, typer.Option(help="FreqAI identifier (default <strategy>-<estimator>-v1).")
    ] = None,
) -> None:
    """Write train.json and inference.json for a strategy (no options: the shipped configs/)."""
    from tradai_strategy.cli.config_builder import meta_from_options, write_configs

    meta = meta_from_options(
        pairs,
        strategy=strategy,
        timeframe=timeframe,
        estimator=estimator,
        target=target,
        label_period_candles=label_period_candles,
        model_name=model_name,
        identifier=identifier or "",
    )
    for p in write_configs(out, meta):
        console.print(f"wrote {p}")


@metrics_app.command("show")
def metrics_show(
    identifier: Annotated[str, typer.Option(help="FreqAI identifier of the backtest.")],
    userdir: Annotated[Path, typer.Option(help="freqtrade user_data folder.")] = Path("user_data"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
) -> None:
    """Per-window and pooled out-of-sample IC of a TrainingPredictionModel backtest."""
    from tradai_strategy.data.oos_metrics import METRICS_FILE
    from tradai_strategy.reports.metrics_table import render_metrics

    path = userdir / "models" / identifier / METRICS_FILE
    if not path.exists():
        fail(
            f"{path} does not exist: run a backtest with --freqaimodel TrainingPredictionModel "
            f"and freqai.identifier={identifier!r} first"
        )
    data = json.loads(path.read_text())
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        render_metrics(data, console)


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="Folder for data, models and results.")] = Path(
        "demo_output"
    ),
    days: Annotated[int, typer.Option(help="Days of synthetic candles.")] = 240,
    signal: Annotated[str, typer.Option(help="Synthetic signal: none or planted.")] = "planted",
) -> None:
    """End-to-end lifecycle on synthetic (or TRADAI_REAL_DATA) candles: train -> validate ->
    promote -> inference backtest (TradAIMLflowModel) -> status -> dry-run replay (a
    scripted retrain is gated, promoted and hot-swapped by the bot) -> report."""
    from tradai_strategy.cli.demo import run_demo

    if signal not in ("none", "planted"):
        fail(f"--signal {signal!r} is unknown: use none or planted")
    # a failed step (DemoStepFailed) exits 1, bad settings 2: the app's one error handler
    run_demo(
        workdir,
        functools.partial(run_cli, standalone_mode=False),
        days=days,
        signal=signal,
        console=console,
    )


# --- command modules: each `register(app)` adds its commands (keep heavy imports inside
# the command functions so `tradai --help` stays fast) ---
from tradai_strategy.cli import leakage as cli_leakage  # noqa: E402

cli_leakage.register(app)
from tradai_strategy.cli import inference as cli_inference  # noqa: E402

cli_inference.register(app)
from tradai_strategy.cli import validate as cli_validate  # noqa: E402

cli_validate.register(app)
from tradai_strategy.cli import hyperopt as cli_hyperopt  # noqa: E402

cli_hyperopt.register(app)
from tradai_strategy.cli import train as cli_train  # noqa: E402

cli_train.register(app)
cli_status.register(app)
from tradai_strategy.cli import monitor as cli_monitor  # noqa: E402

cli_monitor.register(app)
from tradai_strategy.cli import retrain as cli_retrain  # noqa: E402

cli_retrain.register(app)
from tradai_strategy.cli import report as cli_report  # noqa: E402

cli_report.register(app)
from tradai_strategy.cli import compare as cli_compare  # noqa: E402

cli_compare.register(app)
from tradai_strategy.cli import init as cli_init  # noqa: E402

cli_init.register(app)
from tradai_strategy.cli import replay as cli_replay  # noqa: E402

cli_replay.register(app)


def run_cli(argv: Sequence[str], *, standalone_mode: bool = True) -> int:
    """Run ``tradai <argv>`` in this process and return its exit status.

    A command's exception has already been reported by the app's one handler
    (:func:`~tradai_strategy.cli.common.handle_error`: one line and 2, or a traceback and 1).
    ``standalone_mode=False`` turns click's own handling off (usage errors and ``Abort``
    reach the caller); ``SystemExit`` becomes its code (``None``: 0, a message: 1).
    """
    try:
        result = app(list(argv), standalone_mode=standalone_mode, prog_name="tradai")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return result if isinstance(result, int) else 0


def main() -> None:
    # MLflow's per-download progress bars drown the command's own output
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    app()


if __name__ == "__main__":
    main()
