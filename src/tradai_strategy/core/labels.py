"""Forward labels shared by the strategy, the synthetic generator and the metrics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradai_strategy.core.regimes import REGIME_LABEL

FloatArray = npt.NDArray[np.float64]

#: TradAIStrategy's targets (``freqai.tradai.target``)
TARGETS = ("return", "updown", "regime")
#: the targets a classifier learns (``tradai train`` picks TrainingClassifierModel)
CLASSIFIER_TARGETS = ("updown", "regime")
#: the regression label: forward mean return over ``label_period_candles``
RETURN_LABEL = "&-s_close"
#: the classification label: "up" when that forward mean return is > 0, else "down"
UPDOWN_LABEL = "&-s_updown"
#: each built-in target's label column (``regime``: the five classes of core.regimes)
TARGET_LABELS = {"return": RETURN_LABEL, "updown": UPDOWN_LABEL, "regime": REGIME_LABEL}


@overload
def forward_mean_return(close: pd.Series, horizon: int) -> pd.Series: ...
# (pandas is untyped here, so mypy sees the Series overload as catching everything)
@overload
def forward_mean_return(  # type: ignore[overload-cannot-match]
    close: npt.ArrayLike, horizon: int
) -> FloatArray: ...
def forward_mean_return(close: npt.ArrayLike | pd.Series, horizon: int) -> FloatArray | pd.Series:
    """FreqAI's ``&-s_close`` label: ``mean(close[t+1 .. t+h]) / close[t] - 1``.

    Only the last ``horizon`` rows are NaN (their future is not in the data). A Series
    gives a Series on the same index, anything else an array.

    >>> forward_mean_return([1.0, 2.0, 3.0, 4.0], 2).round(3).tolist()
    [1.5, 0.75, nan, nan]
    >>> forward_mean_return(pd.Series([1.0, 2.0, 3.0, 4.0]), 2).round(3).tolist()
    [1.5, 0.75, nan, nan]
    """
    if isinstance(close, pd.Series):
        return pd.Series(forward_mean_return(close.to_numpy(), horizon), index=close.index)
    if horizon < 1:
        raise ValueError(f"horizon: must be >= 1 candle, got {horizon}")
    c = np.asarray(close, dtype=np.float64)
    out = np.full(c.shape, np.nan)
    if c.size > horizon:
        csum = np.concatenate(([0.0], np.cumsum(c)))
        # the future window of row t is c[t+1 : t+1+h] -> csum[t+1+h] - csum[t+1]
        fut = (csum[horizon + 1 :] - csum[1:-horizon]) / horizon
        out[: c.size - horizon] = fut / c[: c.size - horizon] - 1.0
    return out


#: an integer label with at most this many distinct values is a class label
MAX_INT_CLASSES = 10
#: the suffixes FreqAI gives a label's training mean/std columns in its output
_STAT_SUFFIXES = ("_mean", "_std")


def is_discrete_label(values: pd.Series) -> bool:
    """A class label: strings/objects, categories, booleans, or integers with at most
    :data:`MAX_INT_CLASSES` distinct values; anything else (floats) is continuous.

    >>> is_discrete_label(pd.Series(["up", "down", None]))
    True
    >>> is_discrete_label(pd.Series([0, 1, 1, 0]))
    True
    >>> is_discrete_label(pd.Series([0.1, -0.2, float("nan")]))
    False
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_integer_dtype(dtype):
        return int(values.nunique(dropna=True)) <= MAX_INT_CLASSES
    return not pd.api.types.is_numeric_dtype(dtype)


def label_task(values: pd.Series) -> str:
    """``"classification"`` for a :func:`is_discrete_label` column, else ``"regression"``."""
    return "classification" if is_discrete_label(values) else "regression"


def describe_label(values: pd.Series) -> str:
    """A short description of a label column for messages: dtype and distinct values.

    >>> describe_label(pd.Series([0.5, 0.25, 0.5]))
    'float64, 2 distinct values'
    """
    return f"{values.dtype}, {int(values.nunique(dropna=True))} distinct values"


def target_columns(columns: Iterable[object]) -> list[str]:
    """The ``&``-target columns among ``columns``: every column starting with ``&`` except
    FreqAI's ``<label>_mean``/``<label>_std`` companions of another listed column.

    >>> target_columns(["close", "&-a", "&-a_mean", "&-a_std", "up", "&-b_std"])
    ['&-a', '&-b_std']
    """
    names = [str(c) for c in columns]
    present = set(names)
    out = []
    for name in names:
        if not name.startswith("&"):
            continue
        base = next((name[: -len(s)] for s in _STAT_SUFFIXES if name.endswith(s)), None)
        if base is not None and base in present:
            continue
        out.append(name)
    return out
