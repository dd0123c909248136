"""Log a ``tradai validate`` report to MLflow: one run with params, metrics, tags, artifacts.

Tags a promotion gate can filter on: ``tradai.verdict`` (``pass``/``fail``),
``tradai.leakage_check`` (``ok``/``skipped``), ``tradai.strategy``, ``tradai.identifier``.
The full report (splits, paths, verdict reasons) is the ``validation_report.json`` artifact.
MLflow is imported lazily (it takes seconds to import).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from tradai_strategy.core import tags as tag
from tradai_strategy.validation.report import ValidationReport

DEFAULT_EXPERIMENT = "tradai-validation"
_PARAMS = (
    "cv", "n_groups", "k", "purge", "embargo", "seeds", "cost", "n_trials", "estimator",
    "label_period_candles", "timeframe", "timerange", "strategy", "identifier", "n_splits",
    "n_paths", "n_jobs", "seed",
)  # fmt: skip


def _finite(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out = {}
    for key, val in values.items():
        if isinstance(val, int | float) and not isinstance(val, bool) and math.isfinite(val):
            out[f"{prefix}{key}"] = float(val)
    return out


def log_report(
    report: ValidationReport,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
    extra_tags: dict[str, str] | None = None,
    split_runs: bool = False,
) -> str:
    """Log ``report`` as one MLflow run and return its run id (``extra_tags`` added).

    :param split_runs: also log one nested run per CV split (its metrics averaged over
        pairs); measured on a local sqlite store at ~0.2 s per split.
    """
    import mlflow

    from tradai_strategy.registry.store import get_or_create_experiment

    exp_id = get_or_create_experiment(experiment, tracking_uri)
    settings = report.settings
    leakage = report.leakage or {}
    tags = {
        tag.COMMAND: "validate",
        tag.VERDICT: "pass" if report.verdict.passed else "fail",
        tag.LEAKAGE_CHECK: "skipped" if leakage.get("skipped") else "ok",
        tag.STRATEGY: str(settings.get("strategy")),
        tag.IDENTIFIER: str(settings.get("identifier")),
        **(extra_tags or {}),
    }
    metrics = {
        **_finite(report.summary),
        **_finite(report.verdict.metrics, "verdict."),
        **_finite(report.timings, "time."),
        **{f"ic_decay.h{h}": v for h, v in report.ic_decay.items() if math.isfinite(v)},
        "verdict.passed": float(report.verdict.passed),
    }
    params = {k: str(settings[k]) for k in _PARAMS if k in settings}
    params["pairs"] = ",".join(settings.get("pairs", []))
    name = run_name or f"validate-{settings.get('strategy')}-{settings.get('cv')}"
    with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "validation_report.json"
            path.write_text(json.dumps(report.to_dict(), indent=2))
            mlflow.log_artifact(str(path))
        run_id = str(run.info.run_id)
    if split_runs:
        log_split_runs(report, run_id, exp_id, tracking_uri)
    return run_id


def split_metrics(report: ValidationReport) -> dict[int, dict[str, Any]]:
    """Split number -> test groups and the split's numeric metrics averaged over pairs."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in report.splits:
        grouped.setdefault(int(row["split"]), []).append(row)
    out: dict[int, dict[str, Any]] = {}
    for split, rows in sorted(grouped.items()):
        keys = {k for r in rows for k in _finite(r)} - {"split"}
        means = {}
        for key in sorted(keys):
            vals = [float(r[key]) for r in rows if key in _finite(r)]
            means[key] = sum(vals) / len(vals)
        out[split] = {"test": str(rows[0].get("test")), "metrics": means}
    return out


def log_split_runs(
    report: ValidationReport, parent_run_id: str, experiment_id: str, tracking_uri: str | None
) -> list[str]:
    """One nested MLflow run per split under ``parent_run_id``; returns their run ids."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from tradai_strategy.registry.store import tracking_uri as resolve_uri

    uri = resolve_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    now = int(time.time() * 1000)
    ids = []
    for split, data in split_metrics(report).items():
        tags = {"mlflow.parentRunId": parent_run_id, tag.SPLIT: str(split)}
        run = client.create_run(experiment_id, tags=tags, run_name=f"split-{split}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in data["metrics"].items()],
            params=[Param("test_groups", data["test"])],
        )
        client.set_terminated(run.info.run_id)
        ids.append(str(run.info.run_id))
    return ids
