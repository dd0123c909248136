"""FreqAI's windows for the pre-training pass (:mod:`tradai_strategy.freqai.pretrain`): which
windows its loop would train, each window's inputs exactly as the loop cuts them, and the
files the loop writes once a window is trained.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen

from tradai_strategy.freqai.pretrain_worker import WindowResult, WindowTask
from tradai_strategy.models.estimators import save_native_model

#: pandas copies on write (always from 3.0): a slice is safe to hand to the strategy
COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def worker_config(config: dict[str, Any]) -> dict[str, Any]:
    """What a worker's model and data kitchen read: the ``freqai`` block (without
    ``freqai.tradai``: credentials stay here), ``timeframe`` and ``timerange``."""
    freqai = {k: v for k, v in config["freqai"].items() if k != "tradai"}
    return copy.deepcopy(
        {"freqai": freqai, "timeframe": config["timeframe"], "timerange": config.get("timerange")}
    )


def plan_windows(model: Any, pair: str, frame: pd.DataFrame) -> list[tuple[int, Any, Any]]:
    """FreqAI's windows of ``pair`` that its loop would train: (number, training range,
    backtest range); a window whose prediction or model file exists (a reused identifier)
    is left to the loop, which reuses it."""
    dk = FreqaiDataKitchen(model.config, False, pair)
    plan = []
    windows = zip(dk.training_timeranges, dk.backtesting_timeranges, strict=False)
    for it, (tr_train, tr_backtest) in enumerate(windows, start=1):
        ts = int(tr_train.stopts)
        in_window = (frame["date"] >= tr_backtest.startdt) & (frame["date"] < tr_backtest.stopdt)
        dk.set_paths(pair, ts)
        dk.set_new_model_names(pair, ts)
        if dk.check_if_backtest_prediction_is_valid(int(in_window.sum())) or model.model_exists(dk):
            continue
        plan.append((it, tr_train, tr_backtest))
    return plan


def rows_before(frame: pd.DataFrame, end: Any, ordered: bool) -> pd.DataFrame:
    """``frame.loc[frame["date"] < end, :]``, the rows FreqAI's loop computes a window's
    targets on, without copying them when pandas copies on write (pandas >= 3) and the
    candles are in date order: they are then the first rows, and a slice is the same frame
    (same index, columns and values) that the strategy's writes cannot reach back through.
    The copy made a window's inputs grow with the square of the backtest's length."""
    if ordered and COPY_ON_WRITE:
        return frame.iloc[: int(frame["date"].searchsorted(end, side="left"))]
    return frame.loc[frame["date"] < end, :]


def window_tasks(
    model: Any,
    pair: str,
    frame: pd.DataFrame,
    strategy: Any,
    plan: list[tuple[int, Any, Any]],
    driver: dict[str, float],
) -> Iterator[WindowTask]:
    """The fits of ``plan`` with the inputs FreqAI's loop would give them; the pair's
    features are built once, with FreqAI's data kitchen. ``driver``: the seconds spent on
    ``features`` and ``window inputs`` are added there."""
    if not plan:
        return
    started = time.perf_counter()
    config = model.config
    shipped = worker_config(config)
    dk = FreqaiDataKitchen(config, False, pair)  # accumulates the classes as the loop's does
    metadata = {"pair": pair}
    features = dk.use_strategy_to_populate_indicators(
        strategy, prediction_dataframe=frame, pair=pair
    )
    driver["features"] += time.perf_counter() - started
    ordered = bool(features["date"].is_monotonic_increasing)
    for it, tr_train, tr_backtest in plan:
        started = time.perf_counter()
        ts = int(tr_train.stopts)
        base_train = strategy.set_freqai_targets(
            rows_before(features, tr_train.stopdt, ordered), metadata=metadata
        )
        base_backtest = strategy.set_freqai_targets(
            rows_before(features, tr_backtest.stopdt, ordered), metadata=metadata
        )
        buffered = dk.buffer_timerange(tr_train.copy())
        train_df = dk.remove_special_chars_from_feature_names(
            dk.slice_dataframe(buffered, base_train)
        )
        backtest_df = dk.remove_special_chars_from_feature_names(
            dk.slice_dataframe(tr_backtest, base_backtest)
        )
        dk.get_unique_classes_from_labels(train_df)
        wdk = FreqaiDataKitchen(config, False, pair)
        wdk.set_paths(pair, ts)
        wdk.set_new_model_names(pair, ts)
        wdk.check_if_backtest_prediction_is_valid(len(backtest_df))  # sets the file's path
        wdk.unique_classes = dict(dk.unique_classes)
        wdk.unique_class_list = list(dk.unique_class_list)
        wdk.find_features(train_df)
        wdk.find_labels(train_df)
        wdk.config = shipped
        wdk.freqai_config = shipped["freqai"]
        driver["window inputs"] += time.perf_counter() - started
        yield WindowTask(
            pair,
            it,
            tr_train.timerange_str,
            model.task,
            type(model).__name__,
            model.tradai,
            shipped,
            wdk,
            train_df,
            backtest_df,
        )


def write_window(model: Any, result: WindowResult, carried: dict[str, Any]) -> list[Path]:
    """Write what FreqAI's loop writes after training ``result``'s window; the paths written.

    FreqAI keeps one data kitchen per pair across its windows, so a window's metadata also
    holds what the previous window's prediction left in ``dk.data`` (``carried``, e.g.
    ``filter_drop_index_prediction``): the same dict is rebuilt here, in the same key order.
    """
    dk = result.dk
    dk.config = model.config
    dk.freqai_config = model.config["freqai"]
    dk.data = {**carried, **result.train_data}
    pair = result.pair
    model.dd.pair_dict[pair]["trained_timestamp"] = int(Path(dk.data_path).name.rsplit("_", 1)[1])
    if model.plot_features:
        from freqtrade.freqai.utils import plot_feature_importance

        plot_feature_importance(result.model, pair, dk, model.plot_features)
    if model.save_backtest_models:
        save_native_model(result.model, Path(dk.data_path), dk.model_filename)
        model.dd.save_data(result.model, pair, dk)
    else:
        model.dd.save_metadata(dk)
    dk.save_backtesting_prediction(result.append_df)
    dk.data.update(result.predict_data)
    return [Path(dk.data_path), Path(dk.backtesting_results_path)]
