"""A classifier's rows in the prediction log, and its live accuracy on non-overlapping rows.

Planted truth: hits that are constant within each ``h``-candle block (what overlapping
forward windows do to neighbouring rows) with a known hit rate. The accuracy's s.e. must
match the spread of the daily figures around the truth; the s.e. of all rows (as if
independent) is too small by about ``sqrt(h)``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.monitoring.class_accuracy import (
    MIN_ROWS,
    clustered_accuracy,
    daily_accuracy,
    live_accuracy,
    non_overlapping,
    scored,
)
from tradai_strategy.monitoring.prediction_log import PredictionLog

CLASSES = ["bear", "bull", "crisis", "high_vol", "low_vol"]


def _ms(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(times.as_unit("ms").asi8, dtype=np.int64)


def test_class_rows_roundtrip_with_probabilities_and_realised_class(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    t = pd.date_range("2025-01-01", periods=4, freq="h", tz="UTC")
    proba = np.full((4, 5), 0.1)
    proba[:, 1] = 0.6
    labels = np.array(["bull"] * 4, dtype=object)
    assert (
        log.insert_classes(
            _ms(t), "BTC/USDT", "Regime", "1", "champion", labels, proba, CLASSES, 12
        )
        == 4
    )
    log.insert_classes(
        _ms(t[:1]), "BTC/USDT", "Regime", "2", "shadow", labels[:1], proba[:1], CLASSES, 12
    )
    assert log.set_realised_labels(_ms(t[:3]), "BTC/USDT", np.array(["bull", None, "bear"])) == 3
    frame = log.class_frame("Regime", role="champion")
    assert frame.columns.tolist() == [
        "time", "pair", "model", "version", "role", "horizon", "predicted", "realised", *CLASSES
    ]  # fmt: skip
    assert frame["realised"].tolist() == ["bull", None, "bear", None]
    np.testing.assert_allclose(frame[CLASSES].to_numpy(), proba)
    assert (frame["horizon"] == 12).all() and frame["predicted"].eq("bull").all()
    shadow = log.class_frame("Regime", role="shadow")
    assert shadow["realised"].tolist() == ["bull"] and shadow["version"].tolist() == ["2"]
    # a regime model has no numeric score: the plain frame shows its rows without one
    assert log.frame("Regime")["prediction"].isna().all()


def test_a_log_written_before_the_class_columns_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE predictions (time_ms INTEGER NOT NULL, pair TEXT NOT NULL, model TEXT "
        "NOT NULL, version TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'champion', prediction "
        "REAL, realised REAL, PRIMARY KEY (model, version, role, pair, time_ms));"
        "INSERT INTO predictions VALUES (0, 'BTC/USDT', 'rad', '1', 'champion', 0.5, 0.1);"
    )
    con.commit()
    con.close()
    log = PredictionLog(path)
    assert log.frame("rad")["prediction"].tolist() == [0.5]  # old rows kept
    t = pd.date_range("2025-01-01", periods=1, freq="h", tz="UTC")
    log.insert_classes(
        _ms(t),
        "BTC/USDT",
        "Regime",
        "1",
        "champion",
        np.array(["bull"]),
        np.eye(5)[[1]],
        CLASSES,
        12,
    )
    assert log.class_frame()["predicted"].tolist() == ["bull"]  # the old row is no class row
    doc = sqlite3.connect(path).execute(
        "SELECT probabilities FROM predictions WHERE label = 'bull'"
    )
    assert json.loads(doc.fetchone()[0])["bull"] == 1.0


def _planted(days: int, h: int, rate: float, pairs: int, seed: int) -> pd.DataFrame:
    """Hourly class rows whose hit is one Bernoulli(rate) draw per h-candle block (shared by
    every pair: one market)."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2025-01-01", periods=days * 24, freq="h", tz="UTC")
    block = (t.as_unit("ns").asi8 // 3_600_000_000_000) // h
    hits = rng.random(block.max() + 1) < rate
    frames = []
    for k in range(pairs):
        hit = hits[block]
        frames.append(
            pd.DataFrame(
                {
                    "time": t,
                    "pair": f"P{k}/USDT",
                    "horizon": h,
                    "predicted": "bull",
                    "realised": np.where(hit, "bull", "bear").astype(object),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_non_overlapping_rows_sit_on_a_fixed_grid() -> None:
    frame = _planted(3, 12, 0.7, 1, 0)
    keep = non_overlapping(frame, 12)
    assert len(keep) == 6 and set(keep["time"].dt.hour) == {0, 12}
    later = non_overlapping(frame.iloc[5:], 12)  # the log starting later: the same grid
    assert later["time"].tolist() == keep["time"].tolist()[1:]
    with pytest.raises(MonitoringError, match="horizon"):
        non_overlapping(frame, 0)


def test_daily_accuracy_and_its_se_match_the_planted_rate() -> None:
    h, rate = 12, 0.7
    frame = _planted(400, h, rate, 2, 1)
    daily = daily_accuracy(frame)
    assert len(daily) == 400 and (daily["n"] == 4).all() and (daily["candles"] == 2).all()
    weekly = []  # a week's figure: 14 candles, an s.e. that is defined on most weeks
    for start in range(0, 399 - 7, 7):
        part = frame[(frame["time"] >= frame["time"].min() + pd.Timedelta(days=start))]
        part = part[part["time"] < part["time"].min() + pd.Timedelta(days=7)]
        acc, se, _ = clustered_accuracy(scored(non_overlapping(part, h)))
        if se > 0:
            weekly.append((acc - rate) / se)
    z = np.asarray(weekly)
    print(f"weekly z: mean {z.mean():+.2f}, sd {z.std():.2f}, n {len(z)}")
    assert abs(z.mean()) < 0.4 and 0.75 < z.std() < 1.35
    # pooled: the clustered s.e. of the two (identical) pairs is one pair's binomial s.e.
    pooled = live_accuracy(frame, days=400)
    assert pooled is not None and abs(pooled.accuracy - rate) < 3 * pooled.se
    assert pooled.se == pytest.approx(np.sqrt(rate * (1 - rate) / pooled.candles), rel=0.1)
    all_rows = scored(frame)
    naive = np.sqrt(all_rows["hit"].var() / len(all_rows))
    assert pooled.se > 4 * naive  # all rows as independent: sqrt(2 pairs * 12) too small
    assert "non-overlapping rows" in pooled.text() and pooled.pairs == 2


def test_live_accuracy_needs_enough_rows() -> None:
    frame = _planted(5, 12, 0.7, 1, 2)  # 10 non-overlapping rows
    assert live_accuracy(frame, days=30) is None
    assert live_accuracy(_planted(12, 12, 0.7, 1, 2), days=30).n >= MIN_ROWS
    with pytest.raises(MonitoringError, match="horizon"):
        live_accuracy(frame.drop(columns="horizon"))
