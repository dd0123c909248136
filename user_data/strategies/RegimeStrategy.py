"""RegimeStrategy: RadStrategy trading on the predicted market regime (issue 20).

The model predicts the regime of the next ``label_period_candles`` candles (``&-s_regime``:
bull, bear, high_vol, low_vol, crisis; see docs/regimes.md). The strategy maps the regime
to behaviour:

* enter long only when the predicted regime is one of ``long_regimes`` (bull, low_vol);
* exit (go flat) when it is one of ``flat_regimes`` (crisis), whatever the profit;
* in the other regimes (bear, high_vol) no new entries; an open trade is left to the ROI
  table and the stoploss.

Only candles with ``do_predict == 1`` are read. The regime features rank the backward
window among the trailing ``freqai.tradai.regime.lookback`` windows, so the strategy asks
freqtrade for that many startup candles (plus the label horizon): fewer would leave the
first candles of a backtest or of a fresh bot without features (``do_predict = 0``).
"""

from typing import Any, ClassVar

import pandas as pd
from RadStrategy import RadStrategy

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import REGIME_LABEL, RegimeSettings
from tradai_strategy.core.settings import label_period_candles


class RegimeStrategy(RadStrategy):
    """Long in bull/low_vol, flat in crisis; the model is trained on ``target = "regime"``."""

    target = "regime"
    long_regimes: ClassVar[tuple[str, ...]] = ("bull", "low_vol")
    flat_regimes: ClassVar[tuple[str, ...]] = ("crisis",)

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        configured = (config.get("freqai", {}).get("tradai") or {}).get("target", self.target)
        if configured != "regime":
            raise TradAIConfigError(
                f"RegimeStrategy trades on the predicted regime, but freqai.tradai.target is "
                f'{configured!r}: set it to "regime" (tradai config build --target regime)'
            )
        if config.get("freqai", {}).get("enabled"):
            warmup = RegimeSettings.from_config(config).lookback + label_period_candles(config)
            self.startup_candle_count = max(int(self.startup_candle_count), warmup)

    def _regime(self, df: pd.DataFrame) -> pd.Series:
        """The predicted regime where the model predicted (else None)."""
        if REGIME_LABEL not in df.columns:
            return pd.Series(None, index=df.index, dtype=object)
        ok = df.get("do_predict", 0) == 1
        return df[REGIME_LABEL].astype(object).where(ok, None)

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        regime = self._regime(df)
        df.loc[regime.isin(self.long_regimes), ["enter_long", "enter_tag"]] = (1, "regime_long")
        return df

    def populate_exit_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        regime = self._regime(df)
        df.loc[regime.isin(self.flat_regimes), ["exit_long", "exit_tag"]] = (1, "regime_flat")
        return df
