"""Shim so freqtrade's `--freqaimodel TradAIPredictionModel` finds the class (defined here)."""

from tradai_strategy.freqai.prediction_model import (
    TradAIPredictionModel as _TradAIPredictionModel,
)


class TradAIPredictionModel(_TradAIPredictionModel):
    """See :class:`tradai_strategy.freqai.prediction_model.TradAIPredictionModel`."""
