"""The monitoring baselines a version is registered with are measured like the live side:
same label and horizon, same rows (every predicted candle), same cross-sectional statistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tradai_strategy.data.synthetic import generate_ohlcv
from tradai_strategy.lifecycle.reference import baselines
from tradai_strategy.monitoring.prediction_log import realised_from_candles
from tradai_strategy.reports.oos_table import prediction_table

PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
H = 6


def _oos(do_predict_zero_share: float = 0.2) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    candles = {p: generate_ohlcv(p, "1h", days=20, seed=7) for p in PAIRS}
    rng = np.random.default_rng(1)
    preds = []
    for pair, c in candles.items():
        n = len(c)
        preds.append(
            pd.DataFrame(
                {
                    "date": c["date"],
                    "pair": pair,
                    "&-s_close": rng.normal(0, 0.01, n),
                    "do_predict": (rng.random(n) > do_predict_zero_share).astype(int),
                }
            )
        )
    return pd.concat(preds, ignore_index=True), candles


def test_training_and_live_realised_targets_are_the_same_numbers() -> None:
    predictions, candles = _oos()
    table = prediction_table(predictions, candles, H)
    for pair, c in candles.items():
        live = realised_from_candles(c, H, pair=pair).set_index("time")["realised"]
        train = table[table["pair"] == pair].set_index("date")["realised"].dropna()
        assert len(live) == len(train) == len(c) - H
        np.testing.assert_array_equal(train.to_numpy(), live.reindex(train.index).to_numpy())


def test_baselines_score_every_predicted_row_like_the_live_log() -> None:
    predictions, candles = _oos()
    table = prediction_table(predictions, candles, H)
    base = baselines(table, H)
    scored = table.dropna(subset=["prediction", "realised"])
    assert (scored["do_predict"] == 0).any()  # outlier rows count: the live log keeps them
    assert base.n == len(scored)
    assert base.mae == pytest.approx((scored["prediction"] - scored["realised"]).abs().mean())
    per_candle = [
        stats.spearmanr(g["prediction"], g["realised"]).statistic for _, g in scored.groupby("date")
    ]
    assert base.reference_ic == pytest.approx(float(np.mean(per_candle)))
    assert base.reference_ic_se is not None and base.reference_ic_se > 0


def test_one_pair_has_an_error_baseline_but_no_reference_ic() -> None:
    predictions, candles = _oos()
    table = prediction_table(predictions[predictions["pair"] == "BTC/USDT"], candles, H)
    base = baselines(table, H)
    assert base.mae is not None and base.reference_ic is None and base.reference_ic_se is None
