"""`tradai retrain simulate` for a regime (5-class) model: a weekly policy replayed on the
herald market (regimes announced by the volumes, so a model can beat persistence), every
retrain gated by the accuracy gate on its purged holdout, retention keeping 3 versions.

The replay runs RadStrategy's own FreqAI features and a small LightGBM classifier through
the command; 6 months here (the 12-month run is measured in docs/regime-lifecycle.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, herald_config
from typer.testing import CliRunner

from tradai_strategy.cli.app import app

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
H = 12
START = pd.Timestamp("2024-01-01", tz="UTC")
# labels need 30 days of trailing windows (lookback 720) and the model 120 days of them
SIM_FROM = START + pd.Timedelta(days=155)
SIM_TO = SIM_FROM + pd.Timedelta(days=183)
POLICY = """
[model]
model_name = "tradai-regime"
[retrain]
interval = "weekly"
auto_promote = true
retrain_on_drift = false
[drift]
feature_drift = false
[retention]
keep_versions = 3
[validation]
min_accuracy = {min_accuracy}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Herald candles and a regime config; the command line minus --from/--to/--policy."""
    tmp = tmp_path_factory.mktemp("simulate-regime")
    config = herald_config(tmp, PAIRS, (SIM_TO - START).days + 3, H)
    data = tmp / "data"
    (tmp / "user_data").mkdir()
    return [
        *f"--config {config} --strategy RadStrategy --strategy-path {STRATEGIES}".split(),
        *f"--datadir {data} --userdir {tmp / 'user_data'} --train-days 120".split(),
    ]


def _simulate(
    market: list[str], tmp_path: Path, days: int, min_accuracy: float, *extra: str
) -> tuple[str, dict]:
    policy = tmp_path / "lifecycle.toml"
    policy.write_text(POLICY.format(min_accuracy=min_accuracy))
    out = tmp_path / "sim.json"
    end = SIM_FROM + pd.Timedelta(days=days)
    args = ["retrain", "simulate", "--from", f"{SIM_FROM:%Y-%m-%d}", "--to", f"{end:%Y-%m-%d}"]
    args += ["--policy", str(policy), *market, "--json", str(out), *extra]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return " ".join(res.output.split()), json.loads(out.read_text())


def test_weekly_regime_policy_gates_every_retrain_and_keeps_three_versions(
    market: list[str], tmp_path: Path
) -> None:
    text, report = _simulate(market, tmp_path, 183, 0.6)
    events = report["events"]
    by_action: dict[str, list[dict]] = {}
    for e in events[1:]:
        by_action.setdefault(e["action"], []).append(e)
    retrains = by_action["retrained"]
    promoted, kept = by_action.get("promoted", []), by_action.get("kept", [])
    deleted = by_action.get("deleted", [])
    print(
        f"\n{len(retrains)} retrains: {len(promoted)} promoted, {len(kept)} kept; "
        f"{len(deleted)} deleted; registry {report['registry']}; policy accuracy "
        f"{report['policy']['accuracy']:.3f} ± {report['policy']['accuracy_se']:.3f}, never "
        f"retrain {report['never_retrain']['accuracy']:.3f}, persistence "
        f"{report['persistence']['accuracy']:.3f}"
    )
    # weekly: one retrain every 7 days of the 183, each with one gate outcome the same day
    assert [e["date"] for e in retrains] == [
        f"{SIM_FROM + pd.Timedelta(days=7 * k):%Y-%m-%d}" for k in range(1, 27)
    ]
    outcomes = sorted(promoted + kept, key=lambda e: e["date"])
    assert [e["date"] for e in outcomes] == [e["date"] for e in retrains]
    for e in promoted:  # passed: every pair above 0.60 and beats persistence, no failure
        assert e["reason"].startswith("accuracy gate passed: holdout accuracy ")
        assert "[" not in e["reason"]
        for acc in re.findall(r"/USDT (\d\.\d+) vs persistence", e["reason"]):
            assert float(acc) > 0.6
    for e in kept:  # refused: a failed condition is named, the served version stays
        assert e["reason"].startswith("accuracy gate refused: ")
        assert "not above 0.60" in e["reason"] or "persistence not beaten" in e["reason"]
    assert promoted and kept, "the 0.60 floor lies inside the holdout accuracies here"
    # retention: 27 versions registered, all but the production and 3 unaliased deleted
    registry = report["registry"]
    assert len(retrains) + 1 - len(deleted) == len(registry) == 4
    production = [r["version"] for r in registry if r["alias"] == "production"]
    unaliased = [r["version"] for r in registry if r["alias"] is None]
    assert len(production) == 1 and len(unaliased) == 3
    assert (
        unaliased
        == sorted((v for v in range(1, len(retrains) + 2) if v not in production), reverse=True)[:3]
    )
    assert report["policy"]["deleted"] == len(deleted) and report["policy"]["retrains"] == 26
    assert "registry at the end (keep_versions = 3 unaliased): v" in text
    # the herald is learnt: both arms far above persistence, scored on the same rows
    pers = report["persistence"]
    for arm in ("policy", "never_retrain"):
        assert report[arm]["accuracy"] > pers["accuracy"] + 0.05
    assert "accuracy (every h-th row)" in text and "RankIC" not in text


def test_the_default_floor_refuses_every_regime_retrain(market: list[str], tmp_path: Path) -> None:
    """At validate's default 0.75 (above what the announced oracle reaches on this market)
    every candidate is refused and version 1 keeps serving; --min-accuracy overrides the
    policy's floor."""
    _, report = _simulate(market, tmp_path, 29, 0.6, "--min-accuracy", "0.75")
    actions = [e["action"] for e in report["events"][1:]]
    assert actions.count("retrained") == 4 and actions.count("kept") == 4
    assert "promoted" not in actions and report["settings"]["min_accuracy"] == 0.75
    assert all("not above 0.75" in e["reason"] for e in report["events"] if e["action"] == "kept")
    assert report["registry"][-1] == {"version": 1, "alias": "production"}
    assert len(report["registry"]) == 4  # v1 @production and the 3 newest refused ones


def test_without_auto_promote_a_passing_candidate_is_shadow_tested_on_accuracy(
    market: list[str], tmp_path: Path
) -> None:
    """auto_promote = false: a candidate that passes the gate (floor 0.45 here) is staged as
    @challenger and, 7 days later, promoted or discarded by the paired accuracy test of the
    shadow candles (a regime model has no IC to compare)."""
    policy = tmp_path / "lifecycle.toml"
    policy.write_text(
        POLICY.format(min_accuracy=0.45).replace("auto_promote = true", "auto_promote = false")
    )
    out = tmp_path / "shadow.json"
    end = SIM_FROM + pd.Timedelta(days=43)
    args = ["retrain", "simulate", "--from", f"{SIM_FROM:%Y-%m-%d}", "--to", f"{end:%Y-%m-%d}"]
    res = runner.invoke(app, [*args, "--policy", str(policy), *market, "--json", str(out)])
    assert res.exit_code == 0, res.output
    events = json.loads(out.read_text())["events"]
    staged = [e for e in events if e["action"] == "staged"]
    decided = [
        e
        for e in events
        if e["action"] in ("promoted", "discarded") and e["reason"].startswith("shadow accuracy")
    ]
    print(
        "\n"
        + "\n".join(f"{e['date']} {e['action']} v{e['version']}: {e['reason']}" for e in events)
    )
    assert staged and decided
    for e in decided:  # 7 days after its staging, the verdict of the paired accuracy test
        since = next(s["date"] for s in staged if s["version"] == e["version"])
        assert pd.Timestamp(e["date"]) - pd.Timestamp(since) == pd.Timedelta(days=7)
        assert "over" in e["reason"] and "one-sided p" in e["reason"]
