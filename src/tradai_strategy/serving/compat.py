"""Is a registered bundle meant for the config that is about to serve it?

A bundle predicts what it was trained to predict: the ``&-`` labels over its own
``label_period_candles`` on its own ``timeframe``. Served under a config with another horizon
or timeframe its numbers still look like predictions, but the strategy's thresholds, the
prediction log's realised targets and every IC computed from them mean something else. Such a
version is refused: a backtest stops with one line, a live bot keeps ``do_predict = 0`` (or
the version it served) and logs why (:class:`IncompatibleVersionError`).
"""

from __future__ import annotations

from typing import Any

from tradai_strategy.core.errors import TradAIDataError

__all__ = ["IncompatibleVersionError", "check_trained_for"]


class IncompatibleVersionError(TradAIDataError):
    """The version was trained for another timeframe or label horizon than the config's."""


def check_trained_for(manifest: dict[str, Any], config: dict[str, Any], what: str) -> None:
    """Raise :class:`IncompatibleVersionError` when the bundle's timeframe or label horizon
    differs from ``config``'s (a value missing on either side is not compared)."""
    problems = []
    trained_tf, serving_tf = manifest.get("timeframe"), config.get("timeframe")
    if trained_tf and serving_tf and trained_tf != serving_tf:
        problems.append(f"timeframe {trained_tf} (this config: {serving_tf})")
    trained_fp = (manifest.get("freqai") or {}).get("feature_parameters") or {}
    serving_fp = (config.get("freqai") or {}).get("feature_parameters") or {}
    trained_h = trained_fp.get("label_period_candles")
    serving_h = serving_fp.get("label_period_candles")
    if trained_h is not None and serving_h is not None and trained_h != serving_h:
        problems.append(f"label_period_candles {trained_h} (this config: {serving_h})")
    if problems:
        raise IncompatibleVersionError(
            f"{what} was trained for {' and '.join(problems)}: its predictions would mean "
            "something else here; serve a version trained for this config, or set the "
            "config's timeframe / freqai.feature_parameters.label_period_candles to the "
            "version's"
        )
