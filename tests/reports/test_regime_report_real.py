"""Issue 20's acceptance on real candles (TRADAI_REAL_DATA, 1h BTC/ETH): ``tradai train``
(RegimeStrategy, target regime, small LightGBM, 30-day training / 15-day test windows over
March-April 2025) -> ``tradai validate --model --version`` (walk-forward, 4 groups; the
accuracy gate refuses, as expected) -> ``tradai promote --force`` with a reason -> a
TradAIMLflowModel backtest of May 2025 with RegimeStrategy -> ``tradai report``, whose page
shows the confusion matrix and accuracy against the baselines (the validation's numbers).
Measured figures: docs/regime-reports.md."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from regime_report_helpers import (
    PAIRS,
    backtest_trades,
    check_regime_pages,
    regime_pipeline,
    served_predictions,
)

from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES

pytestmark = [pytest.mark.real_data, pytest.mark.e2e]


def test_regime_pipeline_on_real_candles(tmp_path: Path, real_datadir: Path) -> None:
    started = time.perf_counter()
    out = regime_pipeline(
        tmp_path, real_datadir, train_range="20250301-20250501", backtest_range="20250501-20250601"
    )
    wall = time.perf_counter() - started
    assert (
        "verdict: FAIL" in out["validate"] and "is not above min_accuracy 0.750" in out["validate"]
    )
    assert "tradai.validation_status=failed" in out["validate"]
    assert "@production: unset -> 1" in out["promote"]
    served = served_predictions(tmp_path)
    assert set(served["pair"]) == set(PAIRS) and (served["do_predict"] == 1).all()
    assert set(served[REGIME_LABEL]) <= set(REGIMES) and set(REGIMES) <= set(served.columns)
    trades = backtest_trades(out["backtest_results"])
    assert len(trades) > 0
    regime = served.set_index(["pair", "date"])[REGIME_LABEL]
    step = pd.Timedelta(hours=1)  # a signal on candle t fills at the open of t + 1
    entered = [
        regime[(p, pd.Timestamp(d) - step)]
        for p, d in zip(trades.pair, trades.open_date, strict=True)
    ]
    assert set(entered) <= {"bull", "low_vol"}
    section = check_regime_pages(out)
    for pair, r in section["pairs"].items():
        vs = r["vs_persistence"]
        print(
            f"\n{pair}: model {r['model']}, majority {r['majority']}, persistence "
            f"{r['persistence']}, vs persistence {vs}, gate {r['gate_passed']}/{r['gate_runs']}"
        )
    print(f"confusion {section['confusion']}")
    print(
        f"backtest: {len(trades)} trades, profit {trades['profit_abs'].sum():+.2f}, exits "
        f"{trades['exit_reason'].value_counts().to_dict()}, entries "
        f"{pd.Series(entered).value_counts().to_dict()}; predicted "
        f"{served[REGIME_LABEL].value_counts(normalize=True).round(3).to_dict()}"
    )
    print(f"seconds: {out['seconds']}, wall {wall:.1f}")
    assert wall < 90
