"""Is a registered bundle meant for the config that is about to serve it?

A bundle predicts what it was trained to predict: the ``&-`` labels over its own
``label_period_candles`` on its own ``timeframe``. Served under a config with another horizon
or timeframe its numbers still look like predictions, but the strategy's thresholds, the
prediction log's realised targets and every IC computed from them mean something else. Such a
version is refused: a backtest stops with one line, a live bot keeps ``do_predict = 0`` (or
the version it served) and logs why (:class:`IncompatibleVersionError`).

A classifier's version must also predict the classes the strategy reads
(:func:`check_classes`): a regime strategy fed an up/down model (or a regime model trained
where one regime never occurred, so it has no probability column for it) would read missing
columns as "no signal" and never say so.
"""

from __future__ import annotations

from typing import Any

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.core.labels import RETURN_LABEL, UPDOWN_LABEL
from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES

__all__ = ["IncompatibleVersionError", "check_classes", "check_trained_for", "strategy_classes"]

#: the classes of TradAIStrategy's built-in targets (empty: a regression target)
BUILTIN_CLASSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "return": (RETURN_LABEL, ()),
    "updown": (UPDOWN_LABEL, ("down", "up")),
    "regime": (REGIME_LABEL, REGIMES),
}


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


def strategy_classes(strategy: Any) -> tuple[str, tuple[str, ...]] | None:
    """``(label, classes)`` the strategy's signals read (classes empty for a regression
    target), or None when not known for sure.

    Known for TradAIStrategy's built-in targets (``target_kind``). A custom target's classes
    are only seen in the candles its ``set_freqai_targets`` labelled, where a rare class
    may be missing: not compared, so a good version is never refused for it.
    """
    if getattr(strategy, "custom_targets", None) is False:
        return BUILTIN_CLASSES.get(str(getattr(strategy, "target_kind", "")))
    return None


def check_classes(
    manifest: dict[str, Any], expected: tuple[str, tuple[str, ...]] | None, what: str
) -> None:
    """Raise :class:`IncompatibleVersionError` when a pair's model predicts other classes
    than the strategy's target has (as sets: the probability columns are named by class),
    or is a classifier where the target is a regression or the reverse. ``expected`` None:
    nothing is compared."""
    if expected is None:
        return
    label, classes = expected
    for pair, meta in (manifest.get("pairs") or {}).items():
        have = tuple(meta.get("classes") or ())
        if set(have) == set(classes):
            continue
        got = f"the classes {', '.join(have)}" if have else "a regression"
        want = f"the classes {', '.join(classes)}" if classes else "a regression"
        raise IncompatibleVersionError(
            f"{what}: its {pair} model predicts {got}, the strategy's target {label} is "
            f"{want}: serve a version trained on this target (with every class present in "
            "its training window), or set freqai.tradai.target to the version's"
        )
