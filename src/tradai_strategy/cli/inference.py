"""``tradai predictions ...`` and ``tradai bundle ...``: the inference side of TradAI.

Heavy imports (pandas, freqtrade, mlflow) stay inside the command functions so that
``tradai --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tradai_strategy.cli.common import TrackingUriOpt, fail

console = Console()


predictions_app = typer.Typer(
    help="Prediction tables: export FreqAI backtest predictions, check a file.",
    no_args_is_help=True,
)
bundle_app = typer.Typer(
    help="Model bundles: build one from a training run, register it in MLflow.",
    no_args_is_help=True,
)


def _pairs(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


@predictions_app.command("export")
def predictions_export(
    identifier: Annotated[str, typer.Option(help="FreqAI identifier of the backtest.")],
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet).")],
    userdir: Annotated[Path, typer.Option(help="freqtrade user_data folder.")] = Path("user_data"),
    pairs: Annotated[
        str | None, typer.Option(help="Comma-separated pairs (default: the run's whitelist).")
    ] = None,
) -> None:
    """Merge FreqAI's per-window backtest predictions into one validated prediction table."""
    from tradai_strategy.data.prediction_files import load_backtest_predictions
    from tradai_strategy.data.prediction_table import write_predictions

    model_dir = userdir / "models" / identifier
    if not model_dir.is_dir():
        fail(
            f"{model_dir} does not exist: run a FreqAI backtest with "
            f"freqai.identifier={identifier!r} first (or pass --userdir)"
        )
    table = load_backtest_predictions(model_dir, _pairs(pairs))
    path = write_predictions(table, out)
    span = f"{table['date'].min()} -> {table['date'].max()}"
    console.print(
        f"wrote {path}: {len(table)} rows, pairs {', '.join(sorted(table['pair'].unique()))}, "
        f"{span}",
        highlight=False,
    )


@predictions_app.command("check")
def predictions_check(
    path: Annotated[Path, typer.Argument(help="Prediction table (.csv or .parquet).")],
    timeframe: Annotated[
        str | None,
        typer.Option(
            help="The strategy's candle timeframe, e.g. 1h: every date must be one of its "
            "candle open times. Default: the most common step between a pair's dates."
        ),
    ] = None,
) -> None:
    """Validate a prediction table and print what it covers.

    Refused (exit 2, one line naming the file, pair, column, first bad date, count and fix):
    schema errors, text in a numeric column, NaN/inf predictions on do_predict=1 rows, dates
    that are not candle open times of the timeframe.
    """
    from tradai_strategy.data.prediction_table import (
        infer_timeframe,
        read_predictions,
        validate_predictions,
    )

    if timeframe is not None:
        from freqtrade.exchange import timeframe_to_seconds

        try:
            valid = timeframe_to_seconds(timeframe) > 0
        except Exception:  # ccxt: ValueError or NotSupported
            valid = False
        if not valid:
            fail(f"--timeframe {timeframe!r} is not a timeframe: use e.g. 5m, 1h, 4h, 1d")
    table = read_predictions(path, timeframe=timeframe)
    grid = f"dates on the {timeframe} candle grid"
    if timeframe is None:
        inferred = infer_timeframe(table)
        if inferred is None:
            grid = "candle grid not checked (no usual step between dates): pass --timeframe"
        else:
            validate_predictions(table, str(path), timeframe=inferred)
            grid = f"dates on the {inferred} candle grid (inferred: pass --timeframe to set it)"
    for pair, rows in table.groupby("pair"):
        console.print(
            f"{pair}: {len(rows)} rows, {rows['date'].min()} -> {rows['date'].max()}, "
            f"do_predict=1 on {rows['do_predict'].mean():.0%}",
            highlight=False,
        )
    console.print(grid, highlight=False)


@bundle_app.command("build")
def bundle_build(
    identifier: Annotated[str, typer.Option(help="FreqAI identifier of the training run.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Bundle folder to write; a bundle already there is replaced once the new "
            "one is complete, any other existing folder is refused."
        ),
    ],
    userdir: Annotated[Path, typer.Option(help="freqtrade user_data folder.")] = Path("user_data"),
    pairs: Annotated[
        str | None, typer.Option(help="Comma-separated pairs (default: the run's whitelist).")
    ] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy name to record.")] = None,
) -> None:
    """Bundle the latest window's model of each pair of a TrainingPredictionModel run."""
    from tradai_strategy.bundle.format import bundle_from_model_dir, read_manifest

    path = bundle_from_model_dir(
        userdir / "models" / identifier, out, pairs=_pairs(pairs), strategy=strategy
    )
    for pair, meta in read_manifest(path)["pairs"].items():
        console.print(
            f"{pair}: {meta['estimator']}, {len(meta['features'])} features, trained "
            f"{meta['train_start']} -> {meta['train_end']}",
            highlight=False,
        )
    console.print(f"wrote {path}")


@bundle_app.command("register")
def bundle_register(
    path: Annotated[Path, typer.Argument(help="Bundle folder (tradai bundle build).")],
    name: Annotated[str, typer.Option(help="Registered model name, e.g. the strategy.")],
    alias: Annotated[str | None, typer.Option(help="Point this alias at the new version.")] = None,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """Log a bundle to MLflow as a pyfunc model and register a new version."""
    from tradai_strategy.registry.bundle_registry import register_bundle

    version = register_bundle(path, name, alias=alias, tracking_uri=tracking_uri)
    target = f"models:/{name}@{alias}" if alias else f"models:/{name}/{version}"
    console.print(f"registered {name} version {version} ({target})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``predictions`` and ``bundle`` command groups to the ``tradai`` app."""
    app.add_typer(predictions_app, name="predictions")
    app.add_typer(bundle_app, name="bundle")
