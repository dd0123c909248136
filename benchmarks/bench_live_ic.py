"""Live IC and triggers (issue 15): is the watched IC honest, and how often do its rules fire?

Pure simulation (no freqtrade) with the product's own functions: independent 1h pairs from
:func:`tradai_strategy.data.synthetic_signal.simulate_log_returns` (random walks, or the
planted mean-reversion signal of strength 0.05); label: forward mean return over h = 12
candles; predictors: mean reversion ``SMA20(log close) - log close``, 24-candle momentum,
noise, and the oracle on planted markets. Product defaults: 30-day window, retrain after
10 days, retire after 30 days below 0, confidence 0.99, retrain reference = ``window_ic``
of the 120 days before the live period with its s.e.; fallback: the fixed line 0.02.
Parts: watched-IC calibration beside the old daily IC; planted-signal recovery;
false-trigger rates within 30/90/120/365 live days; planted-decay detection delay;
paired-test p-values.

Usage::

    .venv/bin/python benchmarks/bench_live_ic.py [--scale 1.0] [--output FILE] [--no-write]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from scipy import stats

from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.data import synthetic_signal as ss
from tradai_strategy.stats.compare import paired_ic_test
from tradai_strategy.stats.decay import confident_triggers
from tradai_strategy.stats.live_ic import WindowIC, rolling_window_ic, row_spearman, window_ic

TITLE = "Live IC and triggers (issue 15)"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results.md"

H, WINDOW_DAYS, RETRAIN_DAYS, RETIRE_DAYS, RETIRE_BELOW = 12, 30, 10, 30, 0.0
CONFIDENCE, REFERENCE_DAYS, FALLBACK_LINE = 0.99, 120, 0.02
STRENGTH, SIGMA, WARM = 0.05, 0.008, 24  # WARM: candles before the first prediction
SWITCH_DAY, DETECT_DAYS, TRIGGER_DAYS = 60, 90, 365
WITHIN = (30, 90, 120, 365)
SEEDS = {"calibration": 400, "triggers": 240, "decay": 100}
STYLES = ("mean reversion", "momentum", "random")
MC_CANDLES = 400_000
START = pd.Timestamp("2024-01-01", tz="UTC")


def log_prices(
    rng: np.random.Generator, pairs: int, n: int, strength: float, off_at: int | None = None
) -> np.ndarray:
    """Log closes (n x pairs); the planted drift stops from candle ``off_at`` on."""
    cols = []
    for _ in range(pairs):
        if off_at is None:
            ret, _ = ss.simulate_log_returns(rng, n, SIGMA, strength > 0, strength)
        else:  # same composition as simulate_log_returns, keeping the innovations
            eps, _ = ss.garch_innovations(rng, n + ss.BURN_IN, SIGMA)
            planted = ss.apply_planted_signal(eps, strength)
            ret = np.where(np.arange(n + ss.BURN_IN) < off_at + ss.BURN_IN, planted, eps)
            ret = ret[ss.BURN_IN :]
        cols.append(np.cumsum(ret))
    return np.column_stack(cols)


def predictor(style: str, lp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frame = pd.DataFrame(lp)
    if style == "mean reversion":
        return (frame.rolling(ss.SIGNAL_WINDOW).mean() - frame).to_numpy()
    if style == "momentum":
        return (frame - frame.shift(24)).to_numpy()
    if style == "oracle":
        return np.column_stack([ss.oracle_feature(np.exp(c)) for c in lp.T])
    return rng.normal(size=lp.shape)


def labels(lp: np.ndarray) -> np.ndarray:
    return np.column_stack([forward_mean_return(np.exp(c), H) for c in lp.T])


def candle_ic(pred: np.ndarray, label: np.ndarray, pairs: int, days: int) -> pd.Series:
    """Per-candle cross-sectional IC over the first ``pairs`` pairs, ``days`` days after
    the warm-up (hourly UTC index from ``START``)."""
    live = slice(WARM, WARM + days * 24)
    index = pd.date_range(START, periods=days * 24, freq="h")
    p = pd.DataFrame(pred[live, :pairs], index=index)
    return row_spearman(p, pd.DataFrame(label[live, :pairs], index=index))


def old_daily_ic(pred: np.ndarray, label: np.ndarray, pairs: int, days: int) -> float:
    """The replaced live IC: Spearman of all rows of each UTC day, mean over the days."""
    live = slice(WARM, WARM + days * 24)
    p = stats.rankdata(pred[live, :pairs].reshape(days, -1), axis=1)
    r = stats.rankdata(label[live, :pairs].reshape(days, -1), axis=1)
    p, r = p - p.mean(1, keepdims=True), r - r.mean(1, keepdims=True)
    return float(((p * r).sum(1) / np.sqrt((p**2).sum(1) * (r**2).sum(1))).mean())


def calibration_seed(seed: int, out: dict[str, list[float]]) -> None:
    """One 30-day window: zero-skill styles on a random walk, the oracle on a planted
    market, and the paired tests."""
    n = WARM + WINDOW_DAYS * 24 + H
    rng = np.random.default_rng([15, 1, seed])
    lp = log_prices(rng, 8, n, 0.0)
    label = labels(lp)
    ics: dict[tuple[str, int], pd.Series] = {}
    for style in STYLES:
        pred = predictor(style, lp, rng)
        for k in (2, 4, 8):
            ics[style, k] = ic = candle_ic(pred, label, k, WINDOW_DAYS)
            w = window_ic(ic, H)
            out[f"rw {style} {k} ic"].append(w.ic)
            out[f"rw {style} {k} z"].append(w.tstat)
            out[f"rw {style} {k} old"].append(old_daily_ic(pred, label, k, WINDOW_DAYS))
    for k in (2, 4, 8):
        test = paired_ic_test(ics["mean reversion", k], ics["momentum", k], H)
        out[f"rw mr-mom {k} p"].append(test.p_value)
    rng = np.random.default_rng([15, 3, seed])
    lp = log_prices(rng, 8, n, STRENGTH)
    label = labels(lp)
    oracle, noise = predictor("oracle", lp, rng), predictor("random", lp, rng)
    for k in (2, 4, 8):
        ic = candle_ic(oracle, label, k, WINDOW_DAYS)
        out[f"pl oracle {k} ic"].append(window_ic(ic, H).ic)
        test = paired_ic_test(ic, candle_ic(noise, label, k, WINDOW_DAYS), H)
        out[f"pl oracle-random {k} p"].append(test.p_value)


def first_days(
    table: pd.DataFrame, ref: WindowIC | float, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The table's day (1 = its first) the retrain and the retire rule first fired (inf:
    never), against the reference ``ref`` (a fixed line when a float)."""
    level, level_se = (ref, 0.0) if isinstance(ref, float) else (ref.ic, ref.se)
    d = confident_triggers(
        table,
        confidence=confidence,
        reference=level,
        reference_se=level_se,
        retrain_days=RETRAIN_DAYS,
        retire_below=RETIRE_BELOW,
        retire_days=RETIRE_DAYS,
    )
    first = table.index[0]
    at = (d.retrain_at, d.retire_at)
    retrain, retire = ((a - first).days + 1.0 if a is not None else np.inf for a in at)
    return retrain, retire


def trigger_seed(seed: int, out: dict[str, list[float]]) -> None:
    """A zero-skill version (style rotating with the seed) on 8 random walks: its
    reference from the 120 days before, then 365 live days of daily decisions. Stored:
    the live day (1 = first) each rule first fired, inf when never."""
    rng = np.random.default_rng([15, 2, seed])
    days = REFERENCE_DAYS + TRIGGER_DAYS
    lp = log_prices(rng, 8, WARM + days * 24 + H, 0.0)
    pred, lab = predictor(STYLES[seed % 3], lp, rng), labels(lp)
    ic = candle_ic(pred, lab, 8, days)
    split = REFERENCE_DAYS * 24
    reference = window_ic(ic.iloc[:split], H)
    live = pd.DataFrame({"ic": ic.iloc[split:], "pairs": 8.0}).dropna()
    table = rolling_window_ic(live, H, WINDOW_DAYS)
    retrain, retire = first_days(table, reference)
    out["retrain reference"].append(retrain)
    out["retire"].append(retire)
    out["retrain reference 0.95"].append(first_days(table, reference, 0.95)[0])
    out["line, zero skill"].append(first_days(table, FALLBACK_LINE)[0])
    # a version whose true IC sits on the line: its IC minus 0.02 is a zero-skill IC, so
    # "ic + z se < 0.02" for it is "ic + z se < 0" for the zero-skill one
    out["line, on the line"].append(first_days(table, 0.0)[0])
    for k in (2, 4):  # the same markets seen through fewer pairs
        ic_k = candle_ic(pred, lab, k, days)
        ref_k = window_ic(ic_k.iloc[:split], H)
        live_k = pd.DataFrame({"ic": ic_k.iloc[split:], "pairs": float(k)}).dropna()
        retrain_k, retire_k = first_days(rolling_window_ic(live_k, H, WINDOW_DAYS), ref_k)
        out[f"retrain reference {k}p"].append(retrain_k)
        out[f"retire {k}p"].append(retire_k)


def decay_seed(seed: int, out: dict[str, list[float]]) -> None:
    """The oracle on a planted market whose signal stops ``SWITCH_DAY`` days into the live
    period: live days to the first retrain after the switch (inf: not within
    ``DETECT_DAYS``), and whether it fired before the switch."""
    rng = np.random.default_rng([15, 4, seed])
    days = REFERENCE_DAYS + SWITCH_DAY + DETECT_DAYS
    off_at = WARM + (REFERENCE_DAYS + SWITCH_DAY) * 24
    lp = log_prices(rng, 8, WARM + days * 24 + H, STRENGTH, off_at=off_at)
    oracle, label = predictor("oracle", lp, rng), labels(lp)
    split = REFERENCE_DAYS * 24
    for k in (2, 4, 8):
        ic = candle_ic(oracle, label, k, days)
        reference = window_ic(ic.iloc[:split], H)
        live = pd.DataFrame({"ic": ic.iloc[split:], "pairs": float(k)}).dropna()
        table = rolling_window_ic(live, H, WINDOW_DAYS)
        out[f"decay {k} reference"].append(reference.ic)
        out[f"decay {k} before"].append(first_days(table.iloc[:SWITCH_DAY], reference)[0])
        out[f"decay {k} delay"].append(first_days(table.iloc[SWITCH_DAY:], reference)[0])


def population_ranks(strength: float = STRENGTH) -> tuple[float, float]:
    """Population Spearman rho and Kendall tau of the oracle against the label (one long
    planted path, fixed seed): the cross-section at a candle is n draws of that pair."""
    lp = log_prices(np.random.default_rng(20240115), 1, MC_CANDLES, strength)[:, 0]
    feat, label = ss.oracle_feature(np.exp(lp)), forward_mean_return(np.exp(lp), H)
    ok = np.isfinite(feat) & np.isfinite(label)
    rho = float(stats.spearmanr(feat[ok], label[ok]).statistic)
    return rho, float(stats.kendalltau(feat[ok], label[ok]).statistic)


def run_live_ic_bench(
    datadir: Path | None = None,
    workdir: Path | None = None,
    *,
    scale: float = 1.0,
    console: Console | None = None,
) -> dict[str, Any]:
    """Every part; ``datadir``/``workdir`` are unused (the `make bench` section signature)."""
    started = time.perf_counter()
    seeds = {k: max(3, round(v * scale)) for k, v in SEEDS.items()}
    out: dict[str, list[float]] = defaultdict(list)
    parts: list[tuple[str, str, Callable[[int, dict[str, list[float]]], None]]] = [
        ("calibration", "watched IC, recovery, p-values", calibration_seed),
        ("triggers", "false triggers, 365 live days", trigger_seed),
        ("decay", "planted decay detection", decay_seed),
    ]
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        tasks = {name: bar.add_task(text, total=seeds[name]) for name, text, _ in parts}
        for name, _, run in parts:
            for seed in range(seeds[name]):
                run(seed, out)
                bar.advance(tasks[name])
    rho, tau = population_ranks()
    return {
        "values": out,
        "seeds": seeds,
        "ideal_ic": ss.ideal_ic(H),
        "rho": rho,
        "tau": tau,
        "seconds": time.perf_counter() - started,
    }


def _ms(x: list[float] | np.ndarray) -> str:
    a = np.asarray(x, dtype=float)
    return f"{a.mean():+.4f} ± {a.std(ddof=1) / np.sqrt(len(a)):.4f}"


def _rate(first: list[float], within: float) -> str:
    hit = np.asarray(first) <= within
    p, n = float(hit.mean()), len(hit)
    return f"{p:.3f} ± {np.sqrt(p * (1 - p) / n):.3f} ({int(hit.sum())})"


def _days(x: float) -> str:
    return f"{x:.0f}" if np.isfinite(x) else f"> {DETECT_DAYS}"


def render_markdown(result: dict[str, Any]) -> str:
    """The ``## Live IC and triggers (issue 15)`` section of ``benchmarks/results.md``."""
    v, n, ideal = result["values"], result["seeds"], result["ideal_ic"]
    rho, tau = result["rho"], result["tau"]
    zsd = {(s, k): np.std(v[f"rw {s} {k} z"], ddof=1) for s in STYLES for k in (2, 4, 8)}
    lines = [
        f"## {TITLE}",
        "",
        f"Synthetic 1h markets, h = {H}, {WINDOW_DAYS}-day window, confidence {CONFIDENCE}, "
        f"retrain after {RETRAIN_DAYS} days, retire after {RETIRE_DAYS} days below "
        f"{RETIRE_BELOW:g}; retrain reference = cross-sectional `window_ic` of the "
        f"{REFERENCE_DAYS} days before the live period, with its s.e. "
        f"Run time {result['seconds'] / 60:.1f} min on 1 core "
        f"(`python benchmarks/bench_live_ic.py`).",
        "",
        f"**Watched IC on zero-skill random walks** ({n['calibration']} seeds, one "
        f"{WINDOW_DAYS}-day window each; mean ± s.e. over seeds; z = IC / its s.e.)",
        "",
        "| pairs | predictor | watched IC | sd of z | share abs(z) > 1.96 | old daily IC |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for k in (2, 4, 8):
        for s in STYLES:
            z = np.abs(np.asarray(v[f"rw {s} {k} z"]))
            lines.append(
                f"| {k} | {s} | {_ms(v[f'rw {s} {k} ic'])} | {zsd[s, k]:.2f} | "
                f"{(z > 1.96).mean():.3f} | {_ms(v[f'rw {s} {k} old'])} |"
            )
    lines += [
        "",
        "Old daily IC: the replaced statistic, Spearman of all rows of a UTC day (every "
        "pair), averaged over the window's days; it should be 0 here too.",
        "",
        f"**Planted-signal recovery** (strength {STRENGTH}, oracle predictor, "
        f"{n['calibration']} seeds, one {WINDOW_DAYS}-day window each). `ideal_ic(12)` = "
        f"{ideal:.4f}; population rho_s = {rho:.4f}, Kendall tau = {tau:.4f} "
        f"({MC_CANDLES // 1000}k-candle path); expected sample Spearman over n pairs "
        "= ((n - 2) rho_s + 3 tau) / (n + 1) (Kendall and Gibbons).",
        "",
        "| pairs | watched IC | / ideal_ic(12) | expected | / expected |",
        "|---:|---:|---:|---:|---:|",
    ]
    for k in (2, 4, 8):
        mean = float(np.mean(v[f"pl oracle {k} ic"]))
        expected = ((k - 2) * rho + 3 * tau) / (k + 1)
        lines.append(
            f"| {k} | {_ms(v[f'pl oracle {k} ic'])} | {mean / ideal:.1%} | {expected:.4f} | "
            f"{mean / expected:.1%} |"
        )
    lines += [
        "",
        f"**False triggers on zero-skill random walks** ({n['triggers']} seeds, 8 pairs (and "
        "the first 2 or 4 of them), "
        "predictor rotating over the three styles, one version per seed watched for "
        f"{TRIGGER_DAYS} live days from its deployment: share of versions the rule fired "
        "for within the first d live days, ± binomial s.e., (count))",
        "",
        "| rule | " + " | ".join(f"{d} d" for d in WITHIN) + " |",
        "|---|" + "---:|" * len(WITHIN),
    ]
    line = f"retrain, fixed line {FALLBACK_LINE}: true IC"
    for label, key in (
        ("retrain, reference rule", "retrain reference"),
        (f"retire (below {RETIRE_BELOW:g})", "retire"),
        ("retrain, reference rule, the first 2 of the pairs", "retrain reference 2p"),
        ("retire, the first 2 of the pairs", "retire 2p"),
        ("retrain, reference rule, the first 4 of the pairs", "retrain reference 4p"),
        ("retire, the first 4 of the pairs", "retire 4p"),
        (f"{line} on the line (worst case)", "line, on the line"),
        (f"{line} 0 (fires rightly)", "line, zero skill"),
        ("retrain, reference rule at confidence 0.95 (contrast)", "retrain reference 0.95"),
    ):
        lines.append(f"| {label} | " + " | ".join(_rate(v[key], d) for d in WITHIN) + " |")
    lines += [
        "",
        "The fixed line's worst case is a version whose true IC is exactly 0.02; its IC minus "
        "0.02 behaves as a zero-skill IC, so it is measured as the zero-skill versions against "
        "the line 0.",
        "",
        f"**Planted decay** ({n['decay']} seeds; the oracle on a planted market, its signal "
        f"switched off {SWITCH_DAY} days into the live period; delay = live days from the "
        f"switch to the end of the retrain day, at least {RETRAIN_DAYS}; undetected within "
        f"{DETECT_DAYS} days counts as > {DETECT_DAYS})",
        "",
        "| pairs | reference IC (mean) | fired before the switch | delay median | p90 | "
        f"never within {DETECT_DAYS} d |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for k in (2, 4, 8):
        delay = np.asarray(v[f"decay {k} delay"])
        q50, q90 = (float(np.quantile(delay, q, method="inverted_cdf")) for q in (0.5, 0.9))
        before = np.isfinite(v[f"decay {k} before"]).mean()
        lines.append(
            f"| {k} | {np.mean(v[f'decay {k} reference']):.4f} | {before:.3f} | "
            f"{_days(q50)} | {_days(q90)} | {np.isinf(delay).mean():.3f} |"
        )
    lines += [
        "",
        f"**Paired test** (`paired_ic_test` on the per-candle ICs of one {WINDOW_DAYS}-day "
        f"window, {n['calibration']} seeds)",
        "",
        "| pairs | zero-skill mean reversion vs momentum: share p > 0.05 | planted oracle vs "
        "random: share p < 0.05 |",
        "|---:|---:|---:|",
    ]
    for k in (2, 4, 8):
        null = (np.asarray(v[f"rw mr-mom {k} p"]) > 0.05).mean()
        power = (np.asarray(v[f"pl oracle-random {k} p"]) < 0.05).mean()
        lines.append(f"| {k} | {null:.3f} | {power:.3f} |")
    lines += [
        "",
        "Replay simplification: day d's window holds the candles of days d-29 .. d with their "
        "realised labels, though live the last 12 candles' labels arrive up to 12 h later.",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace this section in ``path`` (or append it), leaving the other sections alone."""
    text = path.read_text() if path.is_file() else ""
    start = text.find(f"\n## {TITLE}")
    if start < 0:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    else:
        end = text.find("\n## ", start + 1)
        rest = text[end:] if end >= 0 else ""
        text = text[:start] + "\n" + section.rstrip("\n") + "\n" + rest
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="seed counts x this (default 1)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file to update")
    p.add_argument("--no-write", action="store_true", help="print only")
    args = p.parse_args(argv)
    console = Console()
    section = render_markdown(run_live_ic_bench(scale=args.scale, console=console))
    sys.stdout.write(section)
    if not args.no_write:
        write_section(args.output, section)
        console.print(f"wrote the section to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
