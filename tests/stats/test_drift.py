"""KS/PSI drift statistics: scipy equality, hand-computed PSI, levels and bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.stats.drift import (
    PSI_EPSILON,
    drift_summary,
    feature_drift,
    ks_columns,
    ks_statistic,
    last_days,
    pair_drift,
    prediction_drift,
    psi,
)


@pytest.mark.parametrize("seed", range(30))
def test_ks_equals_scipy_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.standard_t(3, size=rng.integers(1, 400)) * rng.uniform(0.5, 2)
    b = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), size=rng.integers(1, 400))
    if seed % 3 == 0:  # many ties
        a, b = np.round(a), np.round(b)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_columns_vectorised_equals_scipy_per_column_with_nans() -> None:
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(300, 20))
    cur = rng.normal(0.3, 1.2, size=(120, 20))
    ref[rng.random(ref.shape) < 0.1] = np.nan
    cur[rng.random(cur.shape) < 0.1] = np.inf
    got = ks_columns(ref, cur)
    for j in range(20):
        r, c = ref[:, j], cur[:, j]
        want = stats.ks_2samp(r[np.isfinite(r)], c[np.isfinite(c)]).statistic
        assert got[j] == pytest.approx(want, abs=1e-12)


def test_psi_hand_computed_two_bins() -> None:
    # reference 1,2,3,4 -> median edge 2.5: p = (0.5, 0.5); current q = (0.75, 0.25)
    want = 0.25 * math.log(1.5) + (-0.25) * math.log(0.5)
    assert psi([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 4.0], bins=2) == pytest.approx(want)


def test_psi_hand_computed_empty_bin_uses_epsilon() -> None:
    # quartile edges of 1..8 are 2.75, 4.5, 6.25: p = 1/4 each; current all in bin 4
    ref = np.arange(1.0, 9.0)
    cur = np.array([7.0, 8.0, 7.5, 9.0])
    p, q = 0.25, PSI_EPSILON
    want = 3 * (q - p) * math.log(q / p) + (1.0 - p) * math.log(1.0 / p)
    assert psi(ref, cur, bins=4) == pytest.approx(want)


def test_psi_is_zero_for_identical_samples_and_grows_with_shift() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    assert psi(x, x) == pytest.approx(0.0, abs=1e-12)
    small, large = psi(x, x + 0.1), psi(x, x + 1.0)
    assert 0 < small < large


def test_constant_feature_defined_and_noted() -> None:
    ref = pd.DataFrame({"c": np.full(100, 5.0), "d": np.full(100, 5.0), "x": np.arange(100.0)})
    cur = pd.DataFrame({"c": np.full(30, 5.0), "d": np.full(30, 7.0), "x": np.arange(30.0)})
    table = feature_drift(ref, cur)
    assert table.loc["c", "ks"] == 0.0 and table.loc["c", "psi"] == 0.0
    assert table.loc["c", "note"] == "constant in both (same value)"
    assert table.loc["d", "ks"] == 1.0 and np.isfinite(table.loc["d", "psi"])
    assert table.loc["d", "level"] == "critical"
    assert table.loc["x", "note"] == ""


def test_levels_follow_thresholds() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"a": rng.normal(size=5000)})
    shifts = {"none": 0.0, "warn": 0.38, "crit": 1.0}
    cur = pd.DataFrame({k: rng.normal(v, 1, size=5000) for k, v in shifts.items()})
    ref = pd.DataFrame({k: ref["a"] for k in shifts})
    table = feature_drift(ref, cur)
    assert table["level"].tolist() == ["ok", "warn", "critical"]
    strict = feature_drift(ref, cur, warn=0.0, critical=0.05)
    assert strict.loc["warn", "level"] == "critical"
    with pytest.raises(MonitoringError, match="thresholds"):
        feature_drift(ref, cur, warn=0.3, critical=0.2)


def test_pair_drift_and_summary() -> None:
    rng = np.random.default_rng(5)
    ref = {p: pd.DataFrame(rng.normal(size=(500, 3)), columns=list("abc")) for p in ("A", "B")}
    cur = {"A": pd.DataFrame(rng.normal(size=(200, 3)), columns=list("abc"))}
    shifted = rng.normal(size=(200, 3))
    shifted[:, 1] += 2
    cur["B"] = pd.DataFrame(shifted, columns=list("abc"))
    table = pair_drift(ref, cur)
    assert len(table) == 6 and set(table["pair"]) == {"A", "B"}
    summary = drift_summary(table)
    assert summary.loc["B", "worst_feature"] == "b" and summary.loc["B", "level"] == "critical"
    assert summary.loc["A", "level"] == "ok"
    assert summary.loc["ALL", "critical"] == 1 and summary.loc["ALL", "features"] == 6
    with pytest.raises(MonitoringError, match="no reference for pair"):
        pair_drift({"A": ref["A"]}, cur)


def test_prediction_drift() -> None:
    rng = np.random.default_rng(9)
    out = prediction_drift(rng.normal(size=1000), rng.normal(0.5, 1, size=300))
    assert out["level"] == "critical" and out["ks"] > 0.2 and out["psi"] > 0.1


def test_bad_inputs_have_one_line_errors() -> None:
    ref = pd.DataFrame({"a": [1.0, 2.0]})
    for bad_ref, bad_cur, pattern in [
        (pd.DataFrame(), ref, "reference is empty"),
        (ref, ref.iloc[:0], "current window has no rows"),
        (ref, pd.DataFrame({"b": [1.0]}), "lacks 1 feature"),
        (ref, pd.DataFrame({"a": [np.nan]}), "no finite value"),
    ]:
        with pytest.raises(MonitoringError, match=pattern) as err:
            feature_drift(bad_ref, bad_cur)
        assert "\n" not in str(err.value)
    with pytest.raises(MonitoringError, match="empty"):
        ks_statistic([], [1.0])
    with pytest.raises(MonitoringError, match="bins"):
        psi([1.0, 2.0], [1.0], bins=1)


def test_last_days_window_and_order() -> None:
    dates = pd.date_range("2025-01-01", periods=24 * 30, freq="h", tz="UTC")
    frame = pd.DataFrame({"date": dates, "x": np.arange(len(dates))})
    window = last_days(frame, 20)
    assert len(window) == 24 * 20 and window["date"].iloc[-1] == dates[-1]
    shuffled = frame.iloc[[0, 2, 1, 3]]
    with pytest.raises(MonitoringError, match="out of order in 'date' at row 2"):
        last_days(shuffled, 20)
    with pytest.raises(MonitoringError, match="no rows"):
        last_days(frame.iloc[:0], 20)


def test_feature_drift_with_a_pair_column_gives_pairs_and_pooled_overall() -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"pair": np.repeat(["A", "B"], 400), "x": rng.normal(size=800)})
    cur = pd.DataFrame({"pair": np.repeat(["A", "B"], 200), "x": rng.normal(size=400)})
    cur.loc[cur["pair"] == "B", "x"] += 1.5
    table = feature_drift(ref, cur, pair="pair")
    assert table.index.name == "feature" and table["pair"].tolist() == ["A", "B", "ALL"]
    by_pair = table.set_index("pair")
    a = ref[ref["pair"] == "A"]["x"], cur[cur["pair"] == "A"]["x"]
    assert by_pair.loc["A", "ks"] == pytest.approx(stats.ks_2samp(*a).statistic)
    assert by_pair.loc["ALL", "ks"] == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).statistic)
    assert by_pair.loc["A", "level"] == "ok" and by_pair.loc["B", "level"] == "critical"
    with pytest.raises(MonitoringError, match="no 'pair' column"):
        feature_drift(ref.drop(columns="pair"), cur, pair="pair")
