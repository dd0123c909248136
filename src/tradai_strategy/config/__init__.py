"""TradAI config layer."""
