"""Forward labels shared by the strategy, the synthetic generator and the metrics."""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

#: TradAIStrategy's targets (``freqai.tradai.target``)
TARGETS = ("return", "updown")
#: the regression label: forward mean return over ``label_period_candles``
RETURN_LABEL = "&-s_close"
#: the classification label: "up" when that forward mean return is > 0, else "down"
UPDOWN_LABEL = "&-s_updown"


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
