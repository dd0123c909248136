"""Model health (pure, fixed clock) and ``tradai status`` over a real sqlite registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from registry_helpers import cli, cli_stdout, make_store

from tradai_strategy.lifecycle.promotion import Lifecycle, promote, retire
from tradai_strategy.lifecycle.status import (
    Health,
    accuracy_level,
    age_days,
    age_level,
    ic_level,
    model_status,
    performance_health,
    worst,
)
from tradai_strategy.registry.client import VersionInfo

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _ms(days_ago: float) -> int:
    return int((NOW - timedelta(days=days_ago)).timestamp() * 1000)


@pytest.mark.parametrize(
    ("ic", "level"),
    [(0.05, "green"), (0.03, "green"), (0.0299, "yellow"), (0.02, "yellow"), (0.0199, "red"),
     (-0.1, "red")],
)  # fmt: skip
def test_ic_thresholds(ic: float, level: str) -> None:
    assert ic_level(ic) == level


@pytest.mark.parametrize(
    ("acc", "level"),
    [(0.9, "green"), (0.85, "green"), (0.8499, "yellow"), (0.75, "yellow"), (0.7499, "red")],
)
def test_accuracy_thresholds(acc: float, level: str) -> None:
    assert accuracy_level(acc) == level


@pytest.mark.parametrize(
    ("days", "level"),
    [(0.0, "green"), (30.0, "green"), (30.01, "yellow"), (45.0, "yellow"), (45.01, "red")],
)
def test_age_thresholds(days: float, level: str) -> None:
    assert age_level(days) == level


def test_performance_prefers_accuracy_then_live_ic_then_oos() -> None:
    tags = {"tradai.monitor.rolling_ic": "0.035"}
    assert performance_health(tags, {"accuracy": 0.8, "oos_rank_ic": 0.05}) == Health(
        "yellow", "accuracy 80.0%"
    )
    assert performance_health(tags, {"oos_rank_ic": 0.01}) == Health(
        "green", "live cross-sectional IC +0.035"
    )
    assert performance_health({"tradai.monitor.rolling_ic": "nan"}, {"oos_rank_ic": 0.01}) == (
        Health("red", "OOS RankIC +0.010")
    )
    assert performance_health({}, {"sharpe": 1.0}).level == "unknown"
    assert worst(["green", "unknown"]) == "yellow"
    assert worst(["green", "red", "yellow"]) == "red"


def test_model_status_fixed_clock() -> None:
    versions = [
        VersionInfo("m", "3", ("staging",), {"tradai.validation_status": "pending"}, "", _ms(2)),
        VersionInfo("m", "2", ("production",), {"tradai.validation_status": "passed"}, "", _ms(31)),
        VersionInfo("m", "1", ("fallback",), {"tradai.retired": "true"}, "", _ms(60)),
    ]
    metrics = {
        "3": {"oos_rank_ic": 0.04, "sharpe": 1.5, "win_rate": 0.6},
        "2": {"oos_rank_ic": 0.035},
    }
    rows = model_status(versions, metrics, NOW)
    assert [(r.alias, r.version, r.overall) for r in rows] == [
        ("production", "2", "yellow"),  # IC green, 31 days old: yellow
        ("staging", "3", "green"),
        ("fallback", "1", "red"),  # retired (and no metric, 60 days old)
    ]
    assert rows[0].age_days == pytest.approx(31.0)
    assert rows[1].metrics == {"oos_rank_ic": 0.04, "sharpe": 1.5}  # only the shown ones
    assert rows[2].retired and rows[2].age.level == "red"
    assert age_days(_ms(1.5), NOW) == pytest.approx(1.5)


def test_status_cli_reports_the_registry(tmp_path: Path) -> None:
    name = "tradai-status"
    metrics = [
        {"oos_rank_ic": 0.031, "oos_icir": 0.4, "sharpe": 1.2, "trade_count": 40.0}
        | {"oos_cs_ic": 0.05, "oos_cs_ic_se": 0.02},
        {"oos_rank_ic": 0.015, "profit_total": 0.05, "max_drawdown": 0.08},
        {"accuracy": 0.8},
    ]
    uri = make_store(tmp_path, name, ["passed", "passed", "passed"], metrics)
    lc = Lifecycle.open(uri)
    promote(lc, name, 1, reason="first")
    promote(lc, name, 2, reason="second")
    promote(lc, name, 1, alias="fallback", reason="safe")
    promote(lc, name, 3, alias="challenger", reason="try")
    lc.registry.set_tags(name, 2, {"tradai.monitor.rolling_ic": "0.025"})
    code, out = cli_stdout(uri, "status", "--json")
    assert code == 0
    (model,) = json.loads(out)["models"]
    assert model["model"] == name and model["versions"] == 3 and model["latest"] == "3"
    aliases = model["aliases"]
    assert list(aliases) == ["production", "challenger", "fallback"]
    prod = aliases["production"]
    assert prod["version"] == "2" and prod["validation"] == "passed"
    assert prod["performance"] == {"level": "yellow", "basis": "live cross-sectional IC +0.025"}
    assert prod["metrics"] == {"oos_rank_ic": 0.015, "profit_total": 0.05, "max_drawdown": 0.08}
    assert 0 <= prod["age_days"] < 1 and prod["age"]["level"] == "green"
    assert aliases["fallback"]["performance"]["level"] == "green"  # OOS RankIC 0.031
    # the honest figures are shown; the ICIR of overlapping per-window ICs is not
    assert aliases["fallback"]["metrics"] == {
        "oos_rank_ic": 0.031,
        "oos_cs_ic": 0.05,
        "oos_cs_ic_se": 0.02,
        "sharpe": 1.2,
        "trade_count": 40.0,
    }
    assert aliases["challenger"]["performance"] == {"level": "yellow", "basis": "accuracy 80.0%"}
    code, table = cli(uri, "status")
    assert code == 0 and "TradAI model status" in table and "production" in table
    retire(lc, name, 2, reason="decay")
    code, out = cli_stdout(uri, "status", "--model", name, "--json")
    assert list(json.loads(out)["models"][0]["aliases"]) == ["challenger", "fallback"]


@pytest.mark.parametrize("width", [60, 80, 160])
def test_status_table_never_splits_a_name_or_a_metric(width: int) -> None:
    from rich.console import Console

    from tradai_strategy.cli.status import _table

    long = "tradai-MyLongStrategyName"
    version = VersionInfo(long, "3", ("production",), {"tradai.validation_status": "passed"}, "",
                          _ms(2))  # fmt: skip
    metrics = {"oos_rank_ic": 0.031, "oos_cs_ic": 0.05, "oos_cs_ic_se": 0.02, "sharpe": 1.2}
    rows = model_status([version], {"3": metrics}, NOW)
    console = Console(width=width, record=True, color_system=None)
    console.print(_table(rows, ["tradai-empty-model"], width))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width
    for whole in ("tradai-MyLongStrategyName", "csIC 0.050 ± 0.020", "tradai-empty-model"):
        assert whole in text, text  # it used to wrap one word per line at 80 columns
