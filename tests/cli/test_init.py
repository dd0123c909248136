"""``tradai init``: a project a FreqAI user can run at once, idempotent, never losing a file
the user changed; the shipped policy is the template's rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradai_strategy.cli.app import app, run_cli
from tradai_strategy.cli.init import render_policy

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _init(folder: Path, *args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["init", "--dir", str(folder), *args])
    return res.exit_code, " ".join(res.output.split())


def test_the_shipped_policy_is_the_templates_rendering() -> None:
    shipped = (ROOT / "configs" / "lifecycle.toml").read_text()
    assert render_policy(
        "tradai-RadStrategy", "RadStrategy", "configs/train.json", "user_data"
    ) == (shipped)


def test_init_is_idempotent_and_never_loses_a_users_file(tmp_path: Path) -> None:
    code, out = _init(tmp_path, "--strategy", "MyStrat")
    assert code == 0, out
    strategy = tmp_path / "user_data" / "strategies" / "MyStrat.py"
    shims = sorted(p.name for p in (tmp_path / "user_data" / "freqaimodels").glob("*.py"))
    assert "TrainingPredictionModel.py" in shims and "TradAIMLflowModel.py" in shims
    train = json.loads((tmp_path / "configs" / "train.json").read_text())
    assert train["strategy"] == "MyStrat" and train["datadir"] == "user_data/data/binance"
    policy = (tmp_path / "configs" / "lifecycle.toml").read_text()
    assert 'model_name = "tradai-MyStrat"' in policy and 'strategy = "MyStrat"' in policy
    assert (
        "1. freqtrade download-data" in out and "3. tradai train --config configs/train.json" in out
    )
    # again: nothing changes
    code, out = _init(tmp_path, "--strategy", "MyStrat")
    assert code == 0 and "created" not in out and out.count("unchanged") == len(shims) + 4
    # the user edits the strategy: kept, unless --force (which keeps a backup)
    strategy.write_text(strategy.read_text() + "\n# my edit\n")
    code, out = _init(tmp_path, "--strategy", "MyStrat")
    assert code == 0 and "kept: yours differs" in out and "# my edit" in strategy.read_text()
    code, out = _init(tmp_path, "--strategy", "MyStrat", "--force")
    assert code == 0 and "replaced" in out and "# my edit" not in strategy.read_text()
    (backup,) = strategy.parent.glob("MyStrat.py.bak-*")
    assert "# my edit" in backup.read_text()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--strategy", "my strat"], "--strategy 'my strat' is not a class name"),
        (["--pairs", "BTCUSDT"], "'BTCUSDT' is not a pair: write BASE/QUOTE"),
        (["--estimator", "xgboost"], "--estimator 'xgboost' is unknown"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, out = _init(tmp_path / "p", *args)
    assert code == 2 and out.startswith("error:") and message in out
    assert not (tmp_path / "p" / "configs").exists()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "estimator,target", [("lightgbm", "return"), ("catboost", "updown")], ids=["lgbm", "cat-cls"]
)
def test_scaffolded_variants_backtest_without_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, estimator: str, target: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(["init", "--strategy", "Scaffolded", "--estimator", estimator,
                    "--target", target]) == 0  # fmt: skip
    assert run_cli(["data", "synth", "--days", "150", "--signal", "planted",
                    "--datadir", "user_data/data/binance"]) == 0  # fmt: skip
    # the generated config as written, only a shorter history for the test's time budget
    cfg = json.loads(Path("configs/train.json").read_text())
    cfg["freqai"]["train_period_days"] = 30
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    Path("configs/short.json").write_text(json.dumps(cfg))
    code = run_cli(["backtest", "--offline", "--config", "configs/short.json", "--strategy",
                    "Scaffolded", "--userdir", "user_data", "--timerange", "20240301-20240401",
                    "--export", "trades"])  # fmt: skip
    assert code == 0
    results = list((tmp_path / "user_data" / "backtest_results").glob("*.zip"))
    assert results, "no backtest result written"
