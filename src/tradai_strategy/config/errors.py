"""Errors TradAI raises on bad input: one line naming the field and the fix."""

from __future__ import annotations

from freqtrade.exceptions import OperationalException


class TradAIConfigError(OperationalException):
    """A configuration value is missing or wrong; the message names the key and the fix."""


class TradAIDataError(OperationalException):
    """The candles or features cannot be used as they are; the message says why and what to do."""
