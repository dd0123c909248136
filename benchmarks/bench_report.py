"""Summaries of ``make bench`` runs: per-contender statistics, a rich table, results.md."""

from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from bench_contenders import (
    CATBOOST_PARAMS,
    CONTENDERS,
    FLOOR,
    FREQAI_LGBM,
    LGBM_PARAMS,
    TRADAI_LGBM,
    TRADAI_LGBM_LOCAL,
    TRADAI_LGBM_LOCAL1,
    BenchSettings,
    RunRecord,
)
from rich.markup import escape
from rich.table import Table

#: The issue's target: TradAI's LightGBM model at most this much slower than FreqAI's.
MAX_SLOWDOWN = 1.10
#: issue 19's targets: the local executor's backtest vs FreqAI's, and the training phase's
#: speed-up from 1 to 2 workers
MAX_EXECUTOR_RATIO = 0.65
MIN_PASS_SPEEDUP = 1.7


@dataclass(frozen=True)
class Summary:
    """Aggregated repetitions of one contender."""

    key: str
    title: str
    times: list[float]
    median: float
    ratio_freqai: float
    ratio_floor: float
    ic: float | None  # mean over pairs of the pooled OOS IC (first repetition)
    ic_spread: float | None  # max - min of that mean over repetitions
    ic_se: float | None  # standard error of ``ic``: sqrt(sum 1/n_pair) / pairs
    pair_ic: dict[str, float]
    n: int
    trades: int
    profit_pct: float
    metrics_gap: float | None
    other_load: float | None  # mean CPUs kept busy by other processes during its runs
    run_loads: list[float | None]
    #: medians of the pre-training pass's wall time and its fits' summed worker time
    pass_seconds: float | None = None
    fit_seconds: float | None = None

    @property
    def fastest(self) -> float:
        return min(self.times)


def _mean_ic(record: RunRecord) -> float | None:
    vals = [v for v in record.pair_ic.values() if math.isfinite(v)]
    return statistics.fmean(vals) if vals else None


def _mean_ic_se(record: RunRecord) -> float | None:
    ns = [n for p, n in record.pair_n.items() if n > 0 and math.isfinite(record.pair_ic[p])]
    return math.sqrt(sum(1.0 / n for n in ns)) / len(ns) if ns else None


def summarise(records: list[RunRecord]) -> dict[str, Summary]:
    """One :class:`Summary` per contender that ran, in the contenders' order."""
    medians = {
        c.key: statistics.median([r.seconds for r in records if r.contender == c.key])
        for c in CONTENDERS
        if any(r.contender == c.key for r in records)
    }
    out: dict[str, Summary] = {}
    for c in CONTENDERS:
        runs = sorted((r for r in records if r.contender == c.key), key=lambda r: r.repetition)
        if not runs:
            continue
        ics = [x for x in (_mean_ic(r) for r in runs) if x is not None]
        gaps = [r.metrics_gap for r in runs if r.metrics_gap is not None]
        loads = [r.other_load for r in runs if r.other_load is not None]
        first = runs[0]
        out[c.key] = Summary(
            key=c.key,
            title=c.title,
            times=[r.seconds for r in runs],
            median=medians[c.key],
            ratio_freqai=medians[c.key] / medians.get(FREQAI_LGBM, math.nan),
            ratio_floor=medians[c.key] / medians.get(FLOOR, math.nan),
            ic=ics[0] if ics else None,
            ic_spread=(max(ics) - min(ics)) if len(ics) > 1 else None,
            ic_se=_mean_ic_se(first),
            pair_ic=dict(first.pair_ic),
            n=sum(first.pair_n.values()),
            trades=first.trades,
            profit_pct=first.profit_pct,
            metrics_gap=max(gaps) if gaps else None,
            other_load=statistics.fmean(loads) if loads else None,
            run_loads=[r.other_load for r in runs],
            pass_seconds=_median([r.pass_seconds for r in runs]),
            fit_seconds=_median([r.fit_seconds for r in runs]),
        )
    return out


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def executor_verdict(summaries: dict[str, Summary]) -> str:
    """Issue 19's two figures: the local executor's backtest vs FreqAI's, with the least any
    training executor reaches on this machine (the backtest without its training pass plus
    the fits' one-thread time spread over the cores), and the training phase's speed-up from
    1 to 2 workers."""
    local, theirs = summaries.get(TRADAI_LGBM_LOCAL), summaries.get(FREQAI_LGBM)
    if local is None or theirs is None:
        return "parallel training: NOT MEASURED"
    ratio = local.ratio_freqai
    line = (
        f"TrainingPredictionModel on the local executor ≤ {MAX_EXECUTOR_RATIO:.2f}x FreqAI "
        f"LightGBMRegressor → **{'PASS' if ratio <= MAX_EXECUTOR_RATIO else 'FAIL'}**: "
        f"{local.median:.1f} s vs {theirs.median:.1f} s = {ratio:.2f}x"
    )
    serial = summaries.get(TRADAI_LGBM)
    if serial is not None and serial.ic is not None and local.ic is not None:
        same = abs(serial.ic - local.ic) < 5e-4
        line += (
            f"; IC {local.ic:+.4f} vs the serial run's {serial.ic:+.4f} "
            f"({'unchanged' if same else 'changed: one LightGBM thread per fit'})"
        )
    one = summaries.get(TRADAI_LGBM_LOCAL1)
    if one is not None and one.pass_seconds and one.fit_seconds:
        cores = os.cpu_count() or 1
        rest = one.median - one.pass_seconds
        best = rest + one.fit_seconds / cores
        line += (
            f". Bound here: the backtest without its training pass takes {rest:.1f} s (the "
            f"1-worker run less its pass); with the fits' one-thread time ({one.fit_seconds:.1f}"
            f" s) spread perfectly over {cores} cores, {rest:.1f} + {one.fit_seconds:.1f} / "
            f"{cores} = {best:.1f} s = {best / theirs.median:.2f}x is the least a training "
            "executor reaches on this machine"
        )
    if one is not None and one.pass_seconds and local.pass_seconds:
        speedup = one.pass_seconds / local.pass_seconds
        word = "PASS" if speedup >= MIN_PASS_SPEEDUP else "FAIL"
        line += (
            f". Training phase (the pre-training pass) ≥ {MIN_PASS_SPEEDUP:.1f}x faster on 2 "
            f"workers than on 1 → **{word}**: {one.pass_seconds:.1f} s vs "
            f"{local.pass_seconds:.1f} s = {speedup:.2f}x (the fits' summed worker time "
            f"{one.fit_seconds or math.nan:.1f} s vs {local.fit_seconds or math.nan:.1f} s)"
        )
    return line


def verdict(summaries: dict[str, Summary]) -> tuple[bool | None, str]:
    """PASS/FAIL of "TrainingPredictionModel(LightGBM) <= 1.10x FreqAI LightGBMRegressor with
    IC not lower", with the numbers."""
    target = (
        f"TrainingPredictionModel(LightGBM) ≤ {MAX_SLOWDOWN:.2f}x FreqAI LightGBMRegressor "
        "with IC not lower"
    )
    ours, theirs = summaries.get(TRADAI_LGBM), summaries.get(FREQAI_LGBM)
    if ours is None or theirs is None or ours.ic is None or theirs.ic is None:
        return None, f"{target}: NOT MEASURED"
    fast = ours.ratio_freqai <= MAX_SLOWDOWN
    good = ours.ic >= theirs.ic
    word = "PASS" if fast and good else "FAIL"
    return fast and good, (
        f"{target} → **{word}**: time {ours.median:.1f} s vs {theirs.median:.1f} s = "
        f"{ours.ratio_freqai:.2f}x ({'ok' if fast else 'too slow'}; fastest runs "
        f"{ours.fastest / theirs.fastest:.2f}x); mean pooled OOS IC "
        f"{ours.ic:+.4f} vs {theirs.ic:+.4f} ({'not lower' if good else 'lower'}; "
        f"standard error of each ≈ {_fmt(ours.ic_se, '.3f')})"
    )


def _fmt(x: float | None, spec: str = "+.4f") -> str:
    return "—" if x is None or not math.isfinite(x) else format(x, spec)


def _row(s: Summary) -> list[str]:
    span = f"{min(s.times):.1f}-{max(s.times):.1f}"
    ic = "—" if s.ic is None else f"{s.ic:+.4f} ± {_fmt(s.ic_se, '.3f')} (n={s.n})"
    return [
        s.title,
        f"{s.median:.1f}",
        span,
        _fmt(s.ratio_freqai, ".2f") + "x",
        _fmt(s.ratio_floor, ".2f") + "x",
        ic,
        str(s.trades),
        f"{s.profit_pct:+.2f}",
        _fmt(s.other_load, ".2f"),
    ]


HEADERS = [
    "contender",
    "wall s (median)",
    "min-max s",
    "vs FreqAI LGBM",
    "vs floor",
    "mean pooled OOS IC",
    "trades",
    "profit %",
    "other procs' CPUs",
]


def rich_table(summaries: dict[str, Summary], settings: BenchSettings) -> Table:
    """The headline table for the console."""
    data = "SYNTHETIC planted data" if settings.synthetic else "real data"
    table = Table(title=f"make bench — {data}, {settings.repeat} repetition(s)")
    for i, h in enumerate(HEADERS):
        table.add_column(h, justify="left" if i == 0 else "right")
    for s in summaries.values():
        table.add_row(*(escape(cell) for cell in _row(s)))
    return table


def machine() -> dict[str, str]:
    """Facts about the machine and the library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    libs = ("freqtrade", "lightgbm", "catboost", "pandas")
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{lib: version(lib) for lib in libs},
    }


def markdown(
    summaries: dict[str, Summary],
    settings: BenchSettings,
    info: dict[str, Any],
    verdict_line: str,
    discarded: list[RunRecord] | None = None,
) -> str:
    """The full results.md text."""
    lines = ["# `make bench` results", ""]
    if settings.synthetic:
        lines += [
            "> **WARNING: SYNTHETIC DATA.** Real candles were not found, so this run used "
            "synthetic planted-signal candles; times are indicative, ICs say nothing about "
            "real markets.",
            "",
        ]
    lines += [f"**Verdict:** {verdict_line}", "", "| " + " | ".join(HEADERS) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(HEADERS) - 1)) + "|")
    lines += ["| " + " | ".join(_row(s)) + " |" for s in summaries.values()]
    ml = [s for s in summaries.values() if s.pair_ic]
    pairs = list(settings.pairs)
    lines += ["", "Pooled non-overlapping OOS Spearman IC per pair (first repetition):", ""]
    lines.append("| contender | " + " | ".join(pairs) + " | IC spread over reps |")
    lines.append("|---|" + "---:|" * (len(pairs) + 1))
    for s in ml:
        cells = [_fmt(s.pair_ic.get(p)) for p in pairs]
        spread = _fmt(s.ic_spread, ".1e") if s.ic_spread is not None else "—"
        lines.append(f"| {s.title} | " + " | ".join(cells) + f" | {spread} |")
    lines += [
        "",
        "All repetitions (seconds, in run order; in brackets the CPUs other processes kept "
        "busy meanwhile):",
        "",
    ]
    lines += [
        f"- {s.title}: "
        + ", ".join(
            f"{t:.1f} [{_fmt(x, '.2f')}]" for t, x in zip(s.times, s.run_loads, strict=True)
        )
        for s in summaries.values()
    ]
    if discarded:
        titles = {c.key: c.title for c in CONTENDERS}
        lines += [
            "",
            "Discarded as noisy (other processes kept >= 0.3 CPUs busy; each was run again):",
            "",
        ]
        lines += [
            f"- {titles[r.contender]}, repetition {r.repetition + 1}: {r.seconds:.1f} s "
            f"[{_fmt(r.other_load, '.2f')}]"
            for r in discarded
        ]
    gaps = [s.metrics_gap for s in ml if s.metrics_gap is not None]
    if gaps:
        lines += [
            "",
            "Cross-check: TradAI models' `tradai_metrics.json` pooled rank IC vs the IC "
            f"recomputed from FreqAI's prediction files: max |difference| = {max(gaps):.1e}.",
        ]
    lines += ["", "## Settings", ""]
    lines += [f"- {k}: {v}" for k, v in info["settings"].items()]
    lines += [
        f"- LightGBM parameters (both LightGBM contenders): `{LGBM_PARAMS}`",
        f"- CatBoost parameters: `{CATBOOST_PARAMS}`",
        "- TradAI models: purge = label_period_candles, early stopping off (the default), "
        "seed 42; FreqAI's LightGBMRegressor: its own unpurged split, all trees grown; the "
        "early-stopping [diagnostic] row is TradAI's LightGBM model with early stopping (50 "
        "rounds) on the purged eval part: it shows what early stopping on a short eval block "
        "does to speed and IC; not part of the verdict",
        "- Parallel training (issue 19): the local-executor rows train every (pair, window) "
        "fit up front in a process pool (freqai.tradai.executor, one LightGBM thread per fit: "
        "data_kitchen_thread_count 1; every other row uses LightGBM's default threads, i.e. "
        "both cores); they run in this long-lived process like the others, whose imports are "
        "warm, and so is the pool's fork server (started before the timed runs; a fresh "
        "process pays ~2 s for the workers' imports: the parallel-training section runs each "
        "backtest as its own process). Training phase: the pre-training pass's wall time, "
        "from its log line",
        "- IC: every ML contender scored alike from FreqAI's backtest prediction files "
        "(`tradai_strategy.data.prediction_files.pooled_oos_ic`): realised "
        "`&-s_close` from the candles, rows with do_predict != 1 excluded, every "
        "label_period_candles-th row of each pair's pooled OOS series, mean over pairs; "
        "± = standard error of that mean, √(Σ 1/n_pair)/pairs; n = kept rows over all pairs",
        "- time: wall clock of the whole in-process `freqtrade backtesting` call (config, "
        "data, features, walk-forward training, simulation, export), fresh FreqAI "
        "identifier every run, `--cache none`; repetitions interleaved round-robin, start "
        'contender rotated each round; "other procs\' CPUs": mean number of CPUs that other '
        "processes kept busy during the contender's runs (from /proc/stat), i.e. machine noise",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in info["machine"].items()]
    return "\n".join(lines) + "\n"
