"""Replay benchmark (issue 17): what a paper-trade replay of a month costs, and how its trades
compare with a backtest's.

One bundle (LightGBM, RadStrategy features, trained on the 90 days before the span, every
pair) is registered in a sqlite registry; ``tradai replay`` with TradAIMLflowModel serves it
through freqtrade's dry-run bot over 30 days of 1h candles, with 2 and with 4 pairs. Each
replay runs as the command a user runs, in a fresh process (inside the long-lived bench
process, after the other sections, the same replay measured ~1.5x slower), and is timed whole:
the command's wall time, and the replay's own (plan, start-up, every candle, summary) from
its summary.json. Then the same span is backtested with the same config and the trade lists
are joined (``replay/compare.py``).

Target (issue 17): a 30-day replay of 2-4 pairs <= 180 s on this machine.

``run_replay_bench(datadir, workdir)`` returns a dict; :func:`render_markdown` formats it.
Standalone: ``python benchmarks/bench_replay.py [--pairs 2 4] [--days 30]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from bench_contenders import (
    CONTENDERS,
    ROOT,
    STRATEGIES,
    TRADAI_LGBM,
    BenchSettings,
    build_config,
    wait_for_quiet,
)

from tradai_strategy.core.paths import freqaimodels_path
from tradai_strategy.data.freqtrade_runner import backtest

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]
SPAN_START = "2025-05-01"
TARGET_SECONDS = 180.0


def _prepare(datadir: Path, workdir: Path, first: pd.Timestamp) -> tuple[dict[str, Any], str]:
    """The training config (4 pairs) and the registry holding the bundle trained before
    ``first``; returns (config, tracking URI)."""
    from tradai_strategy.bundle.format import bundle_from_model_dir
    from tradai_strategy.registry.bundle_registry import register_bundle

    contender = next(c for c in CONTENDERS if c.key == TRADAI_LGBM)
    settings = BenchSettings(
        pairs=PAIRS,
        timerange=f"{first:%Y%m%d}-{first + pd.Timedelta(days=1):%Y%m%d}",
        datadir=datadir,
        synthetic=False,
        repeat=1,
    )
    ident = f"bench-replay-bundle-{uuid.uuid4().hex[:6]}"
    cfg = build_config(contender, settings, ident)
    cfg["freqai"]["save_backtest_models"] = True
    path = workdir / "train.json"
    path.write_text(json.dumps(cfg))
    backtest(
        [path], "RadStrategy", freqaimodel="TrainingPredictionModel",
        timerange=settings.timerange, datadir=datadir, userdir=workdir / "user_data",
        strategy_path=STRATEGIES, freqaimodel_path=freqaimodels_path(),
    )  # fmt: skip
    bundle = bundle_from_model_dir(
        workdir / "user_data" / "models" / ident, workdir / "bundle", strategy="RadStrategy"
    )
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_bundle(bundle, "RadReplay", alias="production", tracking_uri=uri)
    return cfg, uri


def _serve_config(base: dict[str, Any], uri: str, pairs: list[str], workdir: Path) -> Path:
    cfg = json.loads(json.dumps(base))
    cfg["freqaimodel"] = "TradAIMLflowModel"
    cfg["exchange"]["pair_whitelist"] = list(pairs)
    cfg["max_open_trades"] = len(pairs)
    cfg["freqai"]["identifier"] = f"bench-replay-{len(pairs)}-{uuid.uuid4().hex[:6]}"
    cfg["freqai"]["train_period_days"] = 30  # the bot's start-up window
    cfg["freqai"]["tradai"] = {"model_uri": "models:/RadReplay@production", "tracking_uri": uri}
    path = workdir / f"serve-{len(pairs)}.json"
    path.write_text(json.dumps(cfg))
    return path


def run_replay_bench(
    datadir: Path,
    workdir: Path,
    *,
    pair_counts: tuple[int, ...] = (2, 4),
    days: int = 30,
    max_wait: float = 120.0,
) -> dict[str, Any]:
    """Time the replays (module doc); returns the numbers."""
    from tradai_strategy.replay.compare import backtest_overlap
    from tradai_strategy.replay.run import ReplaySummary

    workdir.mkdir(parents=True, exist_ok=True)
    first = pd.Timestamp(SPAN_START, tz="UTC")
    span = f"{first:%Y%m%d}-{first + pd.Timedelta(days=days):%Y%m%d}"
    base, uri = _prepare(Path(datadir), workdir, first)
    runs = []
    for n in pair_counts:
        pairs = PAIRS[:n]
        config = _serve_config(base, uri, pairs, workdir)
        waited, load = wait_for_quiet(max_wait)
        options = {
            "freqaimodel": "TradAIMLflowModel",
            "userdir": workdir / f"replay-{n}",
            "datadir": Path(datadir),
            "strategy_path": STRATEGIES,
            "freqaimodel_path": freqaimodels_path(),
        }
        argv = [str(Path(sys.executable).parent / "tradai"), "replay", "--config", str(config)]
        argv += ["--strategy", "RadStrategy", "--timerange", span]
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=workdir)
        command_seconds = time.perf_counter() - started
        done = json.loads((options["userdir"] / "replay" / "summary.json").read_text())
        summary = ReplaySummary(**done)
        seconds = summary.seconds
        options.pop("userdir")
        overlap = backtest_overlap(
            [config], "RadStrategy", summary, summary.timeframe,
            userdir=workdir / f"backtest-{n}", **options,
        )  # fmt: skip
        runs.append(
            {
                "pairs": n,
                "candles": summary.candles,
                "seconds": round(seconds, 1),
                "command_seconds": round(command_seconds, 1),
                "ms_per_candle": round(1000 * seconds / max(summary.candles, 1), 1),
                "trades_closed": summary.trades_closed,
                "trades_open": summary.trades_open,
                "predictions": summary.predictions_served,
                "overlap": overlap.text(),
                "share": round(overlap.share, 4),
                "load_before": load,
                "waited": round(waited, 1),
            }
        )
    return {"span": span, "days": days, "runs": runs, "target": TARGET_SECONDS}


def render_markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Paper-trade replay (issue 17)",
        "",
        f"`tradai replay`, TradAIMLflowModel serving one registered LightGBM bundle (trained on "
        f"the 90 days before), freqtrade's dry-run bot, {result['days']} days of 1h candles "
        f"({result['span']}), real data; each replay a fresh `tradai replay` process, timed "
        "whole (replay s: from its summary, command s: the process incl. Python start-up), "
        "then the same span backtested and the trade lists joined (pair, open candle).",
        "",
        "| pairs | candles | replay s | command s | ms per candle | trades closed / open "
        "| replay vs backtest |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['pairs']} | {r['candles']} | {r['seconds']:.1f} | "
            f"{r['command_seconds']:.1f} | {r['ms_per_candle']:.0f} | "
            f"{r['trades_closed']} / {r['trades_open']} | {r['overlap']} |"
        )
    verdicts = [
        f"{r['pairs']} pairs {'pass' if r['command_seconds'] <= result['target'] else 'FAIL'}"
        for r in result["runs"]
    ]
    lines += [
        "",
        f"Target: a {result['days']}-day replay command <= {result['target']:.0f} s: "
        + ", ".join(verdicts)
        + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, nargs="+", default=[2, 4])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--datadir", type=Path, default=ROOT.parent / "shared" / "data" / "binance")
    args = p.parse_args(argv)
    import tempfile

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-replay-"))
    result = run_replay_bench(args.datadir, workdir, pair_counts=tuple(args.pairs), days=args.days)
    print(render_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
