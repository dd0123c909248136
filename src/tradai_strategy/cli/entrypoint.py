"""Container-style entry point: ``python -m tradai_strategy``, driven by environment variables.

==================  ===========================================================================
``TRADING_MODE``    required: train, backtest, hyperopt, dry-run or live
``STRATEGY_NAME``   strategy class (default RadStrategy)
``TRADAI_CONFIG``   comma-separated config files (default configs/train.json for train,
                    backtest and hyperopt; configs/inference.json for dry-run and live)
``TRADAI_TIMERANGE`` candles for train/backtest/hyperopt, e.g. 20250101-20250401
``TRADAI_OFFLINE``  1: generated markets instead of the exchange API (train/backtest/hyperopt)
``TRADAI_ARGS``     extra arguments for the underlying command (shell-quoted), e.g.
                    ``--userdir /data/user_data --datadir /data/candles``
``MLFLOW_TRACKING_URI`` the registry ``train`` registers into (dry-run/live models read
                    ``freqai.tradai.tracking_uri`` or this variable)
==================  ===========================================================================

``train`` runs ``tradai train``; the other modes run freqtrade's own command in-process
(``backtesting``, ``hyperopt``, ``trade --dry-run``, ``trade``). Bad settings end the process
with exit code 2 and one line naming the variable and the fix.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.paths import freqaimodels_path
from tradai_strategy.core.settings import TradingMode

DEFAULT_STRATEGY = "RadStrategy"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_FREQTRADE_COMMANDS = {
    TradingMode.BACKTEST: ["backtesting"],
    TradingMode.HYPEROPT: ["hyperopt"],
    TradingMode.DRY_RUN: ["trade", "--dry-run"],
    TradingMode.LIVE: ["trade"],
}


@dataclass(frozen=True)
class EntryPlan:
    """What the process will run: ``tradai <argv>`` (train) or ``freqtrade <argv>``."""

    mode: TradingMode
    argv: list[str]
    configs: list[Path]
    offline: bool

    @property
    def program(self) -> str:
        return "tradai" if self.mode is TradingMode.TRAIN else "freqtrade"


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise TradAIConfigError(f"{name}={env[name]!r} is not a boolean: use 1 or 0")


def _configs(env: Mapping[str, str], mode: TradingMode, cwd: Path) -> list[Path]:
    raw = env.get("TRADAI_CONFIG", "").strip()
    names = [c.strip() for c in raw.split(",") if c.strip()] or [mode.default_config]
    paths = [Path(n) if Path(n).is_absolute() else cwd / n for n in names]
    for name, path in zip(names, paths, strict=True):
        if not path.is_file():
            where = "TRADAI_CONFIG" if raw else f"the default config for {mode.value}"
            raise TradAIConfigError(
                f"{where}: {name} does not exist (looked in {cwd}): set TRADAI_CONFIG to "
                "comma-separated freqtrade config files"
            )
    return paths


def _extra_args(env: Mapping[str, str]) -> list[str]:
    try:
        return shlex.split(env.get("TRADAI_ARGS", ""))
    except ValueError as err:
        raise TradAIConfigError(f"TRADAI_ARGS cannot be parsed ({err}): check its quotes") from None


def _check_live(configs: Sequence[Path]) -> None:
    """Refuse live mode when the merged config still says ``dry_run: true``."""
    dry_run = None
    for path in configs:
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise TradAIConfigError(f"{path}: not readable JSON ({err})") from None
        dry_run = data.get("dry_run", dry_run)
    if dry_run is not False:
        raise TradAIConfigError(
            f"TRADING_MODE=live but {', '.join(str(p) for p in configs)} do not set "
            '"dry_run": false: set it for live trading, or use TRADING_MODE=dry-run'
        )


def plan_from_env(env: Mapping[str, str], cwd: Path | None = None) -> EntryPlan:
    """The command the environment asks for (no side effects; raises TradAIConfigError)."""
    mode = TradingMode.parse(env.get("TRADING_MODE"))
    cwd = cwd or Path.cwd()
    strategy = env.get("STRATEGY_NAME", "").strip() or DEFAULT_STRATEGY
    configs = _configs(env, mode, cwd)
    offline = _flag(env, "TRADAI_OFFLINE")
    timerange = env.get("TRADAI_TIMERANGE", "").strip() or None
    extra = _extra_args(env)
    trading = mode in (TradingMode.DRY_RUN, TradingMode.LIVE)
    if trading and (offline or timerange):
        what = "TRADAI_OFFLINE" if offline else "TRADAI_TIMERANGE"
        raise TradAIConfigError(
            f"{what} does not apply to TRADING_MODE={mode.value}: unset it (it is for "
            "train, backtest and hyperopt)"
        )
    if mode is TradingMode.LIVE:
        _check_live(configs)
    argv = ["train"] if mode is TradingMode.TRAIN else list(_FREQTRADE_COMMANDS[mode])
    argv += ["--strategy", strategy]
    for path in configs:
        argv += ["--config", str(path)]
    if timerange:
        argv += ["--timerange", timerange]
    if mode is TradingMode.TRAIN:
        if offline:
            argv.append("--offline")
        if env.get("MLFLOW_TRACKING_URI") and "--tracking-uri" not in extra:
            argv += ["--tracking-uri", env["MLFLOW_TRACKING_URI"]]
    elif "--freqaimodel-path" not in extra:
        argv += ["--freqaimodel-path", str(freqaimodels_path())]
    return EntryPlan(mode, argv + extra, configs, offline)


def run(plan: EntryPlan) -> int:
    """Run the plan in this process; freqtrade's or ``tradai train``'s exit code."""
    if plan.mode is TradingMode.TRAIN:
        from tradai_strategy.cli.app import run_cli

        return run_cli(plan.argv)
    from tradai_strategy.data.freqtrade_runner import run_freqtrade

    return run_freqtrade(plan.argv, offline=plan.offline, create_userdir=True)


def main(env: Mapping[str, str] | None = None) -> int:
    """Plan from the environment, say what runs, run it; the exit code of ``tradai``'s one
    error handler (:func:`~tradai_strategy.cli.common.handle_error`): 2 and one line on bad
    settings, 1 and the traceback on a bug."""
    from tradai_strategy.cli.common import err_console, handle_error

    try:
        plan = plan_from_env(os.environ if env is None else env)
        err_console.print(
            f"TradAI {plan.mode.value}: {plan.program} {shlex.join(plan.argv)}",
            highlight=False,
            soft_wrap=True,
        )
        return run(plan)
    except Exception as err:  # the one handler: expected failures one line, bugs a traceback
        return handle_error(err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
