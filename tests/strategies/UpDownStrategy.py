"""Test strategy: RadStrategy's logic with the ``updown`` target set on the class (no config
key), so the classifier must be chosen from the strategy itself."""

from typing import ClassVar

from tradai_strategy.strategy import TradAIStrategy


class UpDownStrategy(TradAIStrategy):
    timeframe = "1h"
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08}
    stoploss = -0.06
    target = "updown"
