"""The planted, predictable part of synthetic returns, and the tools to measure it.

The planted signal is mean reversion of the log close towards its own simple moving
average over ``SIGNAL_WINDOW`` candles. With ``P_t = log(close_t)`` and

    d_t = P_t - (1/N) * sum_{j=0}^{N-1} P_{t-j}          (N = SIGNAL_WINDOW)

the log return of candle ``t`` is

    r_t = -strength * d_{t-1} + eps_t

where ``eps_t`` is the unpredictable GARCH / Student-t innovation (see
:mod:`tradai_strategy.data.synthetic`). ``d_{t-1}`` only uses closes up to ``t-1``, so the
planted drift of the next candle, ``strength * oracle_feature(close)[t]``, is known at
the close of candle ``t``. Written in returns, ``d_{t-1} = sum_i w_i r_{t-1-i}`` with
``w_i = (N-1-i)/N`` (``i = 0..N-2``), so the planted process is an AR(N-1) filter of the
innovations with constant coefficients, which :func:`apply_planted_signal` evaluates with
:func:`scipy.signal.lfilter` (no Python loop).

The functions here are pure and only depend on numpy / scipy; the generator and
:func:`~tradai_strategy.data.synthetic.ideal_ic` live in the ``synthetic`` module.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import signal as sps

SIGNAL_WINDOW = 20
"""Length (candles) of the moving average the log close reverts to."""

DEFAULT_STRENGTH = 0.05
"""Share of the deviation from the moving average expected to revert in the next candle."""

FloatArray = npt.NDArray[np.float64]


def planted_ar_coefficients(strength: float, window: int = SIGNAL_WINDOW) -> FloatArray:
    """Denominator coefficients ``a`` of the AR filter ``r = lfilter([1], a, eps)``.

    Parameters
    ----------
    strength : float
        Mean-reversion strength ``kappa`` (0 gives a pure random walk, ``a == [1]``).
    window : int
        Moving-average length ``N``.

    Returns
    -------
    numpy.ndarray
        ``[1, kappa*w_0, ..., kappa*w_{N-2}]`` with ``w_i = (N-1-i)/N``.
    """
    if window < 2:
        raise ValueError(f"window: must be >= 2 candles, got {window}")
    weights = (window - 1 - np.arange(window - 1, dtype=np.float64)) / window
    return np.concatenate(([1.0], strength * weights))


def apply_planted_signal(
    innovations: FloatArray, strength: float, window: int = SIGNAL_WINDOW
) -> FloatArray:
    """Turn unpredictable innovations ``eps`` into log returns with the planted drift.

    Parameters
    ----------
    innovations : numpy.ndarray
        ``eps_t``, the unpredictable part of each log return (time-ordered).
    strength : float
        Mean-reversion strength ``kappa``.
    window : int
        Moving-average length ``N``.

    Returns
    -------
    numpy.ndarray
        ``r_t = -kappa * d_{t-1} + eps_t``; returns before the first innovation count as 0,
        so callers should discard a burn-in of a few hundred candles.
    """
    eps = np.asarray(innovations, dtype=np.float64)
    if strength == 0.0:
        return eps.copy()
    a = planted_ar_coefficients(strength, window)
    return np.asarray(sps.lfilter([1.0], a, eps), dtype=np.float64)


def oracle_feature(close: npt.ArrayLike, window: int = SIGNAL_WINDOW) -> FloatArray:
    """The causal feature the planted drift is built from: ``-d_t``.

    ``strength * oracle_feature(close)[t]`` is the planted expected log return of candle
    ``t+1``; it uses closes up to ``t`` only. The first ``window-1`` rows are NaN.

    Parameters
    ----------
    close : array-like
        Close prices in time order.
    window : int
        Moving-average length ``N``.

    Returns
    -------
    numpy.ndarray
        ``SMA_N(log close)_t - log(close_t)``.
    """
    logp = np.log(np.asarray(close, dtype=np.float64))
    out = np.full(logp.shape, np.nan)
    if logp.size >= window:
        csum = np.concatenate(([0.0], np.cumsum(logp)))
        sma = (csum[window:] - csum[:-window]) / window
        out[window - 1 :] = sma - logp[window - 1 :]
    return out


def forward_mean_return(close: npt.ArrayLike, horizon: int) -> FloatArray:
    """FreqAI-style label: ``mean(close_{t+1..t+h}) / close_t - 1``; last ``h`` rows NaN.

    Parameters
    ----------
    close : array-like
        Close prices in time order.
    horizon : int
        Number of future candles ``h`` (>= 1).

    Returns
    -------
    numpy.ndarray
        The forward mean return per row.
    """
    if horizon < 1:
        raise ValueError(f"horizon: must be >= 1 candle, got {horizon}")
    c = np.asarray(close, dtype=np.float64)
    out = np.full(c.shape, np.nan)
    if c.size > horizon:
        csum = np.concatenate(([0.0], np.cumsum(c)))
        # future window of row t is c[t+1 : t+1+h] -> csum[t+1+h] - csum[t+1]
        fut = (csum[horizon + 1 :] - csum[1:-horizon]) / horizon
        out[: c.size - horizon] = fut / c[: c.size - horizon] - 1.0
    return out
