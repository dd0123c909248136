"""Drift-check benchmark: KS + PSI for 100 features x 10 pairs, target <= 1 s.

The check ``tradai drift`` runs after the features are computed: per pair, each of 100
features of the current window (the last 20 days of 1h candles, 480 rows) against the
bundle's reference sample (2000 rows, as ``tradai train`` stores it), then the per-pair and
overall summary and the JSON report. Features are 100 rolling transforms (returns,
volatility, z-scores, ranges, volume ratios, skew ... over 5 windows) of real 1h candles
from the data folder when present, synthetic candles for the missing pairs. The timed part
is :func:`tradai_strategy.stats.drift.pair_drift` + ``drift_summary`` + the JSON records;
the median of ``repeat`` runs after one warm-up, after waiting for a quiet machine.

Usage::

    .venv/bin/python benchmarks/bench_drift.py [--repeat 7] [--datadir DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_contenders import ROOT, wait_for_quiet

PAIRS = [
    "BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT",
    "BNB/USDT", "DOGE/USDT", "LINK/USDT", "AVAX/USDT", "DOT/USDT",
]  # fmt: skip
WINDOWS = (5, 10, 20, 50, 100)
REFERENCE_ROWS = 2000
CURRENT_DAYS = 20
TARGET_SECONDS = 1.0


def _candles(datadir: Path | None, pair: str) -> tuple[pd.DataFrame, str]:
    from tradai_strategy.data.synthetic import generate_ohlcv

    if datadir is not None:
        path = datadir / f"{pair.replace('/', '_')}-1h.feather"
        if path.is_file():
            return pd.read_feather(path), "real"
    return generate_ohlcv(pair, "1h", 400, seed=7, signal="planted"), "synthetic"


def features(candles: pd.DataFrame) -> pd.DataFrame:
    """100 rolling features (20 transforms x 5 windows) of one pair's candles."""
    c, v = candles["close"], candles["volume"]
    r = np.log(c).diff()
    hl = (candles["high"] - candles["low"]) / c
    out = {}
    for w in WINDOWS:
        roll = r.rolling(w)
        sma = c.rolling(w).mean()
        up, down = r.clip(lower=0).rolling(w).mean(), (-r.clip(upper=0)).rolling(w).mean()
        cols = {
            "ret": np.log(c).diff(w), "vol": roll.std(), "mean": roll.mean(),
            "skew": roll.skew(), "kurt": roll.kurt(), "z": (c - sma) / c.rolling(w).std(),
            "dist_sma": c / sma - 1, "dist_ema": c / c.ewm(span=w).mean() - 1,
            "range": hl.rolling(w).mean(), "range_max": hl.rolling(w).max(),
            "vol_ratio": v / v.rolling(w).mean(),
            "vol_z": (v - v.rolling(w).mean()) / v.rolling(w).std(),
            "rsi": up / (up + down), "hi_dist": c / c.rolling(w).max() - 1,
            "lo_dist": c / c.rolling(w).min() - 1, "absret": r.abs().rolling(w).mean(),
            "ret_lag": np.log(c).diff(w).shift(w), "vol_lag": roll.std().shift(w),
            "hour_mix": np.sin(2 * np.pi * candles["date"].dt.hour / 24) * roll.std(),
            "trend": (sma - sma.shift(w)) / sma,
        }  # fmt: skip
        out.update({f"%-{k}_{w}": val for k, val in cols.items()})
    return pd.DataFrame(out).assign(date=candles["date"].to_numpy())


def _prepare(datadir: Path | None) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict]:
    from tradai_strategy.stats.drift import last_days

    refs, curs, sources = {}, {}, {}
    for pair in PAIRS:
        candles, sources[pair] = _candles(datadir, pair)
        feats = features(candles).iloc[200:]  # indicator warm-up
        current = last_days(feats, CURRENT_DAYS)
        train = feats.iloc[: len(feats) - len(current)]
        pick = np.linspace(0, len(train) - 1, min(REFERENCE_ROWS, len(train))).round()
        refs[pair] = train.iloc[pick.astype(int)].drop(columns="date").reset_index(drop=True)
        curs[pair] = current.drop(columns="date").reset_index(drop=True)
    return refs, curs, sources


def run_drift_bench(
    datadir: Path | None, workdir: Path, *, repeat: int = 7, max_wait: float = 60.0
) -> dict[str, Any]:
    """Time the 100 x 10 drift check; JSON-ready medians, every run and the ratio to 1 s."""
    from tradai_strategy.stats.drift import drift_summary, pair_drift

    workdir.mkdir(parents=True, exist_ok=True)
    refs, curs, sources = _prepare(datadir)
    waited, load = wait_for_quiet(max_wait) if max_wait > 0 else (0.0, None)

    def check() -> tuple[pd.DataFrame, pd.DataFrame]:
        table = pair_drift(refs, curs)
        summary = drift_summary(table)
        json.dumps(
            {
                "summary": summary.reset_index().to_dict(orient="records"),
                "features": table.to_dict(orient="records"),
            }
        )
        return table, summary

    check()  # warm-up (imports, allocator)
    runs, cpu = [], []
    for _ in range(repeat):
        started, cpu0 = time.perf_counter(), time.process_time()
        _, summary = check()
        runs.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu0)
    median = statistics.median(runs)
    return {
        "pairs": len(refs),
        "features_per_pair": int(refs[PAIRS[0]].shape[1]),
        "reference_rows": {p: len(r) for p, r in refs.items()},
        "current_rows": {p: len(c) for p, c in curs.items()},
        "sources": sources,
        "runs": runs,
        "median_seconds": median,
        "median_cpu_seconds": statistics.median(cpu),
        "target_seconds": TARGET_SECONDS,
        "ratio_to_target": median / TARGET_SECONDS,
        "passed": median <= TARGET_SECONDS,
        "other_load_before": load,
        "waited_seconds": waited,
        "overall_level": str(summary.loc["ALL", "level"]),
        "features_critical": int(summary.loc["ALL", "critical"]),
        "features_warn": int(summary.loc["ALL", "warn"]),
        "features_checked": int(summary.loc["ALL", "features"]),
    }


def render_markdown(result: dict[str, Any]) -> str:
    """A ``## Drift check`` section for ``benchmarks/results.md``."""
    ok = "PASS" if result["passed"] else "FAIL"
    real = sorted(p for p, s in result["sources"].items() if s == "real")
    load = result["other_load_before"]
    lines = [
        f"## Drift check ({result['features_per_pair']} features x {result['pairs']} pairs)",
        "",
        f"**Verdict:** drift check ≤ {result['target_seconds']:g} s → **{ok}**: median "
        f"{result['median_seconds'] * 1000:.0f} ms = {result['ratio_to_target']:.3f}x the target "
        f"({len(result['runs'])} runs: "
        + ", ".join(f"{t * 1000:.0f}" for t in result["runs"])
        + f" ms; CPU time median {result['median_cpu_seconds'] * 1000:.0f} ms)",
        "",
        f"- KS (= scipy's ks_2samp statistic) and PSI (10 reference-quantile bins) per feature, "
        f"per-pair and overall summary, JSON records; reference {REFERENCE_ROWS} rows (the "
        f"bundle's sample size), current window {CURRENT_DAYS} days of 1h candles "
        f"({next(iter(result['current_rows'].values()))} rows)",
        f"- candles: real 1h for {', '.join(real) or 'none'}; synthetic for the other pairs",
        f"- result of the check itself: {result['features_critical']} critical and "
        f"{result['features_warn']} warn of {result['features_checked']} features "
        f"(overall {result['overall_level']}: slow rolling features of real markets drift "
        "past KS 0.2 between a long reference and a 20-day window)",
        "- other processes' CPU load before timing: "
        + ("n/a" if load is None else f"{load:.2f} CPUs")
        + f" (waited {result['waited_seconds']:.0f} s)",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--workdir", type=Path)
    p.add_argument("--datadir", type=Path, default=ROOT.parent / "shared" / "data" / "binance")
    p.add_argument("--max-wait", type=float, default=60.0)
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-drift-"))
    datadir = args.datadir if args.datadir.is_dir() else None
    result = run_drift_bench(datadir, workdir, repeat=args.repeat, max_wait=args.max_wait)
    sys.stdout.write(render_markdown(result))
    (workdir / "drift-bench.json").write_text(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
