"""RegimeStrategy in a real freqtrade backtest served by TradAIMLflowModel (the registered
regime model): it enters only on candles predicted bull/low_vol, every signal exit is a
crisis candle, and it asks for the startup candles its regime features need."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from freqtrade.enums import RunMode
from inference_helpers import runtime_config
from regime_serving_helpers import (
    REGIME,
    H,
    regime_serving_config,
    registered_regime_model,
    serve_regime,
    served_predictions,
)

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import REGIME_LABEL
from tradai_strategy.data.features import load_strategy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return registered_regime_model(tmp_path_factory)


def _config(tmp: Path, run: dict, **meta) -> dict:
    cfg = regime_serving_config(tmp, run, strategy="RegimeStrategy", **meta)
    del cfg["startup_candle_count"]  # the strategy's own
    return cfg


@pytest.mark.xdist_group("freqai-models")
def test_regime_strategy_trades_long_in_bull_low_vol_and_goes_flat_in_crisis(
    tmp_path: Path, run: dict
) -> None:
    cfg = _config(tmp_path, run)
    result = serve_regime(tmp_path, run, cfg, "RegimeStrategy")
    served = served_predictions(tmp_path)
    assert (served["do_predict"] == 1).all()  # the startup candles cover the regime features
    regime = served.set_index(["pair", "date"])[REGIME_LABEL]
    trades = result.trades
    assert len(trades) >= 5
    step = pd.Timedelta(hours=1)  # a signal on candle t fills at the open of t + 1
    entered = [
        regime[(p, pd.Timestamp(d) - step)]
        for p, d in zip(trades.pair, trades.open_date, strict=True)
    ]
    assert set(entered) <= {"bull", "low_vol"}
    flat = trades[trades["exit_reason"] == "regime_flat"]
    exits = [
        regime[(p, pd.Timestamp(d) - step)] for p, d in zip(flat.pair, flat.close_date, strict=True)
    ]
    assert set(exits) <= {"crisis"}
    crisis = regime[regime == "crisis"]
    print(
        f"{len(trades)} trades, entries {pd.Series(entered).value_counts().to_dict()}, "
        f"{len(flat)} crisis exits; crisis candles {len(crisis)}; exit reasons "
        f"{trades['exit_reason'].value_counts().to_dict()}"
    )


def test_regime_strategy_asks_for_its_warmup_and_refuses_another_target(
    tmp_path: Path, run: dict
) -> None:
    config = runtime_config(tmp_path, _config(tmp_path, run), RunMode.BACKTEST)
    assert load_strategy(config).startup_candle_count == REGIME["lookback"] + H
    wrong = runtime_config(tmp_path, _config(tmp_path, run, target="return"), RunMode.BACKTEST)
    with pytest.raises(TradAIConfigError, match=r"freqai\.tradai\.target is 'return'"):
        load_strategy(wrong)
