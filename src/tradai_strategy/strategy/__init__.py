"""TradAI strategy base classes."""

from tradai_strategy.strategy.base import TradAIStrategy, forward_mean_return

__all__ = ["TradAIStrategy", "forward_mean_return"]
