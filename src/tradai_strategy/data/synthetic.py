"""Deterministic synthetic OHLCV markets, with or without a known planted signal.

Process (per pair, one row per candle)
--------------------------------------
Unpredictable innovations ``eps_t = sigma_t * z_t`` with ``z_t`` Student-t
(``nu = 6``) scaled to unit variance and a GARCH(1,1) variance

    sigma_t^2 = omega + alpha * eps_{t-1}^2 + beta * sigma_{t-1}^2,
    alpha = 0.06, beta = 0.92, omega = sigma_bar^2 * (1 - alpha - beta),

where ``sigma_bar`` is the pair's hourly volatility (BTC 0.6 %, ETH 0.8 %, others
0.7-1.0 %) times ``sqrt(timeframe / 1h)``.

* ``signal="none"``: the log close is a pure random walk, ``r_t = eps_t``. The conditional
  mean of every return is zero, so nothing about future returns can be learnt from the past.
* ``signal="planted"``: ``r_t = -strength * d_{t-1} + eps_t`` with
  ``d_t = log(close_t) - SMA_20(log close)_t`` (mean reversion towards the 20-candle
  moving average of the log close; uses closes up to ``t-1`` only). Both signals share
  the same innovations for a given seed, so ``planted`` is ``none`` plus the drift.
  See :mod:`tradai_strategy.data.synthetic_signal` for the algebra.

With ``DEFAULT_STRENGTH = 0.05`` (measured by Monte-Carlo, 1h volatility):

* predictable share of the one-step return variance ``R^2 = Var(drift)/Var(r) = 1.3 %``;
* ideal Spearman IC of the oracle feature ``-d_t`` against the forward mean return
  ``mean(close_{t+1..t+h}) / close_t - 1``: h=1: 0.11, h=6: 0.20, h=12: 0.22,
  h=24: 0.21 (:func:`ideal_ic`). Analytically ``R^2 ~= k^2 V / (1 + k^2 V)`` with
  ``V = (N-1)(2N-1)/(6N) = 6.2`` for ``N = 20`` (ignoring the feedback of the drift on
  ``d``), and the one-step IC is about ``sqrt(R^2)`` scaled down by the heavy tails.

Candles: ``open_t = close_{t-1}``; high / low are the extremes of a Brownian bridge from
open to close with the candle's volatility (always ``high >= max(open, close)`` and
``low <= min(open, close)``); volume (base currency) grows with ``|r_t|`` and follows a
daily cycle peaking around 15:00 UTC.

Determinism: every random draw comes from ``numpy.random.Generator(PCG64)`` streams seeded
by ``SeedSequence(seed, blake2b(pair, timeframe, start))``, so equal inputs give
byte-identical frames, different pairs differ, and a longer ``days`` extends the same path.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType
from freqtrade.exchange import timeframe_to_minutes, timeframe_to_prev_date
from scipy import stats

from tradai_strategy.data.synthetic_signal import (
    DEFAULT_STRENGTH,
    SIGNAL_WINDOW,
    FloatArray,
    apply_planted_signal,
    forward_mean_return,
    oracle_feature,
)

__all__ = [
    "DEFAULT_STRENGTH",
    "SIGNAL_WINDOW",
    "Signal",
    "generate_ohlcv",
    "ideal_ic",
    "write_synthetic_data",
]

Signal = Literal["none", "planted"]

GARCH_ALPHA = 0.06
GARCH_BETA = 0.92
STUDENT_NU = 6.0
BURN_IN = 500
_MC_CANDLES = 600_000
_MC_SEED = 20240101

_PAIR_RE = re.compile(r"^[A-Za-z0-9]+/[A-Za-z0-9]+(:[A-Za-z0-9]+)?$")
_TIMEFRAME_RE = re.compile(r"^[1-9][0-9]*[mhdw]$")
_KNOWN_PRICE = {"BTC": 60_000.0, "ETH": 3_000.0}
_KNOWN_HOURLY_VOL = {"BTC": 0.006, "ETH": 0.008}
_KNOWN_QUOTE_VOLUME = {"BTC": 4.0e7, "ETH": 2.0e7}  # quote currency per hour
_TRADING_MODES = ("spot", "margin", "futures")


def _unit_hash(*parts: str) -> float:
    """Stable uniform number in [0, 1) from strings (blake2b, unlike the salted ``hash``)."""
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _seed_words(*parts: str) -> list[int]:
    digest = hashlib.blake2b("|".join(parts).encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4)]


def _check_pair(pair: str) -> str:
    if not isinstance(pair, str) or not _PAIR_RE.match(pair):
        raise ValueError(
            f"pair: {pair!r} is not BASE/QUOTE; use e.g. 'BTC/USDT' (spot) or "
            "'BTC/USDT:USDT' (futures)"
        )
    return pair.split("/")[0].upper()


def _check_timeframe(timeframe: str) -> int:
    minutes = 0
    if isinstance(timeframe, str) and _TIMEFRAME_RE.match(timeframe):
        try:
            minutes = timeframe_to_minutes(timeframe)
        except Exception:  # ccxt raises ValueError / NotSupported for garbage
            minutes = 0
    if minutes < 1:
        raise ValueError(
            f"timeframe: {timeframe!r} is not supported; use a whole number of minutes, "
            "hours, days or weeks such as '5m', '1h', '4h', '1d'"
        )
    return minutes


def _check_inputs(signal: str, days: int, seed: int, strength: float) -> None:
    if signal not in get_args(Signal):
        raise ValueError(f"signal: unknown value {signal!r}; use one of 'none', 'planted'")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days: must be an integer >= 1, got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
    if not math.isfinite(strength) or not 0.0 <= strength < 0.5:
        raise ValueError(f"strength: must be in [0, 0.5), got {strength!r}; default 0.05")


def _check_start(start: str | pd.Timestamp, timeframe: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"start: cannot parse {start!r}; use e.g. '2024-01-01'") from exc
    if ts is pd.NaT:
        raise ValueError(f"start: cannot parse {start!r}; use e.g. '2024-01-01'")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    aligned = pd.Timestamp(timeframe_to_prev_date(timeframe, ts.to_pydatetime()))
    if aligned != ts:
        raise ValueError(
            f"start: {ts.isoformat()} is not on a {timeframe} candle boundary; "
            f"use {aligned.isoformat()}"
        )
    return ts


def _pair_profile(base: str) -> tuple[float, float, float]:
    """(start price, hourly volatility, hourly quote volume) - stable per base currency."""
    u_price, u_vol, u_volume = (_unit_hash("profile", key, base) for key in ("p", "v", "q"))
    price = _KNOWN_PRICE.get(base, math.exp(math.log(200.0) * u_price))  # 1 .. 200
    vol = _KNOWN_HOURLY_VOL.get(base, 0.007 + 0.003 * u_vol)
    qvol = _KNOWN_QUOTE_VOLUME.get(base, 1.0e5 * math.exp(math.log(50.0) * u_volume))
    return price, vol, qvol


def _garch_innovations(
    rng: np.random.Generator, n: int, sigma_bar: float
) -> tuple[FloatArray, FloatArray]:
    """Innovations ``eps`` and conditional volatilities ``sigma`` of a GARCH(1,1)-t process.

    The variance recursion is a plain loop over Python floats (~0.1 s per million candles).
    """
    z = rng.standard_t(STUDENT_NU, size=n) * math.sqrt((STUDENT_NU - 2.0) / STUDENT_NU)
    coef = (GARCH_ALPHA * z * z + GARCH_BETA).tolist()
    omega = sigma_bar**2 * (1.0 - GARCH_ALPHA - GARCH_BETA)
    var = [0.0] * n
    prev = sigma_bar**2
    for i, c in enumerate(coef):
        var[i] = prev
        prev = omega + c * prev
    sigma = np.sqrt(np.asarray(var, dtype=np.float64))
    return sigma * z, sigma


def _log_returns(
    rng: np.random.Generator, n: int, sigma_bar: float, signal: str, strength: float
) -> tuple[FloatArray, FloatArray]:
    """Log returns and conditional volatilities of ``n`` candles after a burn-in."""
    eps, sigma = _garch_innovations(rng, n + BURN_IN, sigma_bar)
    ret = apply_planted_signal(eps, strength) if signal == "planted" else eps
    return ret[BURN_IN:], sigma[BURN_IN:]


def generate_ohlcv(
    pair: str,
    timeframe: str,
    days: int,
    seed: int,
    signal: Signal = "none",
    start: str | pd.Timestamp = "2024-01-01",
    strength: float = DEFAULT_STRENGTH,
) -> pd.DataFrame:
    """Synthetic candles for one pair, deterministic in all arguments.

    Parameters
    ----------
    pair : str
        ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE``; sets price level, volatility and the stream.
    timeframe : str
        Freqtrade timeframe such as ``'5m'``, ``'1h'``, ``'1d'`` (months are not supported).
    days : int
        Number of days to cover (``days * 1440 / minutes`` candles, at least one).
    seed : int
        Non-negative master seed.
    signal : {'none', 'planted'}
        ``'planted'`` adds the documented mean-reversion drift (module docstring).
    start : str or pandas.Timestamp
        Open time of the first candle (UTC if naive), on a candle boundary.
    strength : float
        Mean-reversion strength for ``'planted'`` (ignored for ``'none'``).

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (UTC), ``open``, ``high``, ``low``, ``close``, ``volume`` (float64).
    """
    _check_inputs(signal, days, seed, strength)
    base = _check_pair(pair)
    minutes = _check_timeframe(timeframe)
    ts = _check_start(start, timeframe)
    n = days * 1440 // minutes
    if n < 1:
        raise ValueError(f"days: {days} is shorter than one {timeframe} candle; raise days")

    seq = np.random.SeedSequence([seed, *_seed_words(pair, timeframe, ts.isoformat())])
    rng_ret, rng_hi, rng_lo, rng_vol = (np.random.Generator(np.random.PCG64(s)) for s in seq.spawn(4))
    price0, hourly_vol, quote_volume = _pair_profile(base)
    sigma_bar = hourly_vol * math.sqrt(minutes / 60.0)

    ret, sigma = _log_returns(rng_ret, n, sigma_bar, signal, strength)
    logp = math.log(price0) + np.cumsum(ret)
    close = np.exp(logp)
    open_ = np.concatenate(([price0], close[:-1]))
    # extremes of a Brownian bridge 0 -> r with variance sigma^2 (exact marginals)
    up = 0.5 * (ret + np.sqrt(ret * ret + 2.0 * sigma**2 * rng_hi.standard_exponential(n)))
    down = 0.5 * (ret - np.sqrt(ret * ret + 2.0 * sigma**2 * rng_lo.standard_exponential(n)))
    high = np.maximum.reduce([open_ * np.exp(up), open_, close])
    low = np.minimum.reduce([open_ * np.exp(down), open_, close])

    dates = pd.date_range(ts, periods=n, freq=pd.Timedelta(minutes=minutes), unit="ms")
    mid_hour = (dates.hour + dates.minute / 60.0 + minutes / 120.0).to_numpy(dtype=np.float64)
    season = np.exp(0.35 * np.cos(2.0 * np.pi * (mid_hour - 15.0) / 24.0))
    activity = 0.4 + 0.75 * np.abs(ret) / sigma_bar
    noise = rng_vol.lognormal(mean=-0.5 * 0.25**2, sigma=0.25, size=n)
    volume = quote_volume * (minutes / 60.0) / close * season * activity * noise

    return pd.DataFrame(
        {
            "date": dates,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume.astype(np.float64),
        }
    )


def write_synthetic_data(
    pairs: Sequence[str],
    timeframe: str,
    days: int,
    seed: int,
    signal: Signal,
    datadir: Path | str,
    start: str | pd.Timestamp = "2024-01-01",
    strength: float = DEFAULT_STRENGTH,
    trading_mode: str = "spot",
) -> list[Path]:
    """Write one freqtrade feather file per pair with freqtrade's own data handler.

    Parameters
    ----------
    pairs : sequence of str
        Pairs to generate; futures pairs (``trading_mode='futures'``) need ``:SETTLE``.
    timeframe, days, seed, signal, start, strength
        As in :func:`generate_ohlcv`.
    datadir : pathlib.Path or str
        Freqtrade data directory (futures files go to ``<datadir>/futures``).
    trading_mode : {'spot', 'margin', 'futures'}
        Picks the candle type and thus the file name.

    Returns
    -------
    list of pathlib.Path
        The files written, e.g. ``<datadir>/BTC_USDT-1h.feather``.
    """
    if trading_mode not in _TRADING_MODES:
        raise ValueError(f"trading_mode: unknown {trading_mode!r}; use one of {_TRADING_MODES}")
    if isinstance(pairs, str) or not pairs:
        raise ValueError("pairs: give a non-empty list of pairs such as ['BTC/USDT']")
    futures = trading_mode == "futures"
    for pair in pairs:
        _check_pair(pair)
        if futures != (":" in pair):
            fix = "add ':SETTLE', e.g. 'BTC/USDT:USDT'" if futures else "drop the ':SETTLE' part"
            raise ValueError(f"pair: {pair!r} does not fit trading_mode={trading_mode!r}; {fix}")
    frames = {
        p: generate_ohlcv(p, timeframe, days, seed, signal, start=start, strength=strength)
        for p in pairs
    }
    root = Path(datadir)
    (root / "futures" if futures else root).mkdir(parents=True, exist_ok=True)
    handler = get_datahandler(root, "feather")
    candle_type = CandleType.get_default(trading_mode)
    paths = []
    for pair, frame in frames.items():
        handler.ohlcv_store(pair, timeframe, frame, candle_type)
        paths.append(handler._pair_data_filename(root, pair, timeframe, candle_type))
    return paths


@functools.lru_cache(maxsize=256)
def _mc_close(strength: float) -> FloatArray:
    rng = np.random.Generator(np.random.PCG64(_MC_SEED))
    ret, _ = _log_returns(rng, _MC_CANDLES, _KNOWN_HOURLY_VOL["ETH"], "planted", strength)
    close = np.exp(np.cumsum(ret))
    close.flags.writeable = False
    return close


@functools.lru_cache(maxsize=1024)
def ideal_ic(horizon: int, strength: float = DEFAULT_STRENGTH) -> float:
    """Spearman IC of the planted signal against the forward mean return over ``horizon``.

    The "ideal model" predicts with ``oracle_feature(close)`` (the planted drift of the
    next candle, known exactly); the label is ``mean(close_{t+1..t+h}) / close_t - 1``.
    Computed by a fixed-seed Monte-Carlo over 600k 1h candles (overlapping rows), so its
    own standard error is about ``sqrt(h / 600k)`` (0.005 for ``h = 12``).

    Parameters
    ----------
    horizon : int
        Label horizon ``h`` in candles (>= 1).
    strength : float
        Mean-reversion strength; 0 gives 0.

    Returns
    -------
    float
        The population IC the oracle reaches (about 0.22 for h = 12 at the default).
    """
    if horizon < 1:
        raise ValueError(f"horizon: must be >= 1 candle, got {horizon}")
    _check_inputs("planted", 1, 0, strength)
    if strength == 0.0:
        return 0.0
    close = _mc_close(float(strength))
    feat = oracle_feature(close)
    label = forward_mean_return(close, horizon)
    ok = np.isfinite(feat) & np.isfinite(label)
    return float(stats.spearmanr(feat[ok], label[ok]).statistic)
