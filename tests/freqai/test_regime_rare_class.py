"""Too few rows of a class in a training window, through a real FreqAI backtest of the
regime classifier: a class only in the window's eval part stops the backtest with one line
naming the class and the window (LightGBM said "y contains previously unseen labels"
without a window); a class with a handful of training rows trains, with one warning line.
A class absent from the whole window is FreqAI's documented case: that window's model has
no probability column for it and FreqAI fills it with 0 (docs/regimes.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from freqai_helpers import run_training_backtest, timerange

from tradai_strategy.data.freqtrade_runner import FreqtradeRunError
from tradai_strategy.data.synthetic_regimes import write_regime_data

pytestmark = pytest.mark.e2e
META = {"pairs": ["BTC/USDT"], "target": "regime", "label_period_candles": 12}
# one walk-forward window: training 2024-01-11 .. 2024-02-10, its eval part the last ~3 days


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rare-class") / "data"
    write_regime_data(["BTC/USDT"], "1h", 62, seed=4, datadir=folder)
    return folder


def _backtest(tmp: Path, data: Path, span: tuple[str, str]) -> None:
    def edit(cfg: dict) -> None:
        cfg["freqai"]["tradai"]["regime"] = {"lookback": 100}
        cfg["tradai_test_crisis_span"] = list(span)

    run_training_backtest(
        tmp,
        data,
        identifier="rare-class",
        freqaimodel="TrainingClassifierModel",
        strategy="RegimeRareClassStrategy",
        tr=timerange(40, 60),
        meta_overrides=META,
        config_edit=edit,
    )


@pytest.mark.xdist_group("freqai-models")
def test_a_class_only_in_the_eval_part_is_one_line_naming_class_and_window(
    tmp_path: Path, data: Path
) -> None:
    with pytest.raises(FreqtradeRunError) as err:
        _backtest(tmp_path, data, ("2024-02-08 12:00", "2024-02-09 00:00"))
    text = str(err.value)
    assert "\n" not in text, text
    assert "BTC/USDT, training window 2024-01-1" in text and "2024-02-" in text
    assert "class 'crisis' of &-s_regime has 0 training rows but 13 in the eval part" in text
    assert "train_period_days" in text and "previously unseen" not in text


@pytest.mark.xdist_group("freqai-models")
def test_a_class_with_a_few_training_rows_trains_with_one_warning(
    tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tradai_strategy.freqai.purged_training"):
        _backtest(tmp_path, data, ("2024-01-20 00:00", "2024-01-20 02:00"))
    lines = [r.getMessage() for r in caplog.records if "training row(s)" in r.getMessage()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("BTC/USDT, training window 2024-01-1")
    assert "class 'crisis' of &-s_regime has only 3 training row(s) (< 10)" in lines[0]


@pytest.mark.xdist_group("freqai-models")
def test_a_regime_absent_from_the_window_has_no_column_and_one_warning(
    tmp_path: Path, data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tradai_strategy.data.prediction_files import load_backtest_predictions

    with caplog.at_level(logging.WARNING, logger="tradai_strategy.freqai.purged_training"):
        _backtest(tmp_path, data, ("2024-02-20 00:00", "2024-02-21 00:00"))  # after training
    lines = [r.getMessage() for r in caplog.records if "no training row" in r.getMessage()]
    assert len(lines) == 1 and "regime(s) crisis have no training row" in lines[0], lines
    table = load_backtest_predictions(tmp_path / "user_data" / "models" / "rare-class")
    assert {"bear", "bull", "high_vol", "low_vol"} <= set(table.columns)
    assert "crisis" not in table.columns and len(table) == 20 * 24
