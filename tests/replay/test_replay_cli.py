"""`tradai replay` on the command line: a short run, and bad input refused in one line
before the bot starts (no bot log, no trade database)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from freqai_helpers import STRATEGIES
from replay_helpers import csv_config, random_predictions, synthetic_datadir
from typer.testing import CliRunner

from tradai_strategy.cli import replay as cli_replay
from tradai_strategy.cli.common import TradAIGroup


def _app() -> typer.Typer:
    app = typer.Typer(cls=TradAIGroup)
    cli_replay.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `replay` a subcommand, as in `tradai`
        """Nothing."""

    return app


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("replay-cli")
    data = synthetic_datadir(root, days=15)
    csv = random_predictions(data, root / "preds.csv")
    return {"root": root, "data": data, "config": csv_config(root, data, csv)}


def _run(setup: dict, userdir: Path, *extra: str, config: Path | None = None):
    argv = ["replay", "--config", str(config or setup["config"]), "--strategy", "RadStrategy"]
    argv += ["--freqaimodel", "TradAIPredictionModel", "--strategy-path", str(STRATEGIES)]
    argv += ["--userdir", str(userdir), "--datadir", str(setup["data"]), *extra]
    return CliRunner().invoke(_app(), argv)


def test_a_short_replay_prints_its_summary(setup: dict) -> None:
    userdir = setup["root"] / "ok"
    result = _run(setup, userdir, "--timerange", "20240110-", "--max-candles", "4")
    assert result.exit_code == 0, result.output
    assert "candles replayed" in result.output
    summary = json.loads((userdir / "replay" / "summary.json").read_text())
    assert summary["candles"] == 4
    assert (summary["first_candle"], summary["last_candle"]) == (
        "2024-01-10 00:00",
        "2024-01-10 03:00",
    )
    assert (userdir / "tradesv3.replay.sqlite").is_file()


def test_compare_backtest_reports_the_trade_overlap(setup: dict) -> None:
    userdir = setup["root"] / "compare"
    result = _run(
        setup, userdir, "--timerange", "20240110-", "--max-candles", "48", "--compare-backtest"
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    line = text[text.index("replay vs backtest") :]
    table = pd.read_csv(userdir / "replay" / "trade_overlap.csv")
    total = len(table)
    assert total > 10 and (table["where"] == "both").all(), table
    assert f"{total} of {total} replay / {total} backtest trades" in line, line
    # the bot's last iteration entered on the span's last signal, after the backtest's end
    assert "1 more replay trade(s) opened after the span" in line, line


@pytest.mark.parametrize(
    ("timerange", "expected"),
    [
        ("20230101-20230201", "starts outside the candles"),
        ("20240110-20240301", "ends after the candles"),
        ("20240301-", "starts outside the candles"),
    ],
)
def test_a_timerange_outside_the_candles_is_one_line(
    setup: dict, timerange: str, expected: str
) -> None:
    userdir = setup["root"] / f"bad-{timerange}"
    result = _run(setup, userdir, "--timerange", timerange)
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], lines
    assert not (userdir / "replay" / "replay.log").exists()
    assert not (userdir / "tradesv3.replay.sqlite").exists()


def test_a_pair_without_candles_is_one_line(setup: dict) -> None:
    cfg = json.loads(setup["config"].read_text())
    cfg["exchange"]["pair_whitelist"] = ["BTC/USDT", "SOL/USDT"]
    path = setup["root"] / "sol.json"
    path.write_text(json.dumps(cfg))
    userdir = setup["root"] / "sol"
    result = _run(setup, userdir, "--timerange", "20240110-", config=path)
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "SOL/USDT has no 1h candles" in lines[0], lines
    assert not (userdir / "replay" / "replay.log").exists()


def _missing_csv(cfg: dict, root: Path) -> None:
    cfg["freqai"]["tradai"]["prediction_source"]["path"] = str(root / "nonexistent.csv")


def _registry_typo(cfg: dict, root: Path) -> None:
    source = {"type": "mlflow", "model_uri": "models:/Nope@production"}
    cfg["freqai"]["tradai"]["prediction_source"] = source
    cfg["freqai"]["tradai"]["tracking_uri"] = f"sqlite:///{root / 'no-such-registry.db'}"


def _unknown_registered_model(cfg: dict, root: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{root / 'empty-registry.db'}"
    MlflowClient(uri, registry_uri=uri).search_registered_models()  # creates the store
    source = {"type": "mlflow", "model_uri": "models:/Nope@production"}
    cfg["freqai"]["tradai"]["prediction_source"] = source
    cfg["freqai"]["tradai"]["tracking_uri"] = uri


@pytest.mark.parametrize(
    ("model", "change", "expected"),
    [
        ("NoSuchModel", None, "NoSuchModel is not a FreqAI model class"),
        ("TradAIPredictionModel", _missing_csv, "the model cannot load"),
        ("TradAIPredictionModel", _registry_typo, "no MLflow store at"),
        ("TradAIPredictionModel", _unknown_registered_model, "'Nope' is not registered"),
    ],
)
def test_a_model_that_cannot_load_is_one_line(
    setup: dict, model: str, change, expected: str
) -> None:
    cfg = json.loads(setup["config"].read_text())
    if change is not None:
        change(cfg, setup["root"])
    path = setup["root"] / f"bad-model-{model}.json"
    path.write_text(json.dumps(cfg))
    userdir = setup["root"] / "bad-model"
    argv = ["replay", "--config", str(path), "--strategy", "RadStrategy"]
    argv += ["--freqaimodel", model, "--strategy-path", str(STRATEGIES)]
    argv += ["--userdir", str(userdir), "--datadir", str(setup["data"]), "--timerange", "20240110-"]
    result = CliRunner().invoke(_app(), argv)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], lines
    assert not (userdir / "replay" / "replay.log").exists()
