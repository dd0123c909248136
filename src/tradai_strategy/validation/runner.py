"""``tradai validate``: cross-validate a strategy's FreqAI model on its own features.

For every pair (FreqAI trains one model per pair) the strategy's features and targets are
built exactly as FreqAI builds them (:func:`~tradai_strategy.data.features.build_features`),
rows without features (indicator warm-up) or without a label (the last label-horizon rows)
are dropped, and the configured estimator is fitted on every split of a purged walk-forward
or combinatorial purged CV, once per seed. Fits run in parallel across cores (joblib/loky,
one estimator thread per worker). :mod:`tradai_strategy.validation.report` then scores the
out-of-sample predictions and returns the verdict.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.exchange import timeframe_to_minutes

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.labels import is_discrete_label, target_columns
from tradai_strategy.core.settings import ExecutorSettings, TradAISettings
from tradai_strategy.models.estimators import Task
from tradai_strategy.models.fitting import (
    ESTIMATOR_MODULES,
    FitResult,
    FitTask,
    fit_one,
    worker_ready,
)
from tradai_strategy.models.shared_arrays import mapped_arrays
from tradai_strategy.stats.metrics import SCORE_NAMES, check_metric_names
from tradai_strategy.stats.overfitting import Thresholds
from tradai_strategy.stats.splitters import (
    DEFAULT_EMBARGO,
    DEFAULT_N_GROUPS,
    DEFAULT_PURGE,
    CombinatorialPurgedCV,
    PurgedWalkForwardCV,
)

CVKind = Literal["walkforward", "cpcv"]
Progress = Callable[[int, int], None]
#: metric columns of the split and path tables (any of :data:`~.metrics.SCORE_NAMES`)
DEFAULT_METRICS: tuple[str, ...] = SCORE_NAMES


@dataclass(frozen=True)
class ValidationSettings:
    """How ``tradai validate`` splits, fits and judges."""

    cv: CVKind = "cpcv"
    n_groups: int = DEFAULT_N_GROUPS
    k: int = 2
    purge: int = DEFAULT_PURGE
    embargo: int = DEFAULT_EMBARGO
    seeds: int = 10
    jobs: int = 0
    cost: float = 0.001
    n_trials: int = 1
    metrics: tuple[str, ...] = DEFAULT_METRICS
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: multi-class targets (regimes): the accuracy gate's floor and margin over persistence
    min_accuracy: float = 0.75
    accuracy_margin: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_accuracy < 1.0:
            raise TradAIConfigError(
                f"--min-accuracy must be in [0, 1), got {self.min_accuracy} (e.g. 0.75)"
            )
        if not 0.0 <= self.accuracy_margin < 1.0:
            raise TradAIConfigError(
                f"--accuracy-margin must be in [0, 1), got {self.accuracy_margin} (e.g. 0.02)"
            )
        if self.cv not in ("walkforward", "cpcv"):
            raise TradAIConfigError(f"--cv {self.cv!r} is unknown: use walkforward or cpcv")
        if self.seeds < 1:
            raise TradAIConfigError(f"--seeds must be >= 1, got {self.seeds}")
        if self.n_trials < 1:
            raise TradAIConfigError(f"--n-trials must be >= 1, got {self.n_trials}")
        if self.cost < 0:
            raise TradAIConfigError(
                f"--cost must be >= 0 (fraction per unit traded), got {self.cost}"
            )
        try:
            check_metric_names(self.metrics)
        except ValueError as err:
            raise TradAIConfigError(str(err)) from None

    @property
    def n_jobs(self) -> int:
        """Worker processes: ``jobs`` when > 0, else one per core."""
        return self.jobs if self.jobs > 0 else max(1, os.cpu_count() or 1)

    def splitter(self, label_end: pd.Series) -> PurgedWalkForwardCV | CombinatorialPurgedCV:
        """The configured splitter, purging by the given label-end times."""
        try:
            if self.cv == "cpcv":
                return CombinatorialPurgedCV(
                    self.n_groups,
                    self.k,
                    purge=self.purge,
                    embargo=self.embargo,
                    label_end=label_end,
                )
            return PurgedWalkForwardCV(
                self.n_groups, purge=self.purge, embargo=self.embargo, label_end=label_end
            )
        except ValueError as err:
            raise TradAIConfigError(str(err)) from None


@dataclass
class PairData:
    """One pair's model inputs, rows in time order (features and labels complete)."""

    pair: str
    dates: pd.Series
    X: npt.NDArray[np.float64]
    y: npt.NDArray[Any]
    realised: npt.NDArray[np.float64]  # the numeric forward label (IC is measured on it)
    forward_return: npt.NDArray[np.float64]  # close[t+h] / close[t] - 1 (what a trade earns)
    close: npt.NDArray[np.float64]
    features: list[str]
    label: str
    task: Task
    dropped_rows: int
    #: rows on the non-overlapping label grid (:func:`grid_mask`); metrics use only these
    grid: npt.NDArray[np.bool_]

    def label_end(self, horizon: int, timeframe: str) -> pd.Series:
        """Label-end time of every row: its time plus ``horizon`` candles."""
        step = pd.Timedelta(minutes=timeframe_to_minutes(timeframe))
        idx = pd.DatetimeIndex(self.dates)
        return pd.Series(idx + horizon * step, index=idx)


def grid_mask(dates: pd.Series, horizon: int, timeframe: str) -> npt.NDArray[np.bool_]:
    """Rows on the non-overlapping grid: candle number since the epoch divisible by ``horizon``.

    Examples
    --------
    >>> d = pd.Series(pd.date_range("2024-01-01", periods=6, freq="h"))
    >>> grid_mask(d, 3, "1h").tolist()
    [True, False, False, True, False, False]
    """
    step = timeframe_to_minutes(timeframe) * 60
    seconds = pd.DatetimeIndex(dates).as_unit("s").asi8
    return np.asarray((seconds // step) % horizon == 0)


def prepare_pair(
    frame: pd.DataFrame, pair: str, horizon: int, timeframe: str, label: str | None = None
) -> PairData:
    """Model inputs from a :class:`~tradai_strategy.data.features.FeatureFrame` frame.

    ``label``: the target to validate (default: the first ``&``-column). A discrete label
    (:func:`~tradai_strategy.core.labels.is_discrete_label`) is a classification task.
    Rows with a missing feature are dropped (FreqAI does not predict on them either); a
    missing label is only allowed in the first rows (a warm-up) and the last ``horizon`` rows
    (no future there), anywhere else it is an error.
    """
    features = [c for c in frame.columns if c.startswith("%")]
    labels = target_columns(frame.columns)
    if not features or not labels:
        raise TradAIDataError(
            f"{pair}: the strategy produced {len(features)} %-feature(s) and {len(labels)} "
            "&-target(s): tradai validate needs both"
        )
    if label is not None and label not in labels:
        raise TradAIConfigError(
            f"{pair}: the strategy's target {label} is not among the &-columns its "
            f"set_freqai_targets created ({', '.join(labels)}): create it there or set "
            "label_columns to the columns it creates"
        )
    label = label or labels[0]
    close = frame["close"].to_numpy(dtype=float)
    fwd = np.full(len(close), np.nan)
    fwd[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    y_all = frame[label]
    missing_label = y_all.isna().to_numpy()
    # leading rows without a label are a warm-up (a label that needs history, e.g. the
    # regimes' trailing quantiles): dropped like rows without features
    start = int(np.argmin(missing_label)) if not missing_label.all() else len(frame)
    inner = missing_label[start : max(len(frame) - horizon, start)]
    if inner.any():
        first = frame["date"].iloc[start + int(np.argmax(inner))]
        raise TradAIDataError(
            f"{pair}: {int(inner.sum())} NaN label(s) in {label} before the last {horizon} "
            f"rows (first at {first}): fix set_freqai_targets or the candle gaps there"
        )
    feats = frame[features].replace([np.inf, -np.inf], np.nan)
    keep = (feats.notna().all(axis=1) & ~y_all.isna()).to_numpy()
    if keep.sum() == 0:
        raise TradAIDataError(f"{pair}: no row has every feature and a label")
    task: Task = "classification" if is_discrete_label(y_all) else "regression"
    if task == "regression":
        realised = y_all.to_numpy(dtype=float)
    else:
        from tradai_strategy.core.labels import forward_mean_return

        realised = forward_mean_return(close, horizon)
    dates = frame["date"][keep].reset_index(drop=True)
    return PairData(
        pair=pair,
        dates=dates,
        X=feats[keep].to_numpy(dtype=np.float64),
        y=y_all[keep].to_numpy(),
        realised=realised[keep],
        forward_return=fwd[keep],
        close=close[keep],
        features=features,
        label=label,
        task=task,
        dropped_rows=int((~keep).sum()),
        grid=grid_mask(dates, horizon, timeframe),
    )


def start_workers(n_jobs: int, estimator: str) -> threading.Thread | None:
    """Start the worker processes in the background (they import the estimator library while
    the caller builds features); join the thread before :func:`run_fits` reuses them."""
    if n_jobs <= 1:
        return None
    from joblib import Parallel, delayed

    def warm() -> None:
        Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(worker_ready)(estimator) for _ in range(n_jobs)
        )

    thread = threading.Thread(target=warm, name="tradai-warm-workers", daemon=True)
    thread.start()
    return thread


def fit_modules(estimator: str) -> tuple[str, ...]:
    """What an executor's worker imports before its first fit (the local pool's fork server
    imports them once)."""
    return (fit_one.__module__, ESTIMATOR_MODULES.get(estimator, estimator))


@contextmanager
def shared_features(
    pairs: Sequence[PairData], executor: ExecutorSettings | None
) -> Iterator[tuple[list[Any], Any]]:
    """Each pair's feature matrix as the fits receive it, once for all its fits, and the Dask
    client to run them with (None: the executor's own). Workers on this machine (the local
    pool, joblib's, a Dask cluster started for the run) open memory-mapped files: a fit
    carries a file name. A Dask scheduler's workers get each matrix scattered once (a fit
    carries its future)."""
    if executor is not None and executor.backend == "dask" and executor.address:
        from tradai_strategy.models.executor import connect

        client = connect(executor.address)
        try:
            yield client.scatter([p.X for p in pairs], broadcast=False, hash=False), client
        finally:
            client.close()
        return
    with mapped_arrays([p.X for p in pairs], prefix="tradai-validate-") as files:
        yield list(files), None


def run_fits(
    pairs: Sequence[PairData],
    splits: Sequence[Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]],
    settings: ValidationSettings,
    tradai: TradAISettings,
    params: dict[str, Any],
    progress: Progress | None = None,
    executor: ExecutorSettings | None = None,
) -> list[FitResult]:
    """Every (pair, split, seed) fit, in parallel over ``settings.n_jobs`` processes, or on
    ``executor`` (``freqai.tradai.executor``, ``--train-workers``/``--cluster``) unless serial."""
    tasks = [
        FitTask(p, s, tradai.seed + i)
        for p in range(len(pairs))
        for s in range(len(splits[p]))
        for i in range(settings.seeds)
    ]

    def call(t: FitTask, X: Sequence[npt.NDArray[np.float64]]) -> tuple[Any, ...]:
        pd_ = pairs[t.pair]
        train, test = splits[t.pair][t.split]
        scored = train[pd_.grid[train]]
        return (t, pd_.task, tradai.estimator, params, X[t.pair], pd_.y, train, test, scored)

    if executor is not None and executor.backend != "serial":
        from tradai_strategy.models.executor import run_tasks
        from tradai_strategy.models.executor_worker import apply_task

        def name(job: tuple[Any, tuple[Any, ...]]) -> str:
            t = job[1][0]
            return f"{pairs[t.pair].pair} split {t.split} seed {t.seed}"

        with shared_features(pairs, executor) as (features, client):
            return run_tasks(
                apply_task,
                ((fit_one, call(t, features)) for t in tasks),
                executor,
                label=name,
                on_done=(lambda done, _: progress(done, len(tasks))) if progress else None,
                client=client,
                preload=fit_modules(tradai.estimator),
            )
    results: list[FitResult] = []
    if settings.n_jobs == 1:
        for i, t in enumerate(tasks):
            results.append(fit_one(*call(t, [p.X for p in pairs])))
            if progress:
                progress(i + 1, len(tasks))
        return results
    from joblib import Parallel, delayed

    with shared_features(pairs, None) as (mapped, _):
        runner = Parallel(n_jobs=settings.n_jobs, backend="loky", return_as="generator_unordered")
        for i, res in enumerate(runner(delayed(fit_one)(*call(t, mapped)) for t in tasks)):
            results.append(res)
            if progress:
                progress(i + 1, len(tasks))
    return results
