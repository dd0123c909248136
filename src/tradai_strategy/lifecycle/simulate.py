"""Policy simulation: replay ``configs/lifecycle.toml`` over history before trusting it.

:func:`simulate_policy` walks the UTC days of ``[start, end)``. Each day the deployed model
predicts out of sample; realised targets arrive only after the label horizon; the policy's
triggers (schedule, IC decay, feature drift, error-drift rollback, retirement) are checked
on what was known that morning by the same decision function as ``tradai retrain --check``
(:func:`tradai_strategy.lifecycle.decide.decide`, looped by :mod:`.simulate_routine`); a
retrain fits the trailing window (purged by the label horizon), a cheap holdout gate decides
promote or keep. The result lists every decision and compares the policy's out-of-sample IC,
ICIR and net Sharpe with never retraining (the model trained at ``start`` kept to the end).
Details: :mod:`.simulate_engine` (the replayed state), :mod:`.simulate_report` (the scoring).

Features and targets come from the strategy's own FreqAI feature engineering
(:func:`~tradai_strategy.data.features.build_features`), the estimator from
:mod:`tradai_strategy.models.estimators`, as in ``tradai validate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.simulate_report import (
    ArmMetrics,
    SimEvent,
    SimulationResult,
    summarise,
)
from tradai_strategy.lifecycle.simulate_routine import Progress, replay
from tradai_strategy.lifecycle.simulate_rules import SimSettings, day_range, utc_day
from tradai_strategy.validation.runner import PairData

__all__ = [
    "ArmMetrics",
    "SimEvent",
    "SimSettings",
    "SimulationResult",
    "load_simulation_data",
    "settings_from_config",
    "simulate_policy",
]


def simulate_policy(
    policy: RetrainPolicy,
    data: Sequence[PairData],
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    settings: SimSettings,
    *,
    progress: Progress | None = None,
    meta: dict[str, Any] | None = None,
) -> SimulationResult:
    """Replay ``policy`` over the UTC days ``[start, end)`` of ``data`` (one entry per pair).

    Parameters
    ----------
    policy : RetrainPolicy
        When to retrain, roll back and retire (``configs/lifecycle.toml``).
    data : sequence of PairData
        The strategy's features and labels per pair (:func:`load_simulation_data`), from at
        least ``settings.train_period_days`` before ``start`` to ``end``.
    start, end : str or pandas.Timestamp
        First and last-plus-one UTC day.
    settings : SimSettings
        Training window, estimator, gate and cost.
    progress : callable, optional
        Called with (days done, days total).

    Raises
    ------
    TradAIConfigError
        ``start`` not before ``end``, or a setting out of range.
    TradAIDataError
        The range or its first training window is not covered by the data.
    """
    if not data:
        raise TradAIConfigError("no pairs to simulate: pass --pairs or set the whitelist")
    rep = replay(data, policy, settings, start, end, progress)
    info = {
        "from": f"{utc_day(start, '--from'):%Y-%m-%d}",
        "to": f"{utc_day(end, '--to'):%Y-%m-%d}",
        "pairs": [p.pair for p in data],
        "features": len(data[0].features),
        "label": data[0].label,
        "policy": policy.source,
        "interval": policy.interval,
        "retrain_on_ic": policy.retrain_on_ic,
        "retrain_on_drift": policy.retrain_on_drift,
        "rollback_enabled": policy.rollback_enabled,
        **(meta or {}),
    }
    return summarise(list(data), rep, settings, info)


def settings_from_config(config: dict[str, Any], **overrides: Any) -> SimSettings:
    """:class:`SimSettings` from a resolved FreqAI config (window, horizon, estimator, seed)."""
    from tradai_strategy.core.settings import TradAISettings

    tradai = TradAISettings.from_config(config)
    freqai = config["freqai"]
    values: dict[str, Any] = {
        "timeframe": str(config["timeframe"]),
        "horizon": tradai.label_period_candles,
        "train_period_days": freqai.get("train_period_days"),
        "estimator": tradai.estimator,
        "params": dict(freqai.get("model_training_parameters", {})),
        "seed": tradai.seed,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimSettings(**values)


def load_simulation_data(
    config: dict[str, Any],
    settings: SimSettings,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    pairs: Sequence[str] | None = None,
    datadir: Path | None = None,
) -> list[PairData]:
    """The strategy's features and labels per pair, from the first training window (plus the
    indicators' warm-up) to ``end`` plus the label horizon."""
    from freqtrade.exchange import timeframe_to_minutes

    from tradai_strategy.data.features import build_features, load_candles, load_strategy
    from tradai_strategy.validation.runner import prepare_pair

    t0, t1 = day_range(start, end)
    chosen = list(pairs or config.get("exchange", {}).get("pair_whitelist", []))
    if not chosen:
        raise TradAIConfigError("no pairs: pass --pairs or set exchange.pair_whitelist")
    strategy = load_strategy(config)
    minutes = timeframe_to_minutes(settings.timeframe)
    warmup = int(getattr(strategy, "startup_candle_count", 0) or 0) * minutes / 1440
    target = (config.get("freqai", {}).get("tradai") or {}).get("target")
    if (target or getattr(strategy, "target", None)) == "regime":
        # the labels' (and the regime features') trailing quantiles need lookback + h candles
        from tradai_strategy.core.regimes import RegimeSettings

        lookback = RegimeSettings.from_config(config).lookback
        warmup += (lookback + 2 * settings.horizon) * minutes / 1440
    first = t0 - pd.Timedelta(days=settings.train_period_days + math.ceil(warmup) + 2)
    last = t1 + pd.Timedelta(days=math.ceil(settings.horizon * minutes / 1440) + 1)
    timerange = f"{first:%Y%m%d}-{last:%Y%m%d}"
    candles = load_candles(config, chosen, timerange, datadir)
    out = []
    for pair in chosen:
        frame = build_features(config, strategy, pair, candles).frame
        if frame.empty:
            raise TradAIDataError(f"{pair}: no candles within {timerange}: check --datadir")
        out.append(prepare_pair(frame, pair, settings.horizon, settings.timeframe))
    return out
