"""TradAI data layer."""
