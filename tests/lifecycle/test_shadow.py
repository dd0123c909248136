"""Shadow test: after shadow_test_days the paired daily-IC test promotes or discards
@challenger (real sqlite registry, planted prediction log, p-value checked against scipy)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from retrain_helpers import NAME, at, build_store, copy_store, day0, policy
from scipy import stats

from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.lifecycle.retrain import check
from tradai_strategy.lifecycle.retrain_act import act
from tradai_strategy.lifecycle.shadow import decide_shadow
from tradai_strategy.monitoring.prediction_log import PredictionLog


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("store"))


@pytest.fixture
def lc(template: Path, tmp_path: Path) -> Lifecycle:
    """NAME versions 1 (@fallback) and 2 (@production), as in test_retrain_check."""
    return copy_store(template, tmp_path)


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    return PredictionLog(tmp_path / "predictions.sqlite")


CHAMPION = [1, -1, -1, 1, -1, -1, 1]  # daily IC of @production (version 2)
GOOD = [1] * 7  # challenger: better on 4 days (t = 2.83, p = 0.03), equal on 3


def plant(plog: PredictionLog, version: str, role: str, signs: list[int]) -> None:
    """24 hourly rows per day with prediction = sign * realised: daily IC exactly ``sign``."""
    rng = np.random.default_rng(5)
    times = pd.date_range(day0(), periods=24 * len(signs), freq="h")
    realised = rng.normal(0, 0.01, len(times))
    pred = np.repeat(np.asarray(signs, float), 24) * realised
    plog.log(
        pd.DataFrame(
            {
                "time": times,
                "pair": "ETH/USDT",
                "model": NAME,
                "version": version,
                "role": role,
                "prediction": pred,
            }
        )
    )
    plog.record_realised(pd.DataFrame({"time": times, "pair": "ETH/USDT", "realised": realised}))


def stage_challenger(lc: Lifecycle) -> str:
    mv = lc.registry.client.create_model_version(NAME, "file:///tmp/none")
    lc.registry.set_tags(NAME, mv.version, {"tradai.validation_status": "passed"})
    promote(lc, NAME, mv.version, alias="challenger", reason="retrain; validation passed")
    return str(mv.version)


def test_better_challenger_is_promoted_after_the_shadow_days(
    lc: Lifecycle,
    log: PredictionLog,
) -> None:
    version = stage_challenger(lc)
    plant(log, "2", "champion", CHAMPION)
    plant(log, version, "shadow", GOOD)
    pol = dataclasses.replace(policy(lc, log), shadow_test_days=7)
    early = check(pol, now=at(5), lc=lc, log=log)  # < 7 days since @challenger moved
    assert early.action == "nothing" and early.challenger == version
    due = check(pol, now=at(6), lc=lc, log=log)
    assert due.action == "shadow" and "in shadow for 7." in due.reason
    out = act(due, lc=lc, log=log)
    assert (out.result, out.exit_code) == ("shadow_promoted", 15)
    aliases = lc.registry.aliases(NAME)
    assert aliases["production"] == version and "challenger" not in aliases
    ref = stats.ttest_rel(GOOD, CHAMPION)
    promoted = lc.audit.events(NAME)[-2]
    assert (promoted.action, promoted.alias, promoted.to_version) == (
        "promote",
        "production",
        version,
    )
    assert f"ΔIC {np.mean(np.subtract(GOOD, CHAMPION)):+.4f}" in promoted.reason
    assert f"p {ref.pvalue:.3g} over 7 days" in promoted.reason
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
    plant(log, "2", "champion", CHAMPION)
    plant(log, version, "shadow", CHAMPION)
    res = decide_shadow(lc, log, NAME, now=at(6))
    assert res.action == "discard" and res.test is not None
    assert res.test.delta_ic == 0.0 and "ΔIC +0.0000, p 1 over 7 days" in res.reason
    aliases = lc.registry.aliases(NAME)
    assert aliases["production"] == "2" and "challenger" not in aliases
    last = lc.audit.events(NAME)[-1]
    assert (last.action, last.alias, last.to_version) == ("discard", "challenger", None)


def test_no_shadow_rows_discards_with_a_hint(lc: Lifecycle, log: PredictionLog) -> None:
    version = stage_challenger(lc)
    plant(log, "2", "champion", CHAMPION)
    res = decide_shadow(lc, log, NAME, now=at(6), dry_run=True)
    assert res.action == "discard" and res.test is None
    assert "only 0 day(s) with an IC for both versions" in res.reason
    assert "freqai.tradai.shadow_alias" in res.reason
    assert lc.registry.aliases(NAME)["challenger"] == version  # dry run: untouched


def test_no_shadow_test_when_disabled(lc: Lifecycle, log: PredictionLog) -> None:
    stage_challenger(lc)
    pol = dataclasses.replace(policy(lc, log), shadow_test_days=0)
    d = check(pol, now=at(30), lc=lc, log=log)
    assert d.action == "nothing" and not [f for f in d.findings if f.rule == "shadow"]
