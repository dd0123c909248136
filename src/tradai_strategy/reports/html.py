"""One self-contained HTML page: plotly.js inlined once, then one block per section.

No CDN, no external font or stylesheet: the file opens offline. A section without data
shows "no data" and the reason instead of an empty chart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradai_strategy.core.errors import TradAIDataError

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d3de;font-size:13px}
nav{padding:8px 28px;background:#e9edf2;font-size:13px}nav a{margin-right:14px;color:#1f4e79}
main{padding:10px 28px 40px;max-width:1200px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;margin:16px 0;
padding:12px 18px}
section h2{font-size:17px;margin:4px 0 8px}
.nodata{color:#777;font-style:italic;padding:16px 0}
table.kv{border-collapse:collapse;font-size:13px;margin:6px 0}
table.kv td,table.kv th{border-bottom:1px solid #eee;padding:3px 10px;text-align:right}
table.kv td:first-child,table.kv th:first-child{text-align:left}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}
.notes{font-size:12px;color:#666}
"""


@dataclass
class Section:
    """One block of the page: a figure and/or HTML, or a "no data" line with its reason."""

    key: str
    title: str
    figure: Any = None
    body: str = ""
    missing: str = ""

    @property
    def has_plot(self) -> bool:
        return self.figure is not None


def fmt(value: Any, spec: str = ".4g") -> str:
    """A number for a table cell ("-" for None/NaN); anything else as text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return format(value, spec)
    return str(value)


def kv_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """A small HTML table; cells are escaped and numbers formatted with :func:`fmt`."""
    head = ""
    if header:
        head = "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="kv">{head}{body}</table>'


def bullet_list(items: Sequence[str], css: str = "") -> str:
    if not items:
        return ""
    cls = f' class="{css}"' if css else ""
    return f"<ul{cls}>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _figure_html(section: Section) -> str:
    import plotly.io as pio

    return str(
        pio.to_html(
            section.figure,
            include_plotlyjs=False,
            full_html=False,
            div_id=f"plot-{section.key}",
            config={"displaylogo": False, "responsive": True},
        )
    )


def render_page(
    title: str, subtitle: str, sections: Sequence[Section], notes: Sequence[str] = ()
) -> str:
    """The whole HTML document."""
    from plotly.offline import get_plotlyjs

    blocks = []
    for s in sections:
        inner = ""
        if s.figure is not None:
            inner += _figure_html(s)
        inner += s.body
        if not inner:
            reason = f": {s.missing}" if s.missing else ""
            inner = f'<p class="nodata">no data{html.escape(reason)}</p>'
        blocks.append(
            f'<section id="{s.key}" data-has-plot="{str(s.has_plot).lower()}">'
            f"<h2>{html.escape(s.title)}</h2>{inner}</section>"
        )
    nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    foot = bullet_list(list(notes), "notes")
    if foot:
        foot = f'<section id="notes"><h2>Sources not found</h2>{foot}</section>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)} · generated {stamp}"
        f"</p></header><nav>{nav}</nav><main>{''.join(blocks)}{foot}</main></body></html>"
    )


def write_page(path: Path, page: str) -> Path:
    """Write ``page`` to ``path`` (parent folders created); a :class:`TradAIDataError` naming
    ``--out`` when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as err:  # the user's --out: no permission, a file where a folder should be
        raise TradAIDataError(
            f"--out {path}: cannot write the report ({err.strerror or err})"
        ) from err
    return path


def verdict_html(verdict: Mapping[str, Any]) -> str:
    """PASS/FAIL, the reasons and warnings, and the numbers they refer to."""
    passed = bool(verdict.get("passed"))
    head = f'<p class="{"pass" if passed else "fail"}">verdict: {"PASS" if passed else "FAIL"}</p>'
    reasons = bullet_list([str(r) for r in verdict.get("reasons") or []])
    warnings = bullet_list([f"warning: {w}" for w in verdict.get("warnings") or []], "notes")
    metrics = verdict.get("metrics") or {}
    table = kv_table(sorted(metrics.items()), ["metric", "value"]) if metrics else ""
    return head + reasons + warnings + table
