"""Model health for ``tradai status``: pure functions over versions, tags and run metrics.

Thresholds (levels green / yellow / red; the overall level of a version is the worst):

- Regressors, by IC: green >= 0.03, yellow 0.02-0.03, red < 0.02. The IC is the live rolling
  IC when the version carries the tag ``tradai.monitor.rolling_ic`` (set by monitoring), else
  the out-of-sample RankIC ``oos_rank_ic`` of its training run. The red line matches the retrain
  trigger of the lifecycle policy (IC < 0.02).
- Classifiers (a run metric ``accuracy``, a fraction): green >= 0.85, yellow 0.75-0.85,
  red < 0.75.
- Age since registration: green <= 30 days, yellow > 30, red > 45.
- No IC and no accuracy: performance ``unknown``, counted as yellow (it cannot be judged).
- A retired version that still holds an alias is red.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tradai_strategy.core import tags as tag
from tradai_strategy.registry.client import is_retired
from tradai_strategy.stats.compare import finite_float

if TYPE_CHECKING:
    from tradai_strategy.registry.client import VersionInfo

IC_GREEN, IC_YELLOW = 0.03, 0.02
ACCURACY_GREEN, ACCURACY_YELLOW = 0.85, 0.75
AGE_YELLOW_DAYS, AGE_RED_DAYS = 30.0, 45.0
SHOWN_METRICS = (
    "oos_rank_ic",
    "oos_cs_ic",
    "oos_cs_ic_se",
    "sharpe",
    "profit_total",
    "max_drawdown",
    "trade_count",
    "accuracy",
)
LEVELS = ("green", "yellow", "red")


@dataclass(frozen=True)
class Health:
    """One health judgement: its level and what it was judged on."""

    level: str  # green, yellow, red or unknown
    basis: str


@dataclass(frozen=True)
class VersionStatus:
    """What ``tradai status`` shows for one (model, alias)."""

    model: str
    alias: str
    version: str
    age_days: float
    metrics: dict[str, float] = field(default_factory=dict)
    performance: Health = Health("unknown", "no metric")
    age: Health = Health("unknown", "")
    overall: str = "unknown"
    retired: bool = False
    validation: str = "missing"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def _level(value: float, green: float, yellow: float) -> str:
    return "green" if value >= green else "yellow" if value >= yellow else "red"


def ic_level(ic: float) -> str:
    """green >= 0.03 > yellow >= 0.02 > red."""
    return _level(ic, IC_GREEN, IC_YELLOW)


def accuracy_level(accuracy: float) -> str:
    """green >= 0.85 > yellow >= 0.75 > red (accuracy as a fraction)."""
    return _level(accuracy, ACCURACY_GREEN, ACCURACY_YELLOW)


def age_level(days: float) -> str:
    """green <= 30 days < yellow <= 45 days < red."""
    return "red" if days > AGE_RED_DAYS else "yellow" if days > AGE_YELLOW_DAYS else "green"


def worst(levels: list[str]) -> str:
    """The worst level; ``unknown`` counts as yellow."""
    ranks = [LEVELS.index(lv) if lv in LEVELS else 1 for lv in levels]
    return LEVELS[max(ranks)] if ranks else "yellow"


def age_days(created_ms: int, now: datetime) -> float:
    """Days from a registration timestamp (ms since epoch) to ``now``."""
    return (now.timestamp() * 1000 - created_ms) / 86_400_000


def performance_health(tags: dict[str, str], metrics: dict[str, float]) -> Health:
    """Classifier accuracy when logged, else the live rolling IC tag, else the OOS RankIC."""
    accuracy = finite_float(metrics.get("accuracy"))
    if accuracy is not None:
        return Health(accuracy_level(accuracy), f"accuracy {accuracy:.1%}")
    live = finite_float(tags.get(tag.MONITOR_ROLLING_IC))
    if live is not None:
        se = finite_float(tags.get(tag.MONITOR_ROLLING_IC_SE))
        error = f" ± {se:.3f}" if se is not None else ""
        return Health(ic_level(live), f"live cross-sectional IC {live:+.3f}{error}")
    oos = finite_float(metrics.get("oos_rank_ic"))
    if oos is not None:
        return Health(ic_level(oos), f"OOS RankIC {oos:+.3f}")
    return Health("unknown", "no IC or accuracy logged")


def version_status(
    info: VersionInfo, alias: str, metrics: dict[str, float], now: datetime
) -> VersionStatus:
    """Health of the version ``alias`` points at."""
    days = age_days(info.created_ms, now)
    perf = performance_health(info.tags, metrics)
    age = Health(age_level(days), f"{days:.1f} days old")
    retired = is_retired(info.tags)
    overall = "red" if retired else worst([perf.level, age.level])
    shown = {k: metrics[k] for k in SHOWN_METRICS if finite_float(metrics.get(k)) is not None}
    return VersionStatus(
        model=info.name,
        alias=alias,
        version=info.version,
        age_days=round(days, 2),
        metrics=shown,
        performance=perf,
        age=age,
        overall=overall,
        retired=retired,
        validation=info.tags.get(tag.VALIDATION_STATUS, "missing"),
    )


def model_status(
    versions: list[VersionInfo],
    metrics_by_version: dict[str, dict[str, float]],
    now: datetime | None = None,
    aliases: tuple[str, ...] = ("production", "staging", "challenger", "fallback"),
) -> list[VersionStatus]:
    """One :class:`VersionStatus` per alias that is set, in ``aliases`` order."""
    now = now or datetime.now(UTC)
    by_alias = {a: v for v in versions for a in v.aliases}
    return [
        version_status(by_alias[a], a, metrics_by_version.get(by_alias[a].version, {}), now)
        for a in aliases
        if a in by_alias
    ]
