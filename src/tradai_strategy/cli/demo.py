"""`make demo`: the whole lifecycle on synthetic (or real) candles, offline, sqlite MLflow.

train (walk-forward, registered version) -> validate (the promotion gate) -> promote ->
inference backtest with TradAIMLflowModel on later candles -> ``tradai status`` ->
``tradai replay``: freqtrade's dry-run bot serves ``@production`` over two days of those
candles while a scripted retrain at the end of the first day trains, gates and promotes a
new version, which the bot hot-swaps at its next candle -> ``tradai retrain simulate``
(real candles only) -> the HTML report. Every step is the ``tradai`` command the demo
prints, run in-process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich.console import Console

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError, TradAIError
from tradai_strategy.core.paths import project_user_data

if TYPE_CHECKING:
    from tradai_strategy.registry.client import RegistryClient

DEMO_PAIRS = ["BTC/USDT", "ETH/USDT"]
DEMO_MODEL = "tradai-demo"
REAL_TRAIN = "20250101-20250501"
REAL_INFERENCE = "20250501-20250601"
REAL_SIMULATION = ("2025-07-01", "2025-10-01")
SYNTH_START = "2024-01-01"
INFERENCE_DAYS = 24
#: the replay step: candles the bot runs, and after how many the scripted retrain happens
REPLAY_CANDLES = 48
REPLAY_RETRAIN_AT = 24
#: days of candles the replay's retrain trains on (``[train] train_days`` of its policy)
REPLAY_TRAIN_DAYS = 150
#: the planted mean-reversion strength of the demo's candles: ideal IC 0.31 at h = 12
#: (:mod:`tradai_strategy.data.synthetic`); at the generator's default 0.05 (ideal 0.21) a
#: few months of 2 pairs leave the validation t-stat near 1, and the gate rightly refuses
DEMO_STRENGTH = 0.08


#: runs ``tradai <argv>`` in-process and returns its exit status (the app's ``run_cli``)
RunCli = Callable[[list[str]], int]


class DemoStepFailed(TradAIError):
    """A demo step's command exited with a non-zero status (it said why; the demo exits 1)."""

    exit_code = 1


def file_only_logging(path: Path) -> dict:
    """A freqtrade ``log_config`` that writes the log to ``path`` and keeps the console clean."""
    return {
        "version": 1,
        "formatters": {"basic": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "formatter": "basic",
                "filename": str(path),
                "mode": "a",
            }
        },
        "root": {"handlers": ["file"], "level": "INFO"},
    }


def _day(offset: int) -> str:
    return f"{pd.Timestamp(SYNTH_START) + pd.Timedelta(days=offset):%Y%m%d}"


class Demo:
    """The demo's folders, configs and the ``tradai`` commands it runs."""

    def __init__(
        self, workdir: Path, days: int, signal: str, console: Console, run: RunCli
    ) -> None:
        self.console = console
        self.run = run
        self.workdir = workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.user_data = project_user_data()
        self.userdir = self.workdir / "user_data"
        self.real = os.environ.get("TRADAI_REAL_DATA")
        self.uri = f"sqlite:///{self.workdir / 'mlflow.db'}"
        meta = StrategyMeta(
            pairs=DEMO_PAIRS,
            identifier=f"demo-{'real' if self.real else signal}-{int(time.time())}",
            train_period_days=60,
            backtest_period_days=15,
        )
        if self.real:
            self.datadir = Path(self.real).resolve()
            self.train_range, self.inference_range = REAL_TRAIN, REAL_INFERENCE
            console.rule(f"[bold]TradAI demo on real candles in {self.datadir}")
        else:
            from tradai_strategy.data.synthetic import write_synthetic_data

            if days < meta.train_period_days + 2 * meta.backtest_period_days + INFERENCE_DAYS:
                raise TradAIConfigError(
                    f"--days {days} is too short: the demo needs at least "
                    f"{meta.train_period_days + 2 * meta.backtest_period_days + INFERENCE_DAYS}"
                )
            self.datadir = self.workdir / "data"
            console.rule(f"[bold]TradAI demo on synthetic candles ({signal} signal, {days} days)")
            write_synthetic_data(
                DEMO_PAIRS,
                "1h",
                days,
                seed=7,
                signal=signal,  # type: ignore[arg-type]
                datadir=self.datadir,
                start=SYNTH_START,
                strength=DEMO_STRENGTH,
            )
            split = days - INFERENCE_DAYS
            self.train_range = f"{_day(meta.train_period_days + 6)}-{_day(split)}"
            self.inference_range = f"{_day(split)}-{_day(days - 1)}"
        meta.datadir = str(self.datadir)
        self.log_file = self.workdir / "freqtrade.log"
        self.train_cfg = self._write("train.json", build_training_config(meta))
        console.print(f"freqtrade's log goes to {self.log_file}", highlight=False)

    def _write(self, name: str, config: dict[str, Any]) -> Path:
        config["log_config"] = file_only_logging(self.log_file)
        path = self.workdir / name
        path.write_text(json.dumps(config, indent=2))
        return path

    def common(self) -> list[str]:
        """Config/strategy/data options every training-side command takes."""
        return [
            "--config",
            str(self.train_cfg),
            "--strategy",
            "RadStrategy",
            "--strategy-path",
            str(self.user_data / "strategies"),
            "--datadir",
            str(self.datadir),
            "--userdir",
            str(self.userdir),
        ]

    def tradai(self, title: str, args: list[str], ok: tuple[int, ...] = (0,)) -> int:
        """Print and run one ``tradai`` command in-process; return its exit status."""
        self.console.rule(f"[bold]{title}")
        self.console.print(f"$ tradai {shlex.join(args)}", style="dim", highlight=False)
        code = self.run(args)
        if code not in ok:
            raise DemoStepFailed(f"`tradai {args[0]}` exited with status {code}")
        return code

    @functools.cached_property
    def registry(self) -> RegistryClient:
        """The demo's registry (opened on first use, after training created it)."""
        from tradai_strategy.registry.client import RegistryClient

        return RegistryClient(self.uri)

    def validation_status(self, version: str) -> str:
        info = self.registry.version(DEMO_MODEL, version)
        return info.tags.get(tag.VALIDATION_STATUS, "missing")

    def newest_version(self) -> str:
        return self.registry.versions(DEMO_MODEL)[0].version

    def inference_backtest(self) -> None:
        """TradAIMLflowModel serving ``@production`` on candles after the training range."""
        path = self._write("inference.json", self.inference_config())
        self.console.rule("[bold]Inference backtest: TradAIMLflowModel serving @production")
        self.console.print(
            f"$ tradai backtest --offline --config {path} --strategy RadStrategy "
            f"--freqaimodel TradAIMLflowModel --timerange {self.inference_range}",
            style="dim",
            highlight=False,
        )
        with self.log_file.open("a") as log, contextlib.redirect_stdout(log):
            result = self._inference(path)
        stats = result.stats
        self.console.print(
            f"{len(result.trades)} trades on {self.inference_range}, profit "
            f"{float(stats.get('profit_total') or 0):+.2%}, max drawdown "
            f"{float(stats.get('max_drawdown_account') or 0):.2%}; no retraining, the "
            f"registered bundle predicted every candle. Results: {result.results_path}",
            highlight=False,
        )

    def inference_config(self) -> dict[str, Any]:
        """The training config, made to serve ``@production`` with TradAIMLflowModel."""
        cfg = json.loads(self.train_cfg.read_text())
        cfg["freqaimodel"] = "TradAIMLflowModel"
        cfg["freqai"]["identifier"] += "-inference"
        cfg["freqai"]["train_period_days"] = 0  # nothing trains: no history window to load
        cfg["freqai"]["tradai"] = {
            "mode": "inference",
            "model_uri": f"models:/{DEMO_MODEL}@production",
            "tracking_uri": self.uri,
        }
        return cfg

    def replay_args(self) -> list[str]:
        """``tradai replay`` of the inference span's first candles, with a scripted retrain
        (the demo's policy: auto-promote what passes the gate) in the middle."""
        cfg = self.inference_config()
        cfg["freqai"]["identifier"] = cfg["freqai"]["identifier"].replace("-inference", "-replay")
        # the bot's start-up window: 30 days, so its indicators start converged
        cfg["freqai"]["train_period_days"] = 30
        config = self._write("replay.json", cfg)
        policy = self.workdir / "lifecycle.toml"
        policy.write_text(
            "\n".join(
                [
                    "# the demo's retraining policy (every other key: configs/lifecycle.toml)",
                    "[model]",
                    f"model_name = {json.dumps(DEMO_MODEL)}",
                    "[retrain]",
                    "auto_promote = true  # a retrained version that passes the gate serves",
                    "[train]",
                    f"train_config = [{json.dumps(str(self.train_cfg))}]",
                    f"strategy_path = {json.dumps(str(self.user_data / 'strategies'))}",
                    f"datadir = {json.dumps(str(self.datadir))}",
                    f"userdir = {json.dumps(str(self.userdir))}",
                    f"train_days = {REPLAY_TRAIN_DAYS}",
                    "skip_leakage_check = true  # step 1 ran the pre-flight on this strategy",
                    "[validation]",
                    "validation_seeds = 1  # step 2 measured the seed spread; the gate reads one",
                    "",
                ]
            )
        )
        start = pd.Timestamp(self.inference_range.split("-")[0], tz="UTC")
        at = start + pd.Timedelta(hours=REPLAY_RETRAIN_AT)
        events = self.workdir / "replay_events.json"
        events.write_text(
            json.dumps([{"at": f"{at:%Y-%m-%dT%H:%MZ}", "do": "retrain", "policy": str(policy)}])
        )
        return [
            "replay",
            "--config",
            str(config),
            "--strategy",
            "RadStrategy",
            "--strategy-path",
            str(self.user_data / "strategies"),
            "--freqaimodel",
            "TradAIMLflowModel",
            "--datadir",
            str(self.datadir),
            "--userdir",
            str(self.userdir),
            "--timerange",
            f"{start:%Y%m%d}-",
            "--max-candles",
            str(REPLAY_CANDLES),
            "--events",
            str(events),
        ]

    def _inference(self, path: Path) -> Any:
        from tradai_strategy.data.freqtrade_runner import backtest

        return backtest(
            [path],
            "RadStrategy",
            freqaimodel="TradAIMLflowModel",
            timerange=self.inference_range,
            datadir=self.datadir,
            userdir=self.userdir,
            strategy_path=self.user_data / "strategies",
            freqaimodel_path=self.user_data / "freqaimodels",
            offline=True,
        )


def run_demo(
    workdir: Path,
    run: RunCli,
    days: int = 240,
    signal: str = "planted",
    console: Console | None = None,
) -> Path:
    """Run the demo, each step a ``tradai`` command run by ``run`` (argv -> exit status,
    exceptions raised); return the HTML report's path."""
    console = console or Console()
    started = time.monotonic()
    demo = Demo(workdir, days, signal, console, run)
    tracking = ["--tracking-uri", demo.uri]
    demo.tradai(
        "1. Train: lookahead pre-flight, walk-forward training backtest, registered version",
        [
            "train",
            *demo.common(),
            "--timerange",
            demo.train_range,
            "--offline",
            "--model-name",
            DEMO_MODEL,
            *tracking,
        ],
    )
    version = demo.newest_version()
    demo.tradai(
        "2. Validate: CPCV with purge and embargo, overfitting checks, the promotion gate",
        [
            "validate",
            *demo.common(),
            "--model",
            DEMO_MODEL,
            "--version",
            version,
            "--seeds",
            "3",
            *tracking,
        ],
        ok=(0, 1),
    )
    status = demo.validation_status(version)
    promote = ["promote", DEMO_MODEL, version, "--to", "production", *tracking]
    code = demo.tradai(
        "3. Promote to @production: the gate checks the validation status (audited)",
        [*promote, "--reason", f"demo: validation {status}"],
        ok=(0, 2),
    )
    if code != 0:
        console.print(
            f"[yellow]the gate refused version {version} (validation {status}); the demo "
            "forces it so the rest can run, and the audit trail records the override[/]"
        )
        demo.tradai(
            "3b. Promote with --force (the reason goes into the audit trail)",
            [*promote, "--force", "--reason", f"demo: validation {status}, forced to continue"],
        )
    demo.inference_backtest()
    demo.tradai("4. Status: aliases, age, metrics, health", ["status", *tracking])
    demo.tradai(
        "5. Paper-trade replay: freqtrade's dry-run bot serves @production; a scripted "
        "retrain mid-run is gated, promoted and hot-swapped",
        demo.replay_args(),
    )
    if demo.real:
        first, last = REAL_SIMULATION
        demo.tradai(
            "6. Replay the retraining policy over history (configs/lifecycle.toml)",
            [
                "retrain",
                "simulate",
                "--from",
                first,
                "--to",
                last,
                "--config",
                str(demo.train_cfg),
                "--strategy",
                "RadStrategy",
                "--strategy-path",
                str(demo.user_data / "strategies"),
                "--datadir",
                str(demo.datadir),
                "--json",
                str(demo.workdir / "retrain_simulate.json"),
            ],
        )
    report = demo.workdir / "report.html"
    demo.tradai(
        "Report",
        ["report", "--model", DEMO_MODEL, "--version", version, "--out", str(report), *tracking],
    )
    console.print(
        f"\n{time.monotonic() - started:.0f} s in all. Registry: {demo.uri}\n"
        f"[bold green]report: {report}[/]",
        highlight=False,
    )
    return report
