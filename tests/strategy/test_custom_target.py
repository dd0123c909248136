"""Custom targets: a TradAIStrategy subclass's own ``&``-columns drive its signals, a class
label of any discrete type trains the classifier, and a missing or mismatched target (or a
target the model cannot learn) is one line naming the columns found and the fix."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from config_helpers import strategy_load_config
from freqai_helpers import TEST_STRATEGIES, run_training_backtest, timerange
from freqtrade.resolvers import StrategyResolver

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.freqtrade_runner import FreqtradeRunError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.purged_training import check_label_task
from tradai_strategy.serving.live_log import LivePredictionLogger, LogSettings
from tradai_strategy.strategy.targets import inspect_targets
from tradai_strategy.validation.runner import prepare_pair

PAIR = {"pair": "BTC/USDT"}


def _strategy(tmp_path: Path, name: str, horizon: int = 3) -> Any:
    freqai = {"enabled": True, "feature_parameters": {"label_period_candles": horizon}}
    return StrategyResolver.load_strategy(
        strategy_load_config(name, TEST_STRATEGIES, tmp_path, freqai)
    )


def _candles(n: int = 40) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, n)))
    dates = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"date": dates, "open": close, "high": close, "low": close,
                         "close": close, "volume": 1.0})  # fmt: skip


# ---- what set_freqai_targets created ------------------------------------------------------
def test_targets_are_read_from_set_freqai_targets_and_drive_the_signals(tmp_path: Path) -> None:
    strategy = _strategy(tmp_path, "CustomTargetStrategy")
    assert strategy.custom_targets and strategy.target_labels() == []  # nothing built yet
    frame = strategy.set_freqai_targets(_candles(), PAIR)
    want = np.log(frame["close"].shift(-3) / frame["close"])
    np.testing.assert_allclose(frame["&-fwd_logret"], want)
    assert strategy.target_labels() == ["&-fwd_logret"]
    # the predictions FreqAI hands back: the label, its training mean/std, do_predict
    df = frame[["date", "close"]].assign(
        **{"&-fwd_logret": np.linspace(-0.02, 0.02, 40), "&-fwd_logret_mean": 0.0,
           "&-fwd_logret_std": 0.01, "do_predict": 1}
    )  # fmt: skip
    out = strategy.populate_exit_trend(strategy.populate_entry_trend(df.copy(), PAIR), PAIR)
    z = df["&-fwd_logret"] / 0.01
    assert (out["enter_long"] == 1).tolist() == (z > strategy.entry_zscore).tolist()
    assert (out["exit_long"] == 1).tolist() == (z < strategy.exit_zscore).tolist()
    # a prediction frame without the target: one line naming what is there (no KeyError)
    with pytest.raises(TradAIConfigError, match=r"no &-fwd_logret column \(found: &-s_close, "):
        strategy.populate_entry_trend(df.rename(columns={"&-fwd_logret": "&-s_close"}), PAIR)


def test_a_fresh_strategy_finds_its_target_in_the_predictions(tmp_path: Path) -> None:
    """A backtest that reuses saved predictions never calls set_freqai_targets: the target is
    the prediction frame's &-column (FreqAI's _mean/_std companions are not targets)."""
    strategy = _strategy(tmp_path, "CustomTargetStrategy")
    df = _candles(5).assign(
        **{"&-fwd_logret": [0.5, 0.0, 0.0, 0.0, 0.0], "&-fwd_logret_mean": 0.0,
           "&-fwd_logret_std": 0.1, "do_predict": 1}
    )  # fmt: skip
    out = strategy.populate_entry_trend(df, PAIR)
    assert out["enter_long"].fillna(0).tolist() == [1, 0, 0, 0, 0]


def test_a_bool_class_label_becomes_text_classes_and_trades_on_its_long_class(
    tmp_path: Path,
) -> None:
    strategy = _strategy(tmp_path, "CustomClassTargetStrategy")
    frame = strategy.set_freqai_targets(_candles(), PAIR)
    labels = frame["&-fwd_up"]
    assert set(labels.dropna()) == {"True", "False"} and labels.tail(3).isna().all()
    assert strategy.target_info.classes == {"&-fwd_up": ("False", "True")}
    df = frame[["date"]].head(3).assign(
        **{"&-fwd_up": "True", "True": [0.7, 0.5, 0.0], "False": [0.3, 0.5, 0.0], "do_predict": 1}
    )  # fmt: skip
    out = strategy.populate_exit_trend(strategy.populate_entry_trend(df, PAIR), PAIR)
    assert out["enter_long"].fillna(0).tolist() == [1, 0, 0]  # P(True) > entry_proba
    assert out["exit_long"].fillna(0).tolist() == [0, 0, 0]  # no prediction: neutral


def test_a_missing_or_mismatched_target_is_one_line_naming_the_columns(tmp_path: Path) -> None:
    frame = _candles(5)
    with pytest.raises(TradAIConfigError) as err:
        inspect_targets("MyStrategy", frame)
    msg = str(err.value)
    assert "created no &-target column (columns: date, open, high, low, close, volume)" in msg
    assert "\n" not in msg
    with pytest.raises(TradAIConfigError, match="returned NoneType, not the dataframe"):
        inspect_targets("MyStrategy", None)  # type: ignore[arg-type]
    strategy = _strategy(tmp_path, "MislabeledTargetStrategy")
    with pytest.raises(TradAIConfigError) as err:
        strategy.set_freqai_targets(_candles(), PAIR)
    assert str(err.value) == (
        "MislabeledTargetStrategy.label_columns names &-fwd_ret but set_freqai_targets created "
        "&-fwd_logret: set label_columns = ('&-fwd_logret',) or create &-fwd_ret in "
        "set_freqai_targets"
    )


def test_the_model_must_be_able_to_learn_the_target() -> None:
    df = pd.DataFrame({"%-f": [1.0, 2.0, 3.0], "&-x": [0.1, 0.25, -0.3], "&-c": ["a", "b", "a"]})
    with pytest.raises(TradAIConfigError) as err:
        check_label_task(df, ["&-x"], "classification", "TrainingClassifierModel", "BTC/USDT")
    assert str(err.value).startswith(
        "TrainingClassifierModel is a classifier but &-x is continuous (float64, 3 distinct "
        "values): train it with TrainingPredictionModel (freqai.tradai.target: return)"
    )
    with pytest.raises(TradAIConfigError, match=r"regressor but &-c is a class label .* updown"):
        check_label_task(df, ["&-c"], "regression", "TrainingPredictionModel", "BTC/USDT")
    with pytest.raises(TradAIConfigError, match=r"no &-target column .*: create one in"):
        check_label_task(df[["%-f"]], [], "regression", "TrainingPredictionModel", "BTC/USDT")
    check_label_task(df, ["&-x"], "regression", "TrainingPredictionModel", "BTC/USDT")


def test_validation_scores_the_strategys_own_target() -> None:
    frame = _candles(30).assign(**{"%-f": 1.0, "&-a": 0.0, "&-b": np.arange(30, dtype=float)})
    data = prepare_pair(frame, "BTC/USDT", 3, "1h", "&-b")
    assert data.label == "&-b" and data.task == "regression"
    np.testing.assert_allclose(data.realised, np.arange(30.0))  # the label itself
    ints = frame.assign(**{"&-b": np.arange(30) % 2})
    assert prepare_pair(ints, "BTC/USDT", 3, "1h", "&-b").task == "classification"
    with pytest.raises(TradAIConfigError, match=r"target &-c is not among .* \(&-a, &-b\)"):
        prepare_pair(frame, "BTC/USDT", 3, "1h", "&-c")


# ---- the live prediction log --------------------------------------------------------------
def _logged(tmp_path: Path, strategy: Any, caplog: pytest.LogCaptureFixture) -> pd.DataFrame:
    from types import SimpleNamespace

    from tradai_strategy.monitoring.prediction_log import PredictionLog

    plog = LivePredictionLogger(LogSettings(True, tmp_path / "p.sqlite", 30, 3, None), "M")
    if strategy is not None:
        plog.bind_targets(strategy)
    candles = _candles(12)
    model = SimpleNamespace(
        labels=["&-fwd_logret"], score_column="&-fwd_logret", train_end=candles["date"].iloc[0]
    )
    rows = candles[["date"]].assign(**{"&-fwd_logret": 0.01})
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            plog.predictions("BTC/USDT", "1", model, rows, "champion")
            plog.realised("BTC/USDT", candles)
        plog.flush()
    plog.close()
    return PredictionLog(tmp_path / "p.sqlite").frame("M")


def test_the_live_log_realises_a_custom_target_or_says_why_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = _strategy(tmp_path, "CustomTargetStrategy")
    log = _logged(tmp_path / "bound", strategy, caplog)
    close = _candles(12)["close"]
    want = np.log(close.shift(-3) / close).to_numpy()[1:]  # rows after the training end
    np.testing.assert_allclose(log["realised"].to_numpy(), want)  # NaN: horizon not passed
    assert "not recorded" not in caplog.text

    caplog.clear()
    log = _logged(tmp_path / "unbound", None, caplog)
    assert log["realised"].isna().all()  # never the forward mean return instead
    assert caplog.text.count("realised values of &-fwd_logret are not recorded") == 1

    caplog.clear()
    broken = _strategy(tmp_path, "CustomTargetStrategy")
    broken.set_freqai_targets = lambda df, metadata: df.assign(**{"&-other": 1.0})
    log = _logged(tmp_path / "broken", broken, caplog)
    assert log["realised"].isna().all()
    assert caplog.text.count("set_freqai_targets did not give it from the candles") == 1


# ---- backtests -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("custom-target-data")
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 70, seed=11, signal="planted", datadir=d)
    return d


def _backtest(tmp: Path, data: Path, strategy: str, model: str, target: str) -> Any:
    return run_training_backtest(
        tmp,
        data,
        identifier=f"{strategy}-{model}".lower(),
        strategy=strategy,
        freqaimodel=model,
        tr=timerange(40, 69),
        meta_overrides={"backtest_period_days": 15, "target": target},
    )


@pytest.mark.e2e
def test_a_custom_class_target_backtests_with_the_classifier(tmp_path: Path, data: Path) -> None:
    result, metrics, _ = _backtest(
        tmp_path, data, "CustomClassTargetStrategy", "TrainingClassifierModel", "updown"
    )
    assert len(result.trades) > 0
    summary = metrics["summary"]["&-fwd_up"]
    assert summary["metric"] == "accuracy" and summary["n"] > 100


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("strategy", "model", "target", "line"),
    [
        ("CustomTargetStrategy", "TrainingClassifierModel", "updown",
         "TrainingClassifierModel is a classifier but &-fwd_logret is continuous"),
        ("CustomClassTargetStrategy", "TrainingPredictionModel", "return",
         "TrainingPredictionModel is a regressor but &-fwd_up is a class label"),
        ("MislabeledTargetStrategy", "TrainingPredictionModel", "return",
         "MislabeledTargetStrategy.label_columns names &-fwd_ret but set_freqai_targets "
         "created &-fwd_logret"),
    ],
)  # fmt: skip
def test_a_target_the_model_cannot_use_stops_the_backtest_with_one_line(
    tmp_path: Path, data: Path, strategy: str, model: str, target: str, line: str
) -> None:
    with pytest.raises(FreqtradeRunError) as err:
        _backtest(tmp_path, data, strategy, model, target)
    assert line in str(err.value) and "\n" not in str(err.value)
    assert "Unknown label type" not in str(err.value)


def test_class_score_is_positive_exactly_when_the_long_side_is_most_probable() -> None:
    from tradai_strategy.strategy.targets import class_score

    rng = np.random.default_rng(3)
    regimes = ["bull", "bear", "high_vol", "low_vol", "crisis"]
    probs = pd.DataFrame(rng.dirichlet(np.ones(5), 500), columns=regimes)
    score = class_score(probs, regimes, ("bull",))
    assert score is not None
    assert ((score > 0) == (probs.idxmax(axis=1) == "bull")).all()  # was P(bull) - 0.5
    binary = pd.DataFrame({"up": probs["bull"]}).assign(down=1 - probs["bull"])
    same = class_score(binary, ["down", "up"], "up")
    assert same is not None and np.allclose(same, binary["up"] - 0.5)  # unchanged for 2
