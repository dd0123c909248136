"""`tradai scheduler` (one instance via a lock file, --once) and the real retrain flow:
`tradai retrain --check` trains on synthetic candles, validates through the gate and
promotes, in-process and offline."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from alert_helpers import Sink
from freqai_helpers import STRATEGIES, small_training_config
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.lifecycle.policy import load_policy, lock_path
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.lifecycle.scheduler import run_check

runner = CliRunner()
NAME = "tradai-flow"


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store, created once (that takes seconds)."""
    root = tmp_path_factory.mktemp("empty")
    Lifecycle.open(f"sqlite:///{root / 'mlflow.db'}").registry.models()
    return root / "mlflow.db"


@pytest.fixture
def store(empty_store: Path, tmp_path: Path) -> Path:
    """A copy of the empty store at ``tmp_path/mlflow.db`` (what _policy_file points at)."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    return tmp_path / "mlflow.db"


def _policy_file(tmp: Path, extra: str = "") -> Path:
    path = tmp / "lifecycle.toml"
    path.write_text(
        f'[model]\nmodel_name = "{NAME}"\ntracking_uri = "sqlite:///{tmp / "mlflow.db"}"\n'
        f'[retrain]\ninterval = "none"\n[train]\nuserdir = "{tmp / "user_data"}"\n' + extra
    )
    return path


def test_second_scheduler_exits_naming_the_lock_holder(tmp_path: Path, store: Path) -> None:
    policy = _policy_file(tmp_path)
    lock = lock_path(load_policy(policy))
    assert lock == tmp_path / "tradai_scheduler.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from tradai_strategy.lifecycle.scheduler import SchedulerLock\n"
            f"held = SchedulerLock({str(lock)!r}); held.acquire()\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        res = runner.invoke(app, ["scheduler", "--policy", str(policy), "--once"])
        assert res.exit_code == 2
        expected = (
            f"another tradai scheduler or retrain check is running (PID {holder.pid} holds "
            f"{lock}): wait for it or stop it"
        )
        assert expected in _words(res.output)
        # a check that would act waits its turn too; a dry run only reads
        res = runner.invoke(app, ["retrain", "--check", "--policy", str(policy)])
        assert res.exit_code == 2 and expected in _words(res.output)
        res = runner.invoke(app, ["retrain", "--check", "--dry-run", "--policy", str(policy)])
        assert res.exit_code == 0, res.output
    finally:
        holder.kill()
        holder.wait()
    # the OS released the dead holder's lock: the next scheduler runs its check
    # (no model registered yet + a weekly schedule: the first training is due)
    policy.write_text(policy.read_text().replace('"none"', '"weekly"'))
    res = runner.invoke(app, ["scheduler", "--policy", str(policy), "--once", "--dry-run"])
    assert res.exit_code == 20, res.output
    out = _words(res.output)
    assert f"{NAME} schedule trigger weekly retrain due (no version yet)" in out
    assert f"{NAME} outcome would_act dry run: would retrain" in out
    assert lock.read_text().strip() != str(holder.pid)


@pytest.mark.e2e
def test_retrain_that_fails_validation_keeps_production(
    tmp_path: Path,
    store: Path,
    sink: Sink,
) -> None:
    """Version 1 (registered cheaply) is @production; 8 days later the weekly schedule
    retrains on the last 29 days of a pure random walk (planted truth: nothing to learn),
    the walk-forward gate rejects version 2 and production stays on version 1: exit 12."""
    now = pd.Timestamp.now(tz="UTC").floor("D") + pd.Timedelta(days=8)
    data = tmp_path / "data"
    write_synthetic_data(
        ["BTC/USDT"],
        "1h",
        70,
        seed=11,
        signal="none",
        datadir=data,
        start=now - pd.Timedelta(days=69),
    )
    cfg = small_training_config(
        data,
        "retrain-flow",
        pairs=["BTC/USDT"],
        train_period_days=20,
        backtest_period_days=9,
        trees=60,
    )
    (tmp_path / "train.json").write_text(json.dumps(cfg))
    path = _policy_file(
        tmp_path,
        f'train_config = ["{tmp_path / "train.json"}"]\nstrategy_path = "{STRATEGIES}"\n'
        f'datadir = "{data}"\ntrain_days = 29\noffline = true\nskip_leakage_check = true\n'
        '[validation]\nvalidation_cv = "walkforward"\nvalidation_n_groups = 4\n'
        "validation_seeds = 1\nvalidation_jobs = 1\n"
        f'[alerts]\nalert_urls = ["{sink.url}"]\n',
    )
    path.write_text(path.read_text().replace('interval = "none"', 'interval = "weekly"'))
    policy = dataclasses.replace(load_policy(path), auto_promote=True)
    lc = Lifecycle.open(policy.tracking_uri)
    lc.registry.client.create_registered_model(NAME)
    manifest = {"tradai.manifest_sha256": "0" * 64}  # a version without one is never promoted
    mv = lc.registry.client.create_model_version(NAME, tmp_path.as_uri(), tags=manifest)
    lc.registry.set_tags(NAME, mv.version, {"tradai.validation_status": "passed"})
    promote(lc, NAME, "1", reason="first")

    decision, outcome = run_check(policy, now=now)
    assert decision.action == "retrain" and decision.reason.startswith("weekly schedule")
    assert (outcome.result, outcome.exit_code, outcome.version) == ("kept", 12, "2")
    assert "production stays on 1" in outcome.message
    assert lc.registry.resolve(NAME, "production") == "1"
    v2 = lc.registry.version(NAME, "2")
    assert v2.aliases == () and v2.tags["tradai.validation_status"] == "failed"
    assert v2.tags["tradai.validation_reasons"] in outcome.message
    assert v2.tags["tradai.trigger"] == decision.reason
    assert v2.tags["tradai.data_range"] == (f"{now - pd.Timedelta(days=29):%Y%m%d}-{now:%Y%m%d}")
    assert [e.action for e in lc.audit.events(NAME)] == ["promote"]  # no alias moved
    # no bot ever logged version 1's predictions here: the check also says it is blind
    blind, alert = [r["tradai"] for r in sink.received]
    assert blind["event"] == "monitoring_blind" and blind["version"] == "1"
    assert alert["event"] == "validation_failed" and alert["version"] == "2"
    assert alert["model"] == NAME and alert["level"] == "warning"
    logs = list((tmp_path / "user_data" / "tradai_runs").glob("retrain-*.log"))
    assert len(logs) == 1 and "BACKTESTING REPORT" in logs[0].read_text()
