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
from pathlib import Path
from typing import Any

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
) -> str:
    """Log ``report`` as one MLflow run and return its run id."""
    import mlflow

    from tradai_strategy.registry.store import get_or_create_experiment

    exp_id = get_or_create_experiment(experiment, tracking_uri)
    settings = report.settings
    leakage = report.leakage or {}
    tags = {
        "tradai.command": "validate",
        "tradai.verdict": "pass" if report.verdict.passed else "fail",
        "tradai.leakage_check": "skipped" if leakage.get("skipped") else "ok",
        "tradai.strategy": str(settings.get("strategy")),
        "tradai.identifier": str(settings.get("identifier")),
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
        return str(run.info.run_id)
