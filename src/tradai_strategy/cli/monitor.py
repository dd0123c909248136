"""``tradai drift``: feature and prediction drift of the served model (monitoring issue).

Exit codes: 0 no critical drift (ok or warn), 1 critical drift (some feature's or pair's
prediction KS above ``--critical``: the retrain threshold), 2 bad input (one line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tradai_strategy.cli.common import (
    ConfigOpt,
    DatadirOpt,
    StrategyOpt,
    StrategyPathOpt,
    TimerangeOpt,
    TrackingUriOpt,
    UserdirOpt,
    console,
    fail,
    freqtrade_args,
)
from tradai_strategy.core.logs import quiet_logging

if TYPE_CHECKING:
    from tradai_strategy.bundle.format import ModelBundle
    from tradai_strategy.monitoring.check import DriftReport

LEVEL_STYLE = {"ok": "green", "warn": "yellow", "critical": "bold red"}


def _level(level: str) -> str:
    return f"[{LEVEL_STYLE.get(level, '')}]{level}[/]"


def render_drift(report: DriftReport, top: int) -> None:
    """Summary per pair and overall, prediction drift, then the most drifted features."""
    title = f"Drift of {report.model}" + (f" v{report.version}" if report.version else "")
    summary = Table(title=f"{title}: last {report.days:g} days vs training reference")
    for name in ("pair", "features", "warn", "critical", "max KS", "mean PSI", "worst feature"):
        summary.add_column(
            name, justify="right" if name not in ("pair", "worst feature") else "left"
        )
    summary.add_column("level")
    for pair, row in report.summary.iterrows():
        summary.add_row(
            str(pair), str(row["features"]), str(row["warn"]), str(row["critical"]),
            f"{row['max_ks']:.3f}", f"{row['mean_psi']:.3f}", str(row["worst_feature"]),
            _level(str(row["level"])),
        )  # fmt: skip
    console.print(summary)
    preds = Table(title="Prediction distribution drift (model output)")
    for name in ("pair", "KS", "PSI", "level"):
        preds.add_column(name)
    for row in report.predictions.itertuples():
        preds.add_row(str(row.pair), f"{row.ks:.3f}", f"{row.psi:.3f}", _level(str(row.level)))
    console.print(preds)
    ranked = report.features.sort_values("ks", ascending=False)
    shown = ranked if top <= 0 else ranked.head(top)
    feats = Table(title=f"Features by KS ({len(shown)} of {len(ranked)})")
    for name in ("pair", "feature", "KS", "PSI", "level", "note"):
        feats.add_column(name, overflow="fold")
    for row in shown.itertuples():
        feats.add_row(
            str(row.pair), str(row.feature), f"{row.ks:.3f}", f"{row.psi:.3f}",
            _level(str(row.level)), str(row.note),
        )  # fmt: skip
    console.print(feats)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(
        f"overall: {_level(report.level)} (warn KS > {report.warn:g}, critical KS > "
        f"{report.critical:g})",
        highlight=False,
    )


def _served_bundle(
    model: str, alias: str, version: str | None, tracking_uri: str | None, cache: Path
) -> tuple[ModelBundle, str]:
    """The bundle ``tradai`` serves for ``model@alias`` (fallback when retired/unset)."""
    from tradai_strategy.serving.loader import RegistryBundleLoader

    uri = f"models:/{model}/{version}" if version else f"models:/{model}@{alias}"
    loader = RegistryBundleLoader(uri, cache, tracking_uri)
    served, sha = loader.resolve()
    if loader.note:
        console.print(f"note: {loader.note}", highlight=False)
    return loader.fetch(served, sha), served


def drift(
    model: Annotated[str, typer.Option(help="Registered model name (default: the bundle's).")] = "",
    alias: Annotated[str, typer.Option(help="Alias whose served version is checked.")] = (
        "production"
    ),
    version: Annotated[
        str | None, typer.Option(help="Check this version instead of the alias.")
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="Check a local bundle folder instead of the registry.")
    ] = None,
    tracking_uri: TrackingUriOpt = None,
    days: Annotated[float, typer.Option(help="Current window: the last N days of candles.")] = 20,
    warn: Annotated[float, typer.Option(help="KS above this: warn.")] = 0.1,
    critical: Annotated[float, typer.Option(help="KS above this: critical (retrain).")] = 0.2,
    pairs: Annotated[
        str | None,
        typer.Option(help="Comma-separated pairs (default: whitelist pairs in the bundle)."),
    ] = None,
    top: Annotated[int, typer.Option(help="Feature rows to print, by KS (0: all).")] = 20,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    timerange: TimerangeOpt = None,
) -> None:
    """Compare the served model's training features (the reference sample stored in its
    bundle) with the strategy's features over the last --days of candles (of --timerange, to
    replay a past date): KS and PSI per feature, per pair and overall, and the drift of the
    model's output distribution. Exit 0: no critical drift, 1: critical drift, 2: bad input."""
    from tradai_strategy.bundle.format import load_bundle
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.monitoring.check import bundle_drift

    if not model and bundle is None:
        fail("--model is missing: name the registered model (or pass --bundle PATH)")
    if days <= 0:
        fail(f"--days must be > 0, got {days:g}")
    if not 0 <= warn <= critical <= 1:
        fail(f"--warn {warn:g} / --critical {critical:g}: need 0 <= warn <= critical <= 1")
    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    with quiet_logging():
        cfg = resolve_config(args)
        if bundle is not None:
            loaded, served = load_bundle(bundle), None
        else:
            cache = Path(cfg["user_data_dir"]) / "models" / "tradai_drift_cache"
            loaded, served = _served_bundle(model, alias, version, tracking_uri, cache)
        wanted = [p.strip() for p in pairs.split(",") if p.strip()] if pairs else None
        report, skipped = bundle_drift(
            cfg,
            loaded,
            model=model or str(loaded.manifest.get("strategy") or loaded.path.name),
            version=served,
            pairs=wanted,
            datadir=datadir,
            timerange=timerange,
            days=days,
            warn=warn,
            critical=critical,
            hint="pass --pairs",
        )
    if skipped:
        report.notes.append(f"not in the model bundle, not checked: {', '.join(skipped)}")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    render_drift(report, top)
    if json_out is not None:
        console.print(f"wrote {json_out}", highlight=False)
    raise typer.Exit(1 if report.level == "critical" else 0)


def register(app: typer.Typer) -> None:
    """Add ``drift`` to the ``tradai`` app."""
    app.command("drift")(drift)
