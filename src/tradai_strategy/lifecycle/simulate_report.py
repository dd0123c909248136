"""Scoring of a policy replay: out-of-sample IC, ICIR and net Sharpe of both arms.

* pooled IC: Spearman over the non-overlapping rows (every ``h``-th candle) of all pairs,
  standard error ``1/sqrt(n)`` (see :mod:`tradai_strategy.stats.ic`);
* daily IC: Spearman per UTC day over all rows of all pairs, its mean and ICIR;
* net Sharpe: hold ``sign(prediction)`` for ``h`` candles on the non-overlapping rows, pay
  ``cost`` per unit of position change, average the pairs per period, annualise with
  ``sqrt(periods a year)``. A period without a served model is flat (no position).

A target of more than two classes (the regimes) is scored on its classes instead: accuracy
of each arm over the non-overlapping rows with the s.e. clustered by candle (the live
statistic, :func:`tradai_strategy.lifecycle.simulate_classes.arm_accuracy`), balanced
accuracy, and persistence (the regime known at ``t``) beside them; IC and Sharpe are not
computed (``P(last class)`` is no score). The simulated registry at the end (retention) is
reported for every target.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradai_strategy.lifecycle.simulate_rules import SimSettings

if TYPE_CHECKING:
    from tradai_strategy.validation.runner import PairData

ACTIONS = (
    "retrained",
    "promoted",
    "staged",
    "discarded",
    "kept",
    "rolled back",
    "retired",
    "deleted",
)


@dataclass(frozen=True)
class SimEvent:
    """One decision of the replayed policy."""

    date: pd.Timestamp
    action: str  # one of ACTIONS
    reason: str
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.strftime("%Y-%m-%d"),
            "action": self.action,
            "reason": self.reason,
            "version": self.version,
        }


@dataclass
class Replay:
    """Raw outcome of :func:`replay`: events and both arms' predictions per pair."""

    events: list[SimEvent]
    policy_pred: list[npt.NDArray[np.float64]]
    baseline_pred: list[npt.NDArray[np.float64]]
    version: list[npt.NDArray[np.float64]]
    in_range: list[npt.NDArray[np.bool_]]
    #: more than two classes: both arms' predicted class per row (None: not such a target)
    policy_class: list[npt.NDArray[Any]] | None = None
    baseline_class: list[npt.NDArray[Any]] | None = None
    #: the simulated registry at the end: (version, alias or ""), newest first
    registry: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ArmMetrics:
    """Out-of-sample performance of one arm (the policy, or never retraining)."""

    pooled_ic: float
    pooled_ic_se: float
    n_rows: int
    cs_ic: float  # mean per-candle cross-sectional IC (the statistic the triggers watch)
    cs_ic_se: float  # its overlap-aware s.e.
    n_candles: int
    sharpe: float  # per period of h candles
    sharpe_annual: float
    net_return: float  # sum of the per-period portfolio net returns
    turnover: float
    coverage: float  # share of rows with a served model
    retrains: int = 0
    promotions: int = 0
    staged: int = 0
    discarded: int = 0
    kept: int = 0
    rollbacks: int = 0
    retirements: int = 0
    deleted: int = 0  # versions deleted by retention
    #: more than two classes: accuracy over the non-overlapping rows, its clustered s.e.
    accuracy: float = float("nan")
    accuracy_se: float = float("nan")
    balanced_accuracy: float = float("nan")
    n_scored: int = 0

    def to_dict(self) -> dict[str, float | None]:
        return {k: (v if math.isfinite(v) else None) for k, v in asdict(self).items()}


@dataclass
class SimulationResult:
    """Events of the replayed policy and both arms' out-of-sample metrics."""

    events: list[SimEvent]
    policy: ArmMetrics
    baseline: ArmMetrics
    predictions: pd.DataFrame  # date, pair, policy, baseline, version, realised, fwd, grid
    daily: pd.DataFrame  # index day; columns policy, baseline (daily mean cross-sectional IC)
    settings: dict[str, Any] = field(default_factory=dict)
    registry: list[tuple[int, str]] = field(default_factory=list)
    #: more than two classes: persistence's accuracy on the same rows (else NaN)
    persistence: dict[str, float] = field(default_factory=dict)

    @property
    def multiclass(self) -> bool:
        return bool(self.persistence)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {
            "settings": self.settings,
            "events": [e.to_dict() for e in self.events],
            "policy": self.policy.to_dict(),
            "never_retrain": self.baseline.to_dict(),
            "registry": [{"version": v, "alias": a or None} for v, a in self.registry],
            "persistence": {k: clean(v) for k, v in self.persistence.items()},
            "daily_cs_ic": [
                {
                    "day": f"{day:%Y-%m-%d}",
                    "policy": clean(row["policy"]),
                    "never_retrain": clean(row["baseline"]),
                }
                for day, row in self.daily.iterrows()
            ],
        }


def prediction_frame(data: list[PairData], rep: Replay) -> pd.DataFrame:
    """One row per in-range candle and pair: both arms' predictions and what was realised."""
    parts = []
    for i, p in enumerate(data):
        rows = rep.in_range[i]
        parts.append(
            pd.DataFrame(
                {
                    "date": pd.DatetimeIndex(p.dates)[rows],
                    "pair": p.pair,
                    "policy": rep.policy_pred[i][rows],
                    "baseline": rep.baseline_pred[i][rows],
                    "version": rep.version[i][rows],
                    "realised": p.realised[rows],
                    "fwd": p.forward_return[rows],
                    "grid": p.grid[rows],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def add_classes(frame: pd.DataFrame, data: list[PairData], rep: Replay, h: int) -> pd.DataFrame:
    """``frame`` (:func:`prediction_frame`) with the columns label, policy_class,
    baseline_class and persistence_class (same row order)."""
    from tradai_strategy.lifecycle.simulate_classes import persistence_column

    assert rep.policy_class is not None and rep.baseline_class is not None
    rows = rep.in_range

    def stacked(columns: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
        return np.concatenate([c[r] for c, r in zip(columns, rows, strict=True)])

    return frame.assign(
        label=stacked([p.y.astype(str) for p in data]),
        policy_class=stacked(rep.policy_class),
        baseline_class=stacked(rep.baseline_class),
        persistence_class=np.concatenate(persistence_column(data, rows, h)),
    )


def candle_ics(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-candle cross-sectional IC of both arms (columns policy, baseline; NaN where an
    arm has fewer than two pairs with a prediction and a realised value)."""
    from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic

    out = {}
    for arm in ("policy", "baseline"):
        sub = frame[["date", "pair", arm, "realised"]].dropna()
        ok = len(sub) and sub["pair"].nunique() >= MIN_PAIRS
        out[arm] = (
            cross_sectional_ic(sub, pred=arm, realised="realised", time="date")["ic"]
            if ok
            else pd.Series(dtype=float)
        )
    return pd.DataFrame(out)


def daily_means(candles: pd.DataFrame) -> pd.DataFrame:
    """Daily mean of the per-candle ICs (UTC days): an unbiased, noisy daily figure."""
    if candles.empty:
        return candles
    return candles.groupby(pd.DatetimeIndex(candles.index).floor("D")).mean()


def arm_metrics(
    frame: pd.DataFrame, candles: pd.Series, arm: str, settings: SimSettings
) -> ArmMetrics:
    """:class:`ArmMetrics` of column ``arm`` of :func:`prediction_frame`."""
    from freqtrade.exchange import timeframe_to_minutes

    from tradai_strategy.stats.ic import spearman_ic
    from tradai_strategy.stats.live_ic import window_ic
    from tradai_strategy.stats.metrics import sharpe_ratio, sign_strategy_returns

    grid = frame[frame["grid"]]
    ic = spearman_ic(grid[arm], grid["realised"])
    watched = window_ic(candles.dropna(), settings.horizon)
    nets, turns = [], []
    for pair, g in grid.groupby("pair", sort=False):
        g = g[np.isfinite(g["fwd"])]
        r = sign_strategy_returns(g[arm].fillna(0.0), g["fwd"], cost=settings.cost)
        nets.append(pd.Series(r.net, index=pd.DatetimeIndex(g["date"]), name=str(pair)))
        turns.append(r.turnover)
    portfolio = pd.concat(nets, axis=1).mean(axis=1) if nets else pd.Series(dtype=float)
    periods = 365 * 24 * 60 / (settings.horizon * timeframe_to_minutes(settings.timeframe))
    sharpe = sharpe_ratio(portfolio.to_numpy())
    turnover = float(np.concatenate(turns).mean()) if turns else float("nan")
    return ArmMetrics(
        pooled_ic=ic.ic,
        pooled_ic_se=ic.se,
        n_rows=ic.n,
        cs_ic=watched.ic,
        cs_ic_se=watched.se,
        n_candles=watched.n,
        sharpe=sharpe,
        sharpe_annual=sharpe * math.sqrt(periods),
        net_return=float(portfolio.sum()),
        turnover=turnover,
        coverage=float(np.isfinite(frame[arm]).mean()) if len(frame) else float("nan"),
    )


def count_actions(events: list[SimEvent]) -> dict[str, int]:
    """Events per action (the initial promotion is not counted)."""
    counts = dict.fromkeys(ACTIONS, 0)
    for e in events[1:]:
        counts[e.action] = counts.get(e.action, 0) + 1
    return counts


def summarise(
    data: list[PairData], rep: Replay, settings: SimSettings, meta: dict[str, Any]
) -> SimulationResult:
    """Both arms scored over the replayed range."""
    frame = prediction_frame(data, rep)
    candles = candle_ics(frame)
    counts = count_actions(rep.events)
    policy = arm_metrics(frame, candles["policy"], "policy", settings)
    baseline = arm_metrics(frame, candles["baseline"], "baseline", settings)
    persistence: dict[str, float] = {}
    if rep.policy_class is not None:
        from tradai_strategy.lifecycle.simulate_classes import arm_accuracy

        frame = add_classes(frame, data, rep, settings.horizon)
        h = settings.horizon
        policy = replace(policy, **arm_accuracy(frame, "policy_class", h))  # type: ignore[arg-type]
        baseline = replace(baseline, **arm_accuracy(frame, "baseline_class", h))  # type: ignore[arg-type]
        persistence = arm_accuracy(frame, "persistence_class", h)
    policy = ArmMetrics(
        **{
            **asdict(policy),
            "retrains": counts["retrained"],
            "promotions": counts["promoted"],
            "staged": counts["staged"],
            "discarded": counts["discarded"],
            "kept": counts["kept"],
            "rollbacks": counts["rolled back"],
            "retirements": counts["retired"],
            "deleted": counts["deleted"],
        }
    )
    sim = {k: v for k, v in asdict(settings).items()}
    daily = daily_means(candles)
    return SimulationResult(
        rep.events,
        policy,
        baseline,
        frame,
        daily,
        {**sim, **meta},
        registry=rep.registry,
        persistence=persistence,
    )
