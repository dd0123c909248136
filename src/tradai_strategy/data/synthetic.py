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

With ``DEFAULT_STRENGTH = 0.05`` (fixed-seed Monte-Carlo over 1M candles, :func:`ideal_ic`):

* predictable share of the one-step return variance
  ``R^2 = Var(strength * d_{t-1}) / Var(r_t) = 1.0 %``. Analytically
  ``R^2 = k^2 Var(d) / Var(r)``; for a random walk ``Var(d) = V Var(eps)`` with
  ``V = (N-1)(2N-1)/(6N) = 6.2`` (``N = 20``), which would give 1.5 %, but the reversion
  itself shrinks ``d`` to ``Var(d) = 4.07 Var(r)``;
* ideal Spearman IC of the oracle feature ``-d_t`` (``synthetic_signal.oracle_feature``)
  against the forward mean return ``mean(close_{t+1..t+h}) / close_t - 1``:
  h=1: 0.101 (``~ sqrt(R^2)``), h=6: 0.187, h=12: 0.215, h=24: 0.204. The drift persists
  over the next candles, so the IC grows with ``h`` until the noise of the longer path
  wins. The Bayes-optimal h-step forecast (propagating the reversion forward) is only
  0.002-0.004 better. Other strengths, h=12: 0.03 -> 0.14, 0.04 -> 0.18, 0.06 -> 0.25,
  0.08 -> 0.31.
* LightGBM on RSI / ROC / MOM / distance-from-SMA/EMA features (periods 10-20), trained
  on 8 pairs x 60 days of 1h and scored on the next 30 days (every 12th row, n = 472),
  reaches an IC of 0.21 on average at h=12 (0.13-0.26 over 8 seeds).

Candles: ``open_t = close_{t-1}``; high / low are the extremes of a Brownian bridge from
open to close with the candle's volatility (always ``high >= max(open, close)`` and
``low <= min(open, close)``); volume (base currency) grows with ``|r_t|`` and follows a
daily cycle peaking around 15:00 UTC.

Scenario options: ``regime=Regime(start, vol, drift)`` (:mod:`.synthetic_signal`) plants a
volatility/drift change at a known date, leaving earlier candles byte-identical;
``clustering=False`` replaces the GARCH volatility with the constant ``sigma_bar``, a calm
background against which such a change stands out (GARCH clustering alone moves volatility
features' 20-day distributions by KS 0.2-0.4).

Determinism: every random draw comes from ``numpy.random.Generator(PCG64)`` streams seeded
by ``SeedSequence(seed, blake2b(pair, timeframe, start))``, so equal inputs give
byte-identical frames, different pairs differ, and a longer ``days`` extends the same path.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType
from freqtrade.exchange import timeframe_to_minutes, timeframe_to_prev_date

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.synthetic_signal import (
    DEFAULT_STRENGTH,
    SIGNAL_WINDOW,
    Regime,
    check_strength,
    ideal_ic,
    simulate_log_returns,
)

__all__ = [
    "DEFAULT_STRENGTH",
    "SIGNAL_WINDOW",
    "Regime",
    "Signal",
    "generate_ohlcv",
    "ideal_ic",
    "write_synthetic_data",
]

Signal = Literal["none", "planted"]

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
        raise TradAIConfigError(
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
        raise TradAIConfigError(
            f"timeframe: {timeframe!r} is not supported; use a whole number of minutes, "
            "hours, days or weeks such as '5m', '1h', '4h', '1d'"
        )
    return minutes


def _check_inputs(signal: str, days: int, seed: int, strength: float) -> None:
    if signal not in get_args(Signal):
        raise TradAIConfigError(f"signal: unknown value {signal!r}; use one of 'none', 'planted'")
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or days < 1:
        raise TradAIConfigError(f"days: must be an integer >= 1, got {days!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TradAIConfigError(f"seed: must be an integer >= 0, got {seed!r}")
    check_strength(strength)


def _check_start(start: str | pd.Timestamp, timeframe: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise TradAIConfigError(f"start: cannot parse {start!r}; use e.g. '2024-01-01'") from exc
    if ts is pd.NaT:
        raise TradAIConfigError(f"start: cannot parse {start!r}; use e.g. '2024-01-01'")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    aligned = pd.Timestamp(timeframe_to_prev_date(timeframe, ts.to_pydatetime()))
    if aligned != ts:
        raise TradAIConfigError(
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


def generate_ohlcv(
    pair: str,
    timeframe: str,
    days: int,
    seed: int,
    signal: Signal = "none",
    start: str | pd.Timestamp = "2024-01-01",
    strength: float = DEFAULT_STRENGTH,
    regime: Regime | None = None,
    clustering: bool = True,
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
    regime : Regime, optional
        A planted regime change (volatility multiple and/or drift from a given date);
        candles before its start are unchanged.
    clustering : bool
        ``False`` replaces the GARCH volatility by the constant ``sigma_bar`` (same draws):
        a calm background against which a planted regime change stands out.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (UTC), ``open``, ``high``, ``low``, ``close``, ``volume`` (float64).
    """
    _check_inputs(signal, days, seed, strength)
    base = _check_pair(pair)
    minutes = _check_timeframe(timeframe)
    ts = _check_start(start, timeframe)
    n = int(days) * 1440 // minutes
    if n < 1:
        raise TradAIConfigError(f"days: {days} is shorter than one {timeframe} candle; raise days")

    seq = np.random.SeedSequence([int(seed), *_seed_words(pair, timeframe, ts.isoformat())])
    rng_ret, rng_hi, rng_lo, rng_vol = (
        np.random.Generator(np.random.PCG64(child)) for child in seq.spawn(4)
    )
    price0, hourly_vol, quote_volume = _pair_profile(base)
    sigma_bar = hourly_vol * math.sqrt(minutes / 60.0)

    ret, sigma = simulate_log_returns(
        rng_ret, n, sigma_bar, signal == "planted", strength, clustering
    )
    dates = pd.date_range(ts, periods=n, freq=pd.Timedelta(minutes=minutes), unit="ms")
    if regime is not None:
        ret, sigma = regime.apply(dates, ret, sigma)
    logp = math.log(price0) + np.cumsum(ret)
    close = np.exp(logp)
    open_ = np.concatenate(([price0], close[:-1]))
    # extremes of a Brownian bridge 0 -> r with variance sigma^2 (exact marginals)
    up = 0.5 * (ret + np.sqrt(ret * ret + 2.0 * sigma**2 * rng_hi.standard_exponential(n)))
    down = 0.5 * (ret - np.sqrt(ret * ret + 2.0 * sigma**2 * rng_lo.standard_exponential(n)))
    high = np.maximum.reduce([open_ * np.exp(up), open_, close])
    low = np.minimum.reduce([open_ * np.exp(down), open_, close])

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
    regime: Regime | None = None,
    clustering: bool = True,
) -> list[Path]:
    """Write one freqtrade feather file per pair with freqtrade's own data handler.

    Parameters
    ----------
    pairs : sequence of str
        Pairs to generate; futures pairs (``trading_mode='futures'``) need ``:SETTLE``.
    timeframe, days, seed, signal, start, strength, regime, clustering
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
        raise TradAIConfigError(
            f"trading_mode: unknown {trading_mode!r}; use one of {_TRADING_MODES}"
        )
    if isinstance(pairs, str) or not pairs:
        raise TradAIConfigError("pairs: give a non-empty list of pairs such as ['BTC/USDT']")
    futures = trading_mode == "futures"
    for pair in pairs:
        _check_pair(pair)
        if futures != (":" in pair):
            fix = "add ':SETTLE', e.g. 'BTC/USDT:USDT'" if futures else "drop the ':SETTLE' part"
            raise TradAIConfigError(
                f"pair: {pair!r} does not fit trading_mode={trading_mode!r}; {fix}"
            )
    frames = {
        p: generate_ohlcv(
            p,
            timeframe,
            days,
            seed,
            signal,
            start=start,
            strength=strength,
            regime=regime,
            clustering=clustering,
        )
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
