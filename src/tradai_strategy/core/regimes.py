"""Market-regime labels: five classes from the *forward* window of the label horizon.

Definitions
-----------
``h`` is ``label_period_candles`` (at least 2), ``c_t`` the close of row ``t`` and
``r_t = log(c_t / c_{t-1})`` its log return. The *forward window* of row ``t`` holds the
``h`` returns ``r_{t+1} .. r_{t+h}``; on it

* forward return  ``R_t = log(c_{t+h} / c_t)`` (the sum of the window's returns),
* forward volatility ``V_t = std(r_{t+1} .. r_{t+h})`` (sample standard deviation, ddof 1).

Both are compared with thresholds that row ``t`` already knows. The *backward window*
ending at ``s`` holds ``r_{s-h+1} .. r_s`` and gives ``R^b_s = log(c_s / c_{s-h})`` and
``V^b_s`` the same way (it is the forward window of row ``s - h``). The thresholds of row
``t`` are empirical quantiles (linear interpolation) of the ``lookback`` backward windows
ending at ``s = t - lookback + 1 .. t``: only closes up to ``c_t`` enter them. With
:class:`RegimeSettings` quantile levels:

``qV(p)`` = quantile ``p`` of those ``V^b``; ``qR(p)`` = quantile ``p`` of those ``R^b``.

Classes, first match wins (precedence from top to bottom):

1. ``crisis``    ``V_t >= qV(crisis_vol)`` and ``R_t <= qR(crisis_return)``
   (an extreme volatility *and* an extreme loss in the same forward window);
2. ``high_vol``  ``V_t >= qV(high_vol)``;
3. ``low_vol``   ``V_t <= qV(low_vol)``;
4. ``bull``      ``R_t > qR(trend)``;
5. ``bear``      otherwise (``R_t <= qR(trend)``, volatility between the two thresholds).

So every labelled row has exactly one class. The last ``h`` rows have no label (their
forward window is not in the data) and neither do the first ``h + lookback - 1`` rows
(fewer than ``lookback`` complete backward windows): both are ``None``. On a random walk
the defaults give roughly 1-2 % crisis, 23 % high_vol, 25 % low_vol and 25 % each of
bull and bear.

The regime *known* at row ``t`` is the label of row ``t - h`` (:func:`known_regime`): its
forward window ``t - h + 1 .. t`` has just ended. The label of ``t - 1`` would still need
``h - 1`` future candles.

Parameters come from ``freqai.tradai.regime`` (:meth:`RegimeSettings.from_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import refuse_unknown_keys, tradai_block

#: the five regime classes, in the order of their definitions above
REGIMES = ("bull", "bear", "high_vol", "low_vol", "crisis")
#: the target column of the regime target
REGIME_LABEL = "&-s_regime"
#: the quantile levels of :class:`RegimeSettings` (threshold columns ``q_<name>``)
QUANTILE_NAMES = ("low_vol", "high_vol", "trend", "crisis_vol", "crisis_return")
#: shortest label horizon: a volatility needs at least two returns
MIN_HORIZON = 2
#: fewest backward windows a trailing quantile is taken over
MIN_LOOKBACK = 20


@dataclass(frozen=True)
class RegimeSettings:
    """Quantile levels and lookback of the regime labels (see the module docstring).

    ``lookback``: backward windows (candles) the trailing quantiles are taken over;
    ``low_vol`` / ``high_vol``: volatility quantiles of the calm and the turbulent class;
    ``trend``: return quantile splitting bull from bear; ``crisis_vol`` / ``crisis_return``:
    the extreme volatility and loss quantiles both required for a crisis.
    """

    lookback: int = 720
    low_vol: float = 0.25
    high_vol: float = 0.75
    trend: float = 0.5
    crisis_vol: float = 0.90
    crisis_return: float = 0.10

    def __post_init__(self) -> None:
        lb = self.lookback
        if not isinstance(lb, int) or isinstance(lb, bool) or lb < MIN_LOOKBACK:
            raise TradAIConfigError(
                f"freqai.tradai.regime.lookback must be an integer >= {MIN_LOOKBACK} candles, "
                f"got {lb!r} (e.g. 720 = 30 days of 1h)"
            )
        for f in fields(self)[1:]:
            q = getattr(self, f.name)
            if isinstance(q, bool) or not isinstance(q, int | float) or not 0.0 < q < 1.0:
                raise TradAIConfigError(
                    f"freqai.tradai.regime.{f.name} must be a quantile level strictly between "
                    f"0 and 1, got {q!r}"
                )
        if not self.low_vol < self.high_vol <= self.crisis_vol:
            raise TradAIConfigError(
                "freqai.tradai.regime: need low_vol < high_vol <= crisis_vol, got "
                f"{self.low_vol} / {self.high_vol} / {self.crisis_vol}"
            )
        if not self.crisis_return < self.trend:
            raise TradAIConfigError(
                f"freqai.tradai.regime: need crisis_return < trend, got {self.crisis_return} "
                f"and {self.trend}"
            )

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RegimeSettings:
        """The settings of ``freqai.tradai.regime`` (defaults for missing keys); an unknown
        key is a one-line :class:`TradAIConfigError` naming the closest valid key."""
        block = tradai_block(config).get("regime") or {}
        if not isinstance(block, dict):
            raise TradAIConfigError(
                f"freqai.tradai.regime must be an object, got {type(block).__name__}: "
                'e.g. {"lookback": 720}'
            )
        refuse_unknown_keys(block, cls.keys(), "freqai.tradai.regime")
        return cls(**block)


def check_horizon(horizon: int) -> int:
    """``horizon`` when it is an integer >= :data:`MIN_HORIZON`, else one config error."""
    if not isinstance(horizon, int | np.integer) or isinstance(horizon, bool):
        horizon = -1
    if horizon < MIN_HORIZON:
        raise TradAIConfigError(
            "the regime target needs label_period_candles >= 2 (a volatility needs two "
            f"returns), got {horizon}: raise freqai.feature_parameters.label_period_candles"
        )
    return int(horizon)


def backward_windows(close: pd.Series, horizon: int) -> pd.DataFrame:
    """Return ``R^b_s`` and volatility ``V^b_s`` of the backward window ending at each row
    (columns ``ret``, ``vol``; NaN for the first ``horizon`` rows).

    >>> backward_windows(pd.Series([1.0, 2.0, 4.0, 4.0]), 2).round(4).to_dict("list")
    {'ret': [nan, nan, 1.3863, 0.6931], 'vol': [nan, nan, 0.0, 0.4901]}
    """
    c = close.to_numpy(dtype=float)
    if c.size and not (np.isfinite(c).all() and (c > 0).all()):
        bad = int(np.flatnonzero(~(np.isfinite(c) & (c > 0)))[0])
        raise TradAIDataError(
            f"regime labels need positive finite closes: row {close.index[bad]} has "
            f"{float(c[bad])}; drop or repair the bad candles first"
        )
    logc = pd.Series(np.log(c), index=close.index)
    ret = logc - logc.shift(horizon)
    vol = logc.diff().rolling(horizon, min_periods=horizon).std(ddof=1)
    return pd.DataFrame({"ret": ret, "vol": vol})


def regime_statistics(
    close: pd.Series, horizon: int, settings: RegimeSettings | None = None
) -> pd.DataFrame:
    """Everything the labels are made of, one row per candle of ``close``.

    Columns: ``fwd_return`` (``R_t``), ``fwd_vol`` (``V_t``) and the trailing thresholds
    ``q_low_vol``, ``q_high_vol``, ``q_crisis_vol`` (of ``V^b``), ``q_trend``,
    ``q_crisis_return`` (of ``R^b``).
    """
    h = check_horizon(horizon)
    s = settings or RegimeSettings()
    back = backward_windows(close, h)
    out = pd.DataFrame(
        {"fwd_return": back["ret"].shift(-h), "fwd_vol": back["vol"].shift(-h)},
        index=close.index,
    )
    vol_roll = back["vol"].rolling(s.lookback, min_periods=s.lookback)
    ret_roll = back["ret"].rolling(s.lookback, min_periods=s.lookback)
    for name in ("low_vol", "high_vol", "crisis_vol"):
        out[f"q_{name}"] = vol_roll.quantile(getattr(s, name), interpolation="linear")
    for name in ("trend", "crisis_return"):
        out[f"q_{name}"] = ret_roll.quantile(getattr(s, name), interpolation="linear")
    return out


def classify(stats: pd.DataFrame) -> pd.Series:
    """The class of each row of a :func:`regime_statistics` frame (precedence of the module
    docstring); ``None`` where a forward value or a threshold is missing."""
    v, r = stats["fwd_vol"].to_numpy(float), stats["fwd_return"].to_numpy(float)
    conditions = [
        (v >= stats["q_crisis_vol"].to_numpy(float))
        & (r <= stats["q_crisis_return"].to_numpy(float)),
        v >= stats["q_high_vol"].to_numpy(float),
        v <= stats["q_low_vol"].to_numpy(float),
        r > stats["q_trend"].to_numpy(float),
    ]
    labels = np.select(conditions, ["crisis", "high_vol", "low_vol", "bull"], default="bear")
    needed = ["fwd_vol", "fwd_return", *(f"q_{n}" for n in QUANTILE_NAMES)]
    known = np.isfinite(stats[needed].to_numpy(float)).all(axis=1)
    out = pd.Series(labels, index=stats.index, dtype=object)
    return out.where(known, None)


def regime_labels(
    close: pd.Series, horizon: int, settings: RegimeSettings | None = None
) -> pd.Series:
    """The regime label of every row of ``close`` (text, ``None`` where unknown).

    >>> rng = np.random.default_rng(0)
    >>> close = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400))))
    >>> labels = regime_labels(close, 6, RegimeSettings(lookback=100))
    >>> bool(labels.iloc[:105].isna().all()), bool(labels.iloc[-6:].isna().all())
    (True, True)
    >>> labels.iloc[105]
    'bear'
    """
    return classify(regime_statistics(close, horizon, settings))


def regime_features(
    close: pd.Series,
    horizon: int,
    settings: RegimeSettings | None = None,
    volume: pd.Series | None = None,
) -> pd.DataFrame:
    """Causal features in the labels' own units: for the backward windows of ``horizon``
    and of ``horizon // 4`` candles (at least 2), the percentile rank of the window's return
    and volatility among the ``lookback`` windows that ended at or before the row (columns
    ``%-regime_ret_rank_<w>``, ``%-regime_vol_rank_<w>``; NaN until ``w + lookback - 1``
    rows are known). Row ``t`` reads closes up to ``c_t`` only. The ``horizon`` window is
    the one the regime known at ``t`` (:func:`known_regime`) was labelled on, so a model
    given these features sees at least what persistence sees; the short window shows a
    switch sooner.

    With ``volume`` (base-currency candle volume, as freqtrade's), also the level of
    trading activity: the percentile rank of the window's mean ``log(1 + volume * close)``
    (quote volume, so a price trend does not move it) among the same trailing windows
    (``%-regime_volume_rank_<w>``). The relative-volume indicators only see a change for
    as long as their rolling mean lags; this sees a lasting level (order flow that leads
    a regime, :class:`~tradai_strategy.data.synthetic_regimes.Herald`).
    """
    h = check_horizon(horizon)
    s = settings or RegimeSettings()
    out: dict[str, pd.Series] = {}
    activity = None
    if volume is not None:
        quote = volume.to_numpy(dtype=float) * close.to_numpy(dtype=float)
        activity = pd.Series(np.log1p(np.clip(quote, 0.0, None)), index=close.index)
    for w in sorted({h, max(MIN_HORIZON, h // 4)}, reverse=True):
        back = backward_windows(close, w)
        if activity is not None:
            back["volume"] = activity.rolling(w, min_periods=w).mean()
        for name in back.columns:
            roll = back[name].rolling(s.lookback, min_periods=s.lookback)
            out[f"%-regime_{name}_rank_{w}"] = roll.rank(pct=True)
    return pd.DataFrame(out, index=close.index)


def known_regime(labels: pd.Series, horizon: int) -> pd.Series:
    """The regime known at each row: the label of the row ``horizon`` candles earlier,
    whose forward window has just ended (positional shift; ``None`` for the first rows).

    >>> known_regime(pd.Series(["bull", "bear", "crisis", None]), 2).tolist()
    [None, None, 'bull', 'bear']
    """
    h = check_horizon(horizon)
    shifted = labels.astype(object).shift(h)
    return shifted.where(shifted.notna(), None)


__all__ = [
    "MIN_HORIZON",
    "REGIMES",
    "REGIME_LABEL",
    "RegimeSettings",
    "backward_windows",
    "check_horizon",
    "classify",
    "known_regime",
    "regime_features",
    "regime_labels",
    "regime_statistics",
]
