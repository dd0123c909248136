"""TradAIStrategy: the FreqAI strategy machinery a user strategy inherits.

A subclass only says what differs (timeframe, thresholds, extra features). Features are
stationary (ratios, oscillators, returns) — raw price levels are left out on purpose: on
overlapping forward labels they look predictive inside any short window and are not.

Targets (``target`` attribute, or ``freqai.tradai.target`` in the config):

* ``"return"`` — ``&-s_close``: mean close over the next ``label_period_candles`` candles
  relative to the current close, minus 1 (regression);
* ``"updown"`` — ``&-s_updown``: ``"up"`` when that forward mean return is > 0, else
  ``"down"`` (classification).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import talib
from freqtrade.strategy import IStrategy

from tradai_strategy.core.labels import RETURN_LABEL, TARGETS, UPDOWN_LABEL, forward_mean_return
from tradai_strategy.core.settings import label_period_candles

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
        dataframe["%-day_of_week"] = dataframe["date"].dt.dayofweek
        dataframe["%-hour_of_day"] = dataframe["date"].dt.hour
        return dataframe

    # ---- targets -------------------------------------------------------------------
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
            from tradai_strategy.core.errors import TradAIConfigError

            raise TradAIConfigError(
                f"freqai.tradai.target {kind!r} is unknown: use one of {', '.join(TARGETS)}"
            )
        return str(kind)

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        fwd = forward_mean_return(dataframe["close"], self.label_period_candles)
        if self.target_kind == "return":
            dataframe[RETURN_LABEL] = fwd
        else:
            updown = pd.Series(np.where(fwd > 0, "up", "down"), index=dataframe.index, dtype=object)
            dataframe[UPDOWN_LABEL] = updown.where(fwd.notna(), None)
        return dataframe

    # ---- trading logic ---------------------------------------------------------------
    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        return self.freqai.start(dataframe, metadata, self)

    def _signal_strength(self, df: pd.DataFrame) -> pd.Series:
        """Long-side score: z-score of the predicted return, or P(up) - entry_proba."""
        if self.target_kind == "return":
            mean = df.get(f"{RETURN_LABEL}_mean", 0.0)
            std = df.get(f"{RETURN_LABEL}_std", 1.0)
            std = pd.Series(std, index=df.index).replace(0, np.nan)
            return ((df[RETURN_LABEL] - mean) / std).fillna(0.0)
        if "up" not in df.columns:
            return pd.Series(0.0, index=df.index)
        up = df["up"].astype(float)
        # a candle without a prediction has every probability at 0: neutral, as a missing
        # regression prediction is, rather than a certain "down" that would signal an exit
        known = (up + pd.Series(df.get("down", 0.0), index=df.index).astype(float)) > 0
        return (up - 0.5).where(known, 0.0)

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        ok = df.get("do_predict", 0) == 1
        score = self._signal_strength(df)
        if self.target_kind == "return":
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
