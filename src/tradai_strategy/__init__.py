"""TradAI: an ML model lifecycle for Freqtrade/FreqAI."""

__version__ = "0.1.0"
