"""Forward labels shared by the strategy, the synthetic generator and the metrics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def forward_mean_return(close: npt.ArrayLike, horizon: int) -> FloatArray:
    """FreqAI's ``&-s_close`` label: ``mean(close[t+1 .. t+h]) / close[t] - 1``.

    Only the last ``horizon`` rows are NaN (their future is not in the data).

    >>> forward_mean_return([1.0, 2.0, 3.0, 4.0], 2).round(3).tolist()
    [1.5, 0.75, nan, nan]
    """
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
