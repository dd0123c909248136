"""The daily rules of a policy replay (:mod:`.simulate_engine` holds the state).

Order, at most one action a day, as in ``tradai retrain --check``: retirement (the rolling
IC of the served model), auto-rollback (error-drift ratio), the end of a shadow test, then the
retrain triggers: IC decay, the schedule, feature drift.

``auto_promote = false``: a candidate that passed the holdout gate is staged as
``@challenger`` (replacing a pending one) and predicts beside the served model; after
``shadow_test_days`` the daily ICs of both over the shadow days whose labels have closed go
through the paired test of :mod:`tradai_strategy.stats.compare` (``paired_ic_test`` +
``recommend``, as ``tradai retrain --check`` does): promoted or discarded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tradai_strategy.lifecycle.simulate_report import SimEvent
from tradai_strategy.lifecycle.simulate_rules import due_on_schedule
from tradai_strategy.stats.decay import ICDecision

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.simulate_engine import _Engine, _Model


def decide(eng: _Engine, day: pd.Timestamp) -> None:
    """One day's decisions: at most one action, in the order of ``tradai retrain --check``."""
    r = eng.rules
    cur = eng.current
    ic = _ic_state(eng, day) if cur is not None else None
    if cur is not None and ic is not None and _retire(eng, cur, day, ic):
        return
    if cur is not None and r.rollback_enabled and _rollback(eng, cur, day):
        return
    if eng.challenger and day - eng.challenger[1] >= pd.Timedelta(days=r.shadow_test_days):
        _end_shadow(eng, day)
        return
    if cur is not None and ic is not None and _ic_decay(eng, cur, day, ic):
        return
    if due_on_schedule(r.interval, day, eng.last_attempt or eng.first_trained):
        _attempt(eng, day, f"schedule ({r.interval})")
        return
    if r.retrain_on_drift and _cooled(eng, day):
        reason = eng.drift(day)
        if reason:
            _attempt(eng, day, reason)


def _end_shadow(eng: _Engine, day: pd.Timestamp) -> None:
    """Promote or discard the staged challenger after its shadow days."""
    assert eng.challenger is not None
    model, since = eng.challenger
    eng.challenger = None
    promote, reason = shadow_verdict(eng, model, since, day)
    if promote:
        eng.promote(model, day)
    eng.events.append(SimEvent(day, "promoted" if promote else "discarded", reason, model.version))


def _rollback(eng: _Engine, cur: _Model, day: pd.Timestamp) -> bool:
    """Auto-rollback to the fallback on error drift, once per model; True if it acted.

    Regression targets only: a classifier's score (P(up) - 0.5) has no error in return units.
    """
    r = eng.rules
    if cur.rolled_back_from or eng.fallback() is None or eng.data[0].task != "regression":
        return False
    if day - eng.deployed_at < pd.Timedelta(days=r.error_window_days):
        return False  # not a full error window of this model yet
    ratio = eng.error_ratio(day)
    if not (np.isfinite(ratio) and ratio > r.drift_ratio):
        return False
    cur.rolled_back_from = True
    prev = eng.step_back(day)
    assert prev is not None  # fallback() was not None
    eng.events.append(
        SimEvent(
            day,
            "rolled back",
            f"error-drift ratio {ratio:.2f} > {r.drift_ratio}: v{cur.version} -> v{prev.version}",
            prev.version,
        )
    )
    return True


ICState = tuple[ICDecision, pd.Timestamp, float]  # decision, last watched day, its IC


def _ic_state(eng: _Engine, day: pd.Timestamp) -> ICState | None:
    """IC triggers on the served model's rolling IC (complete days since its deployment)."""
    daily = eng.watched_ic(day)
    found = eng.rules.watch_ic(daily) if not daily.empty else None
    if found is None:
        return None
    watched, decision = found
    return decision, pd.Timestamp(watched.index[-1]), float(watched.iloc[-1])


def _retire(eng: _Engine, cur: _Model, day: pd.Timestamp, ic: ICState) -> bool:
    """Retire the served model when its IC run below ``ic_retire_below`` is long enough."""
    r = eng.rules
    decision, _, now = ic
    if decision.retire_run_at is None:
        return False
    below = eng.step_back(day)
    eng.events.append(
        SimEvent(
            day,
            "retired",
            f"rolling IC < {r.ic_retire_below} for {r.ic_retire_days} days (now {now:+.3f}); "
            + (f"serving fallback v{below.version}" if below else "serving nothing (flat)"),
            cur.version,
        )
    )
    return True


def _ic_decay(eng: _Engine, cur: _Model, day: pd.Timestamp, ic: ICState) -> bool:
    """Retrain once per run of ``ic_retrain_days`` below ``ic_retrain_below``."""
    r = eng.rules
    decision, _, now = ic
    run_start = decision.retrain_run_at
    key = (cur.version, run_start)
    if run_start is None or key in eng.acted or not r.retrain_on_ic or not _cooled(eng, day):
        return False
    eng.acted.add(key)
    _attempt(
        eng,
        day,
        f"IC decay: rolling IC < {r.ic_retrain_below} for {r.ic_retrain_days} days "
        f"(now {now:+.3f})",
    )
    return True


def _cooled(eng: _Engine, day: pd.Timestamp) -> bool:
    last = eng.last_attempt
    return last is None or day - last >= pd.Timedelta(hours=eng.rules.cooldown_hours)


def _attempt(eng: _Engine, day: pd.Timestamp, reason: str) -> None:
    """Retrain, gate, then promote or keep."""
    eng.last_attempt = day
    cand = eng.train(day)
    eng.events.append(
        SimEvent(day, "retrained", f"{reason}; holdout IC {cand.gate_ic:+.3f}", cand.version)
    )
    gate = eng.s.min_gate_ic
    passed = f"holdout IC {cand.gate_ic:+.3f} >= {gate}"
    if np.isfinite(cand.gate_ic) and cand.gate_ic >= gate:
        if eng.rules.auto_promote or eng.rules.shadow_test_days == 0:
            eng.promote(cand, day)
            eng.events.append(SimEvent(day, "promoted", passed, cand.version))
        else:
            if eng.challenger is not None:
                old = eng.challenger[0].version
                eng.events.append(
                    SimEvent(day, "discarded", f"@challenger moved to v{cand.version}", old)
                )
            eng.challenger = (cand, day)
            eng.events.append(
                SimEvent(
                    day,
                    "staged",
                    f"{passed}; @challenger for a {eng.rules.shadow_test_days}-day shadow test "
                    "(auto_promote = false)",
                    cand.version,
                )
            )
        return
    served = eng.current
    eng.events.append(
        SimEvent(
            day,
            "kept",
            f"gate failed: holdout IC {cand.gate_ic:+.3f} < {gate}; serving "
            + (f"v{served.version}" if served else "nothing (flat)"),
            served.version if served else None,
        )
    )


def challenger_daily_ic(
    eng: _Engine, model: _Model, begin: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Daily IC of ``model``'s shadow predictions over the rows in ``[begin, end)``."""
    from tradai_strategy.stats.decay import daily_ic

    parts = []
    for i, p in enumerate(eng.data):
        rows = np.asarray((eng.dates[i] >= begin) & (eng.dates[i] < end))
        if rows.any():
            parts.append(
                pd.DataFrame(
                    {
                        "date": eng.dates[i][rows],
                        "pred": eng.predict(i, model.estimators[i], rows),
                        "realised": p.realised[rows],
                    }
                )
            )
    if not parts:
        return pd.Series(dtype=float)
    frame = pd.concat(parts, ignore_index=True).sort_values("date", kind="stable")
    return daily_ic(frame, pred="pred", realised="realised")


def shadow_verdict(
    eng: _Engine, model: _Model, since: pd.Timestamp, day: pd.Timestamp
) -> tuple[bool, str]:
    """(promote?, reason with ΔIC and p) for the challenger staged on ``since``."""
    from tradai_strategy.stats.compare import paired_ic_test, recommend

    until = eng.complete_before(day)
    new = challenger_daily_ic(eng, model, since, until)
    old = eng.watched_days(since, until)
    served = f"v{eng.current.version}" if eng.current else "nothing"
    try:
        test = paired_ic_test(new, old)
    except ValueError as err:
        return False, f"shadow test of v{model.version} vs {served}: {err.args[0].split(':')[0]}"
    verdict = recommend(test)
    return verdict == "promote", (
        f"shadow test of v{model.version} vs {served}: ΔIC {test.delta_ic:+.4f}, "
        f"p {test.p_value:.3g} over {test.n_days} days"
    )
