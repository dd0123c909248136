"""``tradai status``, ``tradai retire`` and ``tradai metrics`` (Prometheus text).

Exit codes: 0 done, 2 bad input or refused (one line naming the model/version and the fix).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import TrackingUriOpt, console
from tradai_strategy.cli.promote import AuditDb, Reason, registry_session
from tradai_strategy.core.redact import redact_url

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.status import VersionStatus

_COLOURS = {"green": "green", "yellow": "yellow", "red": "red"}
_SHORT = {
    "oos_rank_ic": "RankIC",
    "oos_cs_ic": "csIC",
    "oos_cs_ic_se": "±",
    "sharpe": "Sharpe",
    "profit_total": "profit",
    "max_drawdown": "maxDD",
    "trade_count": "trades",
    "accuracy": "acc",
    "live_accuracy": "live acc",
    "live_accuracy_se": "±",
}


def _paint(level: str) -> str:
    colour = _COLOURS.get(level)
    return f"[{colour}]{level}[/]" if colour else level


def _fmt_metrics(metrics: dict[str, float]) -> str:
    """One metric per line (a narrow terminal or a pipe wraps between metrics, never inside
    one); an s.e. follows its value."""
    lines: list[str] = []
    for key, value in metrics.items():
        text = f"{int(value)}" if key == "trade_count" else f"{value:.3f}"
        short = _SHORT.get(key, key)
        if short == "±" and lines:
            lines[-1] += f" ± {text}"
        else:
            lines.append(f"{short} {text}")
    return "\n".join(lines) or "-"


#: below this console width the status is one two-column block per version
WIDE_STATUS = 110


def _narrow_table(rows: list[VersionStatus], empty: list[str]) -> Table:
    """Two columns (a narrow terminal, a pipe): model @alias, then everything else on lines."""
    table = Table(title="TradAI model status", show_lines=True)
    table.add_column("model @alias", no_wrap=True)
    table.add_column("version, age, health; judged on; metrics", overflow="fold")
    for r in rows:
        colour = _COLOURS.get(r.performance.level, "dim")
        age_colour = _COLOURS.get(r.age.level, "dim")
        state = "[red]retired[/]" if r.retired else f"[dim]{r.validation}[/]"
        head = f"v{r.version} {state} · [{age_colour}]{r.age_days:.1f} d[/] · {_paint(r.overall)}"
        judged = f"[{colour}]{r.performance.basis}[/]"
        table.add_row(f"{r.model}\n@{r.alias}", f"{head}\n{judged}\n{_fmt_metrics(r.metrics)}")
    for name in empty:
        table.add_row(name, "no aliased version")
    return table


def _table(rows: list[VersionStatus], empty: list[str], width: int = WIDE_STATUS) -> Table:
    if width < WIDE_STATUS:
        return _narrow_table(rows, empty)
    table = Table(title="TradAI model status")
    longest = max((len(r.model) for r in rows), default=5)
    table.add_column("model", no_wrap=True, min_width=min(longest, 30))  # never split a name
    table.add_column("alias", no_wrap=True)
    table.add_column("version", no_wrap=True)
    table.add_column("age d", justify="right", no_wrap=True)
    table.add_column("health", no_wrap=True)
    table.add_column("judged on", overflow="fold")
    table.add_column("metrics", no_wrap=True)
    for r in rows:
        colour = _COLOURS.get(r.performance.level, "dim")
        age_colour = _COLOURS.get(r.age.level, "dim")
        table.add_row(
            r.model,
            r.alias,
            f"{r.version} " + ("[red]retired[/]" if r.retired else f"[dim]{r.validation}[/]"),
            f"[{age_colour}]{r.age_days:.1f}[/]",
            _paint(r.overall),
            f"[{colour}]{r.performance.basis}[/]",
            _fmt_metrics(r.metrics),
        )
    for name in empty:
        table.add_row(name, "-", "-", "", "", "no aliased version", "")
    return table


def _with_live_accuracy(
    rows: list[VersionStatus], log_path: Path, days: float
) -> tuple[list[VersionStatus], dict[str, dict[str, object]]]:
    """A classifier version's health judged on its live accuracy where the prediction log
    holds enough of its scored non-overlapping rows (else its validation accuracy stays);
    also, per alias judged so, the figures and the daily accuracy of the window (JSON)."""
    from dataclasses import asdict, replace

    import pandas as pd

    from tradai_strategy.lifecycle.status import Health, accuracy_level, worst
    from tradai_strategy.monitoring.class_accuracy import daily_accuracy, live_accuracy
    from tradai_strategy.monitoring.prediction_log import PredictionLog
    from tradai_strategy.stats.compare import finite_or_none

    if not log_path.is_file():
        raise typer.BadParameter(f"{log_path} does not exist", param_hint="--prediction-log")
    log = PredictionLog(log_path)
    frames: dict[str, pd.DataFrame] = {}
    out = []
    details: dict[str, dict[str, object]] = {}
    for row in rows:
        if row.model not in frames:
            frames[row.model] = log.class_frame(row.model, role="champion")
        frame = frames[row.model]
        mine = frame[frame["version"] == row.version]
        live = live_accuracy(mine, days) if len(mine) else None
        if live is None:
            out.append(row)
            continue
        perf = Health(accuracy_level(live.accuracy), live.text())
        metrics = {**row.metrics, "live_accuracy": live.accuracy, "live_accuracy_se": live.se}
        overall = "red" if row.retired else worst([perf.level, row.age.level])
        out.append(replace(row, performance=perf, metrics=metrics, overall=overall))
        daily = daily_accuracy(mine, live.horizon)
        daily = daily[daily["day"] > daily["day"].max() - pd.Timedelta(days=days)]
        details[row.alias] = {
            **finite_or_none(asdict(live)),
            "daily": [
                finite_or_none({**rec, "day": str(pd.Timestamp(rec["day"]).date())})
                for rec in daily.to_dict(orient="records")
            ],
        }
    return out, details


def status(
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
    prediction_log: Annotated[
        Path | None,
        typer.Option(
            "--prediction-log",
            help="A bot's prediction log (tradai_predictions.sqlite): judge classifiers on "
            "their live accuracy there.",
        ),
    ] = None,
    live_days: Annotated[
        float, typer.Option(help="Days of the prediction log the live accuracy covers.")
    ] = 30,
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
) -> None:
    """Per model: production/staging/challenger/fallback versions, age, last metrics, health.

    Health: regressors by IC (live tradai.monitor.rolling_ic tag, else OOS RankIC: green >=
    0.03, yellow 0.02-0.03, red < 0.02), classifiers (regime, up/down) by accuracy (green >=
    85%, yellow 75-85%, red < 75%): live accuracy on non-overlapping rows of the last
    --live-days of --prediction-log when it holds enough (--json: with the daily accuracy
    under "live"), else the validation (OOS) accuracy; age (yellow > 30 days, red > 45
    days); overall = the worst.
    """
    from tradai_strategy.lifecycle.status import model_status

    if live_days <= 0:
        raise typer.BadParameter(f"must be > 0, got {live_days}", param_hint="--live-days")
    with registry_session(tracking_uri, audit_db, model) as lc:
        names = [model] if model else lc.registry.models()
        per_model = {}
        live: dict[str, dict[str, dict[str, object]]] = {}
        for name in names:
            versions = lc.registry.versions(name)
            metrics = {v.version: lc.registry.run_metrics(v.run_id) for v in versions if v.aliases}
            found = model_status(versions, metrics)
            if prediction_log is not None:
                found, live[name] = _with_live_accuracy(found, prediction_log, live_days)
            per_model[name] = (versions, found)
    if as_json:
        doc = {
            "tracking_uri": redact_url(lc.registry.uri),
            "models": [
                {
                    "model": name,
                    "versions": len(versions),
                    "latest": versions[0].version if versions else None,
                    "aliases": {
                        r.alias: {
                            **r.to_dict(),
                            **(
                                {"live": live[name][r.alias]}
                                if r.alias in live.get(name, {})
                                else {}
                            ),
                        }
                        for r in rows
                    },
                }
                for name, (versions, rows) in per_model.items()
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    rows = [r for _, found in per_model.values() for r in found]
    empty = [name for name, (_, found) in per_model.items() if not found]
    console.print(_table(rows, empty, console.width))
    if not per_model:
        console.print("no registered models yet: run tradai train")


def retire(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version to retire for good.")],
    reason: Reason = "",
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
) -> None:
    """Retire a version: never promoted, rolled back to or served again; its aliases go.

    Serving then falls back to @fallback. Each alias removal is an audited move.
    """
    from tradai_strategy.lifecycle.promotion import retire_version
    from tradai_strategy.serving.loader import serving_version

    with registry_session(tracking_uri, audit_db, name) as lc:
        event, removed = retire_version(lc, name, version, reason=reason)
        served = serving_version(lc.registry, name)
    gone = ", ".join(f"@{e.alias}" for e in removed) or "none"
    console.print(
        f"[green]{name} version {version} retired[/] (audit #{event.id}); aliases removed: {gone}",
        highlight=False,
    )
    if served is None:
        console.print(
            f"[bold red]warning:[/] {name} has no servable @production or @fallback now: bots "
            "serving it predict nothing (do_predict = 0) until you promote a version "
            f"(tradai promote {name} VERSION)",
            highlight=False,
        )
    else:
        console.print(f"{name}: bots now serve version {served.version}", highlight=False)


def metrics_root(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write to this file (node_exporter textfile collector) instead."),
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    audit_db: AuditDb = None,
) -> None:
    """Lifecycle metrics in Prometheus text format (no subcommand); `show`: OOS metrics.

    tradai_model_version{model,alias}, tradai_retrainings_total (highest version - 1),
    tradai_rollbacks_total (audit trail), tradai_training_duration_seconds (newest version),
    tradai_retired_versions.
    """
    if ctx.invoked_subcommand is not None:
        return
    from tradai_strategy.lifecycle.lifecycle_metrics import collect, prometheus_text

    with registry_session(tracking_uri, audit_db, model) as lc:
        text = prometheus_text(collect(lc, model))
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)  # atomic: the collector never reads a half-written file
    console.print(f"wrote {out}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``status`` and ``retire`` to the ``tradai`` app (``metrics`` is wired in cli.py)."""
    app.command("status")(status)
    app.command("retire")(retire)
