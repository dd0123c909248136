"""``python -m tradai_strategy``: the environment-driven container entry point."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from freqai_helpers import ROOT, STRATEGIES, small_training_config, timerange

from tradai_strategy.cli.entrypoint import main, plan_from_env
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.paths import freqaimodels_path
from tradai_strategy.core.settings import TradingMode
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.registry.client import RegistryClient

VALID = "train, backtest, hyperopt, dry-run, live"


def _module(env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TRADAI_", "TRADING_"))}
    base.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "tradai_strategy"],
        env={**base, "OMP_NUM_THREADS": "1", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bad_trading_mode_exits_2_listing_the_valid_modes(tmp_path: Path) -> None:
    res = _module({"TRADING_MODE": "paper"}, tmp_path, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines == [f"error: TRADING_MODE='paper' is not a trading mode: use one of {VALID}"]


def test_missing_trading_mode_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({}) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: TRADING_MODE is not set: set it to one of {VALID}"


def test_trading_mode_parse_accepts_spellings() -> None:
    assert TradingMode.parse("Dry_Run") is TradingMode.DRY_RUN
    assert TradingMode.parse(" LIVE ") is TradingMode.LIVE
    assert [m.value for m in TradingMode] == VALID.split(", ")
    assert TradingMode.TRAIN.default_config == "configs/train.json"
    assert TradingMode.LIVE.default_config == "configs/inference.json"


def test_plans_per_mode_with_defaults_from_the_checkout() -> None:
    train = plan_from_env({"TRADING_MODE": "train", "MLFLOW_TRACKING_URI": "http://h:5000"}, ROOT)
    assert train.program == "tradai"
    assert train.argv == [
        "train",
        *("--strategy", "RadStrategy", "--config", str(ROOT / "configs/train.json")),
        *("--tracking-uri", "http://h:5000"),
    ]
    env = {
        "TRADING_MODE": "backtest",
        "STRATEGY_NAME": "MyStrategy",
        "TRADAI_CONFIG": "configs/train.json, configs/inference.json",
        "TRADAI_TIMERANGE": "20250101-20250201",
        "TRADAI_OFFLINE": "1",
        "TRADAI_ARGS": "--userdir '/data/user data' --cache none",
    }
    bt = plan_from_env(env, ROOT)
    assert bt.program == "freqtrade" and bt.offline
    assert bt.argv[:3] == ["backtesting", "--strategy", "MyStrategy"]
    assert bt.configs == [ROOT / "configs/train.json", ROOT / "configs/inference.json"]
    assert "--timerange" in bt.argv and "20250101-20250201" in bt.argv
    assert bt.argv[-4:] == ["--userdir", "/data/user data", "--cache", "none"]
    # The shims ship inside the installed package, so the path does not depend on the cwd.
    assert bt.argv[bt.argv.index("--freqaimodel-path") + 1] == str(freqaimodels_path())
    dry = plan_from_env({"TRADING_MODE": "dry-run"}, ROOT)
    assert dry.argv[:2] == ["trade", "--dry-run"]
    assert dry.configs == [ROOT / "configs/inference.json"]
    hyper = plan_from_env({"TRADING_MODE": "hyperopt"}, ROOT)
    assert hyper.argv[0] == "hyperopt" and hyper.configs == [ROOT / "configs/train.json"]


def test_live_requires_dry_run_false(tmp_path: Path) -> None:
    cfg = json.loads((ROOT / "configs/inference.json").read_text())
    (tmp_path / "live.json").write_text(json.dumps({**cfg, "dry_run": False}))
    plan = plan_from_env({"TRADING_MODE": "live", "TRADAI_CONFIG": "live.json"}, tmp_path)
    assert plan.argv[0] == "trade" and "--dry-run" not in plan.argv
    with pytest.raises(TradAIConfigError, match=r'do not set "dry_run": false'):
        plan_from_env({"TRADING_MODE": "live"}, ROOT)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRADAI_CONFIG": "nope.json"}, "TRADAI_CONFIG: nope.json does not exist"),
        ({"TRADAI_OFFLINE": "maybe"}, "TRADAI_OFFLINE='maybe' is not a boolean"),
        ({"TRADAI_ARGS": "--userdir 'x"}, "TRADAI_ARGS cannot be parsed"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(TradAIConfigError, match=message):
        plan_from_env({"TRADING_MODE": "train", **env}, ROOT)


def test_offline_or_timerange_refused_for_trading() -> None:
    with pytest.raises(TradAIConfigError, match=r"TRADAI_OFFLINE does not apply to .*dry-run"):
        plan_from_env({"TRADING_MODE": "dry-run", "TRADAI_OFFLINE": "1"}, ROOT)
    with pytest.raises(TradAIConfigError, match="TRADAI_TIMERANGE does not apply"):
        plan_from_env({"TRADING_MODE": "dry-run", "TRADAI_TIMERANGE": "20250101-"}, ROOT)


def _training_setup(tmp_path: Path, identifier: str) -> Path:
    pairs = ["BTC/USDT", "ETH/USDT"]
    data = tmp_path / "data"
    write_synthetic_data(pairs, "1h", 70, seed=11, signal="planted", datadir=data)
    cfg = small_training_config(data, identifier, pairs=pairs, backtest_period_days=15, trees=40)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    return data


@pytest.mark.e2e
def test_backtest_mode_runs_freqtrade_backtesting_in_process(tmp_path: Path) -> None:
    data = _training_setup(tmp_path, "entry-bt")
    extra = ["--strategy-path", str(STRATEGIES), "--datadir", str(data)]
    extra += ["--userdir", str(tmp_path / "user_data"), "--export", "trades"]
    env = {
        "TRADING_MODE": "backtest",
        "TRADAI_CONFIG": str(tmp_path / "cfg.json"),
        "TRADAI_TIMERANGE": timerange(40, 56),
        "TRADAI_OFFLINE": "1",
        "TRADAI_ARGS": shlex.join(extra),
    }
    assert main(env) == 0
    assert list((tmp_path / "user_data" / "backtest_results").glob("*.zip"))
    assert (tmp_path / "user_data" / "models" / "entry-bt" / "tradai_metrics.json").is_file()
    # freqtrade's own errors keep its exit code and one line
    assert main({**env, "TRADAI_TIMERANGE": "not-a-range"}) == 2


@pytest.mark.e2e
def test_train_mode_in_a_subprocess_registers_a_version(tmp_path: Path) -> None:
    data = _training_setup(tmp_path, "entry-train")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    extra = ["--strategy-path", str(STRATEGIES), "--datadir", str(data)]
    extra += ["--userdir", str(tmp_path / "user_data"), "--model-name", "rad-entry"]
    res = _module(
        {
            "TRADING_MODE": "train",
            "TRADAI_CONFIG": str(tmp_path / "cfg.json"),
            "TRADAI_TIMERANGE": timerange(40, 56),
            "TRADAI_OFFLINE": "1",
            "TRADAI_ARGS": shlex.join(extra),
            "MLFLOW_TRACKING_URI": uri,
        },
        ROOT,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "TradAI train: tradai train --strategy RadStrategy" in res.stderr
    assert "registered rad-entry version 1" in res.stdout
    version = RegistryClient(uri).version("rad-entry", 1)
    assert version.tags["tradai.strategy"] == "RadStrategy"
    assert version.tags["tradai.data_range"] == timerange(40, 56)


def test_missing_userdir_is_created_also_for_userdir_equals_path(tmp_path: Path) -> None:
    (tmp_path / "cfg.json").write_text('{"exchange": {"name": "binance", "pair_whitelist": []}}')
    userdir = tmp_path / "made here"
    env = {
        "TRADING_MODE": "backtest",
        "TRADAI_CONFIG": str(tmp_path / "cfg.json"),
        "TRADAI_ARGS": shlex.join([f"--userdir={userdir}"]),
    }
    assert main(env) == 2  # the incomplete config fails, after the userdir was created
    assert (userdir / "backtest_results").is_dir()


@pytest.mark.e2e
def test_tradai_backtest_never_reuses_a_stale_identifier_or_a_cached_result(
    tmp_path: Path,
) -> None:
    """A second training backtest under the same FreqAI identifier would load the first
    run's saved models ("Found model at ..."): refused in one line unless --reuse-models;
    freqtrade's result cache is off, so a rerun runs (a new result file) instead of
    returning the cached result."""
    import time

    from typer.testing import CliRunner

    from tradai_strategy.cli.app import app

    data = _training_setup(tmp_path, "stale-id")
    userdir = tmp_path / "user_data"
    userdir.mkdir()
    args = ["backtest", "--offline", "--config", str(tmp_path / "cfg.json")]
    args += ["--strategy", "RadStrategy", "--strategy-path", str(STRATEGIES)]
    args += ["--freqaimodel", "TrainingPredictionModel", "--datadir", str(data)]
    args += ["--userdir", str(userdir), "--timerange", timerange(40, 56)]
    args += ["--export", "trades"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert any((userdir / "models" / "stale-id").iterdir())
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    line = again.output.strip().splitlines()[-1]
    assert "'stale-id' already has saved models" in line and "--reuse-models" in line
    assert "Traceback" not in again.output
    time.sleep(1.1)  # result files are named by the second: two runs, two names
    reused = runner.invoke(app, [*args, "--reuse-models"])
    assert reused.exit_code == 0, reused.output
    assert len(list((userdir / "backtest_results").glob("*.zip"))) == 2  # ran, not cached
