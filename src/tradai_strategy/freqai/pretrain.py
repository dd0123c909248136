"""The pre-training pass: every (pair, window) fit of a backtest, up front, on an executor.

:class:`PretrainMixin` goes in front of :class:`~tradai_strategy.freqai.purged_training.
PurgedTrainingMixin`. With ``freqai.tradai.executor.backend`` other than ``serial``, the first
pair's ``start_backtesting`` builds every pair's features with FreqAI's data kitchen, cuts
FreqAI's own windows as its loop does, runs the fits on the executor
(:func:`~tradai_strategy.freqai.pretrain_worker.fit_window`) and writes, in FreqAI's order,
the files its loop writes for a trained window. The loop then finds every window's
prediction file valid and only reads it (docs/parallel-training.md).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.settings import ExecutorSettings, TradAISettings
from tradai_strategy.freqai.pretrain_windows import (
    plan_windows,
    window_tasks,
    write_window,
)
from tradai_strategy.freqai.pretrain_worker import (
    ClassificationFit,
    RegressionFit,
    WindowTask,
    fit_window,
)
from tradai_strategy.models.executor import (
    backtest_fit_modules,
    connect,
    iter_tasks,
    progress_displays,
    usable_cores,
    warm_up_backtest,
)

logger = logging.getLogger(__name__)

#: the methods the workers run from the package's classes: a subclass overriding one of
#: them would train differently in a worker than serially
WORKER_METHODS = ("train", "fit", "predict", "define_data_pipeline", "define_label_pipeline")

#: columns freqtrade 2026.9's backtest adds to every pair's candles before the strategy runs
PRECISION_COLUMNS = frozenset({"open_count", "high_count", "low_count", "close_count", "max_count"})


def check_parallel_model(model: Any) -> None:
    """Refuse, in one line, a configuration whose windows cannot train in parallel."""
    if model.config.get("freqai", {}).get("continual_learning"):
        raise TradAIConfigError(
            "freqai.continual_learning trains each window from the previous window's model, "
            "so windows cannot train in parallel: remove freqai.tradai.executor (or set its "
            "backend to serial) or continual_learning"
        )
    base = ClassificationFit if model.task == "classification" else RegressionFit
    for name in WORKER_METHODS:
        if getattr(type(model), name) is not getattr(base, name):
            raise TradAIConfigError(
                f"{type(model).__name__} overrides {name}(): parallel training runs the "
                "package's training code in its workers; set freqai.tradai.executor.backend "
                "to serial for this model"
            )


def warn_oversubscribed(config: dict[str, Any], workers: int) -> None:
    """Say so when ``workers`` fits at once, each with the estimator's threads, ask for more
    threads than there are cores (measured here: LightGBM with 2 threads per fit on 2 busy
    cores is 6x slower than with 1)."""
    threads = config["freqai"].get("data_kitchen_thread_count") or usable_cores()
    if workers > 1 and workers * threads > usable_cores():
        logger.warning(
            "TradAI: %d training workers x %d estimator threads on %d cores: set "
            "freqai.data_kitchen_thread_count to %d (the threads of each fit)",
            workers,
            threads,
            usable_cores(),
            max(1, usable_cores() // workers),
        )


def fingerprint(frame: pd.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
    """The columns and a per-row hash of ``frame`` (index included)."""
    return tuple(map(str, frame.columns)), pd.util.hash_pandas_object(frame).to_numpy()


def same_frame(
    a: tuple[tuple[str, ...], np.ndarray], b: tuple[tuple[str, ...], np.ndarray]
) -> bool:
    return a[0] == b[0] and a[1].shape == b[1].shape and bool((a[1] == b[1]).all())


def pair_candles(strategy: Any, pair: str, timeframe: str, precision: bool) -> pd.DataFrame:
    """``pair``'s candles as freqtrade's backtest hands them to FreqAI: the frame freqtrade
    passed to the strategy's ``advise_all_indicators`` (a TradAIStrategy keeps them as
    ``backtest_frames`` for that call), else the data provider's (the same cache the backtest
    loaded) with the price precision columns freqtrade's backtest adds to its frames
    (``get_tick_size_over_time``: ~0.15 s a pair here) when it added them to the first
    pair's."""
    kept = getattr(strategy, "backtest_frames", None) or {}
    if pair in kept:
        return kept[pair]
    frame = strategy.dp.get_pair_dataframe(pair, timeframe)
    if precision and not frame.empty:
        from freqtrade.data.btanalysis import get_tick_size_over_time

        get_tick_size_over_time(frame)  # adds the columns to ``frame``, as in the backtest
    return frame


def backtest_pairs(config: dict[str, Any], strategy: Any) -> list[str]:
    """The pairs freqtrade backtests (the data provider's whitelist, else the config's)."""
    try:
        pairs = list(strategy.dp.current_whitelist())
    except Exception:  # no pairlist attached to the data provider
        pairs = []
    return pairs or list(config["exchange"]["pair_whitelist"])


@dataclass
class Pretrained:
    """What the pass did: per pair, the candles it used and the files it wrote."""

    frames: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)
    written: dict[str, list[Path]] = field(default_factory=dict)

    def check_pair(self, pair: str, dataframe: pd.DataFrame) -> None:
        """Drop ``pair``'s pre-trained files when FreqAI was given other candles than the
        pass used, so FreqAI's loop trains that pair itself."""
        used = self.frames.pop(pair, None)
        if used is None or same_frame(used, fingerprint(dataframe)):
            return
        logger.warning(
            "TradAI: %s reached FreqAI with other candles than the parallel training used; "
            "its windows are trained again serially",
            pair,
        )
        for path in self.written.pop(pair, []):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


class PretrainMixin:
    """Run the pre-training pass on the first ``start_backtesting`` call when
    ``freqai.tradai.executor`` asks for it (docs/parallel-training.md)."""

    config: dict[str, Any]
    tradai: TradAISettings  # set by PurgedTrainingMixin

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executor = ExecutorSettings.from_config(self.config)
        self.pretrained: Pretrained | None = None
        if self.executor.backend != "serial":
            check_parallel_model(self)
        if warm_up_backtest(self.config):  # started by TradAIStrategy already, if it is one
            warn_oversubscribed(self.config, self.executor.workers or usable_cores())

    def start_backtesting(
        self, dataframe: pd.DataFrame, metadata: dict, dk: FreqaiDataKitchen, strategy: Any
    ) -> FreqaiDataKitchen:
        if self.executor.backend != "serial":
            if self.pretrained is None:
                self.pretrained = pretrain_backtest(self, dataframe, metadata["pair"], strategy)
            else:
                self.pretrained.check_pair(metadata["pair"], dataframe)
        return super().start_backtesting(dataframe, metadata, dk, strategy)  # type: ignore[misc]


def pretrain_backtest(
    model: Any, dataframe: pd.DataFrame, first_pair: str, strategy: Any
) -> Pretrained:
    """Train every window of every pair on the executor and write FreqAI's files."""
    settings: ExecutorSettings = model.executor
    client = connect(settings.address) if settings.address else None  # before any training
    try:
        done = Pretrained()
        timeframe = model.config["timeframe"]
        precision = set(dataframe.columns) >= PRECISION_COLUMNS
        if not same_frame(
            fingerprint(pair_candles(strategy, first_pair, timeframe, precision)),
            fingerprint(dataframe),
        ):
            logger.warning(
                "TradAI: the strategy hands FreqAI other candles than the data provider holds "
                "(columns added before freqai.start?): parallel training skipped, FreqAI "
                "trains serially"
            )
            return done
        started = time.perf_counter()
        plans: dict[str, tuple[pd.DataFrame, list[tuple[int, Any, Any]]]] = {}
        for pair in backtest_pairs(model.config, strategy):
            frame = (
                dataframe
                if pair == first_pair
                else pair_candles(strategy, pair, timeframe, precision)
            )
            if frame.empty:
                continue
            model.dd.get_pair_dict_info(pair)
            done.frames[pair] = fingerprint(frame)
            plans[pair] = (frame, plan_windows(model, pair, frame))
        driver = {"features": 0.0, "window inputs": 0.0, "writes": 0.0}  # seconds, here
        tasks = (
            task
            for pair, (frame, plan) in plans.items()
            for task in window_tasks(model, pair, frame, strategy, plan, driver)
        )
        total = sum(len(plan) for _, plan in plans.values())
        on_done, close = progress(total)
        carried: dict[str, dict[str, Any]] = {}
        fits, fit_seconds = 0, 0.0
        try:
            # each window is written as soon as it and the pair's earlier ones are trained:
            # neither the tasks' nor the results' frames pile up in this process
            for result in iter_tasks(
                fit_window,
                tasks,
                settings,
                label=WindowTask.label,
                on_done=lambda done, _submitted: on_done(done, total),
                client=client,
                preload=backtest_fit_modules(model.tradai.estimator),
            ):
                writing = time.perf_counter()
                written = write_window(model, result, carried.get(result.pair, {}))
                driver["writes"] += time.perf_counter() - writing
                done.written.setdefault(result.pair, []).extend(written)
                carried[result.pair] = result.dk.data
                fits, fit_seconds = fits + 1, fit_seconds + result.seconds
        finally:
            close()
        workers = settings.workers or usable_cores()
        logger.info(
            "TradAI: %d fits of %d pairs trained on %s (%s) in %.1f s (fits: %.1f s of worker "
            "time; in this process: %s)",
            fits,
            len(done.frames),
            settings.backend,
            settings.address or f"{workers} workers",
            time.perf_counter() - started,
            fit_seconds,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in driver.items()),
        )
        return done
    finally:
        if client is not None:
            client.close()


def progress(total: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """The ``on_done`` callback of the fits and its closer: the registered display (the
    ``tradai`` command's progress bar), else a log line per tenth of the fits."""
    if progress_displays:
        return progress_displays[-1](total)
    started = time.perf_counter()
    step = max(1, total // 10)

    def log(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            spent = time.perf_counter() - started
            logger.info(
                "TradAI: %d/%d fits done, %.0f s, about %.0f s left",
                done,
                total,
                spent,
                spent / done * (total - done),
            )

    return log, lambda: None
