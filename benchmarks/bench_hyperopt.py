"""Hyperopt benchmark: trials per minute with pruning vs without, same budget, judged out of
sample.

Every mode runs the same study (RadStrategy features, TradAI's default LightGBM search space,
purged walk-forward splits of the search window, TPE) for ``budget`` trials, once per study
seed. Runs are interleaved (seed 1: none, pruned; seed 2: none, pruned; ...) so a busy
machine slows both alike; the load is recorded before every run and speed is measured in
process CPU time (one process, one LightGBM thread) as well as wall time.

"Best value not worse" is judged on data no study saw: each study's best parameters are
refitted on the whole search window and scored (rank IC on the non-overlapping label grid,
mean over pairs) on the held-out months after it. The in-sample best value is printed too, but
it is biased against pruning: it is the maximum of fewer complete, noisy trials.

Targets: median CPU-time trials/min with pruning >= 1.5x without, and median held-out IC of
the best parameters not below the unpruned median by more than ``TOLERANCE``.

Usage (quiet machine; ~4 min on 2 cores)::

    .venv/bin/python benchmarks/bench_hyperopt.py [--budget 20] [--seeds 3]
        [--modes none,median,median-w1] [--n-splits 4] [--workdir DIR]

Modes: ``none``; ``median``, ``hyperband``, ``wilcoxon`` (tradai's pruners, see
``tradai_strategy.hyperopt.study.make_pruner``); variants ``median-w1`` (the median pruner's
former one-split warm-up), ``median-w0`` (3 start-up trials), ``percentile25``, ``sha``,
``wilcoxon-p20``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_contenders import ROOT
from bench_cpcv import _config, _datadir

PAIRS = ["BTC/USDT", "ETH/USDT"]
SEARCH = "20250101-20250501"
HOLDOUT = "20250501-20250701"
TARGET_SPEEDUP = 1.5
TOLERANCE = 0.005
BASELINE = "none"


def make_pruner(mode: str, n_steps: int) -> Any:
    """The optuna pruner of a benchmark mode (``none`` plus the variants compared)."""
    import optuna

    from tradai_strategy.hyperopt.study import make_pruner as tradai_pruner

    p = optuna.pruners
    variants: dict[str, Any] = {
        "median-w0": lambda: p.MedianPruner(n_startup_trials=3, n_warmup_steps=0),
        # the former default (pruning from the second split on)
        "median-w1": lambda: p.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
        "percentile25": lambda: p.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=1),
        "sha": lambda: p.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2),
        "wilcoxon-p20": lambda: p.WilcoxonPruner(p_threshold=0.2, n_startup_steps=4),
    }
    if mode in variants:
        return variants[mode]()
    return tradai_pruner(mode, n_steps)  # type: ignore[arg-type]  # median, hyperband, ...


def holdout_data(full: Any, cut: pd.Timestamp) -> Any:
    """``full`` with one split per pair: train on every row whose label ends before ``cut``,
    test on the rows from ``cut`` on."""
    prep = full.get(None)
    splits = []
    for pd_ in prep.pairs:
        dates = pd.DatetimeIndex(pd_.dates).tz_localize(None)
        first = int(np.searchsorted(dates, cut.tz_localize(None)))
        rows = np.arange(len(pd_.X), dtype=np.int64)
        splits.append([(rows[: max(first - prep.horizon, 0)], rows[first:])])
    one = dataclasses.replace(prep, splits=splits)
    return dataclasses.replace(full, by_horizon={prep.horizon: one})


def early_information(split_scores: list[list[float]]) -> list[float]:
    """Spearman correlation, over complete trials, of the running mean after ``j + 1`` splits
    with the final mean: how much a pruner deciding after split ``j`` knows."""
    from scipy.stats import spearmanr

    rows = np.asarray([s for s in split_scores if np.isfinite(s).all()], dtype=float)
    if len(rows) < 3:
        return []
    running = np.cumsum(rows, axis=1) / np.arange(1, rows.shape[1] + 1)
    return [float(spearmanr(running[:, j], running[:, -1])[0]) for j in range(rows.shape[1])]


def run_one(
    search: Any, holdout: Any, space: Any, mode: str, seed: int, budget: int
) -> dict[str, Any]:
    """One study of ``budget`` trials; its speed, best value and held-out IC."""
    from tradai_strategy.hyperopt.objective import evaluate
    from tradai_strategy.hyperopt.study import HyperoptSettings, run_study

    n_steps = search.get(None).n_splits
    settings = HyperoptSettings(n_trials=budget, study_name=f"{mode}-{seed}", seed=seed)
    complete: list[list[float]] = []

    def collect(study: Any, trial: Any) -> None:
        if trial.state.name == "COMPLETE":
            complete.append(list(trial.user_attrs.get("split_scores", [])))

    load = os.getloadavg()[0]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = run_study(
        search, space, settings, pruner=make_pruner(mode, n_steps), callbacks=[collect]
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    held = evaluate(holdout, result.best_params, "ic")
    return {
        "mode": mode,
        "seed": seed,
        "load": load,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "trials_per_cpu_minute": budget / cpu * 60,
        "trials_per_minute": budget / wall * 60,
        "best_value": result.best_value,
        "holdout_ic": held.value,
        "best_params": result.best_params,
        "states": result.states,
        "split_scores": complete,
    }


def summarise_runs(runs: list[dict[str, Any]], modes: list[str]) -> dict[str, dict[str, Any]]:
    """Medians per mode and ratios against the unpruned baseline."""
    keys = ("trials_per_cpu_minute", "trials_per_minute", "best_value", "holdout_ic")
    out: dict[str, dict[str, Any]] = {}
    for mode in modes:
        mine = [r for r in runs if r["mode"] == mode]
        med = {k: statistics.median(r[k] for r in mine) for k in keys}
        med["pruned_share"] = statistics.median(
            r["states"].get("PRUNED", 0) / sum(r["states"].values()) for r in mine
        )
        out[mode] = med
    base = out[BASELINE]
    for mode, med in out.items():
        med["cpu_speedup"] = med["trials_per_cpu_minute"] / base["trials_per_cpu_minute"]
        med["wall_speedup"] = med["trials_per_minute"] / base["trials_per_minute"]
        med["holdout_delta"] = med["holdout_ic"] - base["holdout_ic"]
        med["passed"] = (
            mode != BASELINE
            and med["cpu_speedup"] >= TARGET_SPEEDUP
            and med["holdout_delta"] >= -TOLERANCE
        )
    return out


def run_hyperopt_bench(
    datadir: Path | None,
    workdir: Path,
    *,
    budget: int = 20,
    seeds: int = 3,
    modes: list[str] | None = None,
    n_splits: int = 4,
) -> dict[str, Any]:
    """Run every mode once per seed, interleaved; see the module docstring."""
    from tradai_strategy.hyperopt.data import prepare_data
    from tradai_strategy.hyperopt.space import resolve_space

    modes = modes or [BASELINE, "median", "median-w1"]
    if BASELINE not in modes:
        modes = [BASELINE, *modes]
    workdir.mkdir(parents=True, exist_ok=True)
    data_path, synthetic = _datadir(datadir, workdir, PAIRS)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        config = _config(workdir, data_path, PAIRS)
        space = resolve_space("lightgbm")
        search = prepare_data(config, space, n_splits=n_splits, timerange=SEARCH)
        full = prepare_data(config, space, n_splits=1, timerange=f"{SEARCH[:8]}-{HOLDOUT[9:]}")
        holdout = holdout_data(full, pd.Timestamp(HOLDOUT[:8]))
        for seed in range(1, seeds + 1):
            for mode in modes:
                runs.append(run_one(search, holdout, space, mode, seed, budget))
                r = runs[-1]
                sys.stderr.write(
                    f"seed {seed} {mode:>12}: {r['cpu_seconds']:6.1f} s cpu "
                    f"{r['wall_seconds']:6.1f} s wall, best {r['best_value']:+.4f}, held-out "
                    f"{r['holdout_ic']:+.4f}, {r['states']}, load {r['load']:.1f}\n"
                )
    finally:
        logging.disable(previous)
    medians = summarise_runs(runs, modes)
    unpruned = [s for r in runs if r["mode"] == BASELINE for s in r["split_scores"]]
    holdout_rows = sum(int(p.grid[t].sum()) for p, s in zip(
        holdout.get(None).pairs, holdout.get(None).splits, strict=True) for _, t in s)  # fmt: skip
    return {
        "data": "synthetic planted" if synthetic else "real",
        "datadir": str(data_path),
        "pairs": PAIRS,
        "search": SEARCH,
        "holdout": HOLDOUT,
        "holdout_rows": holdout_rows,
        "budget": budget,
        "seeds": seeds,
        "n_splits": n_splits,
        "modes": modes,
        "runs": runs,
        "medians": medians,
        "total_seconds": time.perf_counter() - started,
        "cpus": os.cpu_count(),
        "passed": any(m["passed"] for m in medians.values()),
        "early_information": early_information(unpruned),
    }


def render_markdown(result: dict[str, Any]) -> str:
    """A ``## Hyperopt pruning`` section for ``benchmarks/results.md``."""
    med = result["medians"]
    winners = [m for m, v in med.items() if v["passed"]]
    verdict = f"PASS ({', '.join(winners)})" if winners else "FAIL"
    se = 1 / np.sqrt(max(result["holdout_rows"], 1))
    lines = [
        "## Hyperopt pruning (median over study seeds, same trial budget)",
        "",
        f"**Verdict:** trials/min with pruning ≥ {TARGET_SPEEDUP}x without and held-out IC of "
        f"the best parameters not worse (-{TOLERANCE}) → **{verdict}**",
        "",
        "| mode | trials/CPU-min | x none | trials/wall-min | x none | pruned | best in-sample IC "
        "| held-out IC | Δ held-out |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in med.items():
        lines.append(
            f"| {name} | {m['trials_per_cpu_minute']:.1f} | {m['cpu_speedup']:.2f} | "
            f"{m['trials_per_minute']:.1f} | {m['wall_speedup']:.2f} | "
            f"{m['pruned_share']:.0%} | {m['best_value']:+.4f} | {m['holdout_ic']:+.4f} | "
            f"{m['holdout_delta']:+.4f} |"
        )
    base = {r["seed"]: r["holdout_ic"] for r in result["runs"] if r["mode"] == BASELINE}
    per_seed = "; ".join(
        f"{mode}: "
        + " ".join(
            f"{r['holdout_ic'] - base[r['seed']]:+.3f}" for r in result["runs"] if r["mode"] == mode
        )
        for mode in result["modes"]
        if mode != BASELINE
    )
    loads = [r["load"] for r in result["runs"]]
    info = ", ".join(
        f"{j + 1}: {rho:+.2f}" for j, rho in enumerate(result.get("early_information", []))
    )
    lines += [
        "",
        f"- data: {result['data']} candles, {', '.join(result['pairs'])} 1h; search "
        f"{result['search']}, held-out {result['holdout']} ({result['holdout_rows']} "
        f"non-overlapping rows, IC standard error ≈ {se:.3f}); {result['budget']} trials per "
        f"study, {result['seeds']} seeds per mode (interleaved), {result['n_splits']} purged "
        "walk-forward splits, LightGBM default search space, TPE, one process",
        f"- 1-min load average before the runs: {min(loads):.1f} to {max(loads):.1f} on "
        f"{result['cpus']} CPUs; total {result['total_seconds']:.0f} s",
        f"- held-out IC minus the unpruned study's, per seed: {per_seed}",
        "- what a pruner knows (unpruned complete trials): Spearman of the running mean after "
        f"n splits with the final objective, n = {info or '-'}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=20, help="trials per study")
    p.add_argument("--seeds", type=int, default=3, help="study seeds per mode")
    p.add_argument("--modes", default="none,median,median-w1", help="comma-separated modes")
    p.add_argument("--n-splits", type=int, default=4)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--datadir", type=Path, default=ROOT.parent / "shared" / "data" / "binance")
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-hyperopt-"))
    result = run_hyperopt_bench(
        args.datadir,
        workdir,
        budget=args.budget,
        seeds=args.seeds,
        modes=args.modes.split(","),
        n_splits=args.n_splits,
    )
    sys.stdout.write(render_markdown(result))
    (workdir / "hyperopt-bench.json").write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
