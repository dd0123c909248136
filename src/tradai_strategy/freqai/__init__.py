"""TradAI freqai layer."""
