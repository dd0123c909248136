"""`make demo`: synthetic or real candles -> offline walk-forward training -> IC table."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from tradai_strategy.config.builder import StrategyMeta, build_training_config
from tradai_strategy.freqai.oos_metrics import METRICS_FILE
from tradai_strategy.reports.metrics_table import render_metrics

DEMO_PAIRS = ["BTC/USDT", "ETH/USDT"]
REAL_TIMERANGE = "20250101-20250501"
SYNTH_START = "2024-01-01"


def project_user_data() -> Path:
    """The repository's user_data folder (strategies and freqaimodels shims)."""
    for base in (Path.cwd(), *Path.cwd().parents):
        cand = base / "user_data" / "strategies" / "RadStrategy.py"
        if cand.exists():
            return cand.parents[1]
    raise FileNotFoundError(
        "user_data/strategies/RadStrategy.py not found from the current folder: run the demo "
        "from the TradAI checkout (make demo)"
    )


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
                "mode": "w",
            }
        },
        "root": {"handlers": ["file"], "level": "INFO"},
    }


def run_demo(
    workdir: Path, days: int = 150, signal: str = "planted", console: Console | None = None
) -> dict:
    """Run the demo and return the metrics file's content."""
    from tradai_strategy.data.freqtrade_runner import backtest
    from tradai_strategy.data.synthetic import write_synthetic_data

    console = console or Console()
    started = time.monotonic()
    workdir = workdir.resolve()
    user_data = project_user_data()
    real = os.environ.get("TRADAI_REAL_DATA")
    meta = StrategyMeta(
        pairs=DEMO_PAIRS,
        identifier=f"demo-{'real' if real else signal}-{int(time.time())}",
        train_period_days=60,
        backtest_period_days=15,
    )
    if real:
        datadir = Path(real).resolve()
        timerange = REAL_TIMERANGE
        console.rule(f"[bold]TradAI demo on real candles in {datadir}")
    else:
        datadir = workdir / "data"
        console.rule(f"[bold]TradAI demo on synthetic candles ({signal} signal, {days} days)")
        write_synthetic_data(
            DEMO_PAIRS,
            "1h",
            days,
            seed=7,
            signal=signal,  # type: ignore[arg-type]
            datadir=datadir,
            start=SYNTH_START,
        )
        first = pd.Timestamp(SYNTH_START) + pd.Timedelta(days=meta.train_period_days + 6)
        last = pd.Timestamp(SYNTH_START) + pd.Timedelta(days=days - 1)
        timerange = f"{first:%Y%m%d}-{last:%Y%m%d}"
    meta.datadir = str(datadir)
    cfg_path = workdir / "train.json"
    workdir.mkdir(parents=True, exist_ok=True)
    config = build_training_config(meta)
    log_file = workdir / "freqtrade.log"
    config["log_config"] = file_only_logging(log_file)
    cfg_path.write_text(json.dumps(config, indent=2))
    console.print(f"freqtrade's log goes to {log_file}")
    userdir = workdir / "user_data"
    result = backtest(
        [cfg_path],
        "RadStrategy",
        freqaimodel="TrainingPredictionModel",
        timerange=timerange,
        datadir=datadir,
        userdir=userdir,
        strategy_path=user_data / "strategies",
        freqaimodel_path=user_data / "freqaimodels",
        offline=True,
    )
    metrics_path = userdir / "models" / meta.identifier / METRICS_FILE
    metrics = json.loads(metrics_path.read_text())
    console.rule("[bold]Out-of-sample IC (TrainingPredictionModel, LightGBM, purged)")
    render_metrics(metrics, console)
    n_trades = len(result.trades)
    console.print(
        f"\n{n_trades} trades; results in {result.results_path}; metrics in {metrics_path}; "
        f"{time.monotonic() - started:.0f} s in all."
    )
    return metrics
