"""Shadow test: after ``shadow_test_days``, promote ``@challenger`` or discard it.

While a version holds ``@challenger`` the serving side logs its predictions beside the
champion's (prediction log role ``shadow``; the champion's rows have role ``champion``).
Once the test has run ``shadow_test_days`` days (since the audited move of ``@challenger``,
else the version's registration), :func:`decide_shadow` builds both daily IC series over the
test period (B1's ``daily_ic``), runs D's paired test (``paired_ic_test``, new = challenger)
and ``recommend``: ``promote`` moves ``@production`` to the challenger (audited, reason with
ΔIC, p and days) and removes ``@challenger``; ``keep`` discards the challenger (removes the
alias, audited). Fewer than three common days also discard it, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tradai_strategy.lifecycle.promotion import Lifecycle, promote, remove_alias

if TYPE_CHECKING:
    from tradai_strategy.stats.compare import PairedTest


@dataclass(frozen=True)
class ChallengerStatus:
    """The current challenger and whether its shadow test is over."""

    version: str
    due: bool
    message: str


@dataclass(frozen=True)
class ShadowResult:
    """What :func:`decide_shadow` did: ``promote`` or ``discard``, with the test and why."""

    action: str
    version: str
    reason: str
    test: PairedTest | None


def challenger_since(lc: Lifecycle, name: str, version: str) -> pd.Timestamp:
    """When ``version`` became ``@challenger``: the newest audited move there, else the
    version's registration time."""
    for event in reversed(lc.audit.events(name)):
        if event.alias == "challenger" and event.to_version == version:
            return pd.Timestamp(event.time).tz_convert("UTC")
    info = lc.registry.version(name, version)
    return pd.Timestamp(info.created_ms, unit="ms", tz="UTC")


def shadow_status(
    lc: Lifecycle, name: str, now: pd.Timestamp, days: int, challenger: str | None
) -> ChallengerStatus | None:
    """The shadow-test status of ``challenger`` (the version ``@challenger`` points at); None
    when no challenger is set or the policy runs no shadow test (``days`` = 0)."""
    if challenger is None or days <= 0:
        return None
    started = challenger_since(lc, name, challenger)
    elapsed = (now - started) / pd.Timedelta(days=1)
    due = elapsed >= days
    text = f"challenger {challenger} in shadow for {elapsed:.1f} of {days} days"
    return ChallengerStatus(challenger, due, text + (": decide" if due else ""))


def daily_ic_by_role(
    frame: pd.DataFrame,
    *,
    champion: str | None,
    challenger: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[pd.Series, pd.Series]:
    """Daily IC of the challenger's shadow rows and of the champion rows (of version
    ``champion``, or any version when None) in ``[start, end]``."""
    from tradai_strategy.stats.decay import daily_ic

    rows = frame[(frame["time"] >= start) & (frame["time"] <= end)]
    rows = rows.dropna(subset=["prediction", "realised"])
    shadow = rows[(rows["role"] == "shadow") & (rows["version"] == challenger)]
    champ = rows[rows["role"] == "champion"]
    if champion is not None:
        champ = champ[champ["version"] == champion]
    empty = pd.Series(dtype=float)

    def ic(part: pd.DataFrame) -> pd.Series:
        if part.empty:
            return empty
        return daily_ic(part, pred="prediction", realised="realised", date="time")

    return ic(shadow), ic(champ)


def decide_shadow(
    lc: Lifecycle,
    log: Any,
    name: str,
    *,
    now: pd.Timestamp,
    min_delta: float = 0.01,
    alpha: float = 0.05,
    dry_run: bool = False,
) -> ShadowResult:
    """Run the paired IC test of ``@challenger`` against the champion and act on it.

    :param log: the :class:`~tradai_strategy.monitoring.prediction_log.PredictionLog`.
    :param dry_run: decide only; the registry and the audit trail are not touched.
    :raises RegistryError: no ``@challenger`` is set.
    """
    from tradai_strategy.stats.compare import paired_ic_test, recommend

    challenger = lc.registry.resolve_required(name, "challenger").version
    champion = lc.registry.resolve(name, "production")
    start = challenger_since(lc, name, challenger)
    new, old = daily_ic_by_role(
        log.frame(name, since=start),
        champion=champion,
        challenger=challenger,
        start=start,
        end=now,
    )
    test: PairedTest | None = None
    try:
        test = paired_ic_test(new, old)
    except ValueError as err:
        action = "discard"
        reason = (
            f"shadow test of version {challenger}: {err.args[0].split(':')[0]} "
            "(are shadow predictions logged? set freqai.tradai.shadow_alias)"
        )
    else:
        verdict = recommend(test, min_delta=min_delta, alpha=alpha)
        action = "promote" if verdict == "promote" else "discard"
        reason = (
            f"shadow test of version {challenger} vs {champion or 'no champion'}: "
            f"ΔIC {test.delta_ic:+.4f}, p {test.p_value:.3g} over {test.n_days} days "
            f"(promote needs ΔIC > {min_delta} and p < {alpha})"
        )
    if not dry_run:
        if action == "promote":
            promote(lc, name, challenger, alias="production", reason=reason)
        remove_alias(
            lc,
            name,
            "challenger",
            reason=reason,
            only_if=challenger,
            action="discard" if action == "discard" else "unset",
        )
    return ShadowResult(action, challenger, reason, test)
