"""A strategy's ``&``-targets, as its ``set_freqai_targets`` creates them.

:class:`~tradai_strategy.strategy.base.TradAIStrategy` wraps every ``set_freqai_targets`` a
subclass defines with :func:`checked_targets`, so wherever targets are built (FreqAI's
training windows, live, ``tradai validate``, the reports, the prediction log) the output is
checked the same way:

* no ``&`` column, a ``None`` return, or a declared ``label_columns`` entry that was not
  created -> one :class:`~tradai_strategy.core.errors.TradAIConfigError` line naming the
  columns found and the fix;
* a discrete label that is not text (bool, category, an integer with few values) is turned
  into text, the only class label FreqAI's classifiers recognise (``"True"``/``"False"``,
  ``"1"``/``"0"``...), missing values kept missing;
* the target names (and, for class labels, the classes) are recorded on the strategy, where
  the signals and the consumers read them (:class:`TargetInfo`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.labels import is_discrete_label, target_columns


@dataclass(frozen=True)
class TargetInfo:
    """What a strategy's ``set_freqai_targets`` created: the label names in order (the
    first drives the signals), the task of each, and each class label's classes (as text)."""

    labels: tuple[str, ...]
    tasks: dict[str, str]
    classes: dict[str, tuple[str, ...]]

    @property
    def primary(self) -> str:
        return self.labels[0]


def as_class_text(values: pd.Series) -> pd.Series:
    """A discrete label as text (FreqAI's classifiers only see string labels as classes);
    missing values stay ``None``; text labels are returned unchanged."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty") and not isinstance(
        values.dtype, pd.CategoricalDtype
    ):
        return values
    text = values.astype(object).map(str)
    return text.where(values.notna(), None)


def found_text(columns: Sequence[object], limit: int = 12) -> str:
    """``columns`` for a message: the ``&`` ones, else the first ``limit`` of all."""
    names = [str(c) for c in columns]
    amp = [c for c in names if c.startswith("&")]
    shown = amp or names[:limit]
    more = "" if amp or len(names) <= limit else f", … ({len(names)} in all)"
    return ", ".join(shown) + more if shown else "none"


def inspect_targets(
    owner: str, frame: pd.DataFrame, declared: Sequence[str] = ()
) -> tuple[pd.DataFrame, TargetInfo]:
    """Check the output of ``owner``'s ``set_freqai_targets``, convert non-text discrete
    labels to text, and describe the targets.

    :raises TradAIConfigError: no ``&`` column, or a declared label that is missing.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TradAIConfigError(
            f"{owner}.set_freqai_targets returned {type(frame).__name__}, not the dataframe: "
            "end it with `return dataframe`"
        )
    found = target_columns(frame.columns)
    if not found:
        raise TradAIConfigError(
            f"{owner}.set_freqai_targets created no &-target column (columns: "
            f"{found_text(list(frame.columns))}): assign one, e.g. dataframe['&-my_target'] = "
            "..., and return the dataframe"
        )
    missing = [c for c in declared if c not in found]
    if missing:
        raise TradAIConfigError(
            f"{owner}.label_columns names {', '.join(missing)} but set_freqai_targets created "
            f"{', '.join(found)}: set label_columns = {tuple(found)!r} or create "
            f"{', '.join(missing)} in set_freqai_targets"
        )
    labels = tuple(declared) or tuple(found)
    tasks: dict[str, str] = {}
    classes: dict[str, tuple[str, ...]] = {}
    for label in labels:
        values = frame[label]
        if is_discrete_label(values):
            text = as_class_text(values)
            if text is not values:
                frame[label] = text
            tasks[label] = "classification"
            classes[label] = tuple(sorted(map(str, pd.unique(text.dropna()))))
        else:
            tasks[label] = "regression"
    return frame, TargetInfo(labels, tasks, classes)


def checked_targets(method: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Wrap a ``set_freqai_targets``: :func:`inspect_targets` on its output, recorded on the
    strategy as ``target_info`` (the outermost call of a ``super()`` chain wins)."""
    if getattr(method, "__tradai_checked__", False):
        return method

    @functools.wraps(method)
    def wrapper(self: Any, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any) -> Any:
        out = method(self, dataframe, metadata, **kwargs)
        declared = tuple(getattr(self, "label_columns", ()) or ())
        out, info = inspect_targets(type(self).__name__, out, declared)
        self.__dict__["target_info"] = info
        return out

    wrapper.__tradai_checked__ = True  # type: ignore[attr-defined]
    return wrapper


def class_score(
    df: pd.DataFrame, classes: Sequence[str], long_class: str | Sequence[str]
) -> pd.Series | None:
    """``(P(long) - max P(other class)) / 2`` from a classifier's probability columns
    (several long classes: their summed probability): positive exactly when the long side is
    the most probable, and for two classes the familiar ``P(long) - 0.5``. With five regimes
    ``P(bull) - 0.5`` would almost never be positive. 0 where a candle has no prediction
    (every probability 0); None when no ``long_class`` column is there."""
    longs = [long_class] if isinstance(long_class, str) else list(long_class)
    present = [c for c in longs if c in df.columns]
    if not present:
        return None
    prob = df[present].astype(float).sum(axis=1)
    others = [c for c in classes if c not in longs and c in df.columns]
    other = df[others].astype(float) if others else pd.DataFrame(index=df.index)
    total = prob + other.sum(axis=1)
    best_other = other.max(axis=1) if others else 0.0
    return ((prob - best_other) / 2).where(np.asarray(total > 0), 0.0)
