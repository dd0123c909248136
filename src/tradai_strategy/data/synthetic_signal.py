"""Synthetic log-return process, its planted predictable part, and how to measure it.

The planted signal is mean reversion of the log close towards its own simple moving
average over ``SIGNAL_WINDOW`` candles. With ``P_t = log(close_t)`` and

    d_t = P_t - (1/N) * sum_{j=0}^{N-1} P_{t-j}          (N = SIGNAL_WINDOW)

the log return of candle ``t`` is

    r_t = -strength * d_{t-1} + eps_t

where ``eps_t = sigma_t z_t`` is the unpredictable innovation: ``z_t`` Student-t
(``STUDENT_NU``) scaled to unit variance, ``sigma_t^2`` a GARCH(1,1) recursion
(``GARCH_ALPHA``, ``GARCH_BETA``) driven by ``eps`` alone, so the drift never feeds the
volatility. ``d_{t-1}`` only uses closes up to ``t-1``, so the planted drift of the next
candle, ``strength * oracle_feature(close)[t]``, is known at the close of candle ``t``.
Written in returns, ``d_{t-1} = sum_i w_i r_{t-1-i}`` with ``w_i = (N-1-i)/N``
(``i = 0..N-2``), so the planted process is an AR(N-1) filter of the innovations with
constant coefficients, which :func:`apply_planted_signal` evaluates with
:func:`scipy.signal.lfilter` (no Python loop).

Candles, prices, volumes and file output live in :mod:`tradai_strategy.data.synthetic`,
whose docstring lists the measured R^2 and ideal IC. Everything here is numpy / scipy only.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import signal as sps
from scipy import stats

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.labels import forward_mean_return

SIGNAL_WINDOW = 20
"""Length (candles) of the moving average the log close reverts to."""

DEFAULT_STRENGTH = 0.05
"""Share of the deviation from the moving average expected to revert in the next candle."""

MAX_STRENGTH = 1.0
"""Largest accepted strength (the AR filter stays stationary well beyond it)."""

GARCH_ALPHA = 0.06
GARCH_BETA = 0.92
STUDENT_NU = 6.0
BURN_IN = 500
"""Candles simulated and dropped before the first output row (GARCH and AR state)."""

_MC_CANDLES = 1_000_000
_MC_SEED = 20240101
_MC_SIGMA = 0.008  # typical 1h volatility; the IC barely depends on the level

FloatArray = npt.NDArray[np.float64]


def check_strength(strength: float) -> float:
    """Return ``strength`` as float or raise a one-line ``TradAIConfigError``."""
    ok = isinstance(strength, int | float) and not isinstance(strength, bool)
    if not ok or not (math.isfinite(strength) and 0.0 <= strength <= MAX_STRENGTH):
        raise TradAIConfigError(
            f"strength: must be a number in [0, {MAX_STRENGTH}], got {strength!r}; "
            f"the default is {DEFAULT_STRENGTH}"
        )
    return float(strength)


def planted_ar_coefficients(strength: float, window: int = SIGNAL_WINDOW) -> FloatArray:
    """Denominator coefficients ``a`` of the AR filter ``r = lfilter([1], a, eps)``.

    Parameters
    ----------
    strength : float
        Mean-reversion strength ``kappa`` (0 gives a pure random walk).
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


def garch_innovations(
    rng: np.random.Generator, n: int, sigma_bar: float, clustering: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Innovations ``eps`` and conditional volatilities ``sigma`` of a GARCH(1,1)-t process.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the Student-t draws (consumed element by element, so a longer ``n``
        extends the same path).
    n : int
        Number of candles.
    sigma_bar : float
        Unconditional standard deviation per candle; the recursion starts there.
    clustering : bool
        ``False``: constant volatility ``sigma_bar`` (same draws ``z``, no GARCH), a calm
        background for scenario tests of a planted regime change.

    Returns
    -------
    tuple of numpy.ndarray
        ``(eps, sigma)``. The variance recursion is a loop over Python floats, about
        0.1 s per million candles.
    """
    z = rng.standard_t(STUDENT_NU, size=n) * math.sqrt((STUDENT_NU - 2.0) / STUDENT_NU)
    if not clustering:
        flat = np.full(n, float(sigma_bar))
        return flat * z, flat
    coef = (GARCH_ALPHA * z * z + GARCH_BETA).tolist()
    omega = sigma_bar**2 * (1.0 - GARCH_ALPHA - GARCH_BETA)
    var = [0.0] * n
    prev = sigma_bar**2
    for i, c in enumerate(coef):
        var[i] = prev
        prev = omega + c * prev
    sigma = np.sqrt(np.asarray(var, dtype=np.float64))
    return sigma * z, sigma


def simulate_log_returns(
    rng: np.random.Generator,
    n: int,
    sigma_bar: float,
    planted: bool,
    strength: float,
    clustering: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """Log returns and conditional volatilities of ``n`` candles after ``BURN_IN`` candles.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the innovations.
    n : int
        Number of candles returned.
    sigma_bar : float
        Unconditional volatility per candle.
    planted : bool
        Add the planted mean-reversion drift (same innovations either way).
    strength : float
        Mean-reversion strength ``kappa``.
    clustering : bool
        GARCH volatility clustering (default) or constant volatility.

    Returns
    -------
    tuple of numpy.ndarray
        ``(r, sigma)`` of length ``n``.
    """
    eps, sigma = garch_innovations(rng, n + BURN_IN, sigma_bar, clustering)
    ret = apply_planted_signal(eps, strength) if planted else eps
    return ret[BURN_IN:], sigma[BURN_IN:]


@functools.lru_cache(maxsize=64)
def _mc_close(strength: float) -> FloatArray:
    rng = np.random.Generator(np.random.PCG64(_MC_SEED))
    ret, _ = simulate_log_returns(rng, _MC_CANDLES, _MC_SIGMA, True, strength)
    close = np.exp(np.cumsum(ret))
    close.flags.writeable = False
    return close


@functools.lru_cache(maxsize=1024)
def ideal_ic(horizon: int, strength: float = DEFAULT_STRENGTH) -> float:
    """Spearman IC an ideal model reaches against the forward mean return over ``horizon``.

    The ideal model predicts with :func:`oracle_feature` (proportional to the planted drift
    of the next candle, known exactly); the label is :func:`forward_mean_return`. Computed
    by a fixed-seed Monte-Carlo over 1M candles (all rows, overlapping labels); across
    Monte-Carlo seeds the value moves by 0.0006 (h=1) to 0.003 (h=24), 0.0016 for h=12.
    About 0.3 s per new horizon (0.15 s more per new strength); cached.

    Parameters
    ----------
    horizon : int
        Label horizon ``h`` in candles (>= 1).
    strength : float
        Mean-reversion strength; 0 gives exactly 0.

    Returns
    -------
    float
        The population IC of the oracle (0.215 for ``h = 12`` at the default strength).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon: must be an integer >= 1 candle, got {horizon!r}")
    kappa = check_strength(strength)
    if kappa == 0.0:
        return 0.0
    close = _mc_close(kappa)
    feat = oracle_feature(close)
    label = forward_mean_return(close, horizon)
    ok = np.isfinite(feat) & np.isfinite(label)
    return float(stats.spearmanr(feat[ok], label[ok]).statistic)


@dataclass(frozen=True)
class Regime:
    """A planted regime change: from ``start`` on, every candle's log return becomes
    ``vol * r_t + drift`` (and its volatility ``vol * sigma_t``).

    Candles before ``start`` are byte-identical to the market without the regime (same
    innovations), so the date of the change is known exactly. Used by the drift scenario
    tests: ``vol=2.5`` widens the range/volatility features' distributions.
    """

    start: str | pd.Timestamp
    vol: float = 1.0
    drift: float = 0.0

    def check(self) -> pd.Timestamp:
        """The start as a UTC timestamp; one-line ``ValueError`` on a bad field."""
        try:
            ts = pd.Timestamp(self.start)
        except (TypeError, ValueError):
            ts = pd.NaT
        if ts is pd.NaT:
            raise ValueError(f"regime.start: cannot parse {self.start!r}; use e.g. '2024-03-01'")
        if not (isinstance(self.vol, int | float) and math.isfinite(self.vol) and self.vol > 0):
            raise ValueError(f"regime.vol: must be a number > 0, got {self.vol!r} (1 = unchanged)")
        ok = isinstance(self.drift, int | float) and math.isfinite(self.drift)
        if not ok or abs(self.drift) > 0.05:
            raise ValueError(
                f"regime.drift: must be a log return per candle in [-0.05, 0.05], got "
                f"{self.drift!r} (0 = unchanged)"
            )
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

    def apply(
        self, dates: pd.DatetimeIndex, ret: FloatArray, sigma: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """``(ret, sigma)`` with the regime applied from ``start`` on (new arrays)."""
        after = np.asarray(dates >= self.check())
        ret = np.where(after, self.vol * ret + self.drift, ret)
        sigma = np.where(after, self.vol * sigma, sigma)
        return ret, sigma
