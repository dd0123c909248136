"""The report sections of a multi-class (regime) version: accuracy against the baselines, the
accuracy gate's verdict, the confusion matrix and the training backtest's accuracy per window.

Everything is read, never recomputed: the ``classification`` part of ``tradai validate``'s
``validation_report.json`` (:func:`tradai_strategy.validation.classes.score_classes`: per pair
the mean over seeds and backtest paths of accuracy, balanced accuracy, Cohen's kappa and log
loss of the model, the majority class and persistence, the paired test against persistence,
the gate runs, and the confusion matrix of the pairs' first seed and first path summed), its
verdict, and the classification labels of the training run's ``oos/tradai_metrics.json``
(accuracy on every h-th row, against the majority rate).

The IC sections of a numeric target are left out for such a version: five regimes have no
number to rank (the validation's IC and Sharpe score ``P(last class) - 0.5``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from tradai_strategy.reports.figures import layout
from tradai_strategy.reports.html import Section, bullet_list, fmt, kv_table, verdict_html

if TYPE_CHECKING:
    from tradai_strategy.reports.sources import VersionData

#: the scores of :mod:`tradai_strategy.validation.classes` and their column titles
SCORES = (
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced acc."),
    ("kappa", "kappa"),
    ("log_loss", "log loss"),
)
PREDICTORS = ("model", "majority", "persistence")
#: the row of the pairs' mean
MEAN = "mean of pairs"
#: the confusion matrix of all pairs summed
ALL_PAIRS = "all pairs"
_COLORS = {"model": "#1f77b4", "majority": "#9e9e9e", "persistence": "#ff7f0e"}


def classification_of(validation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The validation report's multi-class section (None: a numeric or binary target)."""
    section = (validation or {}).get("classification")
    return dict(section) if section else None


def is_multiclass(data: VersionData) -> bool:
    """A version whose target has more than two classes (its bundle or its validation)."""
    return len(data.classes) > 2 or classification_of(data.validation) is not None


def ic_note(classes: Sequence[str]) -> str:
    """The one line saying why a multi-class report has no IC sections."""
    k = len(classes) or "more than two"
    return (
        f"No IC sections: the target has {k} classes, with no number to rank, so an IC "
        "(or the validation's IC and Sharpe, which score P(last class) - 0.5) says nothing "
        "about it; it is judged on accuracy against the baselines."
    )


# ---- figures ------------------------------------------------------------------------------
def accuracy_figure(section: Mapping[str, Any]) -> go.Figure | None:
    """Grouped bars: accuracy and balanced accuracy of the model and both baselines per pair
    and over all pairs, with the gate's accuracy floor."""
    groups = [(p, r) for p, r in (section.get("pairs") or {}).items()]
    groups.append((MEAN, section.get("overall") or {}))
    if not groups[:-1]:
        return None
    fig = go.Figure()
    for key, title in SCORES[:2]:
        for who in PREDICTORS:
            fig.add_trace(
                go.Bar(
                    x=[[title] * len(groups), [g for g, _ in groups]],
                    y=[(r.get(who) or {}).get(key) for _, r in groups],
                    name=who,
                    legendgroup=who,
                    showlegend=key == "accuracy",
                    marker={"color": _COLORS[who]},
                    hovertemplate=f"{who}<br>%{{x}}<br>{title} %{{y:.3f}}<extra></extra>",
                )
            )
    floor = section.get("min_accuracy")
    if isinstance(floor, int | float):
        fig.add_hline(
            y=floor,
            line={"dash": "dash", "color": "#c62828"},
            annotation_text=f"gate floor {floor:.2f}",
        )
    fig.update_yaxes(title_text="out-of-sample share", range=[0, 1])
    return layout(fig, "Accuracy against the majority and persistence baselines", barmode="group")


def confusion_figure(
    classes: Sequence[str],
    counts: npt.ArrayLike,
    per_pair: Mapping[str, npt.ArrayLike] | None = None,
) -> go.Figure | None:
    """Heatmap, rows = realised class, columns = predicted class; colour = the row's share,
    text = count and share. With ``per_pair``, a menu switches between all pairs (shown
    first) and each pair's own matrix."""
    views = {ALL_PAIRS: np.asarray(counts, dtype=float)}
    views.update({p: np.asarray(m, dtype=float) for p, m in (per_pair or {}).items()})
    if views[ALL_PAIRS].size == 0 or views[ALL_PAIRS].sum() == 0:
        return None
    fig = go.Figure()
    for k, (name, matrix) in enumerate(views.items()):
        shares = row_shares(matrix)
        fig.add_trace(
            go.Heatmap(
                z=shares,
                x=list(classes),
                y=list(classes),
                text=_cells(matrix, shares, "{count}<br>{share}"),
                texttemplate="%{text}",
                customdata=matrix,
                zmin=0,
                zmax=1,
                colorscale="Blues",
                colorbar={"title": {"text": "share of row"}},
                name=name,
                visible=k == 0,
                hovertemplate=f"{name}<br>realised %{{y}}, predicted %{{x}}<br>"
                "%{customdata:.0f} rows, %{z:.1%} of the realised class<extra></extra>",
            )
        )
    title = "Confusion matrix (rows: realised, columns: predicted)"
    if len(views) > 1:
        buttons = [
            {
                "label": name,
                "method": "update",
                "args": [
                    {"visible": [j == k for j in range(len(views))]},
                    {"title.text": f"{title}: {name}"},
                ],
            }
            for k, name in enumerate(views)
        ]
        fig.update_layout(updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.18}])
    fig.update_xaxes(title_text="predicted", side="top", type="category")
    fig.update_yaxes(title_text="realised", autorange="reversed", type="category")
    height = 160 + 60 * len(classes)
    return layout(fig, f"{title}: {ALL_PAIRS}", height=height)


def _cells(matrix: np.ndarray, shares: np.ndarray, template: str) -> list[list[str]]:
    """Cell texts: ``template`` with the count and the share in percent ("-": no row)."""
    return [
        [
            template.format(count=int(c), share=f"{s:.0%}" if np.isfinite(s) else "-")
            for c, s in zip(counts, row, strict=True)
        ]
        for counts, row in zip(matrix, shares, strict=True)
    ]


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (NaN for a class that never happened)."""
    totals = matrix.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, matrix / np.where(totals > 0, totals, 1), np.nan)


def window_accuracy_figure(oos: Mapping[str, Any]) -> go.Figure | None:
    """Accuracy of each walk-forward window of the training backtest, one colour per pair."""
    fig = go.Figure()
    for pair, payload in sorted((oos.get("pairs") or {}).items()):
        for lab in payload.get("labels", []):
            windows = [w for w in lab.get("windows", []) if w.get("accuracy") is not None]
            if lab.get("kind") != "classification" or not windows:
                continue
            fig.add_trace(
                go.Bar(
                    x=[w["start"][:10] for w in windows],
                    y=[w["accuracy"] for w in windows],
                    name=f"{pair} {lab['label']}",
                    customdata=[[w["stop"][:10], w["n"]] for w in windows],
                    hovertemplate="window %{x} to %{customdata[0]}<br>accuracy %{y:.3f}"
                    "<br>rows %{customdata[1]}<extra></extra>",
                )
            )
    if not fig.data:
        return None
    fig.update_xaxes(title_text="window start", type="category")
    fig.update_yaxes(title_text="accuracy (all rows of the window)", range=[0, 1])
    return layout(fig, "Training backtest: accuracy per walk-forward window", barmode="group")


# ---- sections -----------------------------------------------------------------------------
def _no_validation(data: VersionData | None) -> str:
    if data is None:
        return "the validation report has no classification section"
    return (
        "this version has no validation report yet (tradai validate --model "
        f"{data.info.name} --version {data.info.version})"
    )


def accuracy_section(section: Mapping[str, Any] | None, missing: str = "") -> Section:
    """Scores of the model and both baselines per pair and overall, and the test against
    persistence per pair."""
    sec = Section("classification", "Out-of-sample accuracy against the baselines")
    sec.missing = missing or "the validation report has no classification section"
    if not section:
        return sec
    sec.figure = accuracy_figure(section)
    rows = []
    groups = [*(section.get("pairs") or {}).items(), (MEAN, section.get("overall") or {})]
    for pair, r in groups:
        for who in PREDICTORS:
            scores = r.get(who) or {}
            cells = (fmt(scores.get(k), "+.3f" if k == "kappa" else ".3f") for k, _ in SCORES)
            rows.append((pair if who == "model" else "", who, *cells))
    sec.body = kv_table(rows, ["pair", "predictor", *(t for _, t in SCORES)])
    tests = []
    for pair, r in (section.get("pairs") or {}).items():
        vs = r.get("vs_persistence") or {}
        tests.append(
            (
                pair,
                fmt(vs.get("delta"), "+.3f"),
                fmt(vs.get("se"), ".3f"),
                fmt(vs.get("p_value"), ".3g"),
                f"{r.get('gate_passed')}/{r.get('gate_runs')}",
            )
        )
    sec.body += kv_table(
        tests, ["pair", "model - persistence", "± s.e.", "median one-sided p", "gate runs passed"]
    )
    sec.body += (
        "<p>Mean over seeds and backtest paths of the out-of-sample rows. Majority: each "
        "split's most frequent training class; persistence: the class of the candle h "
        "earlier (the regime known at t). Log loss of a uniform guess: ln(number of "
        "classes); the baselines have no probabilities. The test against persistence is "
        "paired on the same rows with an overlap-aware standard error.</p>"
    )
    return sec


def gate_section(validation: Mapping[str, Any] | None, missing: str = "") -> Section:
    """The accuracy gate: its rule, each pair's result and the verdict with the conditions
    that failed."""
    sec = Section("validation", "Accuracy gate verdict")
    section = classification_of(validation)
    sec.missing = missing or "the validation report has no classification section"
    if validation is None or section is None:
        return sec
    rule = (
        f"Passes when out-of-sample accuracy > {fmt(section.get('min_accuracy'), '.3f')} and "
        f"persistence is beaten by > {fmt(section.get('margin'), '.3f')} with one-sided "
        f"p < {fmt(section.get('alpha'), 'g')}, on at least half of a pair's seed x path runs, "
        "for every pair."
    )
    # a failing pair's conditions are the verdict's reasons; a passing pair says by how much
    pairs = [
        f"{pair}: passed on {r.get('gate_passed')} of {r.get('gate_runs')} run(s); {r.get('gate')}"
        for pair, r in (section.get("pairs") or {}).items()
        if r.get("passed")
    ]
    sec.body = (
        f"<p>{html.escape(rule)}</p>"
        + verdict_html(validation.get("verdict") or {})
        + bullet_list(pairs)
    )
    return sec


def confusion_section(section: Mapping[str, Any] | None, missing: str = "") -> Section:
    """The confusion matrix as a heatmap and a table of counts and row shares."""
    sec = Section("confusion", "Confusion matrix")
    sec.missing = missing or "the validation report has no classification section"
    if not section or not section.get("confusion"):
        return sec
    classes = [str(c) for c in section.get("classes") or []]
    matrix = np.asarray(section["confusion"], dtype=float)
    per_pair = {
        pair: r["confusion"]
        for pair, r in (section.get("pairs") or {}).items()
        if r.get("confusion")
    }
    sec.figure = confusion_figure(classes, matrix, per_pair)
    shares = row_shares(matrix)
    cells = _cells(matrix, shares, "{count} ({share})")
    rows = [
        (name, *row, int(total))
        for name, row, total in zip(classes, cells, matrix.sum(axis=1), strict=True)
    ]
    sec.body = kv_table(rows, ["realised \\ predicted", *classes, "rows"])
    recall = ", ".join(
        f"{c} {fmt(r, '.2f')}" for c, r in zip(classes, np.diag(shares), strict=True)
    )
    sec.body += (
        "<p>Out-of-sample rows of all pairs (each pair's first seed and first backtest path), "
        "from the validation report; the share is of the realised class (its recall on the "
        f"diagonal: {html.escape(recall)}).</p>"
    )
    if per_pair:
        recalls = [
            (pair, *np.diag(row_shares(np.asarray(m, dtype=float))).round(3))
            for pair, m in per_pair.items()
        ]
        sec.body += kv_table(recalls, ["recall per pair", *classes])
        sec.body += "<p>The menu above the matrix shows each pair's own matrix.</p>"
    return sec


def window_accuracy_section(oos: Mapping[str, Any] | None) -> Section:
    """The training backtest's accuracy per window and pooled (every h-th row)."""
    sec = Section("window-accuracy", "Training backtest accuracy")
    sec.missing = "no tradai_metrics.json logged on the version's run"
    if not oos:
        return sec
    sec.figure = window_accuracy_figure(oos)
    pooled = [
        (pair, lab["label"], p.get("accuracy"), p.get("se"), p.get("majority_rate"), p.get("n"))
        for pair, payload in sorted((oos.get("pairs") or {}).items())
        for lab in payload.get("labels", [])
        if lab.get("kind") == "classification" and (p := lab.get("pooled") or {})
    ]
    if pooled:
        sec.body = kv_table(
            pooled, ["pair", "label", "pooled accuracy", "± se", "majority rate", "n"]
        )
        sec.body += (
            "<p>FreqAI's walk-forward backtest of the training run. Bars: all rows of a "
            "window (overlapping labels: inspect only). Table: every h-th row pooled over the "
            "windows; the majority rate is the most frequent realised class's share of those "
            "rows (in hindsight). The baselines and the gate are the validation's, above.</p>"
        )
    sec.missing = "the training run's metrics hold no classification label"
    return sec


def class_compare_section(data: VersionData, other: VersionData) -> Section:
    """Run metrics and validation accuracy of two multi-class versions side by side."""
    sec = Section("compare", f"Version comparison: {data.label} vs {other.label}")
    keys = sorted(set(data.metrics) | set(other.metrics))
    rows = [(k, other.metrics.get(k), data.metrics.get(k)) for k in keys]
    for who in PREDICTORS:
        for key, title in SCORES:
            vals = [
                ((classification_of(d.validation) or {}).get("overall") or {}).get(who, {})
                for d in (other, data)
            ]
            rows.append((f"validation {who} {title}", *(v.get(key) for v in vals)))
    sec.body = kv_table(rows, ["metric", other.label, data.label])
    sec.body += (
        "<p>No paired IC test: the cross-sectional IC needs a numeric prediction. Compare "
        "the versions' accuracy against persistence on the same validation settings.</p>"
    )
    return sec


def class_version_sections(data: VersionData) -> list[Section]:
    """Accuracy, confusion matrix, per-window accuracy and the gate of a multi-class
    version, in page order."""
    section = classification_of(data.validation)
    missing = _no_validation(data) if data.validation is None else ""
    accuracy = accuracy_section(section, missing)
    if section is None:  # the note alone would hide the "no data" line
        accuracy.body = f'<p class="nodata">no data: {html.escape(accuracy.missing)}</p>'
    accuracy.body += f"<p>{html.escape(ic_note(data.classes or section_classes(section)))}</p>"
    return [
        accuracy,
        confusion_section(section, missing),
        window_accuracy_section(data.oos),
        gate_section(data.validation, missing),
    ]


def section_classes(section: Mapping[str, Any] | None) -> list[str]:
    return [str(c) for c in (section or {}).get("classes") or []]


def class_validation_sections(report: Mapping[str, Any]) -> list[Section]:
    """The validation page of a multi-class target (from ``ValidationReport.to_dict()``)."""
    section = classification_of(report)
    accuracy = accuracy_section(section)
    accuracy.body += f"<p>{html.escape(ic_note(section_classes(section)))}</p>"
    settings = Section("settings", "Settings")
    settings.body = bullet_list([f"{k}: {v}" for k, v in (report.get("settings") or {}).items()])
    return [gate_section(report), accuracy, confusion_section(section), settings]
