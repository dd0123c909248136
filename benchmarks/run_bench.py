"""``make bench``: TradAI's FreqAI models against FreqAI's own LightGBMRegressor and a no-ML floor.

Contenders (same pairs, timerange, walk-forward windows and RadStrategy features for every
ML contender): SampleNonMLStrategy (floor), FreqAI ``LightGBMRegressor``, TradAI
``TrainingPredictionModel`` with LightGBM and with CatBoost, plus a diagnostic TradAI
LightGBM run with early stopping on its purged eval part. Each is timed as one whole
in-process offline backtest, ``--repeat`` times, interleaved round-robin; every ML
contender's predictions are scored with the same pooled non-overlapping OOS IC.

Data: ``$TRADAI_REAL_DATA`` (default ``../shared/data/binance`` next to the repo). Without
it the bench falls back to synthetic planted-signal candles and says so loudly.

Extra sections follow (``--sections``): those of ``bench_extras.SECTIONS``, among them
``live_ic``, "Live IC and triggers (issue 15)" (``bench_live_ic.py``, about 3 minutes).

Usage::

    .venv/bin/python benchmarks/run_bench.py [--repeat 3] [--quick] [--workdir DIR]
        [--output FILE] [--retries 2] [--max-wait 120]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_contenders import (
    CATBOOST_PARAMS,
    CONTENDERS,
    LGBM_PARAMS,
    ROOT,
    BenchSettings,
    RunRecord,
    load_candles,
    run_once,
    wait_for_quiet,
)
from bench_extras import SECTIONS, run_sections
from bench_report import executor_verdict, machine, markdown, rich_table, summarise, verdict
from rich.console import Console
from rich.markup import escape

FULL_PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
FULL_TIMERANGE = "20250101-20250701"
QUICK_PAIRS = FULL_PAIRS[:2]
QUICK_TIMERANGE = "20250101-20250401"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results.md"
#: other processes' CPU use (mean CPUs over a run) above which a timing is called noisy
NOISY_LOAD = 0.3

console = Console() if sys.stdout.isatty() else Console(width=170)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="timed runs per contender (default 3)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 repetition, 2 pairs, 3 months; writes into the work dir",
    )
    p.add_argument("--workdir", type=Path, help="work folder (default: a new temp folder)")
    p.add_argument("--output", type=Path, help=f"markdown report (default {DEFAULT_OUTPUT})")
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help=f"repeat a run disturbed by other processes (>= {NOISY_LOAD} CPUs) up to this "
        "many times (default 2)",
    )
    p.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="before each run wait up to this many seconds for other processes to leave the "
        "CPUs alone (default 120; 0: never wait)",
    )
    p.add_argument(
        "--sections",
        default="all",
        help=f"extra sections after the core comparison: all, none, or a comma list of "
        f"{', '.join(SECTIONS)} (default all)",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def _real_datadir(pairs: list[str]) -> Path | None:
    value = os.environ.get("TRADAI_REAL_DATA") or str(ROOT.parent / "shared" / "data" / "binance")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (ROOT / path).resolve()
    files = [path / f"{p.replace('/', '_')}-1h.feather" for p in pairs]
    return path if all(f.is_file() for f in files) else None


def _synthetic_datadir(workdir: Path, pairs: list[str], timerange: str, train_days: int) -> Path:
    from tradai_strategy.data.synthetic import write_synthetic_data

    first, last = (pd.Timestamp(x, tz="UTC") for x in timerange.split("-"))
    start = (first - pd.Timedelta(days=train_days + 15)).normalize()
    days = (last - start).days + 2
    datadir = workdir / "synthetic-data"
    write_synthetic_data(pairs, "1h", days, seed=42, signal="planted", datadir=datadir, start=start)
    return datadir


def _warm_up() -> None:
    """Import what every run needs so the first timed run does not pay for it, and start the
    local executor's fork server."""
    import catboost  # noqa: F401
    import freqtrade.freqai.prediction_models.LightGBMRegressor
    import freqtrade.optimize.backtesting  # noqa: F401
    import lightgbm  # noqa: F401

    import tradai_strategy.freqai  # noqa: F401
    from tradai_strategy.models.executor import backtest_fit_modules, warm_up

    # the local executor's fork server, as warm as the imports above (a fresh process pays
    # for its imports: the parallel section measures that)
    warm_up(backtest_fit_modules("lightgbm"))


def _run_all(
    args: argparse.Namespace,
    settings: BenchSettings,
    workdir: Path,
    candles: dict[str, pd.DataFrame],
) -> tuple[list[RunRecord], list[RunRecord]]:
    """All repetitions, round-robin; returns (kept runs, runs discarded as noisy).

    A run during which other processes kept >= ``NOISY_LOAD`` CPUs busy is repeated (up to
    ``--retries`` times) after waiting for a quiet machine; the last attempt is kept anyway.
    """
    kept: list[RunRecord] = []
    discarded: list[RunRecord] = []
    for rep in range(settings.repeat):
        k = rep % len(CONTENDERS)  # rotate who goes first, so no contender is always first
        for contender in CONTENDERS[k:] + CONTENDERS[:k]:
            for attempt in range(args.retries + 1):
                if args.max_wait > 0:
                    waited, load = wait_for_quiet(args.max_wait, NOISY_LOAD)
                    if waited > 1.5:
                        now = f"{load:.2f}" if load is not None else "?"
                        console.print(f"  (waited {waited:.0f} s for other processes: {now} CPUs)")
                console.print(
                    f"  {rep + 1}/{settings.repeat} {escape(contender.title)} ...", end=" "
                )
                record = run_once(contender, settings, workdir, rep, candles)
                load = record.other_load
                console.print(
                    f"{record.seconds:.1f} s, {record.trades} trades"
                    + ("" if load is None else f", other processes {load:.2f} CPUs")
                )
                if load is None or load < NOISY_LOAD or attempt == args.retries:
                    kept.append(record)
                    break
                console.print("    [yellow]noisy run discarded, repeating it[/]")
                discarded.append(record)
    return kept, discarded


def _loud(message: str) -> None:
    console.print(f"[bold white on red] {message} [/]")


def _settings_info(
    settings: BenchSettings,
    records: list[RunRecord],
    total: float,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, object]:
    """The "Settings" section of results.md."""
    data = "SYNTHETIC planted (seed 42)" if settings.synthetic else "real Binance spot"
    features = max((r.n_features or 0) for r in records)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python benchmarks/run_bench.py " + " ".join(sys.argv[1:]),
        "data": f"{data} candles, {settings.datadir}",
        "pairs": ", ".join(settings.pairs),
        "timeframe": settings.timeframe,
        "timerange": settings.timerange,
        "train_period_days / backtest_period_days": (
            f"{settings.train_period_days} / {settings.backtest_period_days}"
        ),
        "label_period_candles": settings.label_period_candles,
        "trees": f"LightGBM n_estimators={LGBM_PARAMS['n_estimators']}, "
        f"CatBoost iterations={CATBOOST_PARAMS['iterations']}",
        "features": "RadStrategy, indicator periods 10 and 20, 2 shifted candles: "
        f"{features} features per model",
        "repetitions": settings.repeat,
        "total bench time": f"{total / 60:.1f} min",
        "load average before / after": " / ".join(
            " ".join(f"{x:.2f}" for x in load) for load in loads
        ),
    }


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    repeat = 1 if args.quick else args.repeat
    pairs = QUICK_PAIRS if args.quick else FULL_PAIRS
    timerange = QUICK_TIMERANGE if args.quick else FULL_TIMERANGE
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    output = args.output or (workdir / "results-quick.md" if args.quick else DEFAULT_OUTPUT)

    datadir = _real_datadir(pairs)
    synthetic = datadir is None
    if synthetic:
        _loud("REAL DATA NOT FOUND ($TRADAI_REAL_DATA): USING SYNTHETIC PLANTED-SIGNAL CANDLES")
        datadir = _synthetic_datadir(workdir, pairs, timerange, 90)
    assert datadir is not None
    settings = BenchSettings(
        pairs=pairs, timerange=timerange, datadir=datadir, synthetic=synthetic, repeat=repeat
    )
    console.print(
        f"bench: {len(CONTENDERS)} contenders x {repeat} repetition(s), pairs "
        f"{', '.join(pairs)}, {timerange}, data {datadir}\nwork dir {workdir} "
        "(freqtrade's output: runs/<identifier>/freqtrade.log)"
    )
    _warm_up()
    candles = load_candles(settings)
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        records, discarded = _run_all(args, settings, workdir, candles)
    except Exception as exc:
        console.print(f"[red]failed: {escape(str(exc))}[/] (see {workdir / 'runs'})")
        return 1
    total = time.perf_counter() - started
    load_after = os.getloadavg()

    summaries = summarise(records)
    ok, line = verdict(summaries)
    line += f"\n\n**Verdict (issue 19, parallel training):** {executor_verdict(summaries)}"
    if discarded:
        console.print(f"{len(discarded)} noisy run(s) discarded (listed in the report)")
    console.print(rich_table(summaries, settings))
    console.print(line.replace("**", ""))
    if synthetic:
        _loud("SYNTHETIC DATA: times are indicative, ICs say nothing about real markets")
    info = {
        "settings": _settings_info(settings, records, total, (load_before, load_after)),
        "machine": machine(),
    }
    report = markdown(summaries, settings, info, line, discarded)
    names = (
        list(SECTIONS)
        if args.sections == "all"
        else []
        if args.sections == "none"
        else [n.strip() for n in args.sections.split(",")]
    )
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        console.print(f"[red]unknown --sections {', '.join(unknown)}[/]: use {', '.join(SECTIONS)}")
        return 2
    report += "".join(run_sections(names, datadir, workdir, lambda m: console.print(m)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    console.print(f"wrote {output}")
    return 0 if ok is not None else 1


if __name__ == "__main__":
    sys.exit(main())
