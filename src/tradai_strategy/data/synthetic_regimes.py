"""A synthetic market that switches between the five regimes, with the known regime path.

Process
-------
One regime path for the whole market (every pair lives through the same regimes, as crypto
pairs largely do): a Markov chain over :data:`~tradai_strategy.core.regimes.REGIMES` on the
candle grid. In regime ``k`` the chain stays with probability ``1 - 1 / d_k`` per candle,
``d_k`` the mean duration in candles (``days * 1440 / timeframe minutes``), so a stay is
geometric with mean ``d_k``; when it leaves it moves to regime ``j`` with probability
``TRANSITIONS[k][j]`` (crises follow bear and turbulent markets and end in them).

Each pair's log return is the random-walk innovation of
:func:`tradai_strategy.data.synthetic.generate_ohlcv` (``signal="none"``, Student-t,
constant volatility ``sigma_bar`` unless ``clustering=True``) scaled and shifted by the
regime of its candle: ``r_t = vol_k * eps_t + drift_k`` (drift per hour times
``minutes / 60``). Candles, highs/lows and volumes are then built by ``generate_ohlcv``
itself (through its ``regime`` hook, :class:`RegimePath`), so this market is the project's
synthetic market plus the regimes.

Default dynamics (:data:`DEFAULT_DYNAMICS`; drift per hour, volatility as a multiple of
the pair's ``sigma_bar``, mean duration in days):

==========  ========  ====  ====
regime      drift/h   vol   days
==========  ========  ====  ====
bull        +0.25 %   1.0   2
bear        -0.25 %   1.0   2
high_vol    0         2.5   1.5
low_vol     0         0.4   2
crisis      -0.60 %   3.5   1
==========  ========  ====  ====

Long-run shares (:func:`stationary_shares`): bull 26 %, bear 26 %, high_vol 21 %, low_vol
24 %, crisis 4 %, close to the quantile levels of the default
:class:`~tradai_strategy.core.regimes.RegimeSettings`, so the relative labels can find the
planted regimes. Measured with ``label_period_candles = 24`` and the default settings
(1 year of 1h, seeds 1-3): the label of a row equals the regime that occupies most of its
forward window for 66-74 % of rows (chance, from the two class shares: 22-24 %); the
misses are windows that straddle a switch and stretches whose recent regime mix moved the
trailing quantiles.
Longer regimes (several days) make the trailing quantiles drift more and agreement fall
(about 55 % at 4-8 days).

Herald (optional, :class:`Herald`): a market whose regime *transitions* are predictable.
The chain above is memoryless, so "the regime stays" (persistence) is close to the best
causal forecast; with ``herald=Herald(lead)`` each candle's volume announces the regime
``lead`` candles later (:data:`HERALD_VOLUME`) while closes, highs and lows (so the labels)
stay byte-identical. Why that is an honest planted truth: the class docstring.

Determinism: the path is drawn from ``numpy.random.Generator(PCG64)`` seeded by
``SeedSequence(seed, blake2b("regimes", timeframe, start))``; a longer ``days`` extends
the same path. The pairs' innovations are seeded as in ``generate_ohlcv``.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from freqtrade.data.history.datahandlers import get_datahandler
from freqtrade.enums import CandleType
from freqtrade.exchange import timeframe_to_minutes

from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.regimes import REGIMES, check_horizon
from tradai_strategy.data.synthetic import generate_ohlcv, write_synthetic_data
from tradai_strategy.data.synthetic_signal import Regime

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RegimeDynamics:
    """One regime's log drift per hour, volatility multiple and mean duration in days."""

    drift: float
    vol: float
    days: float


DEFAULT_DYNAMICS: dict[str, RegimeDynamics] = {
    "bull": RegimeDynamics(drift=0.0025, vol=1.0, days=2.0),
    "bear": RegimeDynamics(drift=-0.0025, vol=1.0, days=2.0),
    "high_vol": RegimeDynamics(drift=0.0, vol=2.5, days=1.5),
    "low_vol": RegimeDynamics(drift=0.0, vol=0.4, days=2.0),
    "crisis": RegimeDynamics(drift=-0.006, vol=3.5, days=1.0),
}

#: where the chain goes when it leaves a regime (each row sums to 1, no self-transition)
TRANSITIONS: dict[str, dict[str, float]] = {
    "bull": {"low_vol": 0.35, "high_vol": 0.3, "bear": 0.35},
    "bear": {"high_vol": 0.3, "crisis": 0.2, "low_vol": 0.25, "bull": 0.25},
    "high_vol": {"bull": 0.3, "bear": 0.3, "crisis": 0.1, "low_vol": 0.3},
    "low_vol": {"bull": 0.35, "bear": 0.3, "high_vol": 0.35},
    "crisis": {"high_vol": 0.5, "bear": 0.2, "bull": 0.3},
}


def transition_matrix(
    minutes: int,
    dynamics: Mapping[str, RegimeDynamics] = DEFAULT_DYNAMICS,
    transitions: Mapping[str, Mapping[str, float]] = TRANSITIONS,
) -> FloatArray:
    """The per-candle transition matrix ``P[k, j]`` (rows and columns in ``REGIMES`` order)."""
    p = np.zeros((len(REGIMES), len(REGIMES)))
    for k, name in enumerate(REGIMES):
        candles = dynamics[name].days * 1440.0 / minutes
        if not candles > 1.0:
            raise TradAIConfigError(
                f"regime {name}: a mean duration of {dynamics[name].days} days is not longer "
                "than one candle; raise it"
            )
        exits = transitions[name]
        if name in exits or abs(sum(exits.values()) - 1.0) > 1e-9:
            raise TradAIConfigError(
                f"regime {name}: its exit probabilities must sum to 1 without itself, got {exits}"
            )
        p[k, k] = 1.0 - 1.0 / candles
        for other, prob in exits.items():
            p[k, REGIMES.index(other)] = prob / candles
    return p


def stationary_shares(p: FloatArray) -> FloatArray:
    """The long-run share of time in each regime: the left eigenvector of ``p`` for 1."""
    values, vectors = np.linalg.eig(p.T)
    v = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return np.asarray(v / v.sum(), dtype=np.float64)


def simulate_path(p: FloatArray, n: int, rng: np.random.Generator) -> IntArray:
    """``n`` states of the chain ``p``, the first drawn from its stationary shares."""
    cum = np.cumsum(p, axis=1)
    u = rng.random(n)
    state = int(np.searchsorted(np.cumsum(stationary_shares(p)), u[0], side="right"))
    path = np.empty(n, dtype=np.int64)
    for t in range(n):
        if t:
            state = int(np.searchsorted(cum[state], u[t], side="right"))
        path[t] = min(state, len(REGIMES) - 1)  # guard against cum[-1] = 1 - 1e-16
    return path


def _path_seed(seed: int, timeframe: str, start: pd.Timestamp) -> np.random.SeedSequence:
    digest = hashlib.blake2b(f"regimes|{timeframe}|{start.isoformat()}".encode(), digest_size=16)
    words = [int.from_bytes(digest.digest()[i : i + 4], "big") for i in range(0, 16, 4)]
    return np.random.SeedSequence([int(seed), *words])


@dataclass(frozen=True, eq=False)
class RegimePath(Regime):
    """``generate_ohlcv``'s regime hook for a whole regime path: candle ``t`` in regime
    ``k`` gets ``vol_k * r_t + drift_k`` (``drifts``/``vols`` per candle, ``REGIMES``
    order); ``path`` holds the regime code of every candle date."""

    path: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.int64))
    drifts: tuple[float, ...] = ()
    vols: tuple[float, ...] = ()

    def apply(
        self, dates: pd.DatetimeIndex, ret: FloatArray, sigma: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        codes = self.path.reindex(dates)
        if codes.isna().any():
            raise ValueError(f"regime path does not cover {dates[codes.isna()][0]}")
        k = codes.to_numpy(dtype=np.int64)
        vol = np.asarray(self.vols)[k]
        return vol * ret + np.asarray(self.drifts)[k], vol * sigma


@dataclass(frozen=True)
class RegimeMarket:
    """Candles per pair and the known regime of every candle (text, on the candle dates)."""

    candles: dict[str, pd.DataFrame]
    regimes: pd.Series


def _grid(timeframe: str, days: int, start: str | pd.Timestamp) -> pd.DatetimeIndex:
    try:
        minutes = timeframe_to_minutes(timeframe)
        ts = pd.Timestamp(start)
    except Exception as exc:  # ccxt/pandas raise several types for garbage
        raise TradAIConfigError(
            f"timeframe {timeframe!r} / start {start!r}: use e.g. '1h' and '2024-01-01'"
        ) from exc
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or days < 1:
        raise TradAIConfigError(f"days: must be an integer >= 1, got {days!r}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    n = int(days) * 1440 // minutes
    return pd.date_range(ts, periods=n, freq=pd.Timedelta(minutes=minutes), unit="ms")


def _chain(
    timeframe: str,
    days: int,
    seed: int,
    start: str | pd.Timestamp,
    dynamics: Mapping[str, RegimeDynamics],
    ahead: int = 0,
) -> tuple[pd.DatetimeIndex, IntArray]:
    """The candle dates and the chain's codes for them plus ``ahead`` more candles (the
    first ``len(dates)`` codes do not depend on ``ahead``: one uniform draw per candle)."""
    dates = _grid(timeframe, days, start)
    p = transition_matrix(timeframe_to_minutes(timeframe), dynamics)
    rng = np.random.Generator(np.random.PCG64(_path_seed(seed, timeframe, dates[0])))
    return dates, simulate_path(p, len(dates) + ahead, rng)


def regime_path(
    timeframe: str,
    days: int,
    seed: int,
    start: str | pd.Timestamp = "2024-01-01",
    dynamics: Mapping[str, RegimeDynamics] = DEFAULT_DYNAMICS,
) -> RegimePath:
    """The market's regime path as ``generate_ohlcv``'s ``regime`` hook."""
    dates, codes = _chain(timeframe, days, seed, start, dynamics)
    minutes = timeframe_to_minutes(timeframe)
    return RegimePath(
        start=dates[0],
        path=pd.Series(codes, index=dates),
        drifts=tuple(dynamics[r].drift * minutes / 60.0 for r in REGIMES),
        vols=tuple(dynamics[r].vol for r in REGIMES),
    )


#: volume multiple of each regime's herald (:class:`Herald`)
HERALD_VOLUME: dict[str, float] = {
    "bull": 1.0,
    "bear": 1.8,
    "high_vol": 3.0,
    "low_vol": 0.45,
    "crisis": 5.0,
}


@dataclass(frozen=True)
class Herald:
    """Order flow that announces the regime ``lead`` candles before prices follow it.

    The chain is drawn ``lead`` candles ahead: its state for candle ``t + lead`` is
    decided at candle ``t``. Prices follow the state of their own candle (as without a
    herald), while the volume of candle ``t`` is multiplied by ``volume[state of t +
    lead]``. So every candle's volume tells the regime ``lead`` candles later; nothing
    else about the future is in it (the returns of later candles use innovations drawn
    independently of the volume): it reveals the state the chain has already decided, never
    a future return, and with ``lead >= h`` a row's recent volumes cover its label window.
    """

    lead: int = 12
    volume: Mapping[str, float] = field(default_factory=lambda: dict(HERALD_VOLUME))

    def __post_init__(self) -> None:
        lead = self.lead
        if isinstance(lead, bool) or not isinstance(lead, numbers.Integral) or lead < 1:
            raise TradAIConfigError(f"herald lead: must be an integer >= 1 candle, got {lead!r}")
        if set(self.volume) != set(REGIMES):
            raise TradAIConfigError(
                f"herald volume: give one multiple per regime ({', '.join(REGIMES)}), got "
                f"{', '.join(map(str, self.volume)) or 'none'}"
            )
        bad = {k: v for k, v in self.volume.items() if not (np.isfinite(v) and v > 0)}
        if bad:
            raise TradAIConfigError(f"herald volume: multiples must be > 0, got {bad}")


def herald_volume(
    timeframe: str,
    days: int,
    seed: int,
    herald: Herald,
    start: str | pd.Timestamp = "2024-01-01",
    dynamics: Mapping[str, RegimeDynamics] = DEFAULT_DYNAMICS,
) -> tuple[pd.Series, pd.Series]:
    """The volume multiple of every candle date and the regime it announces (the planted
    regime ``herald.lead`` candles later, text; past the last candle the chain goes on)."""
    dates, codes = _chain(timeframe, days, seed, start, dynamics, ahead=herald.lead)
    ahead = codes[herald.lead :]
    factors = np.asarray([herald.volume[r] for r in REGIMES], dtype=np.float64)[ahead]
    names = np.asarray(REGIMES, dtype=object)[ahead]
    return (
        pd.Series(factors, index=dates, name="volume_multiple"),
        pd.Series(names, index=dates, name="announced", dtype=object),
    )


def regime_names(path: RegimePath) -> pd.Series:
    """The regime of every candle as text (``date`` index)."""
    names = np.asarray(REGIMES, dtype=object)[path.path.to_numpy()]
    return pd.Series(names, index=path.path.index, name="regime", dtype=object)


def generate_regime_market(
    pairs: Sequence[str],
    timeframe: str,
    days: int,
    seed: int,
    start: str | pd.Timestamp = "2024-01-01",
    dynamics: Mapping[str, RegimeDynamics] = DEFAULT_DYNAMICS,
    clustering: bool = False,
    herald: Herald | None = None,
) -> RegimeMarket:
    """Candles of ``pairs`` on one regime path, and that path; deterministic by ``seed``.

    ``herald``: the volumes announce the regime ``herald.lead`` candles ahead
    (:class:`Herald`); prices, highs and lows are the same as without it.
    """
    hook = regime_path(timeframe, days, seed, start, dynamics)
    candles = {
        pair: generate_ohlcv(
            pair, timeframe, days, seed, "none", start=start, regime=hook, clustering=clustering
        )
        for pair in pairs
    }
    if herald is not None:
        factor, _ = herald_volume(timeframe, days, seed, herald, start, dynamics)
        for frame in candles.values():
            frame["volume"] = frame["volume"].to_numpy() * factor.to_numpy()
    return RegimeMarket(candles, regime_names(hook))


def write_regime_data(
    pairs: Sequence[str],
    timeframe: str,
    days: int,
    seed: int,
    datadir: Path | str,
    start: str | pd.Timestamp = "2024-01-01",
    trading_mode: str = "spot",
    clustering: bool = False,
    herald: Herald | None = None,
) -> tuple[list[Path], pd.Series]:
    """Write one freqtrade feather file per pair (as ``write_synthetic_data``) and return
    the files and the known regime path (text per candle date)."""
    if herald is not None:
        market = generate_regime_market(
            pairs, timeframe, days, seed, start, clustering=clustering, herald=herald
        )
        return store_candles(market.candles, timeframe, datadir, trading_mode), market.regimes
    hook = regime_path(timeframe, days, seed, start)
    paths = write_synthetic_data(
        pairs,
        timeframe,
        days,
        seed,
        "none",
        datadir,
        start=start,
        trading_mode=trading_mode,
        regime=hook,
        clustering=clustering,
    )
    return paths, regime_names(hook)


def store_candles(
    candles: Mapping[str, pd.DataFrame], timeframe: str, datadir: Path | str, trading_mode: str
) -> list[Path]:
    """Write each pair's candles with freqtrade's feather data handler; return the files."""
    if trading_mode != "spot":
        raise TradAIConfigError(
            f"trading_mode {trading_mode!r}: the herald market is written for spot only"
        )
    root = Path(datadir)
    root.mkdir(parents=True, exist_ok=True)
    handler = get_datahandler(root, "feather")
    paths = []
    for pair, frame in candles.items():
        handler.ohlcv_store(pair, timeframe, frame, CandleType.SPOT)
        paths.append(handler._pair_data_filename(root, pair, timeframe, CandleType.SPOT))
    return paths


def forward_regime(regimes: pd.Series, horizon: int) -> pd.Series:
    """The planted regime a forward label of row ``t`` should find: the one occupying most
    of candles ``t+1 .. t+horizon`` (ties: the first in ``REGIMES`` order); ``None`` for
    the last ``horizon`` rows.

    >>> forward_regime(pd.Series(["bull", "bear", "bear", "bull", "crisis"]), 2).tolist()
    ['bear', 'bull', 'bull', None, None]
    """
    h = check_horizon(horizon)
    onehot = np.stack([(regimes.to_numpy() == r) for r in REGIMES], axis=1).astype(np.int64)
    csum = np.vstack([np.zeros((1, len(REGIMES)), dtype=np.int64), np.cumsum(onehot, axis=0)])
    n = len(regimes)
    out = np.full(n, None, dtype=object)
    if n > h:
        counts = csum[h + 1 :] - csum[1 : n - h + 1]  # rows t = 0 .. n-h-1: candles t+1..t+h
        out[: n - h] = np.asarray(REGIMES, dtype=object)[np.argmax(counts, axis=1)]
    return pd.Series(out, index=regimes.index, dtype=object)
