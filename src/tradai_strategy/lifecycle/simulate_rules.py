"""Settings of a policy simulation that the policy file does not hold, and its date range.

The schedule rule is the live one: :func:`tradai_strategy.lifecycle.decide.schedule_due`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError

if TYPE_CHECKING:
    from tradai_strategy.validation.runner import PairData

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class SimSettings:
    """How the simulation trains, gates and scores (the policy says *when*).

    ``train_period_days`` is the trailing training window (FreqAI's own
    ``freqai.train_period_days`` by default); ``holdout_fraction`` of its rows (the newest)
    form the gate's holdout; a candidate is promoted when its holdout Spearman IC is at least
    ``min_gate_ic``; ``cost`` is paid per unit of position change of the sign strategy.
    """

    timeframe: str
    horizon: int
    train_period_days: float
    estimator: str = "lightgbm"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    threads: int | None = 1
    holdout_fraction: float = 0.25
    min_gate_ic: float = 0.02
    cost: float = 0.001
    min_train_rows: int = 100

    def __post_init__(self) -> None:
        if not self.train_period_days or self.train_period_days <= 0:
            raise TradAIConfigError(
                f"train_period_days must be > 0, got {self.train_period_days!r}: set "
                "freqai.train_period_days in the config or pass --train-days"
            )
        if not 0.05 <= self.holdout_fraction <= 0.5:
            raise TradAIConfigError(
                f"--holdout {self.holdout_fraction} is outside [0.05, 0.5]: e.g. 0.25"
            )
        if not math.isfinite(self.min_gate_ic) or not -1 <= self.min_gate_ic <= 1:
            raise TradAIConfigError(f"--min-gate-ic {self.min_gate_ic} is outside [-1, 1]")
        if self.cost < 0:
            raise TradAIConfigError(f"--cost must be >= 0 (0.001 = 10 bp), got {self.cost}")
        if self.horizon < 1:
            raise TradAIConfigError(f"label horizon must be >= 1 candle, got {self.horizon}")


def utc_day(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    """``value`` as 00:00 UTC of its day; one line naming ``name`` when it is not a date."""
    from tradai_strategy.lifecycle.decision import utc

    try:
        return utc(value).normalize()
    except (ValueError, TypeError):
        raise TradAIConfigError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None


def day_range(
    start: str | pd.Timestamp, end: str | pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``--from`` and ``--to`` as UTC days; fails with one line unless ``--from`` is first."""
    t0, t1 = utc_day(start, "--from"), utc_day(end, "--to")
    if t1 <= t0:
        raise TradAIConfigError(f"--from {t0:%Y-%m-%d} is not before --to {t1:%Y-%m-%d}: swap them")
    return t0, t1


def check_range(
    data: Sequence[PairData], start: pd.Timestamp, end: pd.Timestamp, settings: SimSettings
) -> None:
    """Fail with one line when ``[start, end)`` (from :func:`day_range`) or its first
    training window lacks data."""
    need = start - pd.Timedelta(days=settings.train_period_days)
    for pd_ in data:
        first, last = pd_.dates.iloc[0], pd_.dates.iloc[-1]
        if first > need + DAY:
            raise TradAIDataError(
                f"{pd_.pair}: labelled rows start at {first:%Y-%m-%d %H:%M}, but --from "
                f"{start:%Y-%m-%d} needs them from {need:%Y-%m-%d} (train_period_days="
                f"{settings.train_period_days} before it): move --from later or add candles"
            )
        if last < end - DAY:
            raise TradAIDataError(
                f"{pd_.pair}: labelled rows end at {last:%Y-%m-%d %H:%M}, before --to "
                f"{end:%Y-%m-%d}: move --to earlier (at most {last.normalize() + DAY:%Y-%m-%d}) "
                "or add candles"
            )
