"""TradAI's lookahead guard beside freqtrade's own ``lookahead-analysis`` (same strategy, data).

Both look at RadStrategy on BTC ETH SOL XRP /USDT, 1h, 2025-01-01 -> 2025-07-01:

* TradAI: :func:`tradai_strategy.validation.lookahead.check_lookahead` — the FreqAI features
  and targets recomputed on candles truncated at ``samples`` cut points per pair; no training.
* freqtrade: ``freqtrade lookahead-analysis`` in-process and offline, with FreqAI's own
  ``LightGBMRegressor`` (train 90 days, backtest 30 days, TradAI's 300-tree parameters). It
  runs one full FreqAI backtest, then two more (entry and exit) per analysed trade, each
  retraining every window up to that trade. ``targeted_trades`` caps the analysed trades
  (``--targeted-trade-amount``; ``--minimum-trade-amount`` is set to 1 so a short run still
  reports).

Usage (the lead wires it into ``run_bench.py``)::

    from bench_lookahead import run_lookahead_bench, lookahead_markdown
    result = run_lookahead_bench(Path("../shared/data/binance"), Path("/tmp/bench-la"))
    print(lookahead_markdown(result))
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_contenders import LGBM_PARAMS, STRATEGIES, _busy_cpu_seconds, wait_for_quiet
from freqtrade.configuration.directory_operations import create_userdata_dir

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.data.freqtrade_runner import resolve_config, run_freqtrade
from tradai_strategy.validation.lookahead import check_lookahead

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
TIMERANGE = "20250101-20250701"
STRATEGY = "RadStrategy"
FREQAIMODEL = "LightGBMRegressor"


@contextlib.contextmanager
def _timed(out: dict[str, Any], log: Path | None = None) -> Iterator[None]:
    """Wall time into ``out["seconds"]``, other processes' mean CPU use into
    ``out["other_load"]``; freqtrade's console output into ``log`` when given."""
    with contextlib.ExitStack() as stack:
        if log is not None:
            fh = stack.enter_context(log.open("w"))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
        busy0, own0 = _busy_cpu_seconds(), time.process_time()
        started = time.perf_counter()
        yield
        out["seconds"] = time.perf_counter() - started
        busy1, own1 = _busy_cpu_seconds(), time.process_time()
    if busy0 is not None and busy1 is not None and out["seconds"] > 0:
        other = (busy1 - busy0) - (own1 - own0)
        out["other_load"] = round(max(0.0, other) / out["seconds"], 2)


def _write_config(workdir: Path, datadir: Path, identifier: str) -> Path:
    meta = StrategyMeta(
        pairs=list(PAIRS),
        strategy=STRATEGY,
        identifier=identifier,
        max_open_trades=len(PAIRS),
        train_period_days=90,
        backtest_period_days=30,
        model_training_parameters=dict(LGBM_PARAMS),
        datadir=str(datadir),
    )
    cfg = build_training_config(meta)
    cfg["freqaimodel"] = FREQAIMODEL
    cfg["freqai"].pop("tradai", None)  # FreqAI's own model: no TradAI settings
    path = workdir / f"{identifier}.json"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def _time_ours(config_path: Path, datadir: Path, userdir: Path, samples: int) -> dict[str, Any]:
    config = resolve_config(
        {
            "config": [str(config_path)],
            "strategy": STRATEGY,
            "strategy_path": str(STRATEGIES),
            "datadir": str(datadir),
            "user_data_dir": str(userdir),
            "command": "backtesting",
        }
    )
    out: dict[str, Any] = {}
    with _timed(out):
        report = check_lookahead(config, timerange=TIMERANGE, samples=samples)
    return {
        **out,
        "samples_per_pair": samples,
        "cuts": sum(report.cuts.values()),
        "features": report.features,
        "findings": len(report.findings),
        "summary": report.summary_line(),
    }


def _read_csv(path: Path) -> dict[str, str] | None:
    if not path.is_file():
        return None
    with path.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("strategy") == STRATEGY]
    return rows[-1] if rows else None


def _time_freqtrade(
    config_path: Path, datadir: Path, userdir: Path, targeted_trades: int
) -> dict[str, Any]:
    export = userdir / "lookahead_analysis.csv"
    argv = [
        "lookahead-analysis",
        "--config", str(config_path),
        "--strategy", STRATEGY,
        "--strategy-path", str(STRATEGIES),
        "--freqaimodel", FREQAIMODEL,
        "--timerange", TIMERANGE,
        "--datadir", str(datadir),
        "--userdir", str(userdir),
        "--minimum-trade-amount", "1",
        "--targeted-trade-amount", str(targeted_trades),
        "--lookahead-analysis-exportfilename", str(export),
    ]  # fmt: skip
    out: dict[str, Any] = {}
    with _timed(out, userdir / "lookahead_analysis.log"):
        code = run_freqtrade(argv, offline=True)
    return {
        **out,
        "exit_code": code,
        "freqaimodel": FREQAIMODEL,
        "targeted_trade_amount": targeted_trades,
        "minimum_trade_amount": 1,
        "command": "freqtrade " + " ".join(argv),
        "result": _read_csv(export),
    }


def run_lookahead_bench(
    datadir: Path,
    workdir: Path,
    *,
    samples: int = 20,
    targeted_trades: int = 20,
    max_wait: float = 120.0,
) -> dict[str, Any]:
    """Time our check and freqtrade's ``lookahead-analysis`` on the same strategy and data.

    ``targeted_trades`` defaults to freqtrade's own default (20). Before each timed run it
    waits up to ``max_wait`` seconds for other processes to leave the CPUs alone: LightGBM
    slows down several-fold when another process competes for a core (``other_load`` in the
    result: mean CPUs other processes used during the run).

    :return: ``{"pairs", "timerange", "strategy", "tradai": {...}, "freqtrade": {...},
        "ratio"}``; ``ratio`` is freqtrade's seconds over ours.
    """
    workdir = Path(workdir).resolve()
    datadir = Path(datadir).resolve()
    userdir = workdir / "user_data"
    workdir.mkdir(parents=True, exist_ok=True)
    create_userdata_dir(str(userdir), create_dir=True)
    config_path = _write_config(workdir, datadir, f"lookahead-bench-{uuid.uuid4().hex[:8]}")
    wait_for_quiet(max_wait)
    ours = _time_ours(config_path, datadir, userdir, samples)
    wait_for_quiet(max_wait)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)  # one line per backtest window otherwise
    try:
        theirs = _time_freqtrade(config_path, datadir, userdir, targeted_trades)
    finally:
        logging.disable(previous)
    return {
        "pairs": list(PAIRS),
        "timerange": TIMERANGE,
        "strategy": STRATEGY,
        "tradai": ours,
        "freqtrade": theirs,
        "ratio": theirs["seconds"] / ours["seconds"] if ours["seconds"] > 0 else None,
    }


def _load(run: dict[str, Any]) -> str:
    load = run.get("other_load")
    return f" (other load {load:.1f} CPUs)" if load is not None and load >= 0.3 else ""


def lookahead_markdown(result: dict[str, Any]) -> str:
    """A ``results.md`` section for :func:`run_lookahead_bench`'s result."""
    ours, theirs = result["tradai"], result["freqtrade"]
    ft = theirs.get("result") or {}
    ratio = result.get("ratio")
    lines = [
        "## Lookahead guard vs freqtrade lookahead-analysis",
        "",
        f"{result['strategy']}, {', '.join(result['pairs'])}, 1h, {result['timerange']}.",
        "",
        "| check | what it runs | wall time | result |",
        "|---|---|---:|---|",
        f"| TradAI `check_lookahead` | {ours['cuts']} truncated feature builds "
        f"({ours['samples_per_pair']} cuts x {len(result['pairs'])} pairs), no training "
        f"| {ours['seconds']:.1f} s{_load(ours)} | {ours['findings']} finding(s) |",
        f"| freqtrade `lookahead-analysis` | FreqAI {theirs['freqaimodel']} backtests: 1 full "
        f"+ 2 per analysed trade (at most {theirs['targeted_trade_amount']}), every window "
        f"retrained | {theirs['seconds']:.1f} s{_load(theirs)} | "
        + (
            f"has_bias={ft.get('has_bias')}, signals={ft.get('total_signals')}, "
            f"biased indicators: {ft.get('biased_indicators') or '-'}"
            if ft
            else f"no result exported (exit code {theirs['exit_code']})"
        )
        + " |",
        "",
        f"Ratio: freqtrade / TradAI = **{ratio:.0f}x**." if ratio else "Ratio: n/a.",
        "",
        "freqtrade flags the &-columns and the model outputs (`&-s_close_mean`, `do_predict`...)"
        " of a FreqAI strategy as biased indicators because every truncated run retrains; it "
        "tells users to ignore the &-columns. TradAI compares features and targets directly.",
        "",
        f"Command: `{theirs['command']}`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/binance")
    work = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/tradai-bench-lookahead")
    trades = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    res = run_lookahead_bench(data, work, targeted_trades=trades)
    print(json.dumps(res, indent=2, default=str))
    print(lookahead_markdown(res))
