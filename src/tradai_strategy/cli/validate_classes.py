"""``tradai validate`` output for a multi-class (regime) target: accuracy, balanced accuracy,
kappa and log loss of the model next to the majority and persistence baselines, per pair
and overall, the confusion matrix and each pair's accuracy-gate result."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tradai_strategy.cli.common import fmt_num

_COLUMNS = (
    ("accuracy", "accuracy", ".3f"),
    ("balanced_accuracy", "balanced acc.", ".3f"),
    ("kappa", "kappa", "+.3f"),
    ("log_loss", "log loss", ".3f"),
)


def render_classes(section: dict[str, Any], out: Console) -> None:
    """The tables of :mod:`tradai_strategy.validation.classes`' section."""
    scores = Table(
        title="Out-of-sample classes (mean over seeds and paths; persistence = label of t-h)"
    )
    for col in ("pair", "predictor", *(c[1] for c in _COLUMNS), "gate"):
        scores.add_column(col, justify="right", no_wrap=True)
    rows = [(pair, r) for pair, r in section["pairs"].items()]
    rows.append(("all pairs", {**section["overall"], "gate_passed": None}))
    for pair, r in rows:
        for who in ("model", "majority", "persistence"):
            gate = ""
            if who == "model" and r.get("gate_passed") is not None:
                gate = f"{r['gate_passed']}/{r['gate_runs']} passed"
            cells = (fmt_num(r[who].get(key), fmt) for key, _, fmt in _COLUMNS)
            scores.add_row(pair if who == "model" else "", who, *cells, gate)
    out.print(scores)
    classes = section["classes"]
    confusion = Table(title="Confusion matrix (rows: realised, columns: predicted; all pairs)")
    confusion.add_column("realised", no_wrap=True)
    for name in classes:
        confusion.add_column(name, justify="right", no_wrap=True)
    for name, counts in zip(classes, section["confusion"], strict=True):
        confusion.add_row(name, *(str(int(c)) for c in counts))
    out.print(confusion)
    out.print(
        f"accuracy gate: OOS accuracy > {section['min_accuracy']:.3f} and beat persistence by "
        f"> {section['margin']:.3f} with one-sided p < {section['alpha']:g}",
        highlight=False,
        soft_wrap=True,
    )
    for pair, r in section["pairs"].items():
        vs = r["vs_persistence"]
        out.print(
            f"  {pair}: vs persistence {fmt_num(vs['delta'], '+.3f')} ± "
            f"{fmt_num(vs['se'], '.3f')} (median p = {fmt_num(vs['p_value'], '.3g')}); "
            f"{r['gate']}",
            highlight=False,
            soft_wrap=True,
        )
