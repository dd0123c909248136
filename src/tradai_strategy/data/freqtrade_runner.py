"""Run freqtrade subcommands in-process (optionally fully offline) and load their results.

:func:`run_freqtrade` behaves like the ``freqtrade`` console script (same argument parser,
same subcommand functions) but raises :class:`FreqtradeRunError` with a clean message instead
of logging a traceback, can activate :func:`~tradai_strategy.data.offline.offline_markets`,
and checks the candle files before a backtest (:mod:`tradai_strategy.data.preflight`).
:func:`backtest` wraps ``freqtrade backtesting`` and returns the exported result loaded with
freqtrade's own loaders.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.commands import Arguments
from freqtrade.configuration import Configuration
from freqtrade.enums import RunMode
from freqtrade.exceptions import FreqtradeException

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.data.offline import offline_markets
from tradai_strategy.data.preflight import MissingDataError, check_backtest_data

logger = logging.getLogger(__name__)

__all__ = [
    "BacktestResult",
    "FreqtradeRunError",
    "backtest",
    "ensure_userdir",
    "load_backtest_result",
    "resolve_config",
    "run_freqtrade",
]

#: Subcommands whose candle files are checked before freqtrade starts.
PREFLIGHT_COMMANDS = frozenset({"backtesting", "hyperopt"})
_RUNMODES = {"backtesting": RunMode.BACKTEST, "hyperopt": RunMode.HYPEROPT}


class FreqtradeRunError(TradAIError):
    """A freqtrade command failed with a user-facing error (bad config, missing data...)."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest, as exported by freqtrade."""

    strategy: str
    stats: dict[str, Any]
    trades: pd.DataFrame
    results_path: Path


def ensure_userdir(path: str | Path | None) -> None:
    """Create a missing freqtrade user_data folder (``freqtrade create-userdir`` layout)."""
    if path is not None and not Path(path).is_dir():
        from freqtrade.configuration.directory_operations import create_userdata_dir

        create_userdata_dir(str(path), create_dir=True)


def backtest_args(
    config: Sequence[str | Path],
    strategy: str,
    *,
    strategy_path: str | Path | None = None,
    datadir: str | Path | None = None,
    userdir: str | Path | None = None,
    create_userdir: bool = False,
) -> dict[str, Any]:
    """The parsed-argument dict freqtrade's ``Configuration`` takes for a backtest. Nothing
    is checked here; ``create_userdir`` creates a missing user_data folder (a command-line
    ``--userdir``), else freqtrade refuses a missing one."""
    if create_userdir:
        ensure_userdir(userdir)
    files = [config] if isinstance(config, str | Path) else list(config)
    args: dict[str, Any] = {
        "config": [str(p) for p in files],
        "strategy": strategy,
        "command": "backtesting",
    }
    optional = {"strategy_path": strategy_path, "datadir": datadir, "user_data_dir": userdir}
    args.update({key: str(val) for key, val in optional.items() if val is not None})
    return args


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, MissingDataError):  # the file list is intentionally multi-line
        return str(exc)
    return " ".join(str(exc).split()) or type(exc).__name__


def _parse_args(argv: Sequence[str]) -> dict[str, Any]:
    """freqtrade's own argument parsing; argparse errors become FreqtradeRunError."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return Arguments(list(argv)).get_parsed_arg()
    except SystemExit as exc:
        if exc.code in (0, None):
            raise
        lines = [ln for ln in stderr.getvalue().splitlines() if ln.strip()]
        msg = lines[-1] if lines else f"invalid freqtrade arguments: {list(argv)}"
        raise FreqtradeRunError(msg, exit_code=2) from None


@contextlib.contextmanager
def _process_state_guard() -> Iterator[None]:
    """Restore root-logger handlers/level and GC thresholds freqtrade changes globally."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        gc.set_threshold(*thresholds)


def resolve_config(args: dict[str, Any]) -> dict[str, Any]:
    """The configuration freqtrade builds for these parsed arguments (quietly)."""
    runmode = _RUNMODES.get(str(args.get("command")), RunMode.OTHER)
    try:
        with quiet_logging():
            return Configuration(dict(args), runmode).get_config()
    except FreqtradeException as exc:
        raise FreqtradeRunError(_one_line(exc)) from exc


def _offline_context(config: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    freqai = config.get("freqai") or {}
    corr = (freqai.get("feature_parameters") or {}).get("include_corr_pairlist") or []
    pairs = [*config.get("exchange", {}).get("pair_whitelist", []), *corr]
    return offline_markets(
        pairs, datadir=config["datadir"], trading_mode=str(config.get("trading_mode") or "spot")
    )


#: FreqAI models that load a registered model instead of training: nothing to reuse
INFERENCE_MODELS = frozenset({"TradAIMLflowModel", "TradAIPredictionModel"})


def check_fresh_identifier(args: dict[str, Any], config: dict[str, Any]) -> None:
    """Refuse a FreqAI training backtest whose identifier folder already holds saved models:
    FreqAI would load them ("Found model at ...") instead of training, silently."""
    freqai = config.get("freqai") or {}
    if not freqai.get("enabled") or args.get("freqaimodel") in INFERENCE_MODELS:
        return
    identifier = str(freqai.get("identifier") or "")
    folder = Path(config["user_data_dir"]) / "models" / identifier
    if identifier and folder.is_dir() and any(folder.iterdir()):
        raise FreqtradeRunError(
            f"freqai.identifier {identifier!r} already has saved models in {folder} (an "
            "earlier run): FreqAI would reuse them instead of training; set a new identifier, "
            "delete the folder, or pass --reuse-models to reuse them on purpose"
        )


def _run_parsed(
    args: dict[str, Any], offline: bool, fresh_models: bool = False
) -> tuple[int, dict[str, Any] | None]:
    """Run parsed args; returns (return code, resolved config if it was resolved).

    ``fresh_models``: a backtest refuses an identifier with saved models
    (:func:`check_fresh_identifier`)."""
    from freqtrade.loggers import setup_logging_pre
    from freqtrade.system import asyncio_setup, gc_set_threshold, set_mp_start_method

    if "func" not in args:
        raise FreqtradeRunError("freqtrade requires a subcommand, e.g. ['backtesting', ...]")
    command = str(args.get("command"))
    config: dict[str, Any] | None = None
    with _process_state_guard():
        setup_logging_pre()
        asyncio_setup()
        if offline or command in PREFLIGHT_COMMANDS:
            config = resolve_config(args)
            if command in PREFLIGHT_COMMANDS:
                if fresh_models and command == "backtesting":
                    check_fresh_identifier(args, config)
                try:
                    with quiet_logging():
                        check_backtest_data(config)
                except FreqtradeException as exc:
                    raise FreqtradeRunError(_one_line(exc)) from exc
        gc_set_threshold()
        set_mp_start_method()
        ctx = (
            _offline_context(config) if offline and config is not None else contextlib.nullcontext()
        )
        try:
            with ctx:
                code = args["func"](args)
        except SystemExit as exc:
            if isinstance(exc.code, str):
                raise FreqtradeRunError(exc.code, exit_code=1) from None
            code = exc.code
        except FreqtradeException as exc:
            message = _one_line(exc)
            if not offline and "Could not load markets" in message:
                message = (
                    "freqtrade could not load the exchange's markets (no network or exchange "
                    "access?): pass --offline to backtest with markets generated from the data "
                    "folder, or check the connection"
                )
            raise FreqtradeRunError(message) from exc
        finally:
            if command in PREFLIGHT_COMMANDS:
                from freqtrade.optimize.backtesting import Backtesting

                Backtesting.cleanup()  # re-enable DB use / logging mixin for the host process
    return (0 if code is None else int(code)), config


def run_freqtrade(
    argv: Sequence[str],
    *,
    offline: bool = False,
    create_userdir: bool = False,
    fresh_models: bool = False,
) -> int:
    """Run ``freqtrade <argv>`` in-process, exactly as the CLI parses and dispatches it.

    :param argv: arguments after ``freqtrade``, e.g. ``["backtesting", "-c", "cfg.json"]``.
    :param offline: serve exchange markets from :func:`offline_markets` (pairs from the
        config whitelist, FreqAI correlation pairs and the datadir) instead of the network.
    :param create_userdir: create a missing ``--userdir`` (:func:`ensure_userdir`) first.
    :param fresh_models: refuse a training backtest whose FreqAI identifier already has saved
        models (:func:`check_fresh_identifier`).
    :return: freqtrade's return code (0 on success).
    :raises FreqtradeRunError: on freqtrade configuration/operational errors, missing data
        (``backtesting``/``hyperopt`` are pre-flight checked) or invalid arguments.
    """
    args = _parse_args(argv)
    if create_userdir:
        ensure_userdir(args.get("user_data_dir"))
    code, _ = _run_parsed(args, offline, fresh_models)
    return code


def _latest_result(directory: Path) -> Path | None:
    from freqtrade.data.btanalysis import get_latest_backtest_filename

    try:
        return directory / get_latest_backtest_filename(directory)
    except ValueError:
        return None


def backtest(
    config_paths: str | Path | Sequence[str | Path],
    strategy: str,
    *,
    freqaimodel: str | None = None,
    timerange: str | None = None,
    datadir: str | Path | None = None,
    userdir: str | Path | None = None,
    strategy_path: str | Path | None = None,
    freqaimodel_path: str | Path | None = None,
    extra_args: Sequence[str] = (),
    offline: bool = True,
    results_dir: str | Path | None = None,
) -> BacktestResult:
    """Run ``freqtrade backtesting`` for one strategy and load the exported result.

    Results are exported (``--export trades``, a ``.zip`` in freqtrade 2026.x) into
    ``results_dir`` (default: freqtrade's ``<userdir>/backtest_results``) and read back with
    ``freqtrade.data.btanalysis``.  ``--cache none`` is added unless ``extra_args`` sets
    ``--cache``, so a fresh result is always exported.  A missing ``userdir`` is created
    (``freqtrade create-userdir`` layout).
    """
    ensure_userdir(userdir)
    if results_dir is not None:
        # freqtrade reads a --backtest-directory that does not exist as a file-name prefix
        Path(results_dir).mkdir(parents=True, exist_ok=True)
    paths = [config_paths] if isinstance(config_paths, str | Path) else list(config_paths)
    argv: list[str] = ["backtesting", "--strategy", strategy, "--export", "trades"]
    for path in paths:
        argv += ["--config", str(path)]
    optional = {
        "--freqaimodel": freqaimodel,
        "--timerange": timerange,
        "--datadir": datadir,
        "--userdir": userdir,
        "--strategy-path": strategy_path,
        "--freqaimodel-path": freqaimodel_path,
        "--backtest-directory": results_dir,
    }
    for flag, value in optional.items():
        if value is not None:
            argv += [flag, str(value)]
    if "--cache" not in extra_args:
        argv += ["--cache", "none"]
    argv += list(extra_args)

    args = _parse_args(argv)
    code, config = _run_parsed(args, offline)
    if code != 0:
        raise FreqtradeRunError(f"freqtrade backtesting exited with code {code}", exit_code=code)
    assert config is not None  # backtesting is always pre-flight checked
    export_dir = Path(config["exportdirectory"])
    result_file = _latest_result(export_dir)
    if result_file is None or not result_file.is_file():
        raise FreqtradeRunError(f"freqtrade exported no backtest result into {export_dir}")
    return load_backtest_result(result_file, strategy)


def load_backtest_result(result_file: str | Path, strategy: str) -> BacktestResult:
    """Load one strategy's stats and trades from a freqtrade backtest export (zip/json)."""
    from freqtrade.data.btanalysis import load_backtest_data, load_backtest_stats

    path = Path(result_file)
    all_stats = load_backtest_stats(path)
    strategies = all_stats.get("strategy", {})
    if strategy not in strategies:
        raise FreqtradeRunError(
            f"{path} has no result for strategy {strategy!r} (has: {', '.join(strategies)})"
        )
    trades = load_backtest_data(path, strategy)
    return BacktestResult(
        strategy=strategy, stats=strategies[strategy], trades=trades, results_path=path
    )
