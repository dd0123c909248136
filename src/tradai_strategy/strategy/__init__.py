"""TradAI strategy layer."""
