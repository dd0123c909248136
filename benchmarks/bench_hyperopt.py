"""Hyperopt benchmark: trials per minute with the median pruner vs without, same budget.

The same study (RadStrategy features, TradAI's default LightGBM search space, 4 purged
walk-forward splits, TPE with one seed) runs ``budget`` trials once with optuna's median
pruner and once without. Targets: trials per minute with pruning >= 1.5x without, and the
best mean out-of-sample rank IC not worse than without pruning (within 0.005).

Usage::

    .venv/bin/python benchmarks/bench_hyperopt.py [--budget 30] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_contenders import ROOT
from bench_cpcv import TIMERANGE, _config, _datadir

PAIRS = ["BTC/USDT", "ETH/USDT"]
TARGET_SPEEDUP = 1.5
TOLERANCE = 0.005


def run_hyperopt_bench(
    datadir: Path | None, workdir: Path, *, budget: int = 30, n_splits: int = 4
) -> dict[str, Any]:
    """Run the study with and without pruning; see the module docstring."""
    from tradai_strategy.hyperopt.data import prepare_data
    from tradai_strategy.hyperopt.space import resolve_space
    from tradai_strategy.hyperopt.study import HyperoptSettings, run_study

    workdir.mkdir(parents=True, exist_ok=True)
    data_path, synthetic = _datadir(datadir, workdir, PAIRS)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    runs: dict[str, dict[str, Any]] = {}
    try:
        config = _config(workdir, data_path, PAIRS)
        config["timerange"] = TIMERANGE
        space = resolve_space("lightgbm")
        data = prepare_data(config, space, n_splits=n_splits)
        for pruner in ("none", "median"):
            settings = HyperoptSettings(n_trials=budget, pruner=pruner, study_name=pruner)  # type: ignore[arg-type]
            started = time.perf_counter()
            result = run_study(data, space, settings)
            wall = time.perf_counter() - started
            runs[pruner] = {
                "wall_seconds": wall,
                "trials_per_minute": budget / wall * 60,
                "best_value": result.best_value,
                "states": result.states,
                "pbo": result.overfitting.get("pbo"),
                "dsr": result.overfitting.get("dsr"),
            }
    finally:
        logging.disable(previous)
    speedup = runs["median"]["trials_per_minute"] / runs["none"]["trials_per_minute"]
    not_worse = runs["median"]["best_value"] >= runs["none"]["best_value"] - TOLERANCE
    return {
        "data": "synthetic planted" if synthetic else "real",
        "datadir": str(data_path),
        "pairs": PAIRS,
        "timerange": TIMERANGE,
        "budget": budget,
        "n_splits": n_splits,
        "runs": runs,
        "speedup": speedup,
        "best_not_worse": not_worse,
        "passed": speedup >= TARGET_SPEEDUP and not_worse,
    }


def render_markdown(result: dict[str, Any]) -> str:
    """A ``## Hyperopt pruning`` section for ``benchmarks/results.md``."""
    ok = "PASS" if result["passed"] else "FAIL"
    lines = [
        "## Hyperopt pruning (median vs none)",
        "",
        f"**Verdict:** trials/min with pruning ≥ {TARGET_SPEEDUP}x without and best value "
        f"not worse → **{ok}**: {result['speedup']:.2f}x, best value "
        + ("not worse" if result["best_not_worse"] else "worse"),
        "",
        "| pruner | wall s | trials/min | best mean OOS rank IC | states | PBO | DSR |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, r in result["runs"].items():
        states = ", ".join(f"{k.lower()} {v}" for k, v in sorted(r["states"].items()))
        pbo = "-" if r["pbo"] is None else f"{r['pbo']:.2f}"
        dsr = "-" if r["dsr"] is None else f"{r['dsr']:.3f}"
        lines.append(
            f"| {name} | {r['wall_seconds']:.1f} | {r['trials_per_minute']:.1f} | "
            f"{r['best_value']:+.4f} | {states} | {pbo} | {dsr} |"
        )
    lines += [
        "",
        f"- data: {result['data']} candles ({result['datadir']}), {', '.join(result['pairs'])}, "
        f"1h, {result['timerange']}; {result['budget']} trials per mode, "
        f"{result['n_splits']} purged walk-forward splits, LightGBM default search space, "
        "TPE seed 42, one process",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=int, default=30)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--datadir", type=Path, default=ROOT.parent / "shared" / "data" / "binance")
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-hyperopt-"))
    result = run_hyperopt_bench(args.datadir, workdir, budget=args.budget)
    sys.stdout.write(render_markdown(result))
    (workdir / "hyperopt-bench.json").write_text(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
