"""What every `tradai` command module shares: consoles, the one-line error exit and the one
error handler.

Exit-code rule (:func:`handle_error`, installed on the ``tradai`` app by :class:`TradAIGroup`):
an expected failure -- a :class:`~tradai_strategy.core.errors.TradAIError`, or freqtrade's own
``OperationalException`` for a bad config -- prints ``error: <message>`` on one line and exits
with its ``exit_code`` (2: bad input); anything else is a bug: its traceback is printed on
stderr and the exit status is 1. Credentials in URLs are masked in all of it
(:mod:`tradai_strategy.core.redact`).
"""

from __future__ import annotations

import math
import numbers
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from tradai_strategy.core.redact import redact_text

console = Console()
err_console = Console(stderr=True)


def print_error(msg: str) -> None:
    """Print ``error: <msg>`` on stderr (red label, ``msg`` redacted and markup-escaped)."""
    from rich.markup import escape

    err_console.print(
        f"[bold red]error:[/] {escape(redact_text(msg))}", highlight=False, soft_wrap=True
    )


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``error: <msg>`` on stderr and exit with ``code`` (2: bad input)."""
    print_error(msg)
    raise typer.Exit(code)


def handle_error(err: Exception) -> int:
    """Report ``err`` the ``tradai`` way and return the exit status (see the module doc).

    Expected (:class:`~tradai_strategy.core.errors.TradAIError` or freqtrade's
    ``OperationalException``): ``error: <message>`` on one line, its ``exit_code`` (default
    2). A full disk anywhere in the exception's chain (an ``OSError`` ENOSPC/EDQUOT/EFBIG
    that MLflow, SQLAlchemy or SQLite wrapped: :func:`~tradai_strategy.core.errors.disk_full`)
    and no boundary converted: one line naming where to free space, 2. Anything else: the
    traceback, then one line naming the exception, and 1.
    """
    from freqtrade.exceptions import OperationalException

    if isinstance(err, OperationalException):
        print_error(" ".join(str(err).split()) or type(err).__name__)
        return int(getattr(err, "exit_code", 2))
    from tradai_strategy.core.errors import DiskFullError, disk_full

    if disk_full(err) is not None:  # a write that found no room, wherever it was
        full = DiskFullError.of(err, "the command", None, "what it was writing is incomplete")
        print_error(str(full))
        return full.exit_code
    sys.stderr.write(redact_text("".join(traceback.format_exception(err))))
    sys.stderr.flush()
    print_error(f"unexpected {type(err).__name__} (a bug: the traceback is above)")
    return 1


class TradAIGroup(TyperGroup):
    """The ``tradai`` root group: every command's exception goes through :func:`handle_error`.

    click's own exits (``typer.Exit``, ``Abort``, usage errors) pass through unchanged. All
    output of the command goes through :func:`~tradai_strategy.core.logs.redacted_output`.
    """

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click)
        from tradai_strategy.core.logs import redacted_output

        with redacted_output():
            try:
                return super().invoke(ctx)
            except (typer.Exit, typer.Abort, typer.TyperException):  # click's own: usage errors
                raise
            except Exception as err:
                raise typer.Exit(handle_error(err)) from err


def fmt_num(value: Any, fmt: str) -> str:
    """``format(value, fmt)``, or ``-`` for a missing (None, not a number) or non-finite value."""
    if not isinstance(value, numbers.Real) or not math.isfinite(value):
        return "-"
    return format(value, fmt)


def freqtrade_args(
    config: list[Path] | None,
    strategy: str | None,
    *,
    strategy_path: Path | None = None,
    datadir: Path | None = None,
    userdir: Path | None = None,
) -> dict[str, Any]:
    """Parsed-argument dict freqtrade's ``Configuration`` takes, from common `tradai` options.

    Missing ``--config``/``--strategy`` or a config file that does not exist end the command
    with one line; a missing ``--userdir`` is created (freqtrade's create-userdir layout).
    """
    if not config:
        fail("--config is missing: pass a freqtrade config JSON, e.g. --config configs/train.json")
    for path in config:
        if not path.is_file():
            fail(f"--config {path} does not exist: pass a freqtrade config JSON")
    if not strategy:
        fail("--strategy is missing: name the strategy class, e.g. --strategy RadStrategy")
    from tradai_strategy.data.freqtrade_runner import backtest_args

    return backtest_args(
        config,
        strategy,
        strategy_path=strategy_path,
        datadir=datadir,
        userdir=userdir,
        create_userdir=True,
    )


# Options shared by the commands that load a freqtrade config and strategy.
ConfigOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="freqtrade config JSON (repeatable)."),
]
StrategyOpt = Annotated[str, typer.Option("--strategy", "-s", help="Strategy class name.")]
StrategyPathOpt = Annotated[Path | None, typer.Option(help="Folder holding the strategy file.")]
DatadirOpt = Annotated[Path | None, typer.Option(help="freqtrade data folder.")]
UserdirOpt = Annotated[Path | None, typer.Option(help="freqtrade user_data folder.")]
TimerangeOpt = Annotated[str | None, typer.Option(help="Candles to use, e.g. 20250101-20250701.")]
TrackingUriOpt = Annotated[
    str | None,
    typer.Option(
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)."
    ),
]
PairsOpt = Annotated[
    str | None, typer.Option(help="Comma-separated pairs (default: the whitelist).")
]
CostOpt = Annotated[
    float, typer.Option(help="Trading cost per unit of position change (0.001 = 10 bp).")
]
AllowGapsOpt = Annotated[
    bool,
    typer.Option(
        "--allow-gaps",
        help="Candle pre-flight: let freqtrade fill gaps of more than "
        "freqai.tradai.max_gap_candles (default 3) missing candles with flat zero-volume "
        "candles instead of refusing. Duplicate timestamps and NaN/non-positive prices are "
        "always refused.",
    ),
]
TrainWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--train-workers",
        min=1,
        help="Train the (pair, window) models of TrainingPredictionModel/"
        "TrainingClassifierModel first, in N processes (same results as serial; "
        "docs/parallel-training.md).",
    ),
]
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Train them on the Dask scheduler at this address, e.g. tcp://10.0.0.5:8786.",
    ),
]
FitWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--train-workers",
        min=1,
        help="Run the fits on TradAI's executor, in N processes (instead of --jobs; same "
        "results; docs/parallel-training.md).",
    ),
]
FitClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster", help="Run the fits on the Dask scheduler at this address (tcp://host:8786)."
    ),
]
