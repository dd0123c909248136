"""`tradai retrain --check` scenarios on planted prediction logs and a real sqlite registry.

Versions are registered cheaply (no training) and the prediction log is filled with rows
whose daily IC is exactly +1 or -1 (prediction = ±realised), so every trigger day is
computed by hand below. The retrain *flow* (train -> validate -> promote) with a real
training run lives in test_scheduler.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alert_helpers import Sink, closed_port
from retrain_helpers import NAME, at, plant, policy
from scipy import stats
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.lifecycle.retrain import check, schedule_due
from tradai_strategy.lifecycle.retrain_act import act
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.serving.loader import serving_version

runner = CliRunner()


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    """A log in which the bot served version 2 for 62 days with IC +1 (tests plant over it);
    an empty log would make every check warn that monitoring is blind."""
    log = PredictionLog(tmp_path / "predictions.sqlite")
    plant(log, "2", [1] * 62)
    return log


# 40 days of IC +1, then -1 (every candle of a day has the day's IC; horizon 1 candle).
DECAY = [1] * 40 + [-1] * 60
Z99 = stats.norm.ppf(0.99)


def window(signs: list[int], day: int) -> tuple[float, float]:
    """Oracle: mean and s.e. of the per-candle IC of the candles of the 30 UTC days up to
    ``day`` (horizon 1: no overlap, so the s.e. is the population s.d. over sqrt(n))."""
    x = np.repeat(np.asarray(signs, float), 24)[max(0, (day - 29) * 24) : (day + 1) * 24]
    return float(x.mean()), float(np.sqrt(((x - x.mean()) ** 2).mean() / len(x)))


def first_confident_day(signs: list[int], line: float) -> int:
    """First day whose 99% upper bound is below ``line``."""
    return next(d for d in range(9, len(signs)) if sum(window(signs, d) * np.r_[1, Z99]) < line)


FIRST_BELOW_RETRAIN = first_confident_day(DECAY, 0.02)  # day 55: -0.067 ± 0.037
FIRST_BELOW_RETIRE = first_confident_day(DECAY, 0.0)  # day 56: -0.133 ± 0.037


def test_ic_decay_retrains_on_exactly_the_tenth_day(lc: Lifecycle, log: PredictionLog) -> None:
    plant(log, "2", DECAY)
    pol = policy(lc, log)
    ninth = check(pol, now=at(FIRST_BELOW_RETRAIN + 8), lc=lc, log=log)
    assert ninth.action == "nothing"
    (ic,) = [f for f in ninth.findings if f.rule == "ic"]
    line = "ic_retrain_below 0.02 (no validated IC)"
    assert ic.status == "warn" and f"99% confident below {line} for 9 of 10 days" in ic.message
    tenth = check(pol, now=at(FIRST_BELOW_RETRAIN + 9), lc=lc, log=log)
    assert tenth.action == "retrain"
    assert tenth.reason == f"IC confidently below {line} for 10 days"
    mean, se = window(DECAY, FIRST_BELOW_RETRAIN + 9)
    assert tenth.metrics["rolling_ic"] == pytest.approx(mean)
    assert tenth.metrics["rolling_ic_se"] == pytest.approx(se)
    # a version with a validated IC is tested against it: 0.5 ± 0.1 moves the trigger earlier
    lc.registry.set_tags(NAME, "2", {"tradai.reference_ic": "0.5", "tradai.reference_ic_se": "0.1"})
    ref_day = next(
        d
        for d in range(9, len(DECAY))
        if window(DECAY, d)[0] + Z99 * np.hypot(window(DECAY, d)[1], 0.1) < 0.5
    )
    assert ref_day < FIRST_BELOW_RETRAIN
    early = check(pol, now=at(ref_day + 9), lc=lc, log=log)
    assert early.action == "retrain" and "the validated IC +0.5000 ± 0.1000" in early.reason
    assert check(pol, now=at(ref_day + 8), lc=lc, log=log).action == "nothing"
    # retrain_on_ic = false: the same log only warns
    off = check(dataclasses.replace(pol, retrain_on_ic=False), now=at(63), lc=lc, log=log)
    assert off.action == "nothing"


def test_thirty_days_below_zero_retire_and_the_fallback_is_served(
    lc: Lifecycle,
    log: PredictionLog,
    sink: Sink,
) -> None:
    plant(log, "2", DECAY)
    pol = policy(lc, log, alert_urls=(sink.url,))
    day29 = check(pol, now=at(FIRST_BELOW_RETIRE + 28), lc=lc, log=log)
    assert day29.action == "retrain"  # (10 days below 0.02 long ago, not 30 below 0 yet)
    day30 = check(pol, now=at(FIRST_BELOW_RETIRE + 29), lc=lc, log=log)
    assert day30.action == "retire"
    assert day30.reason.startswith("IC confidently below 0.0 for 30 days")
    out = act(day30, lc=lc, log=log)
    assert (out.result, out.exit_code, out.version) == ("retired", 14, "2")
    assert "serving falls back to @fallback 1" in out.message
    info = lc.registry.version(NAME, "2")
    assert info.tags["tradai.retired"] == "true" and info.aliases == ()
    served = serving_version(lc.registry, NAME)
    assert served is not None and served.version == "1"
    assert [e.action for e in lc.audit.events(NAME)][-2:] == ["retire", "retire"]
    events = [r["tradai"]["event"] for r in sink.received]
    assert events == ["stale_model", "ic_decay", "retirement"]  # (version 2 is 85 days old)
    assert sink.received[-1]["tradai"] | {} == {
        "event": "retirement",
        "level": "critical",
        "model": NAME,
        "version": "2",
        "fallback": "1",
    }
    # the next check has no production version: nothing to retire again
    again = check(pol, now=at(FIRST_BELOW_RETIRE + 30), lc=lc, log=log)
    assert again.action == "nothing" and again.production is None


def test_auto_rollback_fires_once_is_audited_and_alerted(
    lc: Lifecycle,
    log: PredictionLog,
    sink: Sink,
) -> None:
    # both versions predict with |error| = 0.02 against a baseline MAE of 0.01: ratio 2.0
    for version in ("1", "2"):
        lc.registry.set_tags(NAME, version, {"tradai.baseline_mae": "0.01"})
        plant(log, version, [1] * 10, error=0.02)
    # a dead alert URL first: logged, and the rollback still happens and reaches the sink
    dead = f"json://127.0.0.1:{closed_port()}/x"
    pol = policy(lc, log, alert_urls=(dead, sink.url))
    first = check(pol, now=at(9), lc=lc, log=log)
    assert first.action == "rollback"
    assert first.metrics["drift_ratio"] == pytest.approx(2.0)
    out = act(first, lc=lc, log=log)
    assert (out.result, out.exit_code, out.version) == ("rolled_back", 13, "1")
    assert lc.registry.resolve(NAME, "production") == "1"
    last = lc.audit.events(NAME)[-1]
    assert (last.action, last.from_version, last.to_version) == ("rollback", "2", "1")
    assert last.reason == "auto-rollback: error drift ratio 2.00 > 1.5 on version 2"
    rollback_alert = sink.received[-1]["tradai"]
    assert rollback_alert["event"] == "rollback" and rollback_alert["to_version"] == "1"
    assert rollback_alert["drift_ratio"] == pytest.approx(2.0)
    # version 1 drifts just as much, but it is the target of an automatic rollback
    second = check(pol, now=at(9), lc=lc, log=log)
    assert second.action == "nothing"
    (err,) = [f for f in second.findings if f.rule == "error"]
    assert "target of an automatic rollback" in err.message
    assert act(second, lc=lc, log=log).exit_code == 0
    assert [e.action for e in lc.audit.events(NAME)].count("rollback") == 1
    # promoted by hand again, version 2 is never rolled back automatically a second time
    promote(lc, NAME, "2", reason="fixed the feed")
    third = check(pol, now=at(9), lc=lc, log=log)
    assert third.action == "nothing"
    assert "already rolled back automatically" in next(
        f.message for f in third.findings if f.rule == "error"
    )


def test_feature_drift_triggers_a_retrain_only_when_critical(
    lc: Lifecycle, log: PredictionLog
) -> None:
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"f1": rng.normal(0, 1, 2000), "f2": rng.normal(0, 1, 2000)})
    shifted = pd.DataFrame({"f1": rng.normal(0, 1, 480), "f2": rng.normal(0.8, 1, 480)})
    pol = policy(lc, log, retrain_on_drift=True, cooldown_hours=24.0)
    d = check(pol, now=at(3), lc=lc, log=log, features=lambda p, v, now: (reference, shifted))
    assert d.action == "retrain" and d.reason.startswith("feature drift: KS 0.")
    assert d.metrics["max_ks"] > 0.2 and "(f2)" in d.reason
    # one critical feature of four is below drift_min_share (0.5): a warning, no retrain
    wide_ref = reference.assign(f3=reference["f1"], f4=reference["f1"])
    wide_cur = shifted.assign(f3=shifted["f1"], f4=shifted["f1"])
    few = check(pol, now=at(3), lc=lc, log=log, features=lambda p, v, now: (wide_ref, wide_cur))
    assert few.action == "nothing" and few.metrics["critical_share"] == 0.25
    assert "below drift_min_share 50%" in next(f for f in few.findings if f.rule == "drift").message
    calm = reference.sample(480, random_state=2)
    ok = check(pol, now=at(3), lc=lc, log=log, features=lambda p, v, now: (reference, calm))
    assert ok.action == "nothing"
    assert next(f for f in ok.findings if f.rule == "drift").status == "ok"
    # a ready per-pair table (B1's DriftReport.features) between warn and critical: warn only
    table = pd.DataFrame(
        {
            "pair": ["BTC/USDT", "ETH/USDT"],
            "feature": ["%rsi", "%rsi"],
            "ks": [0.05, 0.15],
            "level": ["ok", "warn"],
        }
    )
    warn = check(pol, now=at(3), lc=lc, log=log, features=lambda p, v, now: table)
    assert warn.action == "nothing" and warn.alerts[0].event == "drift_warning"
    assert "max KS 0.150 (ETH/USDT %rsi); 0 critical, 1 warn of 2" in warn.findings[-1].message

    def no_data(p: RetrainPolicy, v: object, now: pd.Timestamp) -> None:
        raise ValueError("no candles in data for BTC/USDT 1h:\n run download-data")

    skipped = check(pol, now=at(3), lc=lc, log=log, features=no_data)
    (drift,) = [f for f in skipped.findings if f.rule == "drift"]
    assert (drift.status, drift.message) == (
        "skipped",
        "feature drift not measured: no candles in data for BTC/USDT 1h: run download-data",
    )


def test_schedule_rules_by_hand() -> None:
    t = pd.Timestamp("2025-03-10 12:00", tz="UTC")
    assert not schedule_due("weekly", t, t + pd.Timedelta(days=6, hours=23))
    assert schedule_due("weekly", t, t + pd.Timedelta(days=7))
    assert not schedule_due("monthly", t, pd.Timestamp("2025-04-10 11:59", tz="UTC"))
    assert schedule_due("monthly", t, pd.Timestamp("2025-04-10 12:00", tz="UTC"))
    assert not schedule_due("month-end", t, pd.Timestamp("2025-03-31 23:59", tz="UTC"))
    assert schedule_due("month-end", t, pd.Timestamp("2025-04-01 00:00", tz="UTC"))
    assert not schedule_due("none", None, t) and schedule_due("weekly", None, t)


def test_cli_dry_run_prints_one_line_per_rule_and_exits_with_the_status(
    lc: Lifecycle, log: PredictionLog, tmp_path: Path
) -> None:
    toml = tmp_path / "lifecycle.toml"
    toml.write_text(
        f'[model]\nmodel_name = "{NAME}"\ntracking_uri = "{lc.registry.uri}"\n'
        f'prediction_log = "{log.path}"\n[drift]\nfeature_drift = false\n'
        '[retrain]\ninterval = "weekly"\n'
    )
    res = runner.invoke(app, ["retrain", "--check", "--dry-run", "--policy", str(toml)])
    out = " ".join(res.output.split())
    assert res.exit_code == 0, out  # versions registered seconds ago: nothing due
    assert f"{NAME} schedule ok interval weekly: not due" in out
    assert f"{NAME} ic skipped no realised prediction" in out
    assert f"{NAME} decision nothing (nothing to do)" in out
    toml.write_text(toml.read_text() + "ks_warn = 2\n")
    res = runner.invoke(app, ["retrain", "--check", "--policy", str(toml)])
    assert res.exit_code == 2
    assert "[retrain] ks_warn is unknown: it belongs in [drift]" in " ".join(res.output.split())


def cheap_trainer(lc: Lifecycle) -> Callable[[RetrainPolicy, pd.Timestamp], str]:
    """Registers a version without training (the real flow is in test_scheduler.py)."""

    def train(pol: RetrainPolicy, now: pd.Timestamp) -> str:
        manifest = {"tradai.manifest_sha256": "0" * 64}  # else never promoted
        mv = lc.registry.client.create_model_version(NAME, "file:///tmp/none", tags=manifest)
        return str(mv.version)

    return train


def gate(passed: bool) -> Callable[[RetrainPolicy, str], tuple[bool, str]]:
    """Tags like D's gate would, with a fixed verdict."""

    def validate(pol: RetrainPolicy, version: str) -> tuple[bool, str]:
        status = "passed" if passed else "failed"
        Lifecycle.open(pol.tracking_uri).registry.set_tags(
            NAME, version, {"tradai.validation_status": status}
        )
        return passed, "all checks passed" if passed else "IC too weak"

    return validate


@pytest.mark.parametrize(
    ("auto_promote", "result", "code", "production", "challenger"),
    [(True, "promoted", 10, "3", None), (False, "challenger", 11, "2", "3")],
)
def test_retrain_outcomes_move_the_right_alias(
    lc: Lifecycle,
    log: PredictionLog,
    sink: Sink,
    auto_promote: bool,
    result: str,
    code: int,
    production: str,
    challenger: str | None,
) -> None:
    pol = policy(
        lc,
        log,
        interval="weekly",
        auto_promote=auto_promote,
        alert_urls=(sink.url,),
        training_slow_hours=1e-9,
    )
    d = check(pol, now=at(8), lc=lc, log=log)
    assert d.action == "retrain"
    out = act(d, lc=lc, log=log, trainer=cheap_trainer(lc), validator=gate(True))
    assert (out.result, out.exit_code, out.version) == (result, code, "3")
    aliases = lc.registry.aliases(NAME)
    assert aliases["production"] == production and aliases.get("challenger") == challenger
    events = [r["tradai"]["event"] for r in sink.received]
    assert events == ["training_slow", "promoted" if auto_promote else "retrained"]
    assert lc.registry.version(NAME, "3").tags["tradai.trigger"] == d.reason


def test_training_failure_is_alerted_and_changes_nothing(
    lc: Lifecycle,
    log: PredictionLog,
    sink: Sink,
) -> None:
    def broken(pol: RetrainPolicy, now: pd.Timestamp) -> str:
        raise RuntimeError("no candles for BTC/USDT in 20250101-20250501\nmore detail")

    pol = policy(lc, log, interval="weekly", alert_urls=(sink.url,))
    out = act(
        check(pol, now=at(8), lc=lc, log=log), lc=lc, log=log, trainer=broken, validator=gate(True)
    )
    assert (out.result, out.exit_code) == ("failed", 1)
    assert "RuntimeError: no candles for BTC/USDT in 20250101-20250501 (log: " in out.message
    assert lc.registry.aliases(NAME) == {"fallback": "1", "production": "2"}
    (alert,) = [r["tradai"] for r in sink.received]
    assert (alert["event"], alert["level"], alert["version"]) == (
        "training_failed",
        "critical",
        "2",
    )


def test_condition_alerts_repeat_at_most_daily(
    lc: Lifecycle,
    log: PredictionLog,
    sink: Sink,
) -> None:
    pol = policy(lc, log, alert_urls=(sink.url,))  # version 2 is ~61 days old at day 60
    for when in (at(60), at(60) + pd.Timedelta(hours=23), at(61), at(61) + pd.Timedelta(hours=1)):
        act(check(pol, now=when, lc=lc, log=log), lc=lc, log=log)
    assert [r["tradai"]["event"] for r in sink.received] == ["stale_model", "stale_model"]
    assert sink.received[0]["tradai"]["age_days"] == pytest.approx(61, abs=1)


def test_a_missing_or_silent_prediction_log_is_said_not_nothing_to_do(
    lc: Lifecycle, tmp_path: Path, sink: Sink
) -> None:
    missing = tmp_path / "nowhere" / "predictions.sqlite"
    pol = dataclasses.replace(
        policy(lc, PredictionLog(tmp_path / "unused.sqlite")),
        prediction_log=str(missing),
        alert_urls=(sink.url,),
    )
    d = check(pol, now=at(3), lc=lc)
    (blind,) = [f for f in d.findings if f.rule == "log"]
    assert blind.status == "warn" and f"prediction log {missing} does not exist" in blind.message
    assert d.action == "nothing"
    act(d, lc=lc)
    assert [r["tradai"]["event"] for r in sink.received] == ["monitoring_blind"]
    assert not missing.exists()  # the check never creates a log where the bot writes none
    # a log that exists but holds nothing of the production version for days
    empty = PredictionLog(tmp_path / "empty.sqlite")
    plant(empty, "1", [1] * 5)  # another version's rows only
    silent = check(dataclasses.replace(pol, prediction_log=str(empty.path)), now=at(4), lc=lc)
    (blind,) = [f for f in silent.findings if f.rule == "log"]
    assert "has no prediction of version 2 in the last 61 days" in blind.message
    # a log with the version's rows: no warning
    plant(empty, "2", [1] * 5)
    seen = check(dataclasses.replace(pol, prediction_log=str(empty.path)), now=at(4), lc=lc)
    assert not [f for f in seen.findings if f.rule == "log"]
