"""Contenders of ``make bench`` and how one timed backtest of one contender runs.

Every run is a full in-process ``freqtrade backtesting`` (offline, ``--cache none``) under a
fresh FreqAI identifier, so nothing is reused from an earlier run. Only the ``backtest``
call is timed; reading the predictions and scoring them happens afterwards.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.data.history import load_pair_history

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.labels import RETURN_LABEL
from tradai_strategy.data.freqtrade_runner import backtest
from tradai_strategy.data.oos_metrics import METRICS_FILE
from tradai_strategy.data.prediction_files import load_backtest_predictions, pooled_oos_ic

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ROOT / "user_data" / "strategies"
FREQAI_MODELS = ROOT / "user_data" / "freqaimodels"
TEST_STRATEGIES = ROOT / "tests" / "strategies"

#: LightGBM parameters shared by FreqAI's LightGBMRegressor and TradAI's LightGBM model:
#: TradAI's defaults (``StrategyMeta``), 300 trees.
LGBM_PARAMS: dict[str, Any] = {**StrategyMeta().model_training_parameters, "n_estimators": 300}
CATBOOST_PARAMS: dict[str, Any] = {"iterations": 300, "learning_rate": 0.05, "depth": 6}


@dataclass(frozen=True)
class BenchSettings:
    """What every contender is run with."""

    pairs: list[str]
    timerange: str
    datadir: Path
    synthetic: bool
    repeat: int
    timeframe: str = "1h"
    train_period_days: int = 90
    backtest_period_days: int = 30
    label_period_candles: int = 12


@dataclass(frozen=True)
class Contender:
    """One strategy/model combination."""

    key: str
    title: str
    strategy: str
    freqaimodel: str | None = None
    estimator: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: entries put into ``freqai.tradai`` (TradAI models only)
    tradai: dict[str, Any] = field(default_factory=dict)
    #: entries put into ``freqai`` (e.g. the estimator's threads)
    freqai: dict[str, Any] = field(default_factory=dict)
    #: shown in the report but not part of the issue's comparison
    diagnostic: bool = False

    @property
    def is_ml(self) -> bool:
        return self.freqaimodel is not None

    @property
    def is_tradai(self) -> bool:
        return self.freqaimodel == "TrainingPredictionModel"


FLOOR = "floor"
FREQAI_LGBM = "freqai-lgbm"
TRADAI_LGBM = "tradai-lgbm"
TRADAI_CATBOOST = "tradai-catboost"
TRADAI_LGBM_EARLY_STOP = "tradai-lgbm-early-stop"
TRADAI_LGBM_LOCAL = "tradai-lgbm-local"
TRADAI_LGBM_LOCAL1 = "tradai-lgbm-local1"
#: the local executor's contenders: one LightGBM thread per fit, so 2 fits use the 2 cores
ONE_THREAD = {"data_kitchen_thread_count": 1}


def on_local_executor(key: str, workers: int) -> Contender:
    """TradAI's LightGBM model with every fit on the local executor, one thread per fit (the
    1-worker run is a diagnostic: the training phase's speed-up is measured against it)."""
    many = f"{workers} workers" if workers > 1 else "1 worker"
    return Contender(
        key,
        f"TrainingPredictionModel (LightGBM, local executor: {many} x 1 thread)"
        + (" [diagnostic]" if workers == 1 else ""),
        "RadStrategy",
        "TrainingPredictionModel",
        "lightgbm",
        LGBM_PARAMS,
        tradai={"executor": {"backend": "local", "workers": workers}},
        freqai=ONE_THREAD,
        diagnostic=workers == 1,
    )


CONTENDERS: tuple[Contender, ...] = (
    Contender(FLOOR, "SampleNonMLStrategy (no ML, floor)", "SampleNonMLStrategy"),
    Contender(
        FREQAI_LGBM,
        "FreqAI LightGBMRegressor",
        "RadStrategy",
        "LightGBMRegressor",
        None,
        LGBM_PARAMS,
    ),
    Contender(
        TRADAI_LGBM,
        "TrainingPredictionModel (LightGBM)",
        "RadStrategy",
        "TrainingPredictionModel",
        "lightgbm",
        LGBM_PARAMS,
    ),
    Contender(
        TRADAI_CATBOOST,
        "TrainingPredictionModel (CatBoost)",
        "RadStrategy",
        "TrainingPredictionModel",
        "catboost",
        CATBOOST_PARAMS,
    ),
    # diagnostic: early stopping on the purged eval part (off by default, see README)
    Contender(
        TRADAI_LGBM_EARLY_STOP,
        "TrainingPredictionModel (LightGBM, early stopping 50) [diagnostic]",
        "RadStrategy",
        "TrainingPredictionModel",
        "lightgbm",
        LGBM_PARAMS,
        tradai={"early_stopping_rounds": 50},
        diagnostic=True,
    ),
    # issue 19: every (pair, window) fit up front on the local executor
    *(on_local_executor(TRADAI_LGBM_LOCAL, 2), on_local_executor(TRADAI_LGBM_LOCAL1, 1)),
)


@dataclass
class RunRecord:
    """Outcome of one timed backtest."""

    contender: str
    repetition: int
    identifier: str
    seconds: float
    trades: int
    profit_pct: float
    pair_ic: dict[str, float] = field(default_factory=dict)
    pair_n: dict[str, int] = field(default_factory=dict)
    #: largest |our pooled IC - tradai_metrics.json pooled rank_ic| (TradAI models only)
    metrics_gap: float | None = None
    n_features: int | None = None
    #: mean number of CPUs other processes kept busy during the run (machine noise)
    other_load: float | None = None
    log: Path | None = None
    #: the parallel pre-training pass: its wall time and its fits' summed worker time
    pass_seconds: float | None = None
    fit_seconds: float | None = None


def build_config(contender: Contender, settings: BenchSettings, identifier: str) -> dict[str, Any]:
    """Freqtrade config of one run: TradAI's training config, the same for every contender."""
    meta = StrategyMeta(
        pairs=list(settings.pairs),
        strategy=contender.strategy,
        timeframe=settings.timeframe,
        identifier=identifier,
        max_open_trades=len(settings.pairs),
        label_period_candles=settings.label_period_candles,
        train_period_days=settings.train_period_days,
        backtest_period_days=settings.backtest_period_days,
        estimator=contender.estimator or "lightgbm",
        model_training_parameters=dict(contender.params or LGBM_PARAMS),
        datadir=str(settings.datadir),
    )
    cfg = build_training_config(meta)
    if contender.freqaimodel is None:
        cfg.pop("freqai")
        cfg.pop("freqaimodel")
    else:
        cfg["freqaimodel"] = contender.freqaimodel
        cfg["freqai"].update(contender.freqai)
        if contender.is_tradai:
            cfg["freqai"]["tradai"].update(contender.tradai)
        else:
            cfg["freqai"].pop("tradai")
    return cfg


def load_candles(settings: BenchSettings) -> dict[str, pd.DataFrame]:
    """Candles the realised targets are computed from: a few days before the timerange, up to
    its end (as the backtest saw them, so the last unlabelled rows stay unlabelled)."""
    tr = TimeRange.parse_timerange(settings.timerange)
    tr.subtract_start(10 * 86400)
    return {
        pair: load_pair_history(
            pair, settings.timeframe, settings.datadir, timerange=tr, data_format="feather"
        )
        for pair in settings.pairs
    }


def _metrics_gap(model_dir: Path, ours: dict[str, float]) -> float | None:
    path = model_dir / METRICS_FILE
    if not path.is_file():
        return None
    pairs = json.loads(path.read_text()).get("pairs", {})
    gaps = []
    for pair, ic in ours.items():
        labels = pairs.get(pair, {}).get("labels", [])
        theirs = next(
            (lab["pooled"]["rank_ic"] for lab in labels if lab["label"] == RETURN_LABEL), None
        )
        gaps.append(float("inf") if theirs is None else abs(ic - theirs))
    return max(gaps) if gaps else None


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (``/proc/stat``), if available."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its descendants: the local executor's fork server,
    and through it the pool workers it started and reaped (their time is its children's)."""
    import psutil

    total = time.process_time()
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def parse_pass_line(line: str) -> dict[str, Any]:
    """The figures of the pre-training pass's log line ("... on local (2 workers) in 19.1 s
    (fits: 30.2 s of worker time; in this process: features 3.1 s, window inputs 1.2 s,
    writes 2.0 s)")."""
    parts = line.split("in this process: ")[1].rstrip(")").split(", ")
    return {
        "pass_seconds": float(line.split(") in ")[1].split(" s")[0]),
        "fit_seconds_sum": float(line.split("(fits: ")[1].split(" s")[0]),
        "driver": {p.rsplit(" ", 2)[0]: float(p.rsplit(" ", 2)[1]) for p in parts},
    }


class PassLines(logging.Handler):
    """Keeps the pre-training pass's log lines while attached (:func:`pass_lines`)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if " fits of " in record.getMessage():
            self.lines.append(record.getMessage())


@contextlib.contextmanager
def pass_lines() -> Iterator[PassLines]:
    """Collect the pre-training pass's log lines of the block."""
    keep = PassLines()
    log = logging.getLogger("tradai_strategy.freqai.pretrain")
    level = log.level
    log.addHandler(keep)
    log.setLevel(logging.INFO)
    try:
        yield keep
    finally:
        log.removeHandler(keep)
        log.setLevel(level)


def other_cpu_load(interval: float = 1.0) -> float | None:
    """CPUs kept busy by other processes over the next ``interval`` seconds (``/proc/stat``)."""
    busy0, own0 = _busy_cpu_seconds(), time.process_time()
    time.sleep(interval)
    busy1, own1 = _busy_cpu_seconds(), time.process_time()
    if busy0 is None or busy1 is None:
        return None
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / interval


def wait_for_quiet(max_wait: float, threshold: float = 0.3) -> tuple[float, float | None]:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` CPUs.

    Multi-threaded LightGBM/CatBoost slow down by far more than the CPU share they lose when
    another process competes for a core, so a busy machine ruins timings; waiting is
    cheaper than repeating. Returns (seconds waited, last measured load).
    """
    start = time.perf_counter()
    load = other_cpu_load()
    while load is not None and load >= threshold and time.perf_counter() - start < max_wait:
        load = other_cpu_load(2.0)
    return time.perf_counter() - start, load


def run_once(
    contender: Contender,
    settings: BenchSettings,
    workdir: Path,
    repetition: int,
    candles: dict[str, pd.DataFrame],
) -> RunRecord:
    """Time one full backtest of ``contender``; freqtrade's console output goes to a log."""
    identifier = f"bench-{contender.key}-r{repetition}-{uuid.uuid4().hex[:6]}"
    run_dir = workdir / "runs" / identifier
    # must exist: freqtrade treats a missing --backtest-directory as a file-name prefix
    (run_dir / "results").mkdir(parents=True)
    cfg_path = run_dir / "config.json"
    cfg_path.write_text(json.dumps(build_config(contender, settings, identifier), indent=2))
    userdir = workdir / "user_data"
    log = run_dir / "freqtrade.log"
    gc.collect()
    with (
        log.open("w") as fh,
        contextlib.redirect_stdout(fh),
        contextlib.redirect_stderr(fh),
        pass_lines() as passes,
    ):
        busy0, own0 = _busy_cpu_seconds(), own_cpu_seconds()
        start = time.perf_counter()
        result = backtest(
            [cfg_path],
            contender.strategy,
            freqaimodel=contender.freqaimodel,
            timerange=settings.timerange,
            datadir=settings.datadir,
            userdir=userdir,
            strategy_path=STRATEGIES if contender.is_ml else TEST_STRATEGIES,
            freqaimodel_path=FREQAI_MODELS if contender.is_ml else None,
            results_dir=run_dir / "results",
            offline=True,
        )
        seconds = time.perf_counter() - start
        busy1, own1 = _busy_cpu_seconds(), own_cpu_seconds()
    other = None
    if busy0 is not None and busy1 is not None:
        other = max(0.0, (busy1 - busy0) - (own1 - own0)) / seconds
    record = RunRecord(
        contender=contender.key,
        repetition=repetition,
        identifier=identifier,
        seconds=seconds,
        trades=int(result.stats.get("total_trades", len(result.trades))),
        profit_pct=100.0 * float(result.stats.get("profit_total", 0.0)),
        other_load=other,
        log=log,
    )
    if passes.lines:
        figures = parse_pass_line(passes.lines[-1])
        record.pass_seconds = figures["pass_seconds"]
        record.fit_seconds = figures["fit_seconds_sum"]
    if contender.is_ml:
        model_dir = userdir / "models" / identifier
        table = load_backtest_predictions(model_dir)
        ics = pooled_oos_ic(table, candles, RETURN_LABEL, horizon=settings.label_period_candles)
        record.pair_ic = {pair: r.ic for pair, r in ics.items()}
        record.pair_n = {pair: r.n for pair, r in ics.items()}
        meta = next(model_dir.glob("sub-train-*/*_metadata.json"), None)
        if meta is not None:
            record.n_features = len(json.loads(meta.read_text())["training_features_list"])
        if contender.is_tradai:
            record.metrics_gap = _metrics_gap(model_dir, record.pair_ic)
    return record
