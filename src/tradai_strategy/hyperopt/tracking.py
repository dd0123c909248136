"""MLflow logging of ``tradai hyperopt``: a parent run per invocation, one nested run per
trial (its parameters, value, state and split scores). The per-trial logger is an optuna
callback that only holds strings, so worker processes receive and use it as is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tradai_strategy.core import tags as tag

EXPERIMENT = "tradai-hyperopt"
_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def _metrics(values: dict[str, Any], step: int = 0) -> list[Any]:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [
        Metric(k, float(v), now, step)
        for k, v in values.items()
        if isinstance(v, int | float) and math.isfinite(v)
    ]


@dataclass(frozen=True)
class TrialLogger:
    """Optuna callback: one MLflow run per finished trial, nested under ``parent_run_id``."""

    uri: str
    experiment_id: str
    parent_run_id: str

    def __call__(self, study: Any, trial: Any) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        client = MlflowClient(tracking_uri=self.uri)
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            "mlflow.runName": f"{study.study_name}-trial-{trial.number}",
            "optuna.trial_number": str(trial.number),
            "optuna.state": trial.state.name,
        }
        run = client.create_run(self.experiment_id, tags=tags)
        rid = run.info.run_id
        params = [Param(k, str(v)) for k, v in trial.params.items()]
        metrics = _metrics({"value": trial.value} if trial.value is not None else {})
        for step, score in enumerate(trial.user_attrs.get("split_scores", [])):
            metrics += _metrics({"split_score": score}, step)
        client.log_batch(rid, metrics=metrics, params=params)
        client.set_terminated(rid, _STATUS.get(trial.state.name, "FINISHED"))


def start_parent(uri: str | None, study_name: str, settings: dict[str, Any]) -> TrialLogger:
    """Create the parent run (settings as parameters) and the logger of its trials."""
    from mlflow import MlflowClient
    from mlflow.entities import Param

    from tradai_strategy.registry.store import get_or_create_experiment, tracking_uri

    resolved = tracking_uri(uri)
    exp = get_or_create_experiment(EXPERIMENT, resolved)
    client = MlflowClient(tracking_uri=resolved)
    run = client.create_run(exp, tags={"mlflow.runName": study_name, tag.KIND: "hyperopt"})
    params = [Param(k, str(v)) for k, v in settings.items()]
    client.log_batch(run.info.run_id, params=params)
    return TrialLogger(resolved, exp, run.info.run_id)


def finish_parent(logger: TrialLogger, summary: dict[str, Any]) -> None:
    """Log the study's headline numbers on the parent run and close it."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=logger.uri)
    client.log_batch(logger.parent_run_id, metrics=_metrics(summary))
    client.set_terminated(logger.parent_run_id, "FINISHED")
