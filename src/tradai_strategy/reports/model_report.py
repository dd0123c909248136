"""The per-version HTML report (``tradai report``, after ``tradai train``, ``make demo``) and
the validation report page (after ``tradai validate``).

:func:`build_report` reads one registered version (and optionally a second one to compare
with) through :mod:`tradai_strategy.reports.sources`, draws the sections with
:mod:`tradai_strategy.reports.figures` and writes one self-contained HTML file, which it also
logs to the version's MLflow run as ``report/<file name>``.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradai_strategy.core.labels import RETURN_LABEL
from tradai_strategy.reports import figures as fg
from tradai_strategy.reports.html import (
    Section,
    bullet_list,
    kv_table,
    render_page,
    verdict_html,
    write_page,
)
from tradai_strategy.reports.ic_sections import (
    compare_section,
    label_horizon,
    no_horizon,
    rolling_section,
)

if TYPE_CHECKING:
    from tradai_strategy.reports.sources import VersionData
    from tradai_strategy.validation.report import ValidationReport

TOP_N = 15
DRIFT_FEATURES = 20
REPORT_ARTIFACT_DIR = "report"


# ---- sections -----------------------------------------------------------------------------
def backtest_section(data: VersionData) -> Section:
    from tradai_strategy.reports.curves import equity_curve

    sec = Section("backtest", "Backtest equity and drawdown")
    if data.trades is None:
        sec.missing = "no backtest result logged on the version's run"
        return sec
    curve = equity_curve(data.trades, data.starting_balance)
    sec.figure = fg.equity_figure(curve, data.currency)
    keys = ("profit_total", "sharpe", "max_drawdown", "win_rate", "trade_count")
    sec.body = kv_table([(k, data.metrics.get(k)) for k in keys if k in data.metrics])
    sec.missing = "the backtest made no trades"
    return sec


def oos_sections(data: VersionData) -> list[Section]:
    from tradai_strategy.reports import oos_table as ot

    windows = Section("window-ic", "Out-of-sample IC per window")
    windows.figure = fg.window_ic_figure(data.oos or {})
    if data.oos:
        pooled = [
            (pair, lab["label"], lab["pooled"].get("rank_ic"), lab["pooled"].get("n"),
             lab["pooled"].get("se"), lab["pooled"].get("rank_ic_demeaned"))
            for pair, payload in sorted((data.oos.get("pairs") or {}).items())
            for lab in payload.get("labels", []) if lab.get("kind") == "regression"
        ]  # fmt: skip
        windows.body = kv_table(
            pooled, ["pair", "label", "pooled RankIC", "n", "± se", "window-demeaned"]
        )
    windows.missing = "no tradai_metrics.json logged on the version's run"
    if windows.figure is not None:
        windows.body += (
            "<p>Bars: RankIC over all rows of a window (overlapping labels, biased upward: "
            "inspect only). Table: the headline figure, every h-th row pooled over windows.</p>"
        )
    rolling = rolling_section(data)
    scatter = Section("scatter", "Prediction vs realised")
    decay = Section("ic-decay", "IC decay by horizon")
    table = data.predictions
    missing = "no prediction table (oos/predictions.parquet) logged on the version's run"
    for sec in (scatter, decay):
        sec.missing = missing
    if data.validation and data.validation.get("ic_decay"):
        items = sorted((int(h), v) for h, v in data.validation["ic_decay"].items())
        frame = pd.DataFrame(
            {"horizon": [h for h, _ in items], "ic": [np.nan if v is None else v for _, v in items]}
        )
        frame["se"] = np.nan
        decay.figure = fg.decay_figure(frame, "validation, mean over paths")
    if table is not None and not table.empty:
        scatter.figure = fg.scatter_figure(ot.usable(table))
        horizon = label_horizon(data.params)
        if decay.figure is None and horizon is None:
            decay.missing = no_horizon(data)
        elif decay.figure is None and horizon is not None:
            frame = ot.ic_by_horizon(table, ot.decay_horizons(horizon))
            decay.figure = fg.decay_figure(frame, "training backtest, pooled over pairs")
            decay.body = kv_table(frame.itertuples(index=False), ["horizon", "RankIC", "n", "se"])
    label = RETURN_LABEL
    if table is not None and "label" in table.columns and len(table):
        label = str(table["label"].iloc[0])
    if decay.figure is not None and label != RETURN_LABEL:
        decay.body += (
            f"<p>RankIC of the {html.escape(label)} predictions against the forward mean "
            "return over each horizon: the decay of their return information, not of the "
            "strategy's own target (which has one horizon).</p>"
        )
    return [windows, rolling, decay, scatter]


def validation_section(validation: dict[str, Any] | None) -> Section:
    sec = Section("validation", "CPCV paths and overfitting verdict")
    if not validation:
        sec.missing = "this version has no validation report yet (run tradai validate)"
        return sec
    sec.figure = fg.path_sharpe_figure(validation.get("paths") or [])
    sec.body = verdict_html(validation.get("verdict") or {})
    return sec


def importance_sections(data: VersionData, other: VersionData | None) -> list[Section]:
    from tradai_strategy.reports.importance import importance_drift, mean_shares, top_bottom

    imp = Section("importance", "Feature importance")
    drift = Section("importance-drift", "Importance drift between versions")
    imp.missing = "no feature importance (the registered model has no TradAI bundle)"
    drift.missing = "pass --compare VERSION to see how importances moved"
    if data.importance is None or data.importance.empty:
        return [imp, drift] if other is not None else [imp]
    shares = mean_shares(data.importance)
    imp.figure = fg.importance_figure(*top_bottom(shares, TOP_N))
    if other is None:
        return [imp]
    if other.importance is None or other.importance.empty:
        drift.missing = f"{other.label} has no feature importance"
        return [imp, drift]
    moves, rho = importance_drift(shares, mean_shares(other.importance))
    drift.figure = fg.importance_drift_figure(moves, rho)
    drift.body = f"<p>{other.label} → {data.label}; Spearman rank correlation {rho:+.3f}</p>"
    return [imp, drift]


def drift_section(data: VersionData) -> Section:
    from tradai_strategy.reports.curves import drift_by_day
    from tradai_strategy.stats.drift import ks_statistic

    sec = Section("drift", "Feature drift (feature x day KS)")
    history = data.features
    if history is None or history.empty or "window" not in history:
        sec.missing = "no drift data (no oos/feature_history.parquet on the version's run)"
        return sec
    # per pair: its first window is the reference, the candles after it are compared
    is_ref = history["window"] == history.groupby("pair")["window"].transform("min")
    ref_end = history[is_ref].groupby("pair")["date"].max()
    reference = history[is_ref]
    current = history[~is_ref & (history["date"] > history["pair"].map(ref_end))]
    if data.importance is not None and not data.importance.empty:
        ranked = data.importance.sort_values("share", ascending=False)["feature"]
        names = [f for f in ranked if f in history.columns][:DRIFT_FEATURES]
    else:
        names = [c for c in history.columns if str(c).startswith("%")][:DRIFT_FEATURES]
    matrix = drift_by_day(reference, current, names, ks_statistic)
    sec.figure = fg.drift_heatmap(matrix)
    if not matrix.empty:
        n = float(current.groupby(current["date"].dt.floor("D"))["pair"].size().median())
        n /= max(1, current["pair"].nunique())
        m = len(reference) / max(1, reference["pair"].nunique())
        noise = 1.358 * math.sqrt((n + m) / (n * m))
        sec.body = (
            f"<p>KS of each day's values (about {n:.0f} per feature) against the pair's "
            f"first training window ({m:.0f} rows): 0 = same distribution, 1 = disjoint. "
            f"Below about {noise:.2f} a cell is within sampling noise (5% level); "
            "neighbouring candles are correlated, so read single cells with care.</p>"
        )
    sec.missing = "no drift data (no day after the first training window)"
    return sec


def timeline_section(events: pd.DataFrame) -> Section:
    sec = Section("timeline", "Lifecycle timeline")
    sec.figure = fg.timeline_figure(events)
    if not events.empty:
        rows = [
            (str(r.time)[:19], r.action, f"v{r.version}", r.detail) for r in events.itertuples()
        ]
        sec.body = kv_table(rows, ["time (UTC)", "event", "version", "detail"])
    sec.missing = "no registrations or audit events"
    return sec


def model_sections(
    data: VersionData, events: pd.DataFrame, other: VersionData | None = None
) -> list[Section]:
    """All sections of a version's report, in page order. A multi-class (regime) version
    gets accuracy against the baselines, the confusion matrix and the accuracy gate instead
    of the IC sections (:mod:`tradai_strategy.reports.class_sections`)."""
    from tradai_strategy.reports import class_sections as cs

    multiclass = cs.is_multiclass(data)
    scored = (
        cs.class_version_sections(data)
        if multiclass
        else [*oos_sections(data), validation_section(data.validation)]
    )
    sections = [
        backtest_section(data),
        *scored,
        *importance_sections(data, other),
        drift_section(data),
        timeline_section(events),
    ]
    if other is not None:
        compare = cs.class_compare_section if multiclass else compare_section
        sections.append(compare(data, other))
    return sections


# ---- entry points -------------------------------------------------------------------------
def build_report(
    name: str,
    version: str | int | None = None,
    *,
    out: Path,
    alias: str | None = None,
    compare: str | int | None = None,
    tracking_uri: str | None = None,
    audit_db: Path | None = None,
    log_artifact: bool = True,
) -> Path:
    """Write the HTML report of ``name`` version ``version`` (or the one ``alias`` points
    at; default ``production``, else the newest version) to ``out`` and return it.

    :param compare: another version: adds importance drift and the comparison section.
    :param log_artifact: also log the file to the version's run under ``report/``.
    :raises RegistryError: unknown model, version or alias.
    """
    from tradai_strategy.registry.client import RegistryClient, RegistryError
    from tradai_strategy.reports.sources import load_version, timeline

    reg = RegistryClient(tracking_uri)
    if version is None:
        if alias is not None:
            version = reg.resolve_required(name, alias).version
        else:
            newest = reg.versions(name)
            if not newest:
                raise RegistryError(f"model {name!r} has no versions: train one (tradai train)")
            version = reg.resolve(name, "production") or newest[0].version
    data = load_version(reg, name, version)
    other = load_version(reg, name, compare) if compare is not None else None
    events = timeline(reg, name, audit_db)
    tags = data.info.tags
    subtitle = (
        f"{tags.get('tradai.strategy', '?')} · pairs {tags.get('tradai.pairs', '?')} · "
        f"data {tags.get('tradai.data_range', '?')} · validation "
        f"{tags.get('tradai.validation_status', '?')} · aliases "
        f"{', '.join('@' + a for a in data.info.aliases) or 'none'}"
    )
    notes = [f"{data.label}: {n}" for n in data.notes]
    if other is not None:
        notes += [f"{other.label}: {n}" for n in other.notes]
    page = render_page(
        f"TradAI report: {data.label}", subtitle, model_sections(data, events, other), notes
    )
    path = write_page(Path(out), page)
    if log_artifact and data.info.run_id:
        reg.client.log_artifact(data.info.run_id, str(path), artifact_path=REPORT_ARTIFACT_DIR)
    return path


def validation_sections(report: dict[str, Any]) -> list[Section]:
    """Sections of a validation report page (from ``ValidationReport.to_dict()``); a
    multi-class target's are its accuracy, confusion matrix and accuracy gate."""
    from tradai_strategy.reports import class_sections as cs

    if cs.classification_of(report) is not None:
        return cs.class_validation_sections(report)
    verdict = validation_section(report)
    splits = Section("splits", "RankIC per split (mean over pairs and seeds)")
    by_split: dict[str, list[float]] = {}
    for row in report.get("splits") or []:
        val = row.get("rank_ic")
        if isinstance(val, int | float) and math.isfinite(val):
            by_split.setdefault(str(row.get("test", row.get("split"))), []).append(float(val))
    if by_split:
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=list(by_split), y=[float(np.mean(v)) for v in by_split.values()]))
        fig.update_xaxes(title_text="test groups", type="category")
        fig.update_yaxes(title_text="RankIC")
        splits.figure = fg.layout(fig, "RankIC per split")
    splits.missing = "the report has no split rows"
    decay = Section("ic-decay", "IC decay by horizon")
    items = sorted((int(h), v) for h, v in (report.get("ic_decay") or {}).items())
    frame = pd.DataFrame({"horizon": [h for h, _ in items], "ic": [v for _, v in items]})
    frame["ic"] = pd.to_numeric(frame["ic"], errors="coerce")
    frame["se"] = np.nan
    decay.figure = fg.decay_figure(frame, "mean over paths")
    decay.missing = "the report has no IC decay"
    summary = Section("summary", "Headline numbers")
    summary.body = kv_table(sorted((report.get("summary") or {}).items()), ["metric", "value"])
    summary.body += bullet_list([f"{k}: {v}" for k, v in (report.get("settings") or {}).items()])
    return [verdict, splits, decay, summary]


def write_validation_report(report: ValidationReport | dict[str, Any], out: Path) -> Path:
    """Write the HTML page of a ``tradai validate`` report (object or its JSON dict)."""
    data = report if isinstance(report, dict) else report.to_dict()
    settings = data.get("settings") or {}
    title = f"TradAI validation: {settings.get('strategy', 'strategy')} ({settings.get('cv', '?')})"
    subtitle = f"pairs {', '.join(settings.get('pairs') or []) or '?'}"
    return write_page(Path(out), render_page(title, subtitle, validation_sections(data)))
