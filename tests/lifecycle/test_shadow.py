"""Shadow test: after shadow_test_days the paired test on the per-candle cross-sectional IC
promotes or discards @challenger (real sqlite registry, planted prediction log of 4 pairs,
the ICs checked against scipy's Spearman across pairs at each candle)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from retrain_helpers import NAME, at, day0, policy
from scipy import stats

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.lifecycle.retrain import check
from tradai_strategy.lifecycle.retrain_act import act
from tradai_strategy.lifecycle.shadow import decide_shadow
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.stats.compare import PairedTest, paired_ic_test
from tradai_strategy.stats.live_ic import CROSS_SECTIONAL

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")
DAYS = 7
H = 12  # label_period_candles logged on the challenger's run


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    return PredictionLog(tmp_path / "predictions.sqlite")


def plant(
    plog: PredictionLog, version: str, role: str, skill: float, seed: int, pairs=PAIRS
) -> pd.DataFrame:
    """DAYS x 24 hourly rows per pair: prediction = skill * realised + noise(seed); the
    realised returns are the same for every call. Returns the rows with ``realised``."""
    market = np.random.default_rng(5)
    noise = np.random.default_rng(seed)
    times = pd.date_range(day0(), periods=24 * DAYS, freq="h")
    frames = []
    for pair in pairs:
        realised = market.normal(0, 0.01, len(times))
        pred = skill * realised + noise.normal(0, 0.01, len(times))
        frames.append(pd.DataFrame({"time": times, "pair": pair, "prediction": pred,
                                    "realised": realised}))  # fmt: skip
    rows = pd.concat(frames, ignore_index=True)
    plog.log(rows[["time", "pair", "prediction"]].assign(model=NAME, version=version, role=role))
    plog.record_realised(rows[["time", "pair", "realised"]])
    return rows


def scipy_ic(rows: pd.DataFrame) -> pd.Series:
    """Spearman IC across the pairs at each candle (scipy), UTC candle index."""
    ic = {
        pd.Timestamp(t): stats.spearmanr(g["prediction"], g["realised"]).statistic
        for t, g in rows.groupby("time")
    }
    out = pd.Series(ic, dtype=float)
    out.index = pd.DatetimeIndex(out.index).tz_convert("UTC")
    return out


def stage_challenger(lc: Lifecycle, horizon: int | None = H) -> str:
    """A validated version moved to @challenger; its run logs ``label_period_candles``."""
    client = lc.registry.client
    run_id = None
    if horizon is not None:
        run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
        client.log_param(run.info.run_id, "label_period_candles", str(horizon))
        run_id = run.info.run_id
    manifest = {"tradai.manifest_sha256": "0" * 64}  # a version without one is never promoted
    mv = client.create_model_version(NAME, "file:///tmp/none", run_id=run_id, tags=manifest)
    lc.registry.set_tags(NAME, mv.version, {"tradai.validation_status": "passed"})
    promote(lc, NAME, mv.version, alias="challenger", reason="retrain; validation passed")
    return str(mv.version)


def reason_of(test: PairedTest, horizon: int = H) -> str:
    return (
        f"({CROSS_SECTIONAL}): ΔIC {test.delta_ic:+.4f} ± {test.se:.4f}, p {test.p_value:.3g} "
        f"over {test.n} candles ({test.n_periods:.1f} non-overlapping {horizon}-candle periods)"
    )


def test_better_challenger_is_promoted_after_the_shadow_days(
    lc: Lifecycle,
    log: PredictionLog,
) -> None:
    version = stage_challenger(lc)
    champ = plant(log, "2", "champion", skill=0.0, seed=1)  # zero skill
    shadow = plant(log, version, "shadow", skill=1.0, seed=2)  # IC ~0.5 per candle
    pol = dataclasses.replace(policy(lc, log), shadow_test_days=7)
    early = check(pol, now=at(5), lc=lc, log=log)  # < 7 days since @challenger moved
    assert early.action == "nothing" and early.challenger == version
    # the end of the log, and at least 7 days after the move whatever the time of day the
    # test runs (at(6) is 6 days 23 h to 7 days 23 h after it: "in shadow for 7." failed
    # after 23:00 UTC, and just after midnight it reads 8.0)
    moved = pd.Timestamp(lc.audit.events(NAME)[-1].time)
    due = check(pol, now=max(at(6), moved + pd.Timedelta(days=7, minutes=1)), lc=lc, log=log)
    shown = re.search(r"in shadow for (\d+\.\d) of 7 days", due.reason)
    assert due.action == "shadow" and shown and 7.0 <= float(shown[1]) <= 8.0, due.reason
    out = act(due, lc=lc, log=log)
    assert (out.result, out.exit_code) == ("shadow_promoted", 15)
    aliases = lc.registry.aliases(NAME)
    assert aliases["production"] == version and "challenger" not in aliases
    ref = paired_ic_test(scipy_ic(shadow), scipy_ic(champ), H)
    assert ref.n == 24 * DAYS and ref.delta_ic > 0.3 and ref.p_value < 1e-4
    promoted = lc.audit.events(NAME)[-2]
    assert (promoted.action, promoted.alias, promoted.to_version) == (
        "promote",
        "production",
        version,
    )
    assert reason_of(ref) in promoted.reason
    removed = lc.audit.events(NAME)[-1]
    assert (removed.alias, removed.from_version, removed.to_version) == (
        "challenger",
        version,
        None,
    )


def test_equal_challenger_is_discarded_and_production_kept(
    lc: Lifecycle,
    log: PredictionLog,
) -> None:
    version = stage_challenger(lc)
    plant(log, "2", "champion", skill=0.3, seed=1)
    plant(log, version, "shadow", skill=0.3, seed=1)  # the same predictions
    res = decide_shadow(lc, log, NAME, now=at(6))
    assert res.action == "discard" and res.test is not None
    assert res.test.delta_ic == 0.0 and res.test.p_value == 1.0
    assert "ΔIC +0.0000 ± 0.0000, p 1 over 168 candles (14.0 non-overlapping" in res.reason
    aliases = lc.registry.aliases(NAME)
    assert aliases["production"] == "2" and "challenger" not in aliases
    last = lc.audit.events(NAME)[-1]
    assert (last.action, last.alias, last.to_version) == ("discard", "challenger", None)


def test_horizon_given_or_missing(lc: Lifecycle, log: PredictionLog) -> None:
    version = stage_challenger(lc, horizon=None)  # a version without the run param
    champ = plant(log, "2", "champion", skill=0.0, seed=1)
    shadow = plant(log, version, "shadow", skill=0.2, seed=2)
    with pytest.raises(TradAIConfigError, match="no label_period_candles tag or run param") as err:
        decide_shadow(lc, log, NAME, now=at(6))
    assert f"version {version}" in str(err.value) and "horizon=" in str(err.value)
    assert lc.registry.aliases(NAME)["challenger"] == version  # nothing discarded
    res = decide_shadow(lc, log, NAME, now=at(6), horizon=6, dry_run=True)
    ref = paired_ic_test(scipy_ic(shadow), scipy_ic(champ), 6)
    assert res.test is not None and res.test.horizon == 6 and reason_of(ref, 6) in res.reason
    got, want = dataclasses.asdict(res.test), dataclasses.asdict(ref)
    got.pop("wilcoxon_p"), want.pop("wilcoxon_p")  # block-mean ties: rank order is fragile
    assert got == pytest.approx(want, rel=1e-9)
    with pytest.raises(TradAIConfigError, match="horizon: must be >= 1 candle"):
        decide_shadow(lc, log, NAME, now=at(6), horizon=0)


def test_no_shadow_rows_discards_with_a_hint(lc: Lifecycle, log: PredictionLog) -> None:
    version = stage_challenger(lc)
    plant(log, "2", "champion", skill=0.3, seed=1)
    res = decide_shadow(lc, log, NAME, now=at(6), dry_run=True)
    assert res.action == "discard" and res.test is None
    assert "only 0 candle(s) with an IC for both versions" in res.reason
    assert "freqai.tradai.shadow_alias" in res.reason
    assert lc.registry.aliases(NAME)["challenger"] == version  # dry run: untouched


def test_one_pair_cannot_be_ranked_and_says_so(lc: Lifecycle, log: PredictionLog) -> None:
    version = stage_challenger(lc)
    plant(log, "2", "champion", skill=0.0, seed=1, pairs=PAIRS[:1])
    plant(log, version, "shadow", skill=1.0, seed=2, pairs=PAIRS[:1])
    res = decide_shadow(lc, log, NAME, now=at(6), dry_run=True)
    assert res.action == "discard" and res.test is None
    assert f"the {CROSS_SECTIONAL} needs >= 2 pairs, the log has 1" in res.reason
    assert "exchange.pair_whitelist" in res.reason


def test_no_shadow_test_when_disabled(lc: Lifecycle, log: PredictionLog) -> None:
    stage_challenger(lc)
    pol = dataclasses.replace(policy(lc, log), shadow_test_days=0)
    d = check(pol, now=at(30), lc=lc, log=log)
    assert d.action == "nothing" and not [f for f in d.findings if f.rule == "shadow"]
