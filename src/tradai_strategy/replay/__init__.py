"""Paper-trade replay: freqtrade's own dry-run bot on recorded candles, on a simulated clock."""
