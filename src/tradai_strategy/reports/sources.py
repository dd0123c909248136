"""Everything a report shows about one registered version, read from the MLflow registry.

Where each section's data comes from (a missing source leaves that section empty, with the
reason in :attr:`VersionData.notes`):

* the version's run: metrics and params, the freqtrade result under ``backtest/``, the
  out-of-sample metrics ``oos/tradai_metrics.json`` and prediction table
  ``oos/predictions.parquet``, the feature history ``oos/feature_history.parquet``
  (all logged by ``tradai train``);
* the validation report JSON: the ``validation_report.json`` of the validation run named by
  the version tag ``tradai.validation_run_id``;
* the registered model files (the bundle): native estimators for feature importance;
* the audit trail beside the registry: promotions, rollbacks, retirements.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.client import RegistryClient, VersionInfo

VALIDATION_ARTIFACT = "validation_report.json"
OOS_FOLDER = "oos"
METRICS_ARTIFACT = "tradai_metrics.json"
PREDICTIONS_ARTIFACT = "predictions.parquet"
FEATURES_ARTIFACT = "feature_history.parquet"


@dataclass
class VersionData:
    """One version's inputs to the report."""

    info: VersionInfo
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    trades: pd.DataFrame | None = None
    starting_balance: float = 1000.0
    currency: str = ""
    oos: dict[str, Any] | None = None
    predictions: pd.DataFrame | None = None
    features: pd.DataFrame | None = None
    validation: dict[str, Any] | None = None
    importance: pd.DataFrame | None = None
    #: a classifier's classes (union over the bundle's pair models; empty: a regressor or
    #: no bundle)
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.info.name} v{self.info.version}"


def _artifact_paths(reg: RegistryClient, run_id: str, folder: str) -> list[str]:
    try:
        return [a.path for a in reg.client.list_artifacts(run_id, folder) if not a.is_dir]
    except Exception:  # an artifact store that cannot list the folder: treat as absent
        return []


def _download(reg: RegistryClient, run_id: str, path: str, dst: Path) -> Path:
    return Path(reg.client.download_artifacts(run_id, path, str(dst)))


def _load_backtest(data: VersionData, reg: RegistryClient, run_id: str, tmp: Path) -> None:
    from freqtrade.data.btanalysis import load_backtest_data, load_backtest_stats

    found = [p for p in _artifact_paths(reg, run_id, "backtest") if p.endswith((".zip", ".json"))]
    if not found:
        data.notes.append("no backtest result on the version's run (artifact backtest/)")
        return
    path = _download(reg, run_id, found[0], tmp)
    stats = load_backtest_stats(path)
    strategies = list((stats.get("strategy") or {}).keys())
    if not strategies:
        data.notes.append(f"{found[0]}: no strategy result in the backtest file")
        return
    wanted = data.info.tags.get(tag.STRATEGY)
    strategy = wanted if wanted in strategies else strategies[0]
    result = stats["strategy"][strategy]
    data.trades = load_backtest_data(path, strategy)
    data.starting_balance = float(result.get("starting_balance") or 1000.0)
    data.currency = str(result.get("stake_currency") or "")


def _load_oos(data: VersionData, reg: RegistryClient, run_id: str, tmp: Path) -> None:
    have = set(_artifact_paths(reg, run_id, OOS_FOLDER))
    metrics = f"{OOS_FOLDER}/{METRICS_ARTIFACT}"
    if metrics in have:
        data.oos = json.loads(_download(reg, run_id, metrics, tmp).read_text())
    else:
        data.notes.append(f"no {metrics} on the version's run")
    table = f"{OOS_FOLDER}/{PREDICTIONS_ARTIFACT}"
    if table in have:
        data.predictions = pd.read_parquet(_download(reg, run_id, table, tmp))
    else:
        data.notes.append(f"no {table} on the version's run")
    history = f"{OOS_FOLDER}/{FEATURES_ARTIFACT}"
    if history in have:
        data.features = pd.read_parquet(_download(reg, run_id, history, tmp))


def _load_validation(data: VersionData, reg: RegistryClient, run_id: str, tmp: Path) -> None:
    # ``tradai validate`` logs the report on its own run, named by the version's tag
    other = data.info.tags.get(tag.VALIDATION_RUN_ID)
    if other and VALIDATION_ARTIFACT in _artifact_paths(reg, other, ""):
        data.validation = json.loads(_download(reg, other, VALIDATION_ARTIFACT, tmp).read_text())
        return
    data.notes.append(
        f"no validation report (no {VALIDATION_ARTIFACT} on the run of tag {tag.VALIDATION_RUN_ID})"
    )


def _load_importance(data: VersionData, reg: RegistryClient, tmp: Path) -> None:
    import mlflow

    from tradai_strategy.reports.importance import MANIFEST, bundle_importance

    source = reg.client.get_model_version_download_uri(data.info.name, data.info.version)
    dst = tmp / "model"
    dst.mkdir()
    mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(dst), tracking_uri=reg.uri
    )
    manifests = sorted(dst.rglob(MANIFEST))
    if not manifests:
        data.notes.append("the registered model holds no TradAI bundle: no feature importance")
        return
    manifest = json.loads(manifests[0].read_text())
    pairs = (manifest.get("pairs") or {}).values()
    data.classes = sorted({str(c) for meta in pairs for c in meta.get("classes") or ()})
    data.importance = bundle_importance(manifests[0].parent)


def load_version(
    reg: RegistryClient, name: str, version: str | int, *, importance: bool = True
) -> VersionData:
    """Read one version's report inputs (files go to a temporary folder, removed after)."""
    from freqtrade.exceptions import OperationalException
    from mlflow.exceptions import MlflowException

    # a source that cannot be read empties its sections (reason in the notes), never the page
    unreadable = (OSError, ValueError, KeyError, MlflowException, OperationalException)
    info = reg.version(name, version)
    data = VersionData(info=info)
    run_id = info.run_id
    if not run_id:
        data.notes.append("the version has no MLflow run: only its registry entry is shown")
        return data
    run = reg.client.get_run(run_id)
    data.metrics = dict(run.data.metrics)
    data.params = dict(run.data.params)
    with tempfile.TemporaryDirectory(prefix="tradai-report-") as folder:
        tmp = Path(folder)
        steps = [_load_backtest, _load_oos, _load_validation]
        for step in steps:
            sub = tmp / step.__name__
            sub.mkdir()
            try:
                step(data, reg, run_id, sub)
            except unreadable as err:
                data.notes.append(f"{step.__name__[6:]}: {' '.join(str(err).split())[:200]}")
        if importance:
            try:
                _load_importance(data, reg, tmp)
            except unreadable as err:
                data.notes.append(f"importance: {' '.join(str(err).split())[:200]}")
    return data


def timeline(reg: RegistryClient, name: str, audit_db: Path | None = None) -> pd.DataFrame:
    """Registrations (``trained``) and audit events of ``name``: time, action, version, detail."""
    from tradai_strategy.registry.audit import AuditTrail
    from tradai_strategy.registry.trail import trail_for

    rows: list[dict[str, Any]] = [
        {
            "time": pd.Timestamp(v.created_ms, unit="ms", tz="UTC"),
            "action": "trained",
            "version": v.version,
            "detail": v.description or "registered",
        }
        for v in reg.versions(name)
    ]
    path = trail_for(reg, audit_db, name)
    if Path(path).is_file():
        for ev in AuditTrail(path).events(name):
            what = ev.action + (f" @{ev.alias}" if ev.alias else "")
            moved = f" (from v{ev.from_version})" if ev.from_version and ev.to_version else ""
            rows.append(
                {
                    "time": pd.Timestamp(ev.time),
                    "action": what,
                    # a retirement (or an alias removal) has only the version it left
                    "version": ev.to_version or ev.from_version or "",
                    "detail": f"{ev.actor}: {ev.reason}{moved}",
                }
            )
    frame = pd.DataFrame(rows, columns=["time", "action", "version", "detail"])
    return frame.sort_values("time", kind="stable", ignore_index=True)
