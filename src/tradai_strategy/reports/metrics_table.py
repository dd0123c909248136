"""Rich tables of the out-of-sample metrics file."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(x: Any, digits: int = 4) -> str:
    return "—" if x is None else f"{x:+.{digits}f}" if isinstance(x, float) else str(x)


def render_metrics(data: dict[str, Any], console: Console) -> None:
    """Print a per-window table and a pooled (headline) table for every pair and label."""
    pooled = Table(title="Out-of-sample IC, pooled over windows (non-overlapping rows)")
    for col in ("pair", "label", "metric", "value", "n", "± se", "t", "window-demeaned"):
        pooled.add_column(
            col, justify="right" if col not in ("pair", "label", "metric") else "left"
        )
    for pair, payload in sorted(data.get("pairs", {}).items()):
        windows = Table(title=f"{pair}: per-window OOS metrics (overlapping labels: inspect only)")
        windows.add_column("window")
        windows.add_column("label")
        windows.add_column("n", justify="right")
        windows.add_column("IC (Pearson)", justify="right")
        windows.add_column("RankIC / accuracy", justify="right")
        for lab in payload.get("labels", []):
            p = lab["pooled"]
            if lab["kind"] == "regression":
                pooled.add_row(
                    pair,
                    lab["label"],
                    "RankIC",
                    _fmt(p["rank_ic"]),
                    str(p["n"]),
                    _fmt(p["se"]),
                    _fmt(p.get("tstat"), 2),
                    _fmt(p.get("rank_ic_demeaned")),
                )
            else:
                pooled.add_row(
                    pair,
                    lab["label"],
                    "accuracy",
                    _fmt(p["accuracy"]),
                    str(p["n"]),
                    _fmt(p["se"]),
                    f"base {_fmt(p['majority_rate'], 3)}",
                    "",
                )
            for w in lab["windows"]:
                windows.add_row(
                    f"{w['start'][:10]} → {w['stop'][:10]}",
                    lab["label"],
                    str(w["n"]),
                    _fmt(w.get("ic")),
                    _fmt(w.get("rank_ic", w.get("accuracy"))),
                )
        console.print(windows)
    console.print(pooled)
    for label, agg in data.get("summary", {}).items():
        console.print(
            f"[bold]{label}[/]: mean pooled {agg['metric']} over {agg['pairs']} pair(s) = "
            f"{_fmt(agg['mean'])} (n = {agg['n']})"
        )
