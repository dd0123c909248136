"""`tradai retrain simulate`: the retraining policy replayed over synthetic history.

Planted truths: a signal that appears at a known date (the policy retrains after it and beats
never retraining, which stays at IC 0), a pure random walk (both arms at IC 0), a signal whose
sign flips (the model is retired 30 days after its rolling IC turns negative) and a noise
burst (the error-drift ratio rolls back once). The strategy-level runs go through RadStrategy's
own FreqAI features; the rule-level runs use hand-made features so they take a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType
from scipy import stats
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.synthetic_signal import (
    BURN_IN,
    apply_planted_signal,
    garch_innovations,
)
from tradai_strategy.lifecycle.decide import schedule_due
from tradai_strategy.lifecycle.policy import policy_from_dict
from tradai_strategy.lifecycle.simulate import (
    SimSettings,
    load_simulation_data,
    settings_from_config,
    simulate_policy,
)
from tradai_strategy.validation.runner import PairData, prepare_pair

PAIRS = ["BTC/USDT", "ETH/USDT"]
START = pd.Timestamp("2024-01-01", tz="UTC")
CHANGE = pd.Timestamp("2024-03-20", tz="UTC")  # the planted signal appears here
SIM_FROM, SIM_TO = "2024-02-10", "2024-06-10"
SMALL = {
    "n_estimators": 40,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
}
WEEKLY_IC = {
    "retrain": {
        "interval": "weekly",
        "retrain_on_drift": False,
        "retrain_on_ic": True,
        "auto_promote": True,
    }
}


def retrain_policy(**retrain: Any) -> Any:
    """A policy whose ``[retrain]`` table is ``retrain`` (drift and IC retrains off by default)."""
    return policy_from_dict(
        {"retrain": {"retrain_on_ic": False, "retrain_on_drift": False, **retrain}}
    )


runner = CliRunner()


# ---- synthetic markets ---------------------------------------------------------------------
def regime_candles(pair: str, days: int, before: float, after: float, seed: int) -> pd.DataFrame:
    """1h candles whose planted mean reversion has strength ``before`` until :data:`CHANGE`
    and ``after`` from it on (same innovations; 0 is a pure random walk)."""
    n = days * 24
    rng = np.random.Generator(np.random.PCG64([seed, *map(ord, pair)]))
    eps, sigma = garch_innovations(rng, n + BURN_IN, 0.008)
    change = BURN_IN + int((CHANGE - START) / pd.Timedelta(hours=1))
    late = np.arange(n + BURN_IN) >= change
    ret = np.where(late, apply_planted_signal(eps, after), apply_planted_signal(eps, before))
    ret, sigma = ret[BURN_IN:], sigma[BURN_IN:]
    close = 100.0 * np.exp(np.cumsum(ret))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = 0.5 * sigma * np.abs(rng.standard_normal((2, n)))
    return pd.DataFrame(
        {
            "date": pd.date_range(START, periods=n, freq="1h"),
            "open": open_,
            "high": np.maximum(open_, close) * np.exp(wick[0]),
            "low": np.minimum(open_, close) * np.exp(-wick[1]),
            "close": close,
            "volume": 1000.0 * rng.lognormal(0.0, 0.25, n) * (1 + np.abs(ret) / 0.008),
        }
    )


def market(tmp: Path, before: float, after: float, days: int = 150) -> tuple[Path, Path]:
    """Candles in ``tmp/data`` and a small RadStrategy FreqAI config; (config, datadir)."""
    data = tmp / "data"
    handler = get_datahandler(data, "feather")
    data.mkdir(parents=True, exist_ok=True)
    for pair in PAIRS:
        handler.ohlcv_store(
            pair, "1h", regime_candles(pair, days, before, after, 5), CandleType.SPOT
        )
    cfg = build_training_config(
        StrategyMeta(
            pairs=PAIRS, datadir=str(data), model_training_parameters=SMALL, train_period_days=30
        )
    )
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    return path, data


def resolved(tmp: Path, config: Path, data: Path) -> dict[str, Any]:
    from tradai_strategy.cli.common import freqtrade_args
    from tradai_strategy.data.freqtrade_runner import resolve_config

    args = freqtrade_args(
        [config], "RadStrategy", strategy_path=STRATEGIES, datadir=data, userdir=tmp / "ud"
    )
    return resolve_config(args)


def pooled_ic(frame: pd.DataFrame, arm: str) -> tuple[float, float]:
    """Spearman IC over the non-overlapping rows and its standard error 1/sqrt(n)."""
    g = frame[frame["grid"] & frame[arm].notna()]
    return float(stats.spearmanr(g[arm], g["realised"]).statistic), 1 / np.sqrt(len(g))


# ---- strategy-level runs (RadStrategy features) ---------------------------------------------
@pytest.fixture(scope="module")
def appearing(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("appearing")
    config, data = market(tmp, before=0.0, after=0.12, days=170)
    cfg = resolved(tmp, config, data)
    settings = settings_from_config(cfg)
    pairs = load_simulation_data(cfg, settings, SIM_FROM, SIM_TO)
    return simulate_policy(policy_from_dict(WEEKLY_IC), pairs, SIM_FROM, SIM_TO, settings)


def test_planted_signal_policy_retrains_after_the_change_and_beats_never_retraining(
    appearing: Any,
) -> None:
    res = appearing
    frame = res.predictions
    before, after = (
        frame[frame["date"] < CHANGE],
        frame[frame["date"] >= CHANGE + pd.Timedelta(days=30)],
    )
    # before the change there is nothing to learn: both arms at IC 0 (within 3 se)
    for arm in ("policy", "baseline"):
        ic, se = pooled_ic(before, arm)
        assert abs(ic) < 3 * se, (arm, ic, se)
    # a model trained after the change is promoted within 5 weeks of it
    promoted = [e for e in res.events[1:] if e.action == "promoted" and e.date > CHANGE]
    assert promoted and promoted[0].date <= CHANGE + pd.Timedelta(days=35)
    # once the training window holds the new regime, the policy predicts; the baseline cannot
    ic_pol, se = pooled_ic(after, "policy")
    ic_base, _ = pooled_ic(after, "baseline")
    assert ic_pol > 3 * se, (ic_pol, se)
    assert abs(ic_base) < 3 * se, ic_base
    assert ic_pol - ic_base > 0.1
    assert res.policy.pooled_ic > res.baseline.pooled_ic
    assert res.policy.sharpe > res.baseline.sharpe
    assert res.policy.retrains >= 12  # weekly over 120 days, plus IC triggers
    assert res.baseline.retrains == 0


def test_no_model_predicts_before_it_was_trained(appearing: Any) -> None:
    trained = {e.version: e.date for e in appearing.events if e.action in ("retrained", "promoted")}
    frame = appearing.predictions
    when = frame["version"].map(trained)
    assert when.notna().all()
    assert (frame["date"] >= when).all()
    # the summary counts match the event list
    actions = [e.action for e in appearing.events[1:]]
    assert appearing.policy.retrains == actions.count("retrained")
    assert appearing.policy.promotions + appearing.policy.kept == actions.count("retrained")
    assert appearing.policy.staged == 0  # auto_promote = true: no shadow test


def test_random_walk_both_arms_near_zero(tmp_path: Path) -> None:
    config, data = market(tmp_path, before=0.0, after=0.0, days=110)
    cfg = resolved(tmp_path, config, data)
    settings = settings_from_config(cfg)
    pairs = load_simulation_data(cfg, settings, "2024-02-05", "2024-04-15")
    res = simulate_policy(policy_from_dict(WEEKLY_IC), pairs, "2024-02-05", "2024-04-15", settings)
    for arm in (res.policy, res.baseline):
        assert abs(arm.pooled_ic) < 3 * arm.pooled_ic_se, arm
        assert arm.n_rows > 200
    assert res.policy.retrains >= 8


def test_cli_prints_events_and_comparison_and_writes_json(tmp_path: Path) -> None:
    config, data = market(tmp_path, before=0.08, after=0.08, days=75)
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[retrain]\ninterval = "weekly"\nretrain_on_drift = false\nauto_promote = true\n'
    )
    out = tmp_path / "sim.json"
    args = [
        "retrain",
        "simulate",
        *f"--from 2024-02-05 --to 2024-03-01 --policy {policy} --config {config}".split(),
        *f"--strategy RadStrategy --strategy-path {STRATEGIES} --datadir {data}".split(),
        *f"--userdir {tmp_path / 'ud'} --json {out}".split(),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Policy events" in res.output and "never retrain" in res.output
    report = json.loads(out.read_text())
    assert report["events"][0]["action"] == "promoted"
    assert [e["date"] for e in report["events"] if e["action"] == "retrained"][:3] == [
        "2024-02-12",
        "2024-02-19",
        "2024-02-26",
    ]
    assert report["policy"]["retrains"] == 3
    assert report["never_retrain"]["retrains"] == 0
    assert len(report["daily_cs_ic"]) == 25
    # a planted signal all along: both arms predict
    assert report["policy"]["pooled_ic"] > 0.1 and report["never_retrain"]["pooled_ic"] > 0.1

    bad = dict(enumerate(args))
    cases = {
        "swapped dates": ({3: "2024-03-01", 5: "2024-02-05"}, "is not before --to"),
        "before the data": ({3: "2023-06-01"}, "--from"),
        "after the data": ({5: "2024-06-01"}, "--to"),
        "not a date": ({3: "yesterday"}, "YYYY-MM-DD"),
    }
    for name, (edits, words) in cases.items():
        argv = [edits.get(i, a) for i, a in bad.items()]
        res = runner.invoke(app, argv)
        assert res.exit_code == 2, (name, res.output)
        assert words in res.output, (name, res.output)
        assert len(res.output.strip().splitlines()) <= 3, (name, res.output)
    policy.write_text("[retrain]\nintervall = 'weekly'\n")
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "intervall is unknown" in res.output, res.output
    res = runner.invoke(app, [*args[:7], str(tmp_path / "missing.toml"), *args[8:]])
    assert res.exit_code == 2 and "does not exist" in res.output, res.output


# ---- rule-level runs (hand-made features, fast) ---------------------------------------------
def hand_made(
    sign_flip: bool = False, noise_jump: float = 1.0, days: int = 160, seed: int = 3
) -> list[PairData]:
    """Per pair: feature ``%-f`` predicts the label ``&-y`` (IC ~0.3) until :data:`CHANGE`;
    after it the relationship flips sign (``sign_flip``) and/or the label noise is multiplied
    by ``noise_jump``. Two pure-noise features and a random-walk close complete the frame."""
    out = []
    for k, pair in enumerate(PAIRS):
        rng = np.random.default_rng([seed, k])
        n = days * 24
        dates = pd.date_range(START, periods=n, freq="1h")
        late = np.asarray(dates >= CHANGE)
        f = rng.standard_normal(n)
        beta = np.where(late & sign_flip, -0.3, 0.3)
        noise = rng.standard_normal(n) * np.where(late, noise_jump, 1.0)
        frame = pd.DataFrame(
            {
                "date": dates,
                "close": 100 * np.exp(np.cumsum(rng.standard_normal(n) * 0.005)),
                "%-f": f,
                "%-g1": rng.standard_normal(n),
                "%-g2": rng.standard_normal(n),
                "&-y": beta * f + noise,
            }
        )
        out.append(prepare_pair(frame, pair, 4, "1h"))
    return out


FAST = SimSettings(
    timeframe="1h", horizon=4, train_period_days=20, params={"n_estimators": 30, "num_leaves": 4}
)


def test_sign_flip_retires_the_model_after_30_days_below_zero() -> None:
    data = hand_made(sign_flip=True)
    policy = retrain_policy(interval="none")
    res = simulate_policy(policy, data, "2024-02-01", "2024-06-01", FAST)
    (retired,) = [e for e in res.events if e.action == "retired"]
    # the 30-day rolling IC needs days to turn negative, then 30 days below 0 (+1 label day)
    assert CHANGE + pd.Timedelta(days=31) <= retired.date <= CHANGE + pd.Timedelta(days=55)
    assert "serving nothing" in retired.reason
    frame = res.predictions
    assert frame.loc[frame["date"] >= retired.date, "policy"].isna().all()
    assert frame.loc[frame["date"] < retired.date, "policy"].notna().all()
    assert res.policy.retirements == 1 and res.policy.coverage < 1
    # the planted truth itself: the never-retrained model is right before, wrong after
    pre, post = frame[frame["date"] < CHANGE], frame[frame["date"] >= CHANGE]
    assert pooled_ic(pre, "baseline")[0] > 0.15 and pooled_ic(post, "baseline")[0] < -0.1


def test_noise_burst_rolls_back_once_to_the_previous_model() -> None:
    data = hand_made(noise_jump=3.0)
    policy = retrain_policy(interval="weekly", auto_promote=True)
    res = simulate_policy(policy, data, "2024-02-01", "2024-04-20", FAST)
    rollbacks = [e for e in res.events if e.action == "rolled back"]
    assert len(rollbacks) == 1, [e.to_dict() for e in res.events]
    rb = rollbacks[0]
    assert CHANGE < rb.date <= CHANGE + pd.Timedelta(days=10)
    ratio = float(rb.reason.split("ratio ")[1].split(" ")[0])
    assert ratio > 1.5
    # rolled back to the newest earlier promoted version, served from that day
    promoted = [e for e in res.events if e.action == "promoted" and e.date < rb.date]
    assert rb.version == promoted[-2].version
    day = res.predictions[res.predictions["date"].dt.normalize() == rb.date]
    assert (day["version"] == rb.version).all()


def test_shadow_test_promotes_the_challenger_only_when_it_beats_the_champion() -> None:
    data = hand_made(sign_flip=True)
    policy = retrain_policy(
        interval="weekly", rollback_enabled=False, auto_promote=False, shadow_test_days=7
    )
    res = simulate_policy(policy, data, "2024-02-01", "2024-05-15", FAST)
    staged = {e.version: e.date for e in res.events if e.action == "staged"}
    ended = [e for e in res.events if e.action in ("promoted", "discarded") and e.version > 1]
    assert len(staged) >= 10 and len(ended) >= len(staged) - 1
    for e in ended:  # decided exactly shadow_test_days after staging, with the paired test
        assert e.date - staged[e.version] == pd.Timedelta(days=7)
        # the paired test on the per-candle cross-sectional ICs of the labelled shadow candles
        assert "ΔIC" in e.reason and " ± " in e.reason and "candles" in e.reason
    promoted = [e for e in ended if e.action == "promoted"]
    # equivalent models before the flip: no challenger is significantly better
    assert all(e.date > CHANGE for e in promoted)
    # after it, the champion is wrong every day: a challenger trained on the new regime wins
    first = promoted[0]
    assert first.date <= CHANGE + pd.Timedelta(days=35)
    delta = float(first.reason.split("ΔIC ")[1].split(" ±")[0])
    # champion ~ -IC, challenger ~ +IC: the cross-sectional IC over few pairs is attenuated
    # (expected sample Spearman ((n-2) rho + 3 tau) / (n + 1)), hence not the full 2 x 0.3
    assert delta > 0.2
    after = res.predictions[res.predictions["date"] >= first.date]
    assert after["version"].iloc[0] == first.version
    assert res.policy.staged == len(staged) and res.policy.promotions == len(promoted)


def test_gate_keeps_the_deployed_model_when_the_candidate_is_noise() -> None:
    data = hand_made()
    policy = retrain_policy(interval="weekly", auto_promote=True)
    strict = SimSettings(**{**FAST.__dict__, "min_gate_ic": 0.9})
    res = simulate_policy(policy, data, "2024-02-01", "2024-03-01", strict)
    assert [e.action for e in res.events[1:]] == ["retrained", "kept"] * 4
    assert set(res.predictions["version"]) == {1}
    np.testing.assert_array_equal(res.predictions["policy"], res.predictions["baseline"])


def test_training_window_only_holds_labels_closed_before_the_decision() -> None:
    from tradai_strategy.lifecycle.policy import RetrainPolicy
    from tradai_strategy.lifecycle.simulate_engine import Engine

    data = hand_made(days=60)
    eng = Engine(data, RetrainPolicy(), FAST)
    at = pd.Timestamp("2024-02-15", tz="UTC")
    model = eng.train(at)
    hour = pd.Timedelta(hours=1)
    for p, mask in zip(data, model.train_masks, strict=True):
        dates = pd.DatetimeIndex(p.dates)[mask]
        # label of row t reads close[t+4], known when that candle closes at t + 5h
        assert dates.max() + 5 * hour == at  # the newest row whose label has closed
        assert dates.min() >= at - pd.Timedelta(days=FAST.train_period_days)
        assert mask.sum() >= 0.95 * 20 * 24


@pytest.mark.parametrize(
    ("start", "end", "error", "words"),
    [
        ("2024-03-01", "2024-02-01", TradAIConfigError, "is not before --to"),
        ("2024-01-05", "2024-02-01", TradAIDataError, "train_period_days=20"),
        ("2024-02-01", "2024-09-01", TradAIDataError, "move --to earlier"),
        ("someday", "2024-02-01", TradAIConfigError, "YYYY-MM-DD"),
    ],
)
def test_bad_ranges_fail_with_one_line(start: str, end: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words) as info:
        simulate_policy(policy_from_dict({}), hand_made(days=60), start, end, FAST)
    assert "\n" not in str(info.value)


def test_schedule_rule() -> None:
    # the replay's schedule is the live one: schedule_due(interval, newest, now)
    t = pd.Timestamp("2024-05-01", tz="UTC")
    assert schedule_due("month-end", t - pd.Timedelta(days=1), t)
    assert not schedule_due("month-end", t, t + pd.Timedelta(days=1))
    # the first check of a new month fires whatever its day (live semantics)
    assert schedule_due("month-end", t - pd.Timedelta(days=3), t + pd.Timedelta(days=1))
    assert not schedule_due("none", t - pd.Timedelta(days=400), t)
    assert schedule_due("monthly", pd.Timestamp("2024-04-01", tz="UTC"), t)
    assert not schedule_due("monthly", pd.Timestamp("2024-04-02", tz="UTC"), t)
    with pytest.raises(TradAIConfigError, match="interval 'daily' is unknown"):
        schedule_due("daily", t, t)


def test_real_candles_btc_eth(real_datadir: Path, tmp_path: Path) -> None:
    """BTC/ETH 1h from TRADAI_REAL_DATA: the replay runs end to end with finite numbers."""
    cfg_dict = build_training_config(
        StrategyMeta(
            pairs=PAIRS,
            datadir=str(real_datadir),
            model_training_parameters=SMALL,
            train_period_days=30,
        )
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps(cfg_dict))
    cfg = resolved(tmp_path, config, real_datadir)
    settings = settings_from_config(cfg)
    pairs = load_simulation_data(cfg, settings, "2025-03-01", "2025-04-15")
    res = simulate_policy(policy_from_dict(WEEKLY_IC), pairs, "2025-03-01", "2025-04-15", settings)
    assert res.events[0].action == "promoted" and res.policy.retrains >= 6
    for arm in (res.policy, res.baseline):
        assert arm.n_rows > 150 and np.isfinite(arm.pooled_ic) and np.isfinite(arm.sharpe)
        assert abs(arm.pooled_ic) < 0.5  # real markets: no planted signal to find
