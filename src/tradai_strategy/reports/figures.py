"""Plotly figures of the report. Each builder takes plain tables and returns a figure, or
``None`` when its input is empty (the page then says "no data")."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: points drawn in a scatter at most (an evenly spaced subsample beyond)
MAX_POINTS = 4000


def layout(fig: go.Figure, title: str, height: int = 380, **kw: Any) -> go.Figure:
    """The report's common look: title, white template, margins, legend below the plot."""
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "y": -0.18},
        **kw,
    )
    return fig


def equity_figure(curve: pd.DataFrame, currency: str = "") -> go.Figure | None:
    """Equity (top) and drawdown in percent (bottom) over time."""
    if curve.empty:
        return None
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32])
    fig.add_trace(go.Scatter(x=curve["date"], y=curve["equity"], mode="lines", name="equity"), 1, 1)
    fig.add_trace(
        go.Scatter(
            x=curve["date"],
            y=curve["drawdown"] * 100,
            mode="lines",
            fill="tozeroy",
            name="drawdown %",
            line={"color": "#d62728"},
        ),
        2,
        1,
    )
    fig.update_yaxes(title_text=f"equity {currency}".strip(), row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return layout(fig, "Backtest equity and drawdown", height=460)


def window_ic_figure(oos: dict[str, Any]) -> go.Figure | None:
    """Per-window out-of-sample RankIC bars, one colour per pair."""
    fig = go.Figure()
    for pair, payload in sorted((oos.get("pairs") or {}).items()):
        for lab in payload.get("labels", []):
            if lab.get("kind") != "regression":
                continue
            windows = [w for w in lab.get("windows", []) if w.get("rank_ic") is not None]
            if not windows:
                continue
            fig.add_trace(
                go.Bar(
                    x=[w["start"][:10] for w in windows],
                    y=[w["rank_ic"] for w in windows],
                    name=f"{pair} {lab['label']}",
                    customdata=[[w["stop"][:10], w["n"]] for w in windows],
                    hovertemplate="window %{x} to %{customdata[0]}<br>RankIC %{y:.3f}"
                    "<br>rows %{customdata[1]}<extra></extra>",
                )
            )
    if not fig.data:
        return None
    fig.update_xaxes(title_text="window start", type="category")
    fig.update_yaxes(title_text="RankIC (overlapping labels)")
    return layout(fig, "Out-of-sample RankIC per walk-forward window", barmode="group")


def rolling_ic_title(days: int) -> str:
    """The rolling IC figure's title: which statistic it draws."""
    return f"{days}-day cross-sectional IC (Spearman across pairs per candle) ± 2 s.e."


def rolling_ic_figure(window: pd.DataFrame, days: int) -> go.Figure | None:
    """The rolling window IC (line) and its ± 2 s.e. band
    (:func:`tradai_strategy.stats.live_ic.rolling_window_ic`'s daily table)."""
    window = window[np.isfinite(window["ic"].astype(float))] if not window.empty else window
    if window.empty:
        return None
    ic, se = window["ic"].astype(float), window["se"].astype(float)
    band = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=window.index, y=ic - 2 * se, showlegend=False, **band))
    fig.add_trace(
        go.Scatter(
            x=window.index,
            y=ic + 2 * se,
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.18)",
            name="± 2 s.e. (overlap-aware)",
            **band,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=window.index,
            y=ic,
            mode="lines",
            name=f"{days}-day IC",
            line={"color": "#1f77b4"},
            customdata=np.c_[se, window["n"], window["pairs"]],
            hovertemplate="%{x|%Y-%m-%d}<br>IC %{y:+.4f} ± %{customdata[0]:.4f}<br>"
            "candles %{customdata[1]:.0f}, pairs %{customdata[2]:.1f}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": "#888", "width": 1})
    fig.update_yaxes(title_text=f"{days}-day mean cross-sectional IC")
    return layout(fig, rolling_ic_title(days))


def decay_figure(decay: pd.DataFrame, source: str) -> go.Figure | None:
    """RankIC by forward horizon (candles), with ±1 standard error when known."""
    if decay.empty or not np.isfinite(decay["ic"]).any():
        return None
    err = decay["se"] if "se" in decay and np.isfinite(decay["se"]).any() else None
    fig = go.Figure(
        go.Bar(
            x=[str(h) for h in decay["horizon"]],
            y=decay["ic"],
            error_y={"type": "data", "array": err} if err is not None else None,
            name="RankIC",
        )
    )
    fig.update_xaxes(title_text="forward horizon (candles)", type="category")
    fig.update_yaxes(title_text="non-overlapping RankIC")
    return layout(fig, f"IC decay by horizon ({source})")


def path_sharpe_figure(paths: list[dict[str, Any]]) -> go.Figure | None:
    """Distribution of the backtest paths' annualised portfolio Sharpe (CPCV)."""
    raw = [p.get("portfolio_sharpe_annual") for p in paths]
    values = [float(v) for v in raw if isinstance(v, int | float) and np.isfinite(v)]
    if not values:
        return None
    fig = go.Figure(go.Histogram(x=values, nbinsx=min(30, max(5, len(values))), name="paths"))
    fig.add_vline(x=float(np.median(values)), line={"dash": "dash"}, annotation_text="median")
    fig.update_xaxes(title_text="annualised portfolio Sharpe of a backtest path")
    fig.update_yaxes(title_text="paths")
    return layout(fig, f"Sharpe ratio over {len(values)} backtest path(s)")


def importance_figure(top: pd.Series, bottom: pd.Series) -> go.Figure | None:
    """Horizontal bars: the most and the least important features (share of total gain)."""
    if top.empty:
        return None
    heights = [len(top), max(1, len(bottom))]
    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=heights,
        vertical_spacing=0.12,
        subplot_titles=(f"{len(top)} most important", f"{len(bottom)} least important"),
    )
    for row, part in ((1, top), (2, bottom)):
        if part.empty:
            continue
        fig.add_trace(
            go.Bar(x=part.values * 100, y=part.index, orientation="h", showlegend=False), row, 1
        )
        fig.update_yaxes(autorange="reversed", row=row, col=1)
        fig.update_xaxes(title_text="share of importance %", row=row, col=1)
    height = 200 + 20 * sum(heights)
    return layout(fig, "Feature importance (mean share over pairs)", height=height)


def importance_drift_figure(drift: pd.DataFrame, rho: float, n: int = 20) -> go.Figure | None:
    """Largest changes of importance share between two versions."""
    if drift.empty:
        return None
    part = drift.head(n)
    colors = ["#2ca02c" if d >= 0 else "#d62728" for d in part["delta"]]
    fig = go.Figure(
        go.Bar(
            x=part["delta"] * 100,
            y=part.index,
            orientation="h",
            marker={"color": colors},
            customdata=np.c_[part["old"] * 100, part["new"] * 100],
            hovertemplate="%{y}<br>old %{customdata[0]:.2f}% new %{customdata[1]:.2f}%"
            "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="change of importance share (percentage points)")
    title = f"Importance drift (rank correlation {rho:+.2f})"
    return layout(fig, title, height=140 + 22 * len(part))


def drift_heatmap(matrix: pd.DataFrame) -> go.Figure | None:
    """Feature x day heatmap of the KS statistic against the reference window."""
    if matrix.empty:
        return None
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(dtype=float),
            x=[str(pd.Timestamp(d).date()) for d in matrix.columns],
            y=list(matrix.index),
            zmin=0,
            zmax=1,
            colorscale="YlOrRd",
            colorbar={"title": {"text": "KS"}},
        )
    )
    title = "Feature drift: daily KS against the first training window"
    return layout(fig, title, 160 + 18 * len(matrix))


def scatter_figure(table: pd.DataFrame) -> go.Figure | None:
    """Prediction vs realised target (the table's ``label``: the forward mean return of
    ``&-s_close``, or the strategy's own label), one colour per pair."""
    if table.empty:
        return None
    label = str(table["label"].iloc[0]) if "label" in table.columns else "&-s_close"
    fig = go.Figure()
    per_pair = max(1, MAX_POINTS // max(1, table["pair"].nunique()))
    for pair, rows in table.groupby("pair", sort=True):
        if len(rows) > per_pair:
            rows = rows.iloc[np.linspace(0, len(rows) - 1, per_pair).round().astype(int)]
        fig.add_trace(
            go.Scatter(
                x=rows["prediction"],
                y=rows["realised"],
                mode="markers",
                name=str(pair),
                marker={"size": 4, "opacity": 0.5},
            )
        )
    fig.update_xaxes(title_text="prediction" if label == "&-s_close" else f"predicted {label}")
    fig.update_yaxes(
        title_text="realised forward return" if label == "&-s_close" else f"realised {label}"
    )
    return layout(fig, "Prediction vs realised (out of sample)", height=440)


def timeline_figure(events: pd.DataFrame) -> go.Figure | None:
    """Lifecycle events (trained, promoted, rolled back, retired...) on a time axis."""
    if events.empty:
        return None
    fig = go.Figure()
    for action, rows in events.groupby("action", sort=False):
        fig.add_trace(
            go.Scatter(
                x=rows["time"],
                y=[str(action)] * len(rows),
                mode="markers+text",
                text=[f"v{v}" for v in rows["version"]],
                textposition="top center",
                name=str(action),
                marker={"size": 12},
                customdata=rows[["detail"]].to_numpy(),
                hovertemplate="%{x}<br>%{text}: %{customdata[0]}<extra></extra>",
            )
        )
    fig.update_yaxes(type="category")
    return layout(fig, "Lifecycle timeline", height=320)


def compare_ic_figure(rolling: dict[str, pd.DataFrame], days: int) -> go.Figure | None:
    """The rolling cross-sectional IC of two versions (``rolling_window_ic`` of each)."""
    series = {k: v["ic"] for k, v in rolling.items() if not v.empty and v["ic"].notna().any()}
    if not series:
        return None
    fig = go.Figure()
    for label, roll in series.items():
        fig.add_trace(go.Scatter(x=roll.index, y=roll, mode="lines", name=label))
    fig.add_hline(y=0, line={"color": "#888", "width": 1})
    fig.update_yaxes(title_text=f"{days}-day mean cross-sectional IC")
    return layout(fig, f"{days}-day cross-sectional IC of the two versions")
