"""TradAIStrategy: the FreqAI strategy machinery a user strategy inherits.

A subclass only says what differs (timeframe, thresholds, extra features). Features are
stationary (ratios, oscillators, returns) — raw price levels are left out on purpose: on
overlapping forward labels they look predictive inside any short window and are not.

Targets (``target`` attribute, or ``freqai.tradai.target`` in the config):

* ``"return"`` — ``&-s_close``: mean close over the next ``label_period_candles`` candles
  relative to the current close, minus 1 (regression);
* ``"updown"`` — ``&-s_updown``: ``"up"`` when that forward mean return is > 0, else
  ``"down"`` (classification);
* ``"regime"`` — ``&-s_regime``: one of the five market regimes of the forward window
  (:mod:`tradai_strategy.core.regimes`, settings in ``freqai.tradai.regime``;
  classification). The long signal is the probability of ``long_regimes``.

Custom targets: a subclass that overrides ``set_freqai_targets`` names its own ``&``-columns
(``dataframe["&-fwd_logret"] = ...``) and every part of TradAI uses those names: the first
one drives the signals, the training metrics, validation, the report and the prediction log.
``label_columns`` may declare them (and their order); otherwise they are read from what
``set_freqai_targets`` created (:mod:`tradai_strategy.strategy.targets`). A continuous label
is a regression target (``target = "return"``, the default), a discrete one — text,
category, bool, an integer with few values — a classifier target (``target = "updown"``, so
``tradai train`` picks ``TrainingClassifierModel``); the classifier's long signal is the
probability of ``long_class``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import talib
from freqtrade.strategy import IStrategy

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.labels import (
    RETURN_LABEL,
    TARGET_LABELS,
    TARGETS,
    UPDOWN_LABEL,
    forward_mean_return,
    is_discrete_label,
    target_columns,
)
from tradai_strategy.core.regimes import (
    REGIME_LABEL,
    REGIMES,
    RegimeSettings,
    regime_features,
    regime_labels,
)
from tradai_strategy.core.settings import label_period_candles
from tradai_strategy.models.executor import warm_up_backtest
from tradai_strategy.strategy.targets import TargetInfo, checked_targets, class_score, found_text

logger = logging.getLogger(__name__)


class TradAIStrategy(IStrategy):
    """Base FreqAI strategy: features, targets, and entries/exits from the predictions."""

    INTERFACE_VERSION = 3
    timeframe = "1h"
    can_short = False
    process_only_new_candles = True
    use_exit_signal = True
    startup_candle_count: int = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.10}
    stoploss = -0.05
    trailing_stop = False

    target: str = "return"
    #: the &-target columns of a custom ``set_freqai_targets``, the first driving the
    #: signals; empty: read from what ``set_freqai_targets`` creates
    label_columns: ClassVar[tuple[str, ...]] = ()
    #: classifier: the class whose probability is the long signal ("True"/"1" for a bool or
    #: 0/1 label, which TradAI turns into text like FreqAI's classifiers need)
    long_class: str = "up"
    #: ``regime`` target: the regimes whose summed probability is the long signal
    long_regimes: ClassVar[tuple[str, ...]] = ("bull",)
    #: enter when the prediction is this many training-label std above the training mean
    entry_zscore: float = 0.1
    exit_zscore: float = 0.0
    #: classifier: enter when P(up) exceeds this
    entry_proba: float = 0.55

    # ---- FreqAI feature engineering -------------------------------------------------
    def feature_engineering_expand_all(
        self, dataframe: pd.DataFrame, period: int, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        """Indicators of one period. Returns a *new* frame (FreqAI uses the return value):
        a subclass calling ``super()`` must keep its result, not the frame it passed in."""
        # TA-Lib on numpy arrays and one concat: the same numbers as the abstract API with
        # column-by-column inserts, a third of the time (this runs on every live candle)
        idx = dataframe.index
        h, low, c, v = (
            dataframe[k].to_numpy(dtype=float) for k in ("high", "low", "close", "volume")
        )
        close, volume = dataframe["close"], dataframe["volume"]
        upper, middle, lower = talib.BBANDS(c, timeperiod=period, nbdevup=2.0, nbdevdn=2.0)
        width = pd.Series(upper - lower, index=idx).replace(0, np.nan)
        vol_mean = volume.rolling(period).mean().replace(0, np.nan)
        features = {
            "%-rsi-period": talib.RSI(c, timeperiod=period),
            "%-mfi-period": talib.MFI(h, low, c, v, timeperiod=period),
            "%-adx-period": talib.ADX(h, low, c, timeperiod=period),
            "%-roc-period": talib.ROC(c, timeperiod=period),
            "%-natr-period": talib.NATR(h, low, c, timeperiod=period),
            "%-dist_sma-period": close / pd.Series(talib.SMA(c, timeperiod=period), index=idx) - 1,
            "%-dist_ema-period": close / pd.Series(talib.EMA(c, timeperiod=period), index=idx) - 1,
            "%-bb_width-period": width / pd.Series(middle, index=idx),
            "%-bb_pos-period": (close - pd.Series(lower, index=idx)) / width,
            "%-relative_volume-period": volume / vol_mean,
        }
        return pd.concat([dataframe, pd.DataFrame(features, index=idx)], axis=1)

    def feature_engineering_expand_basic(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        dataframe["%-pct-change"] = dataframe["close"].pct_change()
        dataframe["%-range"] = (dataframe["high"] - dataframe["low"]) / dataframe["close"]
        return dataframe

    def feature_engineering_standard(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        # FreqAI's live history can hold the dates as objects (its appended candles carry
        # another UTC tz object than the loaded ones): parse, as FreqAI's own code does
        dates = pd.to_datetime(dataframe["date"], utc=True)
        dataframe["%-day_of_week"] = dates.dt.dayofweek
        dataframe["%-hour_of_day"] = dates.dt.hour
        if self.target_kind == "regime":  # the label's own statistics, backward only
            settings = RegimeSettings.from_config(self.config)
            h = self.label_period_candles
            feats = regime_features(dataframe["close"], h, settings, dataframe["volume"])
            for name in feats.columns:
                dataframe[name] = feats[name]
        return dataframe

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        #: the candles of every pair while freqtrade's backtest runs
        #: ``advise_all_indicators``: the parallel training reads each pair's from here
        self.backtest_frames: dict[str, pd.DataFrame] = {}
        warm_up_backtest(config)  # parallel training's workers start importing now

    def advise_all_indicators(self, data: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        self.backtest_frames = data
        try:
            return super().advise_all_indicators(data)
        finally:
            self.backtest_frames = {}

    # ---- targets -------------------------------------------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("set_freqai_targets")
        if own is not None:  # a custom target: check and record what it creates
            cls.set_freqai_targets = checked_targets(own)  # type: ignore[method-assign]

    def __getattr__(self, name: str) -> Any:
        """``self.label_period_candles``: the config's label horizon, read when used. Not a
        property: freqtrade reads every attribute ``dir()`` lists when it loads a strategy,
        so a config without FreqAI keys would fail on load."""
        if name == "label_period_candles":
            return label_period_candles(self.config)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def target_kind(self) -> str:
        kind = self.config.get("freqai", {}).get("tradai", {}).get("target", self.target)
        if kind not in TARGETS:
            raise TradAIConfigError(
                f"freqai.tradai.target {kind!r} is unknown: use one of {', '.join(TARGETS)}"
            )
        return str(kind)

    @property
    def custom_targets(self) -> bool:
        """True when a subclass builds its own targets (overrides ``set_freqai_targets``)."""
        return type(self).set_freqai_targets is not TradAIStrategy.set_freqai_targets

    def target_labels(self, columns: Any = None) -> list[str]:
        """The strategy's ``&``-target names, the signals' first: the built-in target's, the
        declared ``label_columns``, those the last ``set_freqai_targets`` call created, or
        (nothing recorded yet, e.g. a backtest reusing saved predictions) the ``&``-columns
        of ``columns`` (a prediction frame's, without FreqAI's ``_mean``/``_std``)."""
        if not self.custom_targets:
            return [TARGET_LABELS[self.target_kind]]
        if self.label_columns:
            return list(self.label_columns)
        info: TargetInfo | None = self.__dict__.get("target_info")
        if info is not None:
            return list(info.labels)
        return target_columns(columns) if columns is not None else []

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        if self.target_kind == "regime":
            settings = RegimeSettings.from_config(self.config)
            h = self.label_period_candles
            dataframe[REGIME_LABEL] = regime_labels(dataframe["close"], h, settings)
            return dataframe
        fwd = forward_mean_return(dataframe["close"], self.label_period_candles)
        if self.target_kind == "return":
            dataframe[RETURN_LABEL] = fwd
        else:
            updown = pd.Series(np.where(fwd > 0, "up", "down"), index=dataframe.index, dtype=object)
            dataframe[UPDOWN_LABEL] = updown.where(fwd.notna(), None)
        return dataframe

    # ---- trading logic ---------------------------------------------------------------
    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        # a model that logs live predictions (TradAIMLflowModel) fills their realised values
        # with this strategy's own label: tell it where the targets come from
        bind = getattr(getattr(self.freqai, "plog", None), "bind_targets", None)
        if callable(bind):
            bind(self)
        return self.freqai.start(dataframe, metadata, self)

    def _signal_label(self, df: pd.DataFrame) -> str:
        """The target the signals read: the built-in one, or the strategy's first target
        (one line naming the columns found when the predictions lack it)."""
        if not self.custom_targets:
            label = TARGET_LABELS[self.target_kind]
            if label in df.columns or label != RETURN_LABEL:
                return label
        labels = self.target_labels(df.columns)
        if not labels or labels[0] not in df.columns:
            want = labels[0] if labels else "&-target"
            raise TradAIConfigError(
                f"{type(self).__name__}: the predictions have no {want} column (found: "
                f"{found_text(list(df.columns))}): make set_freqai_targets create it (and "
                "label_columns name it), then train again with a fresh identifier"
            )
        return labels[0]

    def _is_classifier(self, df: pd.DataFrame, label: str) -> bool:
        if not self.custom_targets:
            return self.target_kind != "return"
        info: TargetInfo | None = self.__dict__.get("target_info")
        if info is not None and label in info.tasks:
            return info.tasks[label] == "classification"
        return is_discrete_label(df[label])

    def _signal_strength(self, df: pd.DataFrame) -> pd.Series:
        """Long-side score: z-score of the predicted target, or P(long class) - 0.5."""
        label = self._signal_label(df)
        if not self._is_classifier(df, label):
            mean = df.get(f"{label}_mean", 0.0)
            std = df.get(f"{label}_std", 1.0)
            std = pd.Series(std, index=df.index).replace(0, np.nan)
            return ((df[label].astype(float) - mean) / std).fillna(0.0)
        info: TargetInfo | None = self.__dict__.get("target_info")
        classes = (info.classes.get(label) if info is not None else None) or ("down", "up")
        long: str | tuple[str, ...] = self.long_class
        if label == REGIME_LABEL and not self.custom_targets:
            classes, long = REGIMES, tuple(self.long_regimes)
        # a candle without a prediction has every probability at 0: neutral, as a missing
        # regression prediction is, rather than a certain "down" that would signal an exit
        score = class_score(df, classes, long)
        if score is None:
            if self.custom_targets and not self.__dict__.get("long_class_warned"):
                self.__dict__["long_class_warned"] = True
                logger.warning(
                    "TradAI: %s: no probability column for long_class %r among the "
                    "predictions (%s): no entry signal; set long_class to one of the "
                    "classes of %s",
                    type(self).__name__,
                    self.long_class,
                    ", ".join(map(str, df.columns[-12:])),
                    label,
                )
            return pd.Series(0.0, index=df.index)
        return score

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        ok = df.get("do_predict", 0) == 1
        score = self._signal_strength(df)
        if not self._is_classifier(df, self._signal_label(df)):
            long_gate, short_gate = self.entry_zscore, -self.entry_zscore
        else:
            long_gate, short_gate = self.entry_proba - 0.5, 0.5 - self.entry_proba
        df.loc[ok & (score > long_gate), ["enter_long", "enter_tag"]] = (1, "ml_long")
        if self.can_short:
            df.loc[ok & (score < short_gate), ["enter_short", "enter_tag"]] = (1, "ml_short")
        return df

    def populate_exit_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        score = self._signal_strength(df)
        df.loc[score < self.exit_zscore, "exit_long"] = 1
        if self.can_short:
            df.loc[score > -self.exit_zscore, "exit_short"] = 1
        return df
