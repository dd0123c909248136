"""Parallel training scaling (issue 19): a FreqAI walk-forward backtest of
``TrainingPredictionModel`` trained serially and with the local executor on 1 and 2 workers.

Every run is a fresh process (``--child``): an offline in-process backtest of RadStrategy,
LightGBM 300 trees, 90-day training / 30-day backtest windows, one estimator thread per fit
(``data_kitchen_thread_count`` 1), a new identifier (nothing reused). The parent samples the
process tree of the run (the backtest, the fork server and its workers) every 0.2 s: peak
RSS and peak PSS (proportional set size: shared pages counted once, so it is what the tree
really holds), and the CPU other processes used meanwhile. The fits, their summed worker
time and the pre-training pass's wall time come from the pass's log line.

The projection for a large universe is measured per-fit cost x fits / workers, plus the
driver's serial part (everything that is not a fit: loading candles, features, writing the
files, the trade simulation) scaled by pairs x candles.

Usage::

    .venv/bin/python benchmarks/bench_parallel.py [--quick] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench_contenders import (
    CONTENDERS,
    FREQAI_MODELS,
    ROOT,
    STRATEGIES,
    TRADAI_LGBM,
    BenchSettings,
    build_config,
    parse_pass_line,
    pass_lines,
    wait_for_quiet,
)

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "BNB/USDT"]
PAIRS += ["DOGE/USDT", "LINK/USDT"]
TIMERANGE = "20241215-20260215"  # the shared data's 17 months, after 90 days of training
#: (pairs, executor) of each run, in order; serial is FreqAI's own loop
RUNS: list[tuple[int, dict[str, Any]]] = [
    (8, {"backend": "serial"}),
    (8, {"backend": "local", "workers": 1}),
    (8, {"backend": "local", "workers": 2}),
    (4, {"backend": "local", "workers": 2}),
    (2, {"backend": "local", "workers": 2}),
]
QUICK_TIMERANGE = "20250101-20250301"
QUICK_RUNS: list[tuple[int, dict[str, Any]]] = [
    (2, {"backend": "serial"}),
    (2, {"backend": "local", "workers": 1}),
    (2, {"backend": "local", "workers": 2}),
]
#: the projection's universe: pairs, years, and the cores it is projected on
PROJECTION = {"pairs": 100, "years": 3, "cores": (16, 64)}
TIMEOUT_S = 1200
SAMPLE_S = 0.2


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One backtest in this process (the ``--child`` side); freqtrade's output to a log."""
    from tradai_strategy.data.freqtrade_runner import backtest

    contender = next(c for c in CONTENDERS if c.key == TRADAI_LGBM)
    settings = BenchSettings(
        pairs=spec["pairs"],
        timerange=spec["timerange"],
        datadir=Path(spec["datadir"]),
        synthetic=False,
        repeat=1,
    )
    run_dir = Path(spec["run_dir"])
    (run_dir / "results").mkdir(parents=True, exist_ok=True)
    cfg = build_config(contender, settings, spec["identifier"])
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    cfg["freqai"]["tradai"]["executor"] = spec["executor"]
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    userdir = run_dir / "user_data"
    with (
        (run_dir / "freqtrade.log").open("w") as fh,
        contextlib.redirect_stdout(fh),
        contextlib.redirect_stderr(fh),
        pass_lines() as passes,
    ):
        started = time.perf_counter()
        result = backtest(
            [run_dir / "config.json"],
            "RadStrategy",
            freqaimodel="TrainingPredictionModel",
            timerange=settings.timerange,
            datadir=settings.datadir,
            userdir=userdir,
            strategy_path=STRATEGIES,
            freqaimodel_path=FREQAI_MODELS,
            results_dir=run_dir / "results",
            offline=True,
        )
        seconds = time.perf_counter() - started
    preds = userdir / "models" / spec["identifier"] / "backtesting_predictions"
    out: dict[str, Any] = {
        "seconds": seconds,
        "trades": len(result.trades),
        "fits": len(list(preds.glob("*.feather"))),
    }
    if passes.lines:
        out.update(parse_pass_line(passes.lines[-1]))
    return out


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory_kib(pid: int) -> tuple[int, int, float]:
    """(RSS KiB, PSS KiB, CPU seconds) of one process; zeros when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0, 0.0
    rss = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0)
    pss = next((int(ln.split()[1]) for ln in rollup.splitlines() if ln.startswith("Pss:")), 0)
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return rss, pss, cpu


class TreeSampler(threading.Thread):
    """Peak RSS/PSS of a process tree and the CPU seconds it used, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="bench-tree-sampler", daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.peak_rss = self.peak_pss = self.peak_processes = 0
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            rss = pss = 0
            pids = _tree(self.pid)
            for pid in pids:
                r, p, cpu = _memory_kib(pid)
                rss, pss = rss + r, pss + p
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(pids))


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def run_measured(spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run one backtest in a child process, sampling its process tree."""
    spec_path = workdir / f"{spec['identifier']}.json"
    spec_path.write_text(json.dumps(spec))
    out_path = spec_path.with_suffix(".out.json")
    busy0, started = busy_seconds(), time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(spec_path), str(out_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = TreeSampler(child.pid)
    sampler.start()
    try:
        _, err = child.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise RuntimeError(f"{spec['identifier']}: no result within {TIMEOUT_S} s") from None
    finally:
        sampler.stop.set()
        sampler.join()
    wall = time.perf_counter() - started
    if child.returncode != 0 or not out_path.exists():
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise RuntimeError(f"{spec['identifier']} failed ({child.returncode}): {tail}")
    tree_cpu = sum(sampler.cpu.values())
    return {
        **json.loads(out_path.read_text()),
        "process_seconds": wall,
        "peak_rss_mib": sampler.peak_rss / 1024,
        "peak_pss_mib": sampler.peak_pss / 1024,
        "processes": sampler.peak_processes,
        "tree_cpu_seconds": tree_cpu,
        "other_load": max(0.0, busy_seconds() - busy0 - tree_cpu) / wall,
    }


def windows_in(months: float) -> int:
    """Backtest windows (30 days each) in ``months`` of backtest."""
    return math.ceil(months * 30.44 / 30)


def mean_prefix_days(windows: int) -> float:
    """Mean days of candles a window's targets are computed on: FreqAI cuts them from the
    start of the data to the window's end (90 training days, then 30 more a window)."""
    return 90 + 30 * (windows + 1) / 2


def projection(runs: list[dict[str, Any]], timerange: str) -> dict[str, Any]:
    """The projected universe's hours: per-fit cost (1 worker) x fits / cores, and the
    driver's own work, which no worker takes over, from the 2-worker run on the most pairs:
    the rest of the backtest (start, candles, FreqAI's loop reading the files, the trade
    simulation) and the features scale with pairs x months, the writes with fits, a window's
    inputs with the candles before its end (its targets are computed on all of them)."""
    most = max(r["pairs"] for r in runs)
    one = next(r for r in runs if r["pairs"] == most and r["executor"].get("workers") == 1)
    two = next(r for r in runs if r["pairs"] == most and r["executor"].get("workers") == 2)
    per_fit = one["fit_seconds_sum"] / one["fits"]
    first, last = (time.strptime(x, "%Y%m%d") for x in timerange.split("-"))
    months = (time.mktime(last) - time.mktime(first)) / 86400 / 30.44
    years, pairs = PROJECTION["years"], PROJECTION["pairs"]
    per_pair = windows_in(years * 12)
    fits = pairs * per_pair
    grow = pairs * years * 12 / (most * months)  # pairs x months
    driver = {
        "rest": (two["seconds"] - two["pass_seconds"]) * grow,
        "features": two["driver"]["features"] * grow,
        "window inputs": two["driver"]["window inputs"]
        / two["fits"]
        * fits
        * mean_prefix_days(per_pair)
        / mean_prefix_days(windows_in(months)),
        "writes": two["driver"]["writes"] / two["fits"] * fits,
    }
    rows = [{"cores": 1, "fit_hours": fits * per_fit / 3600}]
    rows += [{"cores": c, "fit_hours": fits * per_fit / c / 3600} for c in PROJECTION["cores"]]
    driver_hours = sum(driver.values()) / 3600
    for row in rows:  # workers fit while the driver works; the longer of the two is the wall
        row["total_hours"] = (
            row["fit_hours"] + driver_hours
            if row["cores"] == 1
            else max(row["fit_hours"], driver_hours)
        )
    return {"per_fit_seconds": per_fit, "fits": fits, "driver_seconds": driver, "rows": rows}


def run_parallel_bench(
    datadir: Path | None, workdir: Path, *, quick: bool = False, max_wait: float = 120.0
) -> dict[str, Any]:
    """Every run of :data:`RUNS` (or :data:`QUICK_RUNS`), one after another."""
    datadir = datadir or Path(
        os.environ.get("TRADAI_REAL_DATA") or ROOT.parent / "shared" / "data" / "binance"
    )
    missing = [p for p in PAIRS if not (datadir / f"{p.replace('/', '_')}-1h.feather").is_file()]
    if missing:
        raise RuntimeError(f"{datadir} has no 1h candles of {', '.join(missing)}")
    workdir.mkdir(parents=True, exist_ok=True)
    timerange = QUICK_TIMERANGE if quick else TIMERANGE
    runs = []
    for n_pairs, executor in QUICK_RUNS if quick else RUNS:
        waited, _ = wait_for_quiet(max_wait) if max_wait > 0 else (0.0, None)
        ident = f"par-{n_pairs}p-{executor['backend']}{executor.get('workers', '')}"
        spec = {
            "pairs": PAIRS[:n_pairs],
            "timerange": timerange,
            "datadir": str(datadir),
            "executor": executor,
            "identifier": f"{ident}-{uuid.uuid4().hex[:6]}",
            "run_dir": str(workdir / ident),
        }
        record = run_measured(spec, workdir)
        runs.append({"pairs": n_pairs, "executor": executor, "waited": waited, **record})
        print(f"  {ident}: {record['seconds']:.1f} s, {record['fits']} fits", flush=True)
    return {
        "datadir": str(datadir),
        "timerange": timerange,
        "runs": runs,
        "projection": projection(runs, timerange),
    }


def pass_speedup(runs: list[dict[str, Any]]) -> list[str]:
    """The training pass's speed-up from 1 to 2 local workers, per pair count run with both."""
    out = []
    for pairs in sorted({r["pairs"] for r in runs}, reverse=True):
        by = {
            r["executor"].get("workers"): r
            for r in runs
            if r["pairs"] == pairs and r["executor"]["backend"] == "local" and "pass_seconds" in r
        }
        if 1 in by and 2 in by:
            one, two = by[1]["pass_seconds"], by[2]["pass_seconds"]
            out.append(
                f"Training pass, {pairs} pairs: 1 worker {one:.1f} s, 2 workers {two:.1f} s = "
                f"{one / two:.2f}x (fresh processes: each pass includes its first fits' wait "
                "for the workers' imports)."
            )
    return ["", *out] if out else []


def render_markdown(result: dict[str, Any]) -> str:
    """The ``## Parallel training`` section of ``benchmarks/results.md``."""
    lines = [
        "## Parallel training scaling (issue 19)",
        "",
        f"TrainingPredictionModel, RadStrategy, LightGBM 300 trees, 90/30-day windows, one "
        f"thread per fit; real 1h candles ({result['datadir']}), {result['timerange']}; each "
        "run a fresh process, its tree (backtest, fork server, workers) sampled every 0.2 s.",
        "",
        "| pairs | training | fits | wall s | pre-training pass s | fit time s (sum) "
        "| driver s: features / window inputs / writes | peak RSS MiB | peak PSS MiB "
        "| other CPUs |",
        "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in result["runs"]:
        ex = r["executor"]
        how = ex["backend"] + (f", {ex['workers']} worker(s)" if "workers" in ex else "")
        lines.append(
            f"| {r['pairs']} | {how} | {r['fits']} | {r['seconds']:.1f} "
            f"| {r.get('pass_seconds', float('nan')):.1f} "
            f"| {r.get('fit_seconds_sum', float('nan')):.1f} "
            f"| {' / '.join(f'{v:.1f}' for v in r.get('driver', {}).values()) or '-'} "
            f"| {r['peak_rss_mib']:.0f} "
            f"| {r['peak_pss_mib']:.0f} | {r['other_load']:.2f} |"
        )
    lines += pass_speedup(result["runs"])
    p = result["projection"]
    parts = ", ".join(f"{k} {v / 3600:.2f} h" for k, v in p["driver_seconds"].items())
    lines += [
        "",
        f"Projection for {PROJECTION['pairs']} pairs x {PROJECTION['years']} years "
        f"({p['fits']} fits of 90/30-day windows): fits = {p['per_fit_seconds']:.3f} s per fit "
        f"(measured, 1 worker) x fits / cores; the driver's own work ({parts}) stays in one "
        "process and overlaps the fits, so the wall is the longer of the two (serially: both).",
        "",
        "| cores | fits h | total h |",
        "|---:|---:|---:|",
        *(
            f"| {row['cores']} | {row['fit_hours']:.2f} | {row['total_hours']:.2f} |"
            for row in p["rows"]
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 pairs, 2 months: a smoke run")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--datadir", type=Path)
    p.add_argument("--max-wait", type=float, default=120.0)
    p.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        spec_path, out_path = args.child
        out_path.write_text(json.dumps(run_child(json.loads(spec_path.read_text()))))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-parallel-"))
    result = run_parallel_bench(args.datadir, workdir, quick=args.quick, max_wait=args.max_wait)
    (workdir / "parallel-bench.json").write_text(json.dumps(result, indent=2))
    sys.stdout.write(render_markdown(result))
    print(f"(work dir {workdir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
