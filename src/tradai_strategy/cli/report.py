"""``tradai report``: one self-contained HTML report of a registered model version.

Exit codes: 0 written, 2 bad input (unknown model/version/alias, conflicting options,
unreadable validation JSON), each with one line naming the option and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradai_strategy.cli.common import TrackingUriOpt, console, err_console, fail


def report(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Registered model name.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version to report (default: --alias).")
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option(
            help="Report the version this alias points at (default: production, else the "
            "newest version)."
        ),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(help="Another version: adds importance drift and a comparison section."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
    tracking_uri: TrackingUriOpt = None,
    audit_db: Annotated[
        Path | None,
        typer.Option(help="Audit trail database (default: as `tradai audit`)."),
    ] = None,
    no_log: Annotated[
        bool,
        typer.Option("--no-log", help="Do not log the file to the version's MLflow run."),
    ] = False,
    validation_json: Annotated[
        Path | None,
        typer.Option(
            "--validation-json",
            help="Instead of a model version, render a `tradai validate --json` file.",
        ),
    ] = None,
) -> None:
    """Write an offline HTML report of a model version: backtest equity and drawdown,
    out-of-sample IC per window, rolling IC, IC decay, CPCV paths and verdict, feature
    importance (and its drift with --compare), feature drift, prediction vs realised,
    lifecycle timeline. A multi-class (regime) version shows its validation's accuracy,
    balanced accuracy, kappa and log loss against the majority and persistence baselines,
    the confusion matrix and the accuracy gate instead of the IC sections. The file is also
    logged to the version's MLflow run (report/)."""
    if validation_json is not None:
        _validation_page(validation_json, out)
        return
    if not model:
        fail("--model is missing: name the registered model, e.g. --model tradai-RadStrategy")
    if version is not None and alias is not None:
        fail("--version and --alias both given: pass one of them")
    if audit_db is not None and not audit_db.is_file():
        fail(f"--audit-db {audit_db} does not exist: pass the audit trail's sqlite file")
    from tradai_strategy.registry.client import check_alias
    from tradai_strategy.reports.model_report import build_report

    if alias is not None:
        check_alias(alias)
    with err_console.status("reading the registry and drawing the report..."):
        path = build_report(
            model,
            version,
            out=out,
            alias=alias,
            compare=compare,
            tracking_uri=tracking_uri,
            audit_db=audit_db,
            log_artifact=not no_log,
        )
    size = path.stat().st_size / 1e6
    console.print(f"wrote {path} ({size:.1f} MB)", highlight=False)


def _validation_page(path: Path, out: Path) -> None:
    import json

    from tradai_strategy.reports.model_report import write_validation_report

    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        fail(f"--validation-json {path}: cannot read it as JSON ({err}): pass the file "
             "`tradai validate --json` wrote")  # fmt: skip
    if not isinstance(data, dict) or "verdict" not in data:
        fail(f"--validation-json {path}: no 'verdict' key: not a `tradai validate --json` file")
    written = write_validation_report(data, out)
    console.print(f"wrote {written}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``tradai`` app."""
    app.command("report")(report)
