"""The retraining policy for a regime (multi-class) model: the policy's accuracy gate settings
reach `tradai validate`'s gate, and `tradai retrain --check` judges the live accuracy.

Planted truth: prediction-log rows of a 5-class model whose hits follow a fixed pattern of
12-candle blocks (the realised regime of neighbouring candles shares its forward window), so
the accuracy on the non-overlapping rows is known exactly; a real sqlite registry and a real
prediction log (no training for the check; the gate test runs the real validation).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alert_helpers import Sink
from freqai_helpers import herald_config
from retrain_helpers import NAME, day0, policy
from scipy import stats

from tradai_strategy.core.regimes import REGIMES
from tradai_strategy.lifecycle.policy import PolicyError, RetrainPolicy, load_policy
from tradai_strategy.lifecycle.promotion import Lifecycle
from tradai_strategy.lifecycle.retrain import check
from tradai_strategy.lifecycle.retrain_act import act
from tradai_strategy.monitoring.class_accuracy import live_accuracy
from tradai_strategy.monitoring.prediction_log import PredictionLog

H = 12
PAIRS = ("BTC/USDT", "ETH/USDT")
CLASSES = sorted(REGIMES)


def plant_classes(
    log: PredictionLog, version: str, days: int, hits_in_ten: int, role: str = "champion"
) -> None:
    """``days`` days of hourly rows from :func:`day0` for both pairs: the realised regime
    cycles per 12-candle block; the prediction is right on the blocks whose number mod 10 is
    below ``hits_in_ten`` (the same blocks for both pairs), wrong by one class elsewhere."""
    times = pd.date_range(day0(), periods=24 * days, freq="h")
    ms = np.asarray(times.as_unit("ms").asi8, dtype=np.int64)
    block = ms // (3_600_000 * H)
    realised = np.asarray([CLASSES[b % 5] for b in block], dtype=object)
    hit = block % 10 < hits_in_ten
    predicted = np.where(hit, realised, [CLASSES[(b + 1) % 5] for b in block])
    proba = np.full((len(times), 5), 0.1)
    proba[np.arange(len(times)), [CLASSES.index(c) for c in predicted]] = 0.6
    for pair in PAIRS:
        log.insert_classes(ms, pair, NAME, version, role, predicted, proba, CLASSES, H)
        log.set_realised_labels(ms, pair, realised)


def oracle(log: PredictionLog, now: pd.Timestamp, days: int = 30) -> tuple[float, float]:
    frame = log.class_frame(NAME, role="champion")
    frame = frame[(frame["version"] == "2") & (frame["time"] <= now)]
    live = live_accuracy(frame, days, now=now)
    assert live is not None
    return live.accuracy, live.se


def end_of(day: int) -> pd.Timestamp:
    return day0() + pd.Timedelta(days=day, hours=23)


@pytest.mark.parametrize(
    ("hits", "status", "action", "event"),
    [
        (10, "ok", "nothing", None),
        (7, "warn", "nothing", "accuracy_warning"),
        (5, "trigger", "retrain", "accuracy_critical"),
    ],
)
def test_live_accuracy_warns_and_retrains_when_confidently_below_the_lines(
    lc: Lifecycle, tmp_path: Path, sink: Sink, hits: int, status: str, action: str, event: str
) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    plant_classes(log, "2", 40, hits)
    now = end_of(39)
    pol = policy(lc, log, alert_urls=(sink.url,), stale_warn_days=60, stale_model_days=90)
    d = check(pol, now=now, lc=lc, log=log)
    acc, se = oracle(log, now)
    assert acc == pytest.approx(hits / 10, abs=0.02)
    upper = acc + stats.norm.ppf(0.99) * se
    (finding,) = [f for f in d.findings if f.rule == "accuracy"]
    print(f"\n{hits}/10: {finding.status} {finding.message}")
    assert finding.status == status and d.action == action
    assert d.metrics["live_accuracy"] == pytest.approx(acc)
    assert d.metrics["live_accuracy_se"] == pytest.approx(se)
    assert d.metrics["live_accuracy_upper"] == pytest.approx(upper)
    assert f"99% upper bound {upper:.1%}" in finding.message
    # the IC rules cannot read a regime model: said, not "no realised prediction"
    (ic,) = [f for f in d.findings if f.rule == "ic"]
    assert ic.status == "skipped" and "more than two classes" in ic.message
    if action == "retrain":
        assert d.reason.startswith(f"live accuracy {acc:.1%} ± {se:.1%} confidently below 75%")
        assert upper < 0.75
    elif status == "warn":
        assert 0.75 <= upper < 0.85
    else:
        assert upper >= 0.85
    act(d, lc=lc, log=log, trainer=_failing_trainer)
    events = [r["tradai"]["event"] for r in sink.received]
    expected = [event] if event else []
    if action == "retrain":  # the training failure is alerted too
        expected.append("training_failed")
    assert events == expected
    if event:
        alert = sink.received[0]["tradai"]
        assert alert["level"] == ("critical" if action == "retrain" else "warning")
        assert alert["live_accuracy"] == pytest.approx(round(acc, 4))


def _failing_trainer(p: RetrainPolicy, now: pd.Timestamp) -> str:
    raise RuntimeError("no candles for the training window")


def test_accuracy_retrain_waits_for_the_cooldown_and_can_be_switched_off(
    lc: Lifecycle, tmp_path: Path
) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    plant_classes(log, "2", 40, 5)
    now = end_of(39)
    pol = policy(lc, log)
    # a version trained a day ago (the last retrain attempt, refused by the gate) is newest
    mv = lc.registry.client.create_model_version(NAME, tmp_path.as_uri())
    recent = dataclasses.replace(pol, cooldown_hours=24.0 * 60)
    d = check(recent, now=now, lc=lc, log=log)
    (f,) = [f for f in d.findings if f.rule == "accuracy"]
    assert d.action == "nothing" and f.status == "warn" and "cooldown_hours = 1440" in f.message
    lc.registry.client.delete_model_version(NAME, mv.version)
    off = check(dataclasses.replace(pol, retrain_on_accuracy=False), now=now, lc=lc, log=log)
    (f,) = [f for f in off.findings if f.rule == "accuracy"]
    assert off.action == "nothing" and "retrain_on_accuracy = false" in f.message
    assert [a.event for a in off.alerts if a.event.startswith("accuracy")] == ["accuracy_critical"]
    # a shorter window with too few rows: skipped, and says why
    few = check(pol, now=day0() + pd.Timedelta(days=3), lc=lc, log=log)
    (f,) = [f for f in few.findings if f.rule == "accuracy"]
    assert f.status == "skipped" and "fewer than 20 non-overlapping rows" in f.message


def test_stale_model_alerts_warning_after_30_days_critical_after_45(
    lc: Lifecycle, tmp_path: Path, sink: Sink
) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    plant_classes(log, "2", 50, 10)
    pol = policy(lc, log, alert_urls=(sink.url,))
    levels = []
    for day in (20, 35, 49):
        d = check(pol, now=end_of(day), lc=lc, log=log)
        ages = [f for f in d.findings if f.rule == "age"]
        act(d, lc=lc, log=log)
        levels.append((ages[0].message if ages else "", [a.level for a in d.alerts]))
    assert levels[0] == ("", [])
    assert "days old (> 30)" in levels[1][0] and levels[1][1] == ["warning"]
    assert "days old (> 45)" in levels[2][0] and levels[2][1] == ["critical"]
    assert [r["tradai"]["level"] for r in sink.received] == ["warning", "critical"]


def test_an_up_down_classifier_keeps_the_ic_rules(lc: Lifecycle, tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    times = pd.date_range(day0(), periods=24 * 5, freq="h")
    ms = np.asarray(times.as_unit("ms").asi8, dtype=np.int64)
    labels = np.asarray(["up", "down"] * (len(ms) // 2), dtype=object)
    proba = np.tile([0.4, 0.6], (len(ms), 1))
    for pair in PAIRS:
        log.insert_classes(ms, pair, NAME, "2", "champion", labels, proba, ["down", "up"], H)
    d = check(policy(lc, log), now=end_of(4), lc=lc, log=log)
    assert not [f for f in d.findings if f.rule == "accuracy"]
    (ic,) = [f for f in d.findings if f.rule == "ic"]
    assert "more than two classes" not in ic.message


def test_policy_accuracy_keys_defaults_and_one_line_errors(tmp_path: Path) -> None:
    p = RetrainPolicy()
    assert (p.min_accuracy, p.accuracy_margin) == (0.75, 0.02)
    assert (p.accuracy_warn_below, p.accuracy_retrain_below) == (0.85, 0.75)
    assert (p.accuracy_window_days, p.accuracy_days, p.accuracy_confidence) == (30, 5, 0.99)
    assert p.retrain_on_accuracy
    assert (p.stale_warn_days, p.stale_model_days) == (30, 45)
    path = tmp_path / "p.toml"
    path.write_text("[validation]\nmin_accuracy = 0.5\naccuracy_margin = 0.0\n")
    assert (load_policy(path).min_accuracy, load_policy(path).accuracy_margin) == (0.5, 0.0)
    for text, message in [
        ("[validation]\nmin_accuracy = 1.2", "[validation] min_accuracy = 1.2 is outside [0, 1)"),
        ("[accuracy]\naccuracy_retrain_below = 0.9", "is above accuracy_warn_below = 0.85"),
        ("[accuracy]\naccuracy_confidence = 1.0", "accuracy_confidence = 1.0 is outside"),
        ("[alerts]\nstale_warn_days = 50", "stale_warn_days = 50 is above stale_model_days"),
        ("[accuracy]\nmin_accuracy = 0.5", "min_accuracy is unknown: it belongs in [validation]"),
        (
            "[accuracy]\naccuracy_window_days = 90",
            "the accuracy rule reads 94 days (accuracy_window_days + accuracy_days - 1)",
        ),
    ]:
        path.write_text(text)
        with pytest.raises(PolicyError, match=None) as err:
            load_policy(path)
        assert message in str(err.value), str(err.value)


# ---- the policy's gate settings reach the validation of a regime version ----------------


@pytest.mark.e2e
def test_the_policy_min_accuracy_is_the_gate_of_a_retrained_regime_version(
    tmp_path: Path,
) -> None:
    """A regime version on the herald market (accuracy ~0.6, persistence ~0.5): the
    validator of the retrain job passes it with the policy's min_accuracy = 0.5 and refuses
    it at the default 0.75, naming the floor (before, the policy had no such key and every
    retrain gated at validate's default)."""
    from freqai_helpers import STRATEGIES

    from tradai_strategy.lifecycle.retrain_act import validator_with
    from tradai_strategy.registry.client import RegistryClient

    config = herald_config(tmp_path, list(PAIRS), 300, H)
    data = tmp_path / "data"
    (tmp_path / "user_data").mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = RegistryClient(uri)
    reg.client.create_registered_model(NAME)
    manifest = {"tradai.manifest_sha256": "0" * 64}
    mv = reg.client.create_model_version(NAME, tmp_path.as_uri(), tags=manifest)
    reg.set_tags(NAME, mv.version, {"tradai.strategy": "RadStrategy"})
    (tmp_path / "lifecycle.toml").write_text(
        f'[model]\nmodel_name = "{NAME}"\ntracking_uri = "{uri}"\n'
        f'[train]\ntrain_config = ["{config}"]\nstrategy_path = "{STRATEGIES}"\n'
        f'datadir = "{data}"\nuserdir = "{tmp_path / "user_data"}"\nskip_leakage_check = true\n'
        '[validation]\nvalidation_cv = "walkforward"\nvalidation_n_groups = 4\n'
        "validation_seeds = 1\nvalidation_jobs = 1\nmin_accuracy = 0.5\n"
    )
    pol = load_policy(tmp_path / "lifecycle.toml")
    passed, reasons = validator_with()(pol, mv.version)
    assert passed, reasons
    assert reg.version(NAME, mv.version).tags["tradai.validation_status"] == "passed"
    default = dataclasses.replace(pol, min_accuracy=RetrainPolicy().min_accuracy)
    passed, reasons = validator_with()(default, mv.version)
    print(f"\ndefault gate: {reasons}")
    assert not passed and "is not above min_accuracy 0.750" in reasons
    assert "does not beat persistence" not in reasons  # beaten: only the floor failed
    assert reg.version(NAME, mv.version).tags["tradai.validation_status"] == "failed"


def test_a_drop_retrains_on_the_fifth_consecutive_daily_check_below(
    lc: Lifecycle, tmp_path: Path
) -> None:
    """Hits 100 % for 30 days, then 30 %: the window accuracy falls day by day; the rule
    fires on the first check whose own and 4 previous daily windows are all confidently
    below 75 % (oracle: live_accuracy of the log at each of those times)."""
    log = PredictionLog(tmp_path / "p.sqlite")
    plant_classes(log, "2", 30, 10)
    later = PredictionLog(tmp_path / "later.sqlite")  # the same blocks at 30 %, 30 days on
    plant_classes(later, "2", 60, 3)
    rows = later.class_frame(NAME, role="champion")
    rows = rows[rows["time"] >= day0() + pd.Timedelta(days=30)]
    classes = [c for c in CLASSES if c in rows.columns]
    for pair, part in rows.groupby("pair"):
        ms = np.asarray(pd.DatetimeIndex(part["time"]).as_unit("ms").asi8, dtype=np.int64)
        log.insert_classes(
            ms, str(pair), NAME, "2", "champion", part["predicted"].to_numpy(),
            part[classes].to_numpy(), classes, H,
        )  # fmt: skip
        log.set_realised_labels(ms, str(pair), part["realised"].to_numpy())
    pol = policy(lc, log, stale_warn_days=90, stale_model_days=90)
    z = stats.norm.ppf(0.99)
    below = {}
    for day in range(30, 60):
        acc, se = oracle(log, end_of(day))
        below[day] = acc + z * se < 0.75
    first = next(d for d in range(34, 60) if all(below[d - k] for k in range(5)))
    assert not below[30] and below[first - 4]  # the run starts after the drop
    assert check(pol, now=end_of(first - 1), lc=lc, log=log).action == "nothing"
    fired = check(pol, now=end_of(first), lc=lc, log=log)
    assert fired.action == "retrain" and "on 5 daily checks" in fired.reason
    print(f"\ndrop at day 30: first below on day {first - 4}, retrain on day {first}")


@pytest.mark.parametrize(
    ("new", "old", "result"), [(9, 5, "shadow_promoted"), (5, 9, "shadow_discarded")]
)
def test_a_regime_challenger_is_shadow_tested_on_accuracy(
    lc: Lifecycle, tmp_path: Path, new: int, old: int, result: str
) -> None:
    """@challenger (version 3) logged beside production (version 2) for 8 days: the shadow
    test compares their accuracy per candle (a regime model has no score for the IC test)."""
    from tradai_strategy.lifecycle.promotion import promote

    tags = {
        "tradai.validation_status": "passed",
        "tradai.label_period_candles": str(H),
        "tradai.manifest_sha256": "3" * 64,
    }
    version = str(lc.registry.client.create_model_version(NAME, "x", tags=tags).version)
    promote(lc, NAME, version, alias="challenger", reason="retrained, validation passed")
    log = PredictionLog(tmp_path / "p.sqlite")
    plant_classes(log, "2", 8, old)
    plant_classes(log, version, 8, new, role="shadow")
    pol = policy(lc, log)
    d = check(pol, now=end_of(8), lc=lc, log=log)
    assert d.action == "shadow" and d.challenger == version
    out = act(d, lc=lc, log=log)
    print(f"\n{out.message}")
    assert out.result == result
    assert "(accuracy: share of pairs right per candle): Δaccuracy " in out.message
    delta = float(out.message.split("Δaccuracy ")[1].split(" ")[0])
    times = pd.date_range(day0(), periods=24 * 8, freq="h")  # every planted candle
    block = np.asarray(times.as_unit("ms").asi8, dtype=np.int64) // (3_600_000 * H)
    oracle_delta = float(np.mean((block % 10 < new).astype(float) - (block % 10 < old)))
    assert delta == pytest.approx(oracle_delta, abs=1e-4)
    production = lc.registry.resolve(NAME, "production")
    assert production == (version if result == "shadow_promoted" else "2")
    assert lc.registry.resolve(NAME, "challenger") is None
