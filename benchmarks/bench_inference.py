"""Inference benchmark: what a backtest costs when the model is already trained.

Contenders, all on the same pairs, timerange and config (the core bench's):

* ``plain`` — SampleNonMLStrategy, no FreqAI (the floor);
* ``freqai-rerun`` — FreqAI's own fast path: re-running a LightGBMRegressor backtest under the
  same identifier, which reuses its saved per-window prediction files;
* ``csv`` — TradAIPredictionModel reading the table exported from that FreqAI run
  (``tradai predictions export``); its trade list must equal the FreqAI run's;
* ``mlflow`` — TradAIMLflowModel serving a bundle trained on the 90 days *before* the
  timerange (out of sample), registered in a local sqlite MLflow registry;
* ``csv-history`` (diagnostic) — ``csv`` with the training config's ``train_period_days``
  kept, so freqtrade loads (and the strategy runs over) 90 unused days before the timerange.

The inference contenders use ``train_period_days: 0`` as TradAI's inference config does
(nothing trains, so only the strategy's startup candles are loaded before the timerange).

Plus the live path: FreqAI's ``start`` in dry-run mode with TradAIMLflowModel, candle by
candle over a 1000-candle window, timed per pair per candle (p50/p99).

``run_inference_bench(datadir, workdir)`` returns a dict; :func:`render_markdown` formats it.
Standalone: ``python benchmarks/bench_inference.py [--quick] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_contenders import (
    CONTENDERS,
    FLOOR,
    FREQAI_LGBM,
    FREQAI_MODELS,
    ROOT,
    STRATEGIES,
    TEST_STRATEGIES,
    TRADAI_LGBM,
    BenchSettings,
    build_config,
    wait_for_quiet,
)

from tradai_strategy.data.freqtrade_runner import BacktestResult, backtest

FULL_PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
FULL_TIMERANGE = "20250101-20250701"
QUICK_PAIRS = FULL_PAIRS[:2]
QUICK_TIMERANGE = "20250101-20250401"
#: the issue's targets (ratios to the plain backtest)
TARGETS = {"csv": 1.3, "mlflow": 2.0}
TRADE_COLUMNS = ["pair", "open_date", "close_date", "profit_abs"]
_STRATEGY_DIRS = {"RadTableStrategy": ROOT / "benchmarks" / "strategies"}
LIVE_WINDOW = 1000
LIVE_CANDLES = 24


def _contender(key: str) -> Any:
    return next(c for c in CONTENDERS if c.key == key)


@contextlib.contextmanager
def _model_clock() -> Iterator[list[float]]:
    """Seconds spent building the FreqAI model and inside its ``start`` (all pairs)."""
    from freqtrade.freqai.freqai_interface import IFreqaiModel
    from freqtrade.resolvers.freqaimodel_resolver import FreqaiModelResolver

    spent = [0.0]
    start, load = IFreqaiModel.start, FreqaiModelResolver.load_freqaimodel

    def timed(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t0

        return wrapper

    IFreqaiModel.start = timed(start)
    FreqaiModelResolver.load_freqaimodel = staticmethod(timed(load))
    try:
        yield spent
    finally:
        IFreqaiModel.start = start
        FreqaiModelResolver.load_freqaimodel = staticmethod(load)


def _timed(
    workdir: Path, cfg: dict[str, Any], strategy: str, model: str | None, timerange: str
) -> tuple[float, BacktestResult, float]:
    """One quiet, fully logged, timed in-process backtest: (seconds, result, model seconds)."""
    name = cfg.get("freqai", {}).get("identifier", strategy)
    run_dir = workdir / "runs" / f"{name}-{uuid.uuid4().hex[:6]}"
    (run_dir / "results").mkdir(parents=True)
    path = run_dir / "config.json"
    path.write_text(json.dumps(cfg, indent=2))
    wait_for_quiet(60.0)
    gc.collect()
    with (
        (run_dir / "freqtrade.log").open("w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
        _model_clock() as model_seconds,
    ):
        start = time.perf_counter()
        result = backtest(
            [path],
            strategy,
            freqaimodel=model,
            timerange=timerange,
            datadir=cfg["datadir"],
            userdir=workdir / "user_data",
            strategy_path=STRATEGIES if model else _STRATEGY_DIRS.get(strategy, TEST_STRATEGIES),
            freqaimodel_path=FREQAI_MODELS if model else None,
            results_dir=run_dir / "results",
        )
        seconds = time.perf_counter() - start
    return seconds, result, model_seconds[0]


def _prepare(settings: BenchSettings, workdir: Path) -> dict[str, Any]:
    """Untimed: the FreqAI training run, its export, the bundle and its registration."""
    from tradai_strategy.bundle.format import bundle_from_model_dir
    from tradai_strategy.data.prediction_files import load_backtest_predictions
    from tradai_strategy.data.prediction_table import write_predictions
    from tradai_strategy.registry.bundle_registry import register_bundle

    ident = f"bench-inf-freqai-{uuid.uuid4().hex[:6]}"
    freqai_cfg = build_config(_contender(FREQAI_LGBM), settings, ident)
    train_s, train, _ = _timed(
        workdir, freqai_cfg, "RadStrategy", "LightGBMRegressor", settings.timerange
    )
    start = time.perf_counter()
    table = load_backtest_predictions(workdir / "user_data" / "models" / ident)
    csv = write_predictions(table, workdir / "predictions.csv")
    export_s = time.perf_counter() - start
    # the bundle: one window trained on the train_period_days before the timerange
    first = pd.Timestamp(settings.timerange.split("-")[0], tz="UTC")
    bundle_tr = f"{first:%Y%m%d}-{first + pd.Timedelta(days=1):%Y%m%d}"
    bident = f"bench-inf-bundle-{uuid.uuid4().hex[:6]}"
    bcfg = build_config(_contender(TRADAI_LGBM), settings, bident)
    bcfg["freqai"]["save_backtest_models"] = True
    _timed(workdir, bcfg, "RadStrategy", "TrainingPredictionModel", bundle_tr)
    bundle = bundle_from_model_dir(
        workdir / "user_data" / "models" / bident, workdir / "bundle", strategy="RadStrategy"
    )
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_bundle(bundle, "RadBench", alias="production", tracking_uri=uri)
    return {
        "freqai_cfg": freqai_cfg,
        "freqai_trades": train.trades,
        "train_seconds": train_s,
        "export_seconds": export_s,
        "csv": str(csv),
        "rows": len(table),
        "tracking_uri": uri,
    }


def _inference_cfg(
    base: dict[str, Any], model: str, tradai: dict[str, Any], *, history: bool = False
) -> dict[str, Any]:
    """``base`` (the training config) made an inference config; ``history`` keeps its
    ``train_period_days`` (the diagnostic), else 0 as in TradAI's inference config."""
    cfg = json.loads(json.dumps(base))
    cfg["freqaimodel"] = model
    cfg["freqai"]["identifier"] = f"bench-inf-{model.lower()}-{uuid.uuid4().hex[:6]}"
    cfg["freqai"]["tradai"] = tradai
    if not history:
        cfg["freqai"]["train_period_days"] = 0
    return cfg


def _live_latency(settings: BenchSettings, prep: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """FreqAI's live path (dry-run) with TradAIMLflowModel, candle by candle, per pair."""
    from freqtrade.data.dataprovider import DataProvider
    from freqtrade.data.history import load_pair_history
    from freqtrade.enums import RunMode
    from freqtrade.resolvers import StrategyResolver

    from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel

    cfg = _inference_cfg(
        prep["freqai_cfg"],
        "TradAIMLflowModel",
        {"model_uri": "models:/RadBench@production", "tracking_uri": prep["tracking_uri"]},
    )
    cfg.update(runmode=RunMode.DRY_RUN, user_data_dir=workdir / "user_data")
    cfg["strategy_path"] = str(STRATEGIES)
    strategy = StrategyResolver.load_strategy(cfg)
    strategy.dp = DataProvider(cfg, None)
    model = TradAIMLflowModel(config=cfg)
    strategy.freqai = model
    end = pd.Timestamp(settings.timerange.split("-")[1], tz="UTC")
    times: list[float] = []
    first_call: list[float] = []
    for pair in settings.pairs:
        candles = load_pair_history(pair, "1h", settings.datadir, data_format="feather")
        candles = candles[candles["date"] < end].reset_index(drop=True)
        stop = len(candles)
        for k, i in enumerate(range(stop - LIVE_CANDLES, stop)):
            window = candles.iloc[max(0, i - LIVE_WINDOW) : i]
            t0 = time.perf_counter()
            out = model.start(window.copy(), {"pair": pair}, strategy)
            (first_call if k == 0 else times).append(time.perf_counter() - t0)
            if model.plog is not None:  # the prediction log writes between candles, untimed
                model.plog.flush()
            assert out["do_predict"].iloc[-1] in (0, 1)
    model.shutdown()
    ms = np.asarray(times) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "first_call_ms": float(np.median(first_call) * 1000),
        "n": len(ms),
        "window": LIVE_WINDOW,
    }


def run_inference_bench(
    datadir: Path,
    workdir: Path,
    *,
    pairs: list[str] | None = None,
    timerange: str = FULL_TIMERANGE,
    repeat: int = 5,
) -> dict[str, Any]:
    """Time the inference contenders (see the module docstring); returns all numbers."""
    settings = BenchSettings(
        pairs=list(pairs or FULL_PAIRS),
        timerange=timerange,
        datadir=Path(datadir),
        synthetic=False,
        repeat=repeat,
    )
    workdir.mkdir(parents=True, exist_ok=True)
    prep = _prepare(settings, workdir)
    plain_cfg = build_config(_contender(FLOOR), settings, "bench-inf-plain")
    csv_tradai = {"prediction_source": {"type": "csv", "path": prep["csv"]}}
    mlflow_tradai = {
        "model_uri": "models:/RadBench@production",
        "tracking_uri": prep["tracking_uri"],
    }
    table_cfg = build_config(_contender(FLOOR), settings, "bench-inf-table")
    table_cfg["tradai_bench_predictions"] = prep["csv"]
    keys = ("plain", "table", "freqai-rerun", "csv", "mlflow", "csv-history")
    runs: dict[str, list[float]] = {k: [] for k in keys}
    model_runs: dict[str, list[float]] = {k: [] for k in runs}
    trades: dict[str, int] = {}
    identical = True
    for _ in range(repeat):
        order = [
            ("plain", plain_cfg, "SampleNonMLStrategy", None),
            ("table", table_cfg, "RadTableStrategy", None),
            ("freqai-rerun", prep["freqai_cfg"], "RadStrategy", "LightGBMRegressor"),
            (
                "csv",
                _inference_cfg(prep["freqai_cfg"], "TradAIPredictionModel", csv_tradai),
                "RadStrategy",
                "TradAIPredictionModel",
            ),
            (
                "mlflow",
                _inference_cfg(prep["freqai_cfg"], "TradAIMLflowModel", mlflow_tradai),
                "RadStrategy",
                "TradAIMLflowModel",
            ),
            (
                "csv-history",
                _inference_cfg(
                    prep["freqai_cfg"], "TradAIPredictionModel", csv_tradai, history=True
                ),
                "RadStrategy",
                "TradAIPredictionModel",
            ),
        ]
        for key, cfg, strategy, model in order:
            seconds, result, in_model = _timed(workdir, cfg, strategy, model, settings.timerange)
            runs[key].append(seconds)
            model_runs[key].append(in_model)
            trades[key] = len(result.trades)
            if key in ("csv", "table", "csv-history"):
                a = result.trades[TRADE_COLUMNS].reset_index(drop=True)
                b = prep["freqai_trades"][TRADE_COLUMNS].reset_index(drop=True)
                identical = identical and a.equals(b)
    medians = {k: statistics.median(v) for k, v in runs.items()}
    ratios = {k: medians[k] / medians["plain"] for k in medians}
    return {
        "settings": {
            "pairs": settings.pairs,
            "timerange": timerange,
            "datadir": str(datadir),
            "train/backtest days": f"{settings.train_period_days}/{settings.backtest_period_days}",
            "repeat": repeat,
        },
        "runs": runs,
        "medians": medians,
        "model_seconds": {k: statistics.median(v) for k, v in model_runs.items()},
        "ratios": ratios,
        "trades": trades,
        "csv_trades_identical_to_freqai": identical,
        "freqai_training_seconds": prep["train_seconds"],
        "export_seconds": prep["export_seconds"],
        "prediction_rows": prep["rows"],
        "targets": {
            "csv <= 1.3x plain": ratios["csv"] <= TARGETS["csv"],
            "csv <= 1.3x the same trades without FreqAI": medians["csv"]
            <= TARGETS["csv"] * medians["table"],
            "csv faster than FreqAI rerun": medians["csv"] < medians["freqai-rerun"],
            "mlflow <= 2x plain": ratios["mlflow"] <= TARGETS["mlflow"],
        },
        "live": _live_latency(settings, prep, workdir),
    }


TITLES = {
    "plain": "SampleNonMLStrategy (no ML, floor)",
    "table": "RadTableStrategy: the csv's signals without FreqAI (floor for these trades)",
    "freqai-rerun": "FreqAI LightGBMRegressor, rerun with the same identifier (its fast path)",
    "csv": "TradAIPredictionModel (csv export of that run)",
    "mlflow": "TradAIMLflowModel (registered bundle, sqlite registry)",
    "csv-history": "[diagnostic] TradAIPredictionModel (csv) loading the 90 training days",
}


def render_markdown(result: dict[str, Any]) -> str:
    """The inference section of a results file."""
    s = result["settings"]
    lines = [
        "## Inference",
        "",
        f"Pairs {', '.join(s['pairs'])}, {s['timerange']}, train/backtest days "
        f"{s['train/backtest days']}, {s['repeat']} timed run(s) each (median), data "
        f"`{s['datadir']}`.",
        "",
        "| contender | median s | runs s | x plain | in the FreqAI model s | trades |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for key, title in TITLES.items():
        runs = ", ".join(f"{x:.2f}" for x in result["runs"][key])
        lines.append(
            f"| {title} | {result['medians'][key]:.2f} | {runs} | "
            f"{result['ratios'][key]:.2f} | {result['model_seconds'][key]:.2f} | "
            f"{result['trades'][key]} |"
        )
    plain = result["medians"]["plain"]
    lines += [
        "",
        "*In the FreqAI model*: time spent building the model object and inside its `start` "
        "(all pairs) during the run. The rest of an ML run's time is freqtrade's backtest "
        "loop and report, which grow with the number of trades: RadStrategy trades "
        f"{result['trades']['csv'] / max(result['trades']['plain'], 1):.1f}x as often as "
        f"the floor. TradAIPredictionModel's own cost is "
        f"{100 * result['model_seconds']['csv'] / plain:.0f}% of the plain backtest, "
        f"FreqAI's fast path {100 * result['model_seconds']['freqai-rerun'] / plain:.0f}%. "
        "Loading the training config's 90 days before the timerange (diagnostic row), "
        "which FreqAI does for any model, costs the csv run "
        f"{result['medians']['csv-history'] / result['medians']['csv']:.2f}x.",
    ]
    live = result["live"]
    lines += [
        "",
        f"FreqAI training run (untimed reference): {result['freqai_training_seconds']:.1f} s; "
        f"export of {result['prediction_rows']} prediction rows: "
        f"{result['export_seconds']:.2f} s. Trades of the csv, csv-history and table runs "
        "identical to the FreqAI run's: "
        f"**{'yes' if result['csv_trades_identical_to_freqai'] else 'NO'}**.",
        "",
        f"Live (dry-run) TradAIMLflowModel, FreqAI `start` per pair per candle over a "
        f"{live['window']}-candle window (features + prediction): p50 {live['p50_ms']:.1f} ms, "
        f"p99 {live['p99_ms']:.1f} ms (n={live['n']}; first call, which predicts the whole "
        f"window: {live['first_call_ms']:.0f} ms).",
        "",
        "Targets: "
        + "; ".join(f"{k}: {'pass' if v else 'FAIL'}" for k, v in result["targets"].items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 pairs, 3 months, 1 repetition")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--datadir", type=Path, default=ROOT.parent / "shared" / "data" / "binance")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=None, help="also write the markdown here")
    args = p.parse_args(argv)
    import tempfile

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="tradai-bench-inf-"))).resolve()
    result = run_inference_bench(
        args.datadir,
        workdir,
        pairs=QUICK_PAIRS if args.quick else FULL_PAIRS,
        timerange=QUICK_TIMERANGE if args.quick else FULL_TIMERANGE,
        repeat=1 if args.quick else args.repeat,
    )
    text = render_markdown(result)
    print(text)
    (workdir / "inference.json").write_text(json.dumps(result, indent=2, default=str))
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
