"""Real Binance candles (TRADAI_REAL_DATA): a TrainingPredictionModel backtest completes."""

from __future__ import annotations

import pytest
from freqai_helpers import run_training_backtest

pytestmark = [pytest.mark.real_data, pytest.mark.e2e]


@pytest.mark.parametrize("estimator", ["lightgbm", "catboost"])
def test_two_pairs_three_months(tmp_path, real_datadir, estimator):
    params = (
        {"n_estimators": 300, "learning_rate": 0.03, "num_leaves": 7, "min_child_samples": 200}
        if estimator == "lightgbm"
        else {"iterations": 300, "learning_rate": 0.05, "depth": 4}
    )
    result, metrics, model_dir = run_training_backtest(
        tmp_path,
        real_datadir,
        identifier=f"real-{estimator}",
        tr="20250101-20250401",
        meta_overrides={
            "train_period_days": 60,
            "backtest_period_days": 30,
            "estimator": estimator,
            "model_training_parameters": params,
        },
    )
    assert set(metrics["pairs"]) == {"BTC/USDT", "ETH/USDT"}
    for payload in metrics["pairs"].values():
        (lab,) = payload["labels"]
        assert len(lab["windows"]) == 3
        # 90 days of 1h candles, every 12th row, minus the unlabelled tail
        assert 170 <= lab["pooled"]["n"] <= 180
        assert -1 <= lab["pooled"]["rank_ic"] <= 1
    assert len(list((model_dir / "backtesting_predictions").glob("*.feather"))) == 6
    assert result.stats["total_trades"] == len(result.trades)
