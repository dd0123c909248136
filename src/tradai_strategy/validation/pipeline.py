"""``run_validation``: from a resolved freqtrade config to a :class:`ValidationReport`.

Steps: (optional) lookahead pre-flight -> candles -> FreqAI features and targets per pair ->
purged splits -> parallel fits -> scoring and verdict (:mod:`.report`). MLflow logging is
separate (:mod:`.tracking`) so the computation stays testable without a tracking store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import ExecutorSettings, TradAISettings
from tradai_strategy.models.executor import check_reachable, usable_cores, warm_up
from tradai_strategy.validation.report import ValidationReport, build_report
from tradai_strategy.validation.runner import (
    PairData,
    Progress,
    ValidationSettings,
    fit_modules,
    prepare_pair,
    run_fits,
    start_workers,
)

Notify = Callable[[str], None]


def run_leakage_check(
    config: dict[str, Any], strategy: Any, pairs: list[str], timerange: str | None
) -> dict[str, Any]:
    """The lookahead guard's verdict as a dict (``ok``, ``summary``); raises when it failed."""
    from tradai_strategy.validation.lookahead import check_lookahead

    report = check_lookahead(config, strategy=strategy, pairs=pairs, timerange=timerange)
    result = {"ok": report.ok, "summary": report.summary_line()}
    if not report.ok:
        raise TradAIDataError(
            f"lookahead pre-flight failed: {report.summary_line()}; fix the features (or pass "
            "--skip-leakage-check to validate anyway, recorded in the run)"
        )
    return result


def fit_workers(settings: ValidationSettings, executor: ExecutorSettings) -> int | str:
    """How many processes fit: ``--jobs`` for validate's own pool; the executor's workers."""
    if executor.backend == "serial":
        return settings.n_jobs
    if executor.workers:
        return executor.workers
    return usable_cores() if executor.backend == "local" else "cluster"


def run_validation(
    config: dict[str, Any],
    settings: ValidationSettings,
    *,
    pairs: Sequence[str] | None = None,
    timerange: str | None = None,
    datadir: Path | None = None,
    skip_leakage_check: bool = False,
    progress: Progress | None = None,
    notify: Notify | None = None,
) -> ValidationReport:
    """Cross-validate the config's FreqAI model on the strategy's own features.

    :raises TradAIConfigError: bad settings (purge shorter than the label horizon, k >= N...).
    :raises TradAIDataError: missing candles, too few rows, NaN labels, lookahead found.
    """
    from tradai_strategy.data.features import build_features, load_candles, load_strategy

    say = notify or (lambda _msg: None)
    started = time.perf_counter()
    tradai = TradAISettings.from_config(config)
    executor = ExecutorSettings.from_config(config)  # not serial: it runs the fits
    check_reachable(executor)  # an unreachable cluster: one line before any work
    horizon = tradai.label_period_candles
    if settings.purge < horizon:
        raise TradAIConfigError(
            f"--purge {settings.purge} is shorter than label_period_candles={horizon}: training "
            f"labels would overlap test labels; use --purge {horizon} or more"
        )
    chosen = list(pairs or config.get("exchange", {}).get("pair_whitelist", []))
    if not chosen:
        raise TradAIConfigError("no pairs: set exchange.pair_whitelist in the config")
    timerange = timerange or config.get("timerange")
    strategy = load_strategy(config)
    leakage: dict[str, Any]
    if skip_leakage_check:
        leakage = {"ok": None, "skipped": True, "summary": "skipped (--skip-leakage-check)"}
    else:
        leakage = {**run_leakage_check(config, strategy, chosen, timerange), "skipped": False}
    say(f"leakage check: {leakage['summary']}")
    workers = fit_workers(settings, executor)
    warming = None
    if executor.backend == "serial":
        warming = start_workers(settings.n_jobs, tradai.estimator)  # overlaps feature building
    elif executor.backend == "local":
        warm_up(fit_modules(tradai.estimator))
    candles = load_candles(config, chosen, timerange, datadir)
    data: list[PairData] = []
    timeframe = str(config["timeframe"])
    for pair in chosen:
        frame = build_features(config, strategy, pair, candles).frame
        # the strategy's own first target (its declared or created &-columns, in order)
        named = getattr(strategy, "target_labels", None)
        targets = named(frame.columns) if callable(named) else []
        data.append(prepare_pair(frame, pair, horizon, timeframe, targets[0] if targets else None))
    cvs, splits = [], []
    for pd_ in data:
        cv = settings.splitter(pd_.label_end(settings.purge, timeframe))
        try:
            splits.append(list(cv.split(pd_.X, pd_.y)))
        except ValueError as err:
            raise TradAIDataError(f"{pd_.pair} ({len(pd_.X)} rows): {err}") from None
        cvs.append(cv)
    n_fits = sum(len(s) for s in splits) * settings.seeds
    say(
        f"{len(data)} pair(s), {len(data[0].features)} features, label {data[0].label} "
        f"({data[0].task}), {n_fits} fits on {workers} worker(s)"
    )
    params = dict(config["freqai"].get("model_training_parameters", {}))
    if warming is not None:
        warming.join()
    fit_started = time.perf_counter()
    fits = run_fits(data, splits, settings, tradai, params, progress, executor)
    fit_wall = time.perf_counter() - fit_started
    report = build_report(data, cvs, splits, fits, settings, horizon, timeframe)
    report.leakage = leakage
    report.settings = {
        **{k: v for k, v in asdict(settings).items() if k != "thresholds"},
        "thresholds": asdict(settings.thresholds),
        "metrics": list(settings.metrics),
        "n_jobs": workers,
        "executor": executor.address or executor.backend,
        "strategy": config.get("strategy"),
        "identifier": config["freqai"].get("identifier"),
        "estimator": tradai.estimator,
        "label_period_candles": horizon,
        "timeframe": timeframe,
        "timerange": timerange,
        "pairs": chosen,
        "seed": tradai.seed,
        "n_splits": len(splits[0]),
        "n_paths": len(report.paths),
    }
    fit_sum = sum(f.fit_seconds for f in fits)
    report.timings = {
        "wall_seconds": time.perf_counter() - started,
        "fit_wall_seconds": fit_wall,
        "fit_seconds_sum": fit_sum,
        "parallel_ratio": fit_wall / fit_sum if fit_sum > 0 else float("nan"),
        "n_fits": float(len(fits)),
    }
    return report
