"""Shim so freqtrade's `--freqaimodel TradAIMLflowModel` finds the class (defined here)."""

from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel as _TradAIMLflowModel


class TradAIMLflowModel(_TradAIMLflowModel):
    """See :class:`tradai_strategy.freqai.mlflow_model.TradAIMLflowModel`."""
