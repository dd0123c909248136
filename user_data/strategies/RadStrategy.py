"""RadStrategy: TradAI's reference FreqAI strategy.

Everything generic (features, targets, entries/exits from the &-predictions and
``do_predict``) lives in :class:`tradai_strategy.strategy.TradAIStrategy`; this class only
says what is particular to it.
"""

from typing import ClassVar

from tradai_strategy.strategy import TradAIStrategy


class RadStrategy(TradAIStrategy):
    """Long-only on spot; set ``can_short = True`` (and a futures config) to short too."""

    timeframe = "1h"
    can_short = False
    startup_candle_count = 100
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.08, "1440": 0.03, "4320": 0.0}  # minutes
    stoploss = -0.06
    entry_zscore = 0.1
    exit_zscore = 0.0
