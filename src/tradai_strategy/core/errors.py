"""TradAI's one error root.

Every *expected* failure (bad input, missing data, an unusable registry or log) raises a
:class:`TradAIError` whose message is one line naming the file/field and the fix. The
``tradai`` command prints that line and exits 2; anything else is a bug: its traceback is
kept and the exit code is 1.

The root derives from freqtrade's ``OperationalException`` so that freqtrade, when one
escapes inside ``freqtrade backtesting``/``trade``, also reports it as one line.
"""

from __future__ import annotations

from freqtrade.exceptions import OperationalException


class TradAIError(OperationalException):
    """An expected failure: the one-line message names what is wrong and the fix.

    ``exit_code`` is the ``tradai`` command's exit status for it: 2 (bad input) unless a
    subclass says otherwise (a refused training or a failed demo step: 1).
    """

    exit_code: int = 2


class TradAIConfigError(TradAIError):
    """A configuration value is missing or wrong; the message names the key and the fix."""


class TradAIDataError(TradAIError):
    """The candles or features cannot be used as they are; the message says why and what to do."""


class MonitoringError(TradAIError):
    """Monitoring input cannot be used; the one-line message names what and the fix."""
