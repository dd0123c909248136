"""Shadow test: after ``shadow_test_days``, promote ``@challenger`` or discard it.

While a version holds ``@challenger`` the serving side logs its predictions beside the
champion's (prediction log role ``shadow``; the champion's rows have role ``champion``).
Once the test has run ``shadow_test_days`` days (since the audited move of ``@challenger``,
else the version's registration), :func:`decide_shadow` builds both per-candle
cross-sectional IC series over the test period (Spearman across the pairs at each candle,
:func:`tradai_strategy.stats.live_ic.cross_sectional_ic`: unbiased under no skill however the
labels overlap), runs the paired test (``paired_ic_test`` at the label horizon, new =
challenger: overlap-aware s.e., t with ``n / h - 1`` df) and ``recommend``: ``promote``
moves ``@production`` to the challenger (audited, reason with ΔIC ± s.e., p, candles and
periods) and removes ``@challenger``; ``keep`` discards the challenger (removes the alias,
audited). Fewer than two pairs or ten non-overlapping periods in common also discard it,
saying so.

A challenger of more than two classes (the regimes) has no numeric score: its test reads the
prediction log's class rows instead (:func:`class_hits_by_role`): per candle, the share of
pairs whose realised class each model predicted, on the candles and pairs both logged, the
same paired test and ``recommend`` (Δ = challenger minus champion accuracy).

The horizon is ``label_period_candles``: the caller's ``horizon``, else the
``label_period_candles`` param ``tradai train`` logs on the challenger's run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.lifecycle.promotion import Lifecycle, promote, remove_alias

if TYPE_CHECKING:
    from tradai_strategy.registry.client import VersionInfo
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


def candle_ic_by_role(
    frame: pd.DataFrame,
    *,
    champion: str | None,
    challenger: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[pd.Series, pd.Series]:
    """Per-candle cross-sectional IC of the challenger's shadow rows and of the champion
    rows (of version ``champion``, or any version when None) in ``[start, end]``; a candle
    needs two pairs with a prediction and a realised value."""
    from tradai_strategy.stats.live_ic import cross_sectional_ic

    rows = frame[(frame["time"] >= start) & (frame["time"] <= end)]
    rows = rows.dropna(subset=["prediction", "realised"])
    shadow = rows[(rows["role"] == "shadow") & (rows["version"] == challenger)]
    champ = rows[rows["role"] == "champion"]
    if champion is not None:
        champ = champ[champ["version"] == champion]
    else:  # any version: one champion row per candle and pair (the newest version's)
        newest = champ.sort_values("version", key=lambda v: pd.to_numeric(v, errors="coerce"))
        champ = newest.drop_duplicates(["time", "pair"], keep="last")
    empty = pd.Series(dtype=float)

    def ic(part: pd.DataFrame) -> pd.Series:
        if part.empty:
            return empty
        return cross_sectional_ic(part, pred="prediction", realised="realised")["ic"]

    return ic(shadow), ic(champ)


def class_hits_by_role(
    log: Any,
    name: str,
    *,
    champion: str | None,
    challenger: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> tuple[pd.Series, pd.Series] | None:
    """Per candle in ``[start, end]``, the share of pairs whose realised class the
    challenger's shadow rows and the champion rows predicted (the same candles and pairs,
    realised ones only); None when the challenger's rows hold no more than two classes."""
    if not hasattr(log, "class_frame"):
        return None
    frame = log.class_frame(name, since=start)
    rows = frame[(frame["time"] >= start) & (frame["time"] <= end)]
    shadow = rows[(rows["role"] == "shadow") & (rows["version"] == challenger)]
    fixed = {"time", "pair", "model", "version", "role", "horizon", "predicted", "realised"}
    classes = [c for c in shadow.columns if c not in fixed and shadow[c].notna().any()]
    if len(classes) <= 2:
        return None
    champ = rows[rows["role"] == "champion"]
    if champion is not None:
        champ = champ[champ["version"] == champion]
    both = shadow[["time", "pair", "predicted", "realised"]].merge(
        champ[["time", "pair", "predicted"]], on=["time", "pair"], suffixes=("_new", "_old")
    )
    both = both[both["realised"].notna()]
    hits = (
        both.assign(
            new=(both["predicted_new"] == both["realised"]).astype(float),
            old=(both["predicted_old"] == both["realised"]).astype(float),
        )
        .groupby("time")[["new", "old"]]
        .mean()
    )
    return hits["new"], hits["old"]


def logged_horizon(lc: Lifecycle, info: VersionInfo) -> int | None:
    """The version's ``label_period_candles``: its tag ``tradai.label_period_candles``, else
    the param logged on its run; None when neither is there."""
    from mlflow.exceptions import MlflowException

    value = info.tags.get(tag.LABEL_HORIZON)
    if value is None and info.run_id:
        try:
            value = lc.registry.client.get_run(info.run_id).data.params.get("label_period_candles")
        except MlflowException:
            value = None
    return int(value) if value is not None and str(value).isdigit() and int(value) >= 1 else None


def run_horizon(lc: Lifecycle, name: str, version: str) -> int:
    """:func:`logged_horizon` of ``name`` version ``version``, or a one-line error."""
    horizon = logged_horizon(lc, lc.registry.version(name, version))
    if horizon is None:
        raise TradAIConfigError(
            f"shadow test of {name} version {version}: it has no label_period_candles tag or "
            "run param: pass horizon=label_period_candles(config) to decide_shadow"
        )
    return horizon


def decide_shadow(
    lc: Lifecycle,
    log: Any,
    name: str,
    *,
    now: pd.Timestamp,
    horizon: int | None = None,
    min_delta: float = 0.01,
    alpha: float = 0.05,
    dry_run: bool = False,
) -> ShadowResult:
    """Run the paired cross-sectional IC test of ``@challenger`` against the champion and
    act on it.

    :param log: the :class:`~tradai_strategy.monitoring.prediction_log.PredictionLog`.
    :param horizon: the label horizon in candles (``label_period_candles``); default: the
        ``label_period_candles`` param on the challenger's run.
    :param dry_run: decide only; the registry and the audit trail are not touched.
    :raises RegistryError: no ``@challenger`` is set.
    :raises TradAIConfigError: no ``horizon`` and none logged on the challenger's run.
    """
    from tradai_strategy.stats.compare import PairedTestError, paired_ic_test, recommend
    from tradai_strategy.stats.live_ic import CROSS_SECTIONAL, MIN_PAIRS

    if horizon is not None and horizon < 1:
        raise TradAIConfigError(
            f"horizon: must be >= 1 candle (label_period_candles), got {horizon}"
        )
    challenger = lc.registry.resolve_required(name, "challenger").version
    champion = lc.registry.resolve(name, "production")
    h = horizon if horizon is not None else run_horizon(lc, name, challenger)
    start = challenger_since(lc, name, challenger)
    frame = log.frame(name, since=start)
    span = {"champion": champion, "challenger": challenger, "start": start, "end": now}
    hits = class_hits_by_role(log, name, **span)
    statistic, delta = CROSS_SECTIONAL, "ΔIC"
    if hits is not None:  # more than two classes: no numeric score, compare accuracies
        new, old = hits
        statistic, delta = "accuracy: share of pairs right per candle", "Δaccuracy"
    else:
        new, old = candle_ic_by_role(frame, **span)
    test: PairedTest | None = None
    try:
        test = paired_ic_test(new, old, h)
    except PairedTestError as err:
        action = "discard"
        pairs = frame["pair"].nunique()
        hint = (
            f"the {CROSS_SECTIONAL} needs >= {MIN_PAIRS} pairs, the log has {pairs}: "
            "add pairs to exchange.pair_whitelist"
            if pairs < MIN_PAIRS and hits is None
            else "are shadow predictions logged? set freqai.tradai.shadow_alias"
        )
        reason = f"shadow test of version {challenger}: {str(err).split(':')[0]} ({hint})"
    else:
        verdict = recommend(test, min_delta=min_delta, alpha=alpha)
        action = "promote" if verdict == "promote" else "discard"
        reason = (
            f"shadow test of version {challenger} vs {champion or 'no champion'} "
            f"({statistic}): {delta} {test.delta_ic:+.4f} ± {test.se:.4f}, "
            f"p {test.p_value:.3g} over {test.n} candles ({test.n_periods:.1f} "
            f"non-overlapping {h}-candle periods) (promote needs {delta} > {min_delta} and "
            f"p < {alpha})"
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
