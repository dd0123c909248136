"""``tradai status`` of a classifier (regime) model: a traffic light from its live accuracy
on the prediction log's non-overlapping rows (else its validation accuracy) and its age.
Real sqlite registry, a prediction log written through PredictionLog's classifier API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_helpers import cli, cli_stdout, make_store

from tradai_strategy.cli.status import _with_live_accuracy
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.lifecycle.status import model_status
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.registry.client import VersionInfo

NAME = "Regime"
CLASSES = ["bear", "bull", "crisis", "high_vol", "low_vol"]
H = 12


def _log(path: Path, rate: float, days: int = 30, seed: int = 0) -> Path:
    """``days`` of hourly regime rows of two pairs served by version 1, each h-block a hit
    with probability ``rate``; version 9 predicted "crisis" beside it (never right)."""
    rng = np.random.default_rng(seed)
    log = PredictionLog(path)
    t = pd.date_range("2026-05-01", periods=days * 24, freq="h", tz="UTC")
    ms = np.asarray(t.as_unit("ms").asi8, dtype=np.int64)
    hit = (rng.random(len(t) // H + 1) < rate)[np.arange(len(t)) // H]
    proba = np.tile([0.1, 0.6, 0.1, 0.1, 0.1], (len(t), 1))
    for pair in ("BTC/USDT", "ETH/USDT"):
        for version, regime in (("1", "bull"), ("9", "crisis")):
            labels = np.array([regime] * len(t), dtype=object)
            log.insert_classes(ms, pair, NAME, version, "champion", labels, proba, CLASSES, H)
        log.set_realised_labels(ms, pair, np.where(hit, "bull", "bear").astype(object))
    return path


@pytest.fixture()
def uri(tmp_path: Path) -> str:
    uri = make_store(tmp_path, NAME, ["passed"], [{"accuracy": 0.8}])
    promote(Lifecycle.open(uri), NAME, 1, reason="first")
    return uri


def test_without_a_log_the_validation_accuracy_decides(uri: str) -> None:
    code, out = cli_stdout(uri, "status", "--json")
    prod = json.loads(out)["models"][0]["aliases"]["production"]
    assert code == 0 and prod["performance"] == {"level": "yellow", "basis": "accuracy 80.0%"}
    assert prod["age"]["level"] == "green" and prod["overall"] == "yellow"


@pytest.mark.parametrize(("rate", "level"), [(0.97, "green"), (0.55, "red")])
def test_the_live_accuracy_of_the_served_version_decides(
    tmp_path: Path, uri: str, rate: float, level: str
) -> None:
    path = _log(tmp_path / "pred.sqlite", rate)
    code, out = cli_stdout(uri, "status", "--json", "--prediction-log", str(path))
    prod = json.loads(out)["models"][0]["aliases"]["production"]
    assert code == 0 and prod["performance"]["level"] == level and prod["overall"] == level
    basis = prod["performance"]["basis"]
    assert basis.startswith("live accuracy") and "n = 120 non-overlapping rows" in basis
    acc, se = prod["metrics"]["live_accuracy"], prod["metrics"]["live_accuracy_se"]
    assert abs(acc - rate) < 3 * se + 0.01 and 0 <= se < 0.1
    assert prod["metrics"]["accuracy"] == 0.8  # the validation figure is still shown
    live = prod["live"]
    assert (
        live["n"] == 120 and live["candles"] == 60 and live["pairs"] == 2 and live["horizon"] == H
    )
    assert len(live["daily"]) == 30 and all(d["n"] == 4 for d in live["daily"])
    assert live["daily"][0]["day"] == "2026-05-01"
    code, table = cli(uri, "status", "--prediction-log", str(path))
    assert code == 0 and "live acc" in table and "live accuracy" in table


def test_too_few_live_rows_keep_the_validation_accuracy(tmp_path: Path, uri: str) -> None:
    path = _log(tmp_path / "pred.sqlite", 0.97, days=5)  # 20 rows over 10 candles
    path2 = _log(tmp_path / "short.sqlite", 0.97, days=4)  # 16 rows: too few
    code, out = cli_stdout(uri, "status", "--json", "--prediction-log", str(path2))
    assert code == 0
    prod = json.loads(out)["models"][0]["aliases"]["production"]
    assert prod["performance"]["basis"] == "accuracy 80.0%" and "live" not in prod
    code, out = cli_stdout(uri, "status", "--json", "--prediction-log", str(path))
    assert code == 0
    assert json.loads(out)["models"][0]["aliases"]["production"]["performance"]["level"] == "green"


def test_a_missing_log_or_window_is_one_line(tmp_path: Path, uri: str) -> None:
    code, out = cli(uri, "status", "--prediction-log", str(tmp_path / "nope.sqlite"))
    assert code == 2 and "does not exist" in out
    code, out = cli(uri, "status", "--live-days", "0")
    assert code == 2 and "--live-days" in out


@pytest.mark.parametrize(("days_old", "overall"), [(10, "green"), (31, "yellow"), (46, "red")])
def test_age_turns_a_healthy_classifier_yellow_then_red(
    tmp_path: Path, days_old: float, overall: str
) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    created = int((now - timedelta(days=days_old)).timestamp() * 1000)
    version = VersionInfo(NAME, "1", ("production",), {}, "", created)
    rows = model_status([version], {"1": {"accuracy": 0.9}}, now)
    path = _log(tmp_path / "pred.sqlite", 0.97)
    (row,), _ = _with_live_accuracy(rows, path, 30)
    assert row.performance.level == "green" and row.overall == overall
    assert row.age.level == overall
