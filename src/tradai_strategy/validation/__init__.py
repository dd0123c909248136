"""TradAI validation layer."""
