"""``tradai train``: leakage pre-flight, walk-forward training, registered MLflow version."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, TEST_STRATEGIES, small_training_config, timerange
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.train import PHASES, _run_quietly
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.lifecycle.train import TrainResult, git_commit, oos_metrics
from tradai_strategy.registry.client import RegistryClient

PAIRS = ["BTC/USDT", "ETH/USDT"]
runner = CliRunner()


def _setup(tmp: Path, identifier: str) -> tuple[Path, Path, str]:
    data = tmp / "data"
    if not data.exists():
        write_synthetic_data(PAIRS, "1h", 70, seed=11, signal="planted", datadir=data)
    cfg = small_training_config(data, identifier, pairs=PAIRS, backtest_period_days=15, trees=60)
    path = tmp / f"{identifier}.json"
    path.write_text(json.dumps(cfg))
    return path, data, f"sqlite:///{tmp / 'mlflow.db'}"


def _args(cfg: Path, data: Path, tmp: Path, uri: str, strategy: str) -> list[str]:
    return [
        "train",
        "--config",
        str(cfg),
        "--strategy",
        strategy,
        "--strategy-path",
        str(STRATEGIES if strategy == "RadStrategy" else TEST_STRATEGIES),
        "--datadir",
        str(data),
        "--userdir",
        str(tmp / "user_data"),
        "--timerange",
        timerange(40, 69),
        "--offline",
        "--tracking-uri",
        uri,
    ]


def _check_monitoring_baselines(reg: RegistryClient, v: Any, cfg: dict[str, Any]) -> None:
    """The version carries its label horizon and the live statistic on its out-of-sample
    rows (cross-sectional IC, error level), recomputed here with scipy from the logged table."""
    from scipy import stats

    horizon = cfg["freqai"]["feature_parameters"]["label_period_candles"]
    assert v.tags["tradai.label_period_candles"] == str(horizon)
    folder = reg.client.download_artifacts(str(v.run_id), "oos")
    table = pd.read_parquet(Path(folder) / "predictions.parquet").dropna(
        subset=["prediction", "realised"]
    )
    per_candle = [
        stats.spearmanr(g["prediction"], g["realised"]).statistic
        for _, g in table.groupby("date")
        if len(g) >= 2 and g["prediction"].nunique() > 1 and g["realised"].nunique() > 1
    ]
    assert float(v.tags["tradai.reference_ic"]) == pytest.approx(np.mean(per_candle), abs=1e-6)
    se = float(v.tags["tradai.reference_ic_se"])
    assert 0 < se < 1 and se > np.std(per_candle) / np.sqrt(len(per_candle))  # overlap widens
    metrics = reg.client.get_run(str(v.run_id)).data.metrics
    mae = (table["prediction"] - table["realised"]).abs().mean()
    assert metrics["oos_mae"] == pytest.approx(mae)  # every predicted row, as the live log
    assert metrics["oos_cs_ic"] == pytest.approx(float(v.tags["tradai.reference_ic"]), abs=1e-6)


@pytest.mark.e2e
def test_train_registers_a_version_with_tags_and_metrics(tmp_path: Path) -> None:
    cfg, data, uri = _setup(tmp_path, "train-cli")
    res = runner.invoke(
        app, [*_args(cfg, data, tmp_path, uri, "RadStrategy"), "--model-name", "rad"]
    )
    assert res.exit_code == 0, res.output
    assert "registered rad version 1" in res.output
    # quiet console: phase lines and the summary; freqtrade's log records in train.log
    assert "✓ lookahead pre-flight" in res.output and " - INFO - " not in res.output
    run_dir = next((tmp_path / "user_data" / "tradai_runs").glob("train-cli-*"))
    log = (run_dir / "train.log").read_text()
    assert "freqtrade.optimize.backtesting - INFO" in log and "Using config:" in log
    assert "full log" in res.output and not list(run_dir.parent.glob("train-*.log"))
    reg = RegistryClient(uri)
    v = reg.version("rad", 1)
    tags = v.tags
    assert tags["tradai.strategy"] == "RadStrategy"
    assert tags["tradai.pairs"] == "BTC/USDT,ETH/USDT"
    assert tags["tradai.timeframe"] == "1h"
    assert tags["tradai.data_range"] == timerange(40, 69)
    assert tags["tradai.identifier"] == "train-cli"
    assert tags["tradai.validation_status"] == "pending"
    assert tags["tradai.git_commit"] == git_commit()
    assert len(tags["tradai.config_hash"]) == 64 and len(tags["tradai.feature_list_hash"]) == 64
    assert tags["tradai.manifest_sha256"]
    assert reg.aliases("rad") == {}  # training never promotes
    _check_monitoring_baselines(reg, v, json.loads(cfg.read_text()))
    run = reg.client.get_run(str(v.run_id))
    metrics = run.data.metrics
    assert {"sharpe", "profit_total", "max_drawdown", "win_rate", "trade_count"} <= set(metrics)
    assert {"oos_rank_ic", "oos_icir", "training_duration_s"} <= set(metrics)
    assert metrics["trade_count"] >= 0
    assert run.data.params["freqaimodel"] == "TrainingPredictionModel"
    assert run.data.tags["tradai.leakage_check"] == "passed"
    artifacts = [a.path for a in reg.client.list_artifacts(run.info.run_id, "backtest")]
    assert len(artifacts) == 1 and artifacts[0].startswith("backtest/")
    # the derived config forced save_backtest_models; the user's config is untouched
    derived = next(
        (tmp_path / "user_data" / "tradai_runs").glob("train-cli-*/train_overrides.json")
    )
    fresh_id = derived.parent.name  # the run folder's name: a fresh FreqAI identifier
    assert fresh_id.startswith("train-cli-") and fresh_id == tags["tradai.freqai_identifier"]
    assert json.loads(derived.read_text()) == {
        "freqai": {"save_backtest_models": True, "identifier": fresh_id}
    }
    assert "save_backtest_models" not in json.loads(cfg.read_text())["freqai"]
    # a second training (same identifier, shorter timerange) is version 2 with its own
    # model: FreqAI must not find version 1's saved model under the shared identifier
    args = [*_args(cfg, data, tmp_path, uri, "RadStrategy"), "--model-name", "rad"]
    args[args.index("--timerange") + 1] = timerange(40, 52)  # one window: ends sooner
    res = runner.invoke(app, [*args, "--skip-leakage-check"])
    assert res.exit_code == 0, res.output
    v2 = reg.version("rad", 2)
    assert reg.client.get_run(str(v2.run_id)).data.tags["tradai.leakage_check"] == "skipped"
    assert v2.tags["tradai.feature_list_hash"] == tags["tradai.feature_list_hash"]
    assert v2.tags["tradai.identifier"] == "train-cli"
    fresh = {v.tags["tradai.freqai_identifier"] for v in (v, v2)}
    assert len(fresh) == 2 and all(f.startswith("train-cli-") for f in fresh)
    end = "tradai.train_end.BTC/USDT"
    assert v2.tags[end] < v.tags[end]  # trained on its own, shorter range
    assert v2.tags["tradai.data_range"] == timerange(40, 52)
    models = tmp_path / "user_data" / "models"
    windows = {f: sorted(p.name for p in (models / f).glob("sub-train-*")) for f in fresh}
    assert sorted(len(w) for w in windows.values()) == [2, 4]  # each run's own windows only


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["config", "strategy"])
def test_train_an_updown_target_registers_a_classifier_bundle(tmp_path: Path, where) -> None:
    """``freqai.tradai.target: updown`` in the config, or ``target = "updown"`` on the
    strategy class (no config key), trains TrainingClassifierModel."""
    from tradai_strategy.serving.loader import RegistryBundleLoader

    cfg, data, uri = _setup(tmp_path, "train-cls")
    edited = json.loads(cfg.read_text())
    if where == "config":
        edited["freqai"]["tradai"]["target"] = "updown"
        strategy = "RadStrategy"
    else:
        del edited["freqai"]["tradai"]["target"]
        strategy = "UpDownStrategy"
    cfg.write_text(json.dumps(edited))
    args = [*_args(cfg, data, tmp_path, uri, strategy), "--model-name", "radcls"]
    res = runner.invoke(app, [*args, "--skip-leakage-check"])
    assert res.exit_code == 0, res.output
    reg = RegistryClient(uri)
    run = reg.client.get_run(str(reg.version("radcls", 1).run_id))
    assert run.data.params["freqaimodel"] == "TrainingClassifierModel"
    # its OOS accuracy is on the run: tradai status judges the classifier on it
    assert 0.3 < run.data.metrics["accuracy"] < 1.0
    loader = RegistryBundleLoader("models:/radcls/1", tmp_path / "cache", uri)
    bundle = loader.fetch(*loader.resolve())
    assert bundle.manifest["task"] == "classification"
    assert bundle.model("BTC/USDT").classes == ["down", "up"]


@pytest.mark.e2e
def test_train_refuses_a_lookahead_feature_before_training(tmp_path: Path) -> None:
    cfg, data, uri = _setup(tmp_path, "train-leak")
    res = runner.invoke(app, _args(cfg, data, tmp_path, uri, "LookaheadShiftStrategy"))
    assert res.exit_code == 1, res.output
    out = " ".join(res.output.split())
    assert "training refused" in out and "%-next_close_gen_BTC/USDT_1h" in out
    assert "--skip-leakage-check" in out
    assert not (tmp_path / "user_data" / "models" / "train-leak").exists()
    assert not (tmp_path / "mlflow.db").exists() or RegistryClient(uri).models() == []
    # the full log is kept and named in the error; the console has no log records
    (log,) = (tmp_path / "user_data" / "tradai_runs").glob("train-*.log")
    assert f"(full log: {log})" in out and " - INFO - " not in out
    assert "Using resolved strategy LookaheadShiftStrategy" in log.read_text()
    # --verbose: the log records on the console, no log file
    log.unlink()
    res = runner.invoke(app, [*_args(cfg, data, tmp_path, uri, "LookaheadShiftStrategy"), "-v"])
    assert res.exit_code == 1, res.output
    assert "- INFO - Using resolved strategy LookaheadShiftStrategy" in res.output
    assert "full log" not in res.output
    assert not list((tmp_path / "user_data" / "tradai_runs").glob("train-*.log"))


def test_quiet_run_shows_one_line_per_phase_and_captures_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(progress, value: int) -> TrainResult:  # a flow reporting its phases
        for phase in PHASES:
            progress(phase)
            logging.getLogger("freqtrade.optimize.backtesting").info("noisy %s", phase)
            print(f"freqtrade table during {phase}")
            logging.getLogger("lightgbm").warning("a warning")
        return TrainResult("m", str(value), "run", {}, {}, tmp_path)

    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.root.manager.disable)
    with quiet_logging():  # the phases' own quiet_logging must not hide records from the log
        result = _run_quietly(run, tmp_path / "t.log", value=7)
        assert logging.root.manager.disable == logging.INFO  # restored on the way out
    assert (list(root.handlers), root.level, logging.root.manager.disable) == before
    assert result.version == "7"
    out = capsys.readouterr()
    done = [ln.split(" ", 1)[1].rsplit(" ", 2)[0] for ln in out.out.splitlines() if "✓" in ln]
    assert done == list(PHASES)
    assert "noisy" not in out.out + out.err and "freqtrade table" not in out.out + out.err
    log = (tmp_path / "t.log").read_text()
    for phase in PHASES:
        assert f"freqtrade.optimize.backtesting - INFO - noisy {phase}" in log
        assert f"freqtrade table during {phase}" in log
    assert log.count("lightgbm - WARNING - a warning") == 4


def test_oos_metrics_pooled_rank_ic_and_icir() -> None:
    windows = [{"rank_ic": 0.1}, {"rank_ic": 0.3}, {"rank_ic": None}]
    data = {
        "summary": {"&-s_close": {"metric": "rank_ic", "mean": 0.05, "n": 10, "pairs": 2}},
        "pairs": {"BTC/USDT": {"labels": [{"kind": "regression", "windows": windows}]}},
    }
    out = oos_metrics(data)
    assert out["oos_rank_ic"] == pytest.approx(0.05)
    assert out["oos_icir"] == pytest.approx(0.2 / 0.02**0.5)
    assert oos_metrics({}) == {}
    classifier = {"summary": {"&-s_updown": {"metric": "accuracy", "mean": 0.58, "n": 244}}}
    assert oos_metrics(classifier) == {"accuracy": pytest.approx(0.58)}


def test_git_commit_unknown_outside_a_repository(tmp_path: Path) -> None:
    assert git_commit(tmp_path) == "unknown"
    (tmp_path / ".git" / "refs" / "heads").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".git" / "refs" / "heads" / "main").write_text("abc123\n")
    assert git_commit(tmp_path) == "abc123"


def test_an_unreachable_registry_stops_before_training(tmp_path: Path) -> None:
    """A dead tracking server is one line before any training (it used to train fully, hang
    for minutes in MLflow's retries and print a long traceback)."""
    import time

    from alert_helpers import closed_port

    cfg, data, _ = _setup(tmp_path, "train-dead")
    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    res = runner.invoke(app, _args(cfg, data, tmp_path, uri, "RadStrategy"))
    assert res.exit_code == 2, res.output
    assert time.monotonic() - started < 20
    assert "unreachable" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "user_data" / "models").exists()  # nothing trained


@pytest.mark.e2e
def test_train_with_train_workers_registers_the_same_predictions(tmp_path: Path) -> None:
    """`tradai train --train-workers 2` trains the windows in a process pool first and
    registers a version whose out-of-sample predictions are the serial run's."""
    cfg, data, uri = _setup(tmp_path, "train-par")
    base = _args(cfg, data, tmp_path, uri, "RadStrategy")
    for name, extra in (("serial", []), ("pooled", ["--train-workers", "2"])):
        res = runner.invoke(app, [*base, "--model-name", name, "--skip-leakage-check", *extra])
        assert res.exit_code == 0, res.output
    reg = RegistryClient(uri)
    tables = []
    for name in ("serial", "pooled"):
        v = reg.version(name, 1)
        folder = reg.client.download_artifacts(str(v.run_id), "oos")
        tables.append(pd.read_parquet(Path(folder) / "predictions.parquet"))
    serial, pooled = tables
    assert len(serial) > 100 and list(serial.columns) == list(pooled.columns)
    assert np.allclose(serial["prediction"], pooled["prediction"], atol=1e-9, equal_nan=True)
    logs = sorted((tmp_path / "user_data" / "tradai_runs").glob("train-par-*/train.log"))
    assert any("fits of 2 pairs trained on local" in p.read_text() for p in logs), logs
