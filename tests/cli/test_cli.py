"""The `tradai` command: synth data, offline backtest, metrics, config build, help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freqai_helpers import run_training_backtest, timerange
from freqtrade.configuration.directory_operations import create_userdata_dir
from typer.testing import CliRunner

from tradai_strategy.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("backtest", "data", "config", "metrics", "demo"):
        assert cmd in res.output


def test_demo_outside_the_checkout_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "RadStrategy.py not found" in res.output and "make demo" in res.output
    assert "Traceback" not in res.output


def test_data_synth_writes_feather(tmp_path):
    res = runner.invoke(
        app,
        [
            "data",
            "synth",
            "--pairs",
            "BTC/USDT,SOL/USDT",
            "--days",
            "10",
            "--seed",
            "1",
            "--signal",
            "planted",
            "--datadir",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.glob("*.feather")) == [
        "BTC_USDT-1h.feather",
        "SOL_USDT-1h.feather",
    ]


def test_data_synth_bad_signal(tmp_path):
    res = runner.invoke(app, ["data", "synth", "--signal", "strong", "--datadir", str(tmp_path)])
    assert res.exit_code == 2
    assert "--signal 'strong' is unknown" in res.output


@pytest.mark.e2e
def test_backtest_offline_passes_freqtrade_arguments(tmp_path):
    assert (
        runner.invoke(
            app, ["data", "synth", "--days", "40", "--datadir", str(tmp_path / "data")]
        ).exit_code
        == 0
    )
    create_userdata_dir(str(tmp_path / "ud"), create_dir=True)
    cfg = json.loads((ROOT / "configs" / "train.json").read_text())
    cfg.pop("freqai")
    cfg.pop("freqaimodel")
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    res = runner.invoke(
        app,
        [
            "backtest",
            "--offline",
            "--config",
            str(tmp_path / "c.json"),
            "--strategy",
            "SampleNonMLStrategy",
            "--strategy-path",
            str(ROOT / "tests" / "strategies"),
            "--datadir",
            str(tmp_path / "data"),
            "--userdir",
            str(tmp_path / "ud"),
            "--timerange",
            "20240105-20240209",
            "--export",
            "trades",
        ],
    )
    assert res.exit_code == 0, res.output
    assert list((tmp_path / "ud" / "backtest_results").glob("*.zip"))


@pytest.mark.e2e
def test_backtest_missing_data_is_one_clear_error(tmp_path):
    create_userdata_dir(str(tmp_path / "ud"), create_dir=True)
    res = runner.invoke(
        app,
        [
            "backtest",
            "--offline",
            "--config",
            str(ROOT / "configs" / "train.json"),
            "--datadir",
            str(tmp_path),
            "--userdir",
            str(tmp_path / "ud"),
            "--freqaimodel-path",
            str(ROOT / "user_data" / "freqaimodels"),
            "--strategy-path",
            str(ROOT / "user_data" / "strategies"),
        ],
    )
    assert res.exit_code != 0
    assert "BTC_USDT-1h.feather" in res.output and "freqtrade download-data" in res.output


@pytest.mark.e2e
def test_metrics_show(tmp_path):
    from tradai_strategy.data.synthetic import write_synthetic_data

    write_synthetic_data(
        ["BTC/USDT", "ETH/USDT"], "1h", 70, seed=2, signal="planted", datadir=tmp_path / "d"
    )
    run_training_backtest(tmp_path, tmp_path / "d", identifier="cli-m", tr=timerange(40, 60))
    ud = str(tmp_path / "user_data")
    res = runner.invoke(app, ["metrics", "show", "--identifier", "cli-m", "--userdir", ud])
    assert res.exit_code == 0, res.output
    assert "pooled" in res.output and "BTC/USDT" in res.output
    res = runner.invoke(
        app, ["metrics", "show", "--identifier", "cli-m", "--userdir", ud, "--json"]
    )
    assert json.loads(res.stdout)["pairs"]["ETH/USDT"]["labels"][0]["label"] == "&-s_close"
    res = runner.invoke(app, ["metrics", "show", "--identifier", "nope", "--userdir", ud])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_config_build_matches_shipped(tmp_path):
    res = runner.invoke(app, ["config", "build", "--out", str(tmp_path)])
    assert res.exit_code == 0
    for name in ("train.json", "inference.json"):
        assert (tmp_path / name).read_text() == (ROOT / "configs" / name).read_text()
