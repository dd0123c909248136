"""`tradai validate` end to end on synthetic candles: the verdict fails on a random walk and
passes on the planted signal; bad inputs stop with one clear line (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, TEST_STRATEGIES
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.validation.runner import prepare_pair

pytestmark = pytest.mark.e2e
runner = CliRunner()
PAIRS = ["BTC/USDT", "ETH/USDT"]
DAYS = 240  # 2 x 5760 1h candles: planted IC ~0.19 (t ~ 6), random walk ~0.00 (se 0.032)
SMALL = {
    "n_estimators": 100,
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
}


def _setup(tmp: Path, signal: str, **meta: Any) -> list[str]:
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", DAYS, seed=11, signal=signal, datadir=data)  # type: ignore[arg-type]
    cfg = build_training_config(
        StrategyMeta(pairs=PAIRS, datadir=str(data), model_training_parameters=SMALL, **meta)
    )
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    return [
        "validate",
        "--config",
        str(path),
        "--strategy",
        "RadStrategy",
        "--strategy-path",
        str(STRATEGIES),
        "--datadir",
        str(data),
        "--userdir",
        str(tmp / "user_data"),
        "--seeds",
        "2",
        "--jobs",
        "1",
    ]


def _run(tmp: Path, signal: str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    out = tmp / "report.json"
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    res = runner.invoke(
        app, [*_setup(tmp, signal), "--tracking-uri", uri, "--json", str(out), *extra]
    )
    report = json.loads(out.read_text()) if out.exists() else {}
    return res.exit_code, res.output, report


def _mlflow_run(tmp: Path) -> Any:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    exp = client.get_experiment_by_name("tradai-validation")
    assert exp is not None
    (run,) = client.search_runs([exp.experiment_id])
    return run


def mlflow_artifacts(tmp: Path, run_id: str, folder: str) -> list[str]:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
    return [a.path for a in client.list_artifacts(run_id, folder)]


def test_planted_signal_passes(tmp_path: Path) -> None:
    code, output, report = _run(tmp_path, "planted")
    assert code == 0, output
    assert "verdict: PASS" in output and "Backtest paths" in output
    assert report["verdict"]["passed"] is True
    summary = report["summary"]
    assert summary["rank_ic"] > 0.1 and summary["rank_ic_tstat"] > 3
    assert report["settings"]["n_splits"] == 15 and len(report["paths"]) == 5
    assert report["leakage"]["ok"] is True
    run = _mlflow_run(tmp_path)
    assert run.data.tags["tradai.verdict"] == "pass"
    assert run.data.tags["tradai.leakage_check"] == "ok"
    assert run.data.params["cv"] == "cpcv" and run.data.params["purge"] == "21"
    assert run.data.metrics["rank_ic"] == pytest.approx(summary["rank_ic"])
    html = tmp_path / "report.html"  # the HTML report lands beside the JSON by default
    assert "verdict" in html.read_text().lower()
    artifacts = mlflow_artifacts(tmp_path, run.info.run_id, "report")
    assert artifacts == ["report/report.html"]


def test_random_walk_fails_as_too_weak(tmp_path: Path) -> None:
    code, output, report = _run(tmp_path, "none", "--skip-leakage-check")
    assert code == 1, output
    assert "verdict: FAIL" in output and "IC too weak" in output
    assert abs(report["summary"]["rank_ic"]) < 0.05
    assert any(r.startswith("IC too weak") for r in report["verdict"]["reasons"])
    run = _mlflow_run(tmp_path)
    assert run.data.tags["tradai.verdict"] == "fail"
    assert run.data.tags["tradai.leakage_check"] == "skipped"


def test_parallel_matches_serial_walkforward(tmp_path: Path) -> None:
    args = [*_setup(tmp_path, "planted"), "--cv", "walkforward", "--n-groups", "3"]
    args += ["--skip-leakage-check", "--no-tracking", "--timerange", "20240101-20240501"]
    reports = []
    for jobs in ("1", "2"):
        out = tmp_path / f"r{jobs}.json"
        res = runner.invoke(app, [*args, "--jobs", jobs, "--json", str(out)])
        assert res.exit_code in (0, 1), res.output
        reports.append(json.loads(out.read_text()))
    assert reports[0]["summary"]["rank_ic"] == pytest.approx(reports[1]["summary"]["rank_ic"])
    assert reports[1]["settings"]["n_jobs"] == 2 and len(reports[1]["paths"]) == 1


def test_lookahead_preflight_stops_a_leaky_strategy(tmp_path: Path) -> None:
    args = _setup(tmp_path, "none")
    args[args.index("RadStrategy")] = "LookaheadShiftStrategy"
    args[args.index(str(STRATEGIES))] = str(TEST_STRATEGIES)
    res = runner.invoke(app, [*args, "--no-tracking", "--timerange", "20240101-20240301"])
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "lookahead pre-flight failed" in text and "%-next_close" in text


def test_classifier_target_reports_auc_and_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = [*_setup(tmp_path, "planted", target="updown"), "--cv", "walkforward"]
    args += ["--skip-leakage-check", "--no-tracking", "--json", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(out.read_text())["summary"]
    assert summary["accuracy"] > 0.52 and summary["auc"] > 0.52 and summary["rank_ic"] > 0.1


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--k", "6"], "k=6 test groups must be fewer than n_groups=6"),
        (["--purge", "5"], "--purge 5 is shorter than label_period_candles=12"),
        (["--n-groups", "6", "--purge", "1000", "--embargo", "50"], "is not smaller than a group"),
        (["--timerange", "20240101-20240104"], "too few rows"),
        (["--n-groups", "5000"], "too many groups:"),
        (["--metrics", "rank_ic,sharp"], "unknown metric 'sharp'"),
        (["--cv", "kfold"], "--cv 'kfold' is unknown: use walkforward or cpcv"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, extra: list[str], message: str) -> None:
    args = [*_setup(tmp_path, "none"), "--skip-leakage-check", "--no-tracking", *extra]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())


def test_nan_label_inside_the_series_is_an_error() -> None:
    n = 200
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "close": np.linspace(100, 110, n),
            "%-f": np.arange(n, dtype=float),
            "&-s_close": np.r_[np.ones(n - 12), np.full(12, np.nan)],
        }
    )
    ok = prepare_pair(frame, "BTC/USDT", 12, "1h")  # the last 12 rows have no future: dropped
    assert len(ok.X) == n - 12 and ok.dropped_rows == 12
    # a warm-up without labels at the start (the regimes' trailing quantiles need history)
    frame.loc[:29, "&-s_close"] = np.nan
    warm = prepare_pair(frame, "BTC/USDT", 12, "1h")
    assert len(warm.X) == n - 42 and warm.dates.iloc[0] == frame["date"].iloc[30]
    frame.loc[50, "&-s_close"] = np.nan
    with pytest.raises(TradAIDataError, match=r"1 NaN label\(s\) in &-s_close before the last 12"):
        prepare_pair(frame, "BTC/USDT", 12, "1h")


@pytest.mark.parametrize("estimator", ["lightgbm", "catboost", "random_forest"])
def test_a_validation_worker_imports_every_estimators_library(estimator: str) -> None:
    import os

    from tradai_strategy.models.fitting import worker_ready

    assert worker_ready(estimator) == os.getpid()  # random_forest is not a module name
