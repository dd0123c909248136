"""Out-of-sample metrics file: pooled, per-window and window-demeaned IC against scipy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.data.oos_metrics import (
    classification_metrics,
    regression_metrics,
    update_metrics_file,
)


def _frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    signal = rng.normal(size=n)
    realised = 0.3 * signal + rng.normal(size=n)
    offsets = np.repeat(rng.normal(scale=5, size=3), n // 3)  # window-level shifts
    return pd.DataFrame(
        {"date": dates, "pred": signal + offsets, "realised": realised, "do_predict": 1}
    )


def test_regression_metrics_match_scipy():
    oos = _frame()
    oos.loc[5, "do_predict"] = 0
    d = oos["date"]
    windows = [(d[0], d[200]), (d[200], d[400]), (d[400], d[599] + pd.Timedelta(hours=1))]
    m = regression_metrics(oos, "&-s_close", horizon=4, windows=windows)
    pred = oos["pred"].where(oos["do_predict"] == 1)
    rows = pd.DataFrame({"p": pred, "y": oos["realised"]}).iloc[::4].dropna()
    assert m["pooled"]["rank_ic"] == pytest.approx(stats.spearmanr(rows.p, rows.y).statistic)
    assert m["pooled"]["n"] == len(rows)
    # demeaned: window offsets removed, so it is at least as high as the raw figure here
    w = np.repeat([0, 1, 2], 200)
    dm = pred - pred.groupby(w).transform("mean")
    rows_dm = pd.DataFrame({"p": dm, "y": oos["realised"]}).iloc[::4].dropna()
    expected = stats.spearmanr(rows_dm.p, rows_dm.y).statistic
    assert m["pooled"]["rank_ic_demeaned"] == pytest.approx(expected)
    assert m["pooled"]["rank_ic_demeaned"] > m["pooled"]["rank_ic"]
    assert [x["n"] for x in m["windows"]] == [199, 200, 200]
    first = oos.iloc[:200].query("do_predict == 1")
    assert m["windows"][0]["rank_ic"] == pytest.approx(
        stats.spearmanr(first.pred, first.realised).statistic
    )


def test_classification_metrics_and_file_merge(tmp_path):
    dates = pd.date_range("2024-01-01", periods=40, freq="1h", tz="UTC")
    realised = np.array(["up", "down"] * 20, dtype=object)
    pred = realised.copy()
    pred[::8] = "down"
    oos = pd.DataFrame({"date": dates, "pred": pred, "realised": realised, "do_predict": 1})
    m = classification_metrics(oos, "&-s_updown", horizon=2, windows=[(dates[0], dates[-1])])
    assert m["pooled"]["n"] == 20 and m["pooled"]["majority_rate"] == 1.0  # every 2nd is "up"
    assert m["pooled"]["accuracy"] == pytest.approx(15 / 20)
    update_metrics_file(tmp_path, "BTC/USDT", {"labels": [m]})
    path = update_metrics_file(tmp_path, "ETH/USDT", {"labels": [m]})
    data = json.loads(path.read_text())
    assert set(data["pairs"]) == {"BTC/USDT", "ETH/USDT"}
    assert data["summary"]["&-s_updown"]["n"] == 40
    assert data["summary"]["&-s_updown"]["mean"] == pytest.approx(0.75)
