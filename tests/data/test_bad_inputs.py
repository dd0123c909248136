"""Bad inputs to a TradAI training backtest: each gives one clear error, before or instead of
a silently meaningless result."""

from __future__ import annotations

from pathlib import Path

import pytest
from freqai_helpers import run_training_backtest, timerange

from tradai_strategy.data.freqtrade_runner import FreqtradeRunError
from tradai_strategy.data.synthetic import write_synthetic_data

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad-inputs")
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 80, seed=3, signal="none", datadir=d)
    return d


def _fails(tmp_path: Path, data: Path, **kwargs) -> str:
    kwargs.setdefault("tr", timerange(40, 70))
    kwargs.setdefault("identifier", "bad")
    with pytest.raises(FreqtradeRunError) as exc:
        run_training_backtest(tmp_path, data, **kwargs)
    return str(exc.value)


def _one_line(msg: str) -> None:
    assert "\n" not in msg and "Traceback" not in msg


def test_unknown_estimator(tmp_path, data):
    msg = _fails(
        tmp_path, data, config_edit=lambda c: c["freqai"]["tradai"].update(estimator="svm")
    )
    assert "freqai.tradai.estimator 'svm' is unknown" in msg and "lightgbm" in msg
    _one_line(msg)


def test_missing_label_period_candles(tmp_path, data):
    msg = _fails(
        tmp_path,
        data,
        config_edit=lambda c: c["freqai"]["feature_parameters"].pop("label_period_candles"),
    )
    assert "label_period_candles is missing" in msg
    _one_line(msg)


def test_pairs_without_data(tmp_path, data):
    msg = _fails(tmp_path, data, meta_overrides={"pairs": ["BTC/USDT", "DOGE/USDT", "ADA/USDT"]})
    assert "DOGE_USDT-1h.feather" in msg and "ADA_USDT-1h.feather" in msg
    assert "freqtrade download-data" in msg and "DOGE/USDT" in msg


def test_a_malformed_pair_is_named_as_such_not_as_missing_data(tmp_path, data):
    msg = _fails(
        tmp_path,
        data,
        config_edit=lambda c: c["exchange"].update(pair_whitelist=["BTC/USDT", "BTCUSDT"]),
    )
    assert "exchange.pair_whitelist: 'BTCUSDT' is not a pair: write BASE/QUOTE" in msg
    assert "download-data" not in msg  # it used to suggest downloading BTCUSDT
    _one_line(msg)


def test_timerange_outside_data(tmp_path, data):
    msg = _fails(tmp_path, data, tr=timerange(60, 200))
    assert "timerange" in msg.lower()
    _one_line(msg)


def test_train_window_too_short(tmp_path, data):
    msg = _fails(tmp_path, data, meta_overrides={"train_period_days": 2, "backtest_period_days": 5})
    assert "freqai.train_period_days=2" in msg and "raise train_period_days" in msg
    _one_line(msg)


def test_all_nan_feature_column(tmp_path, data):
    msg = _fails(tmp_path, data, strategy="BrokenFeatureStrategy")
    assert "%-broken" in msg and "all NaN" in msg
    _one_line(msg)
