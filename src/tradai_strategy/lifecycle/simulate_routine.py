"""The routine a policy replay loops over: each day, the live decision on the replay's state.

:func:`replay` walks the UTC days; each day :func:`step` measures a
:class:`~tradai_strategy.lifecycle.decision.Snapshot` of the :class:`~.simulate_engine.Engine`
(:func:`snapshot`), asks :func:`tradai_strategy.lifecycle.decide.decide` — the function
``tradai retrain --check`` calls — and carries the action out on the simulated registry
(:func:`act`), as Qlib's ``OnlineManager.simulate`` loops its ``routine``.

``auto_promote = false``: a candidate that passed the holdout gate is staged as
``@challenger`` (replacing a pending one) and predicts beside the served model; after
``shadow_test_days`` the per-candle cross-sectional ICs of both over the shadow candles whose
labels have closed go through the paired test of :mod:`tradai_strategy.stats.compare`
(``paired_ic_test`` + ``recommend``, as ``tradai retrain --check`` does): promoted or
discarded. A model of more than two classes is gated, watched and shadow-tested on its
accuracy instead (:mod:`.simulate_classes`). After every retrain, retention keeps the newest
``keep_versions`` unaliased versions of the simulated registry (event ``deleted``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tradai_strategy.lifecycle.decide import challenger_status, decide, drift_table
from tradai_strategy.lifecycle.decision import FEATURE_DRIFT_OFF, NO_REALISED, Decision, Snapshot
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.simulate_engine import Engine, Model
from tradai_strategy.lifecycle.simulate_report import Replay, SimEvent
from tradai_strategy.lifecycle.simulate_rules import SimSettings, check_range, day_range
from tradai_strategy.validation.runner import PairData

Progress = Callable[[int, int], None]
DAY = pd.Timedelta(days=1)


def replay(
    data: Sequence[PairData],
    rules: RetrainPolicy,
    settings: SimSettings,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    progress: Progress | None = None,
) -> Replay:
    """Run the policy over ``[start, end)`` (UTC days): train at ``start``, then one
    :func:`step` a day; see :mod:`.simulate_engine`."""
    t0, t1 = day_range(start, end)
    check_range(data, t0, t1, settings)
    eng = Engine(data, rules, settings)
    first = eng.train(t0)
    eng.first_trained = t0
    eng.promote(first, t0)
    baseline = [pred.copy() for pred in eng.policy_pred]  # the first model, from t0 on
    baseline_class = [c.copy() for c in eng.policy_class]
    gate = first.gate_text if eng.multiclass else f"holdout IC {first.gate_ic:+.3f}"
    eng.events.append(SimEvent(t0, "promoted", f"initial model, {gate}", first.version))
    days = list(pd.date_range(t0, t1 - DAY, freq="D"))
    for n, day in enumerate(days):
        if n > 0:
            step(eng, day)
        if progress:
            progress(n + 1, len(days))
    in_range = [np.asarray((d >= t0) & (d < t1)) for d in eng.dates]
    return Replay(
        eng.events,
        eng.policy_pred,
        baseline,
        eng.version,
        in_range,
        policy_class=eng.policy_class if eng.multiclass else None,
        baseline_class=baseline_class if eng.multiclass else None,
        registry=registry_state(eng),
    )


def registry_state(eng: Engine) -> list[tuple[int, str]]:
    """The simulated registry at the end: (version, alias or "") newest first."""
    aliases = {}
    if eng.current is not None:
        aliases[eng.current.version] = "fallback" if eng.retired else "production"
    if eng.challenger is not None:
        aliases[eng.challenger[0].version] = "challenger"
    return [(v, aliases.get(v, "")) for v in sorted(eng.registered, reverse=True)]


def step(eng: Engine, day: pd.Timestamp) -> Decision:
    """One replayed retrain check at 00:00 of ``day``: measure, decide (live rules), act."""
    decision = decide(snapshot(eng, day))
    act(eng, decision, day)
    return decision


def snapshot(eng: Engine, day: pd.Timestamp) -> Snapshot:
    """What a live check would know at ``day`` if the replay's state were the registry,
    the audit trail and the prediction log."""
    p = eng.rules
    newest = eng.last_attempt or eng.first_trained  # the newest "registered" version
    challenger = None
    if eng.challenger is not None:
        staged, since = eng.challenger
        challenger = challenger_status(str(staged.version), since, day, p.shadow_test_days)
    cur = None if eng.retired else eng.current
    if cur is None:  # nothing served, or retired: no @production version
        return Snapshot(p, day, p.model_name, newest=newest, challenger=challenger)
    if eng.multiclass:  # judged on its live accuracy: no IC, no error ratio
        history = tuple(
            eng.live_accuracy(day - back * DAY) for back in range(p.accuracy_days - 1, -1, -1)
        )
        live = history[-1]
        return Snapshot(
            p,
            day,
            p.model_name,
            production=str(cur.version),
            production_created=cur.trained_at,
            newest=newest,
            error_note=f"version {cur.version} is a classifier: no baseline MAE",
            drift=_drift(eng, day)[0],
            drift_note=_drift(eng, day)[1],
            challenger=challenger,
            multiclass=True,
            accuracy=live,
            accuracy_days=history,
            accuracy_note=(
                "" if live is not None else "too few non-overlapping rows with a known regime"
            ),
        )
    ratio, note = _error_ratio(eng, cur, day)
    table, drift_note = _drift(eng, day)
    return Snapshot(
        p,
        day,
        p.model_name,
        production=str(cur.version),
        production_created=cur.trained_at,
        newest=newest,
        ic_candles=eng.watched_ic(day),
        ic_horizon=eng.s.horizon,
        ic_reference=cur.reference,
        ic_note=_ic_note(eng),
        error_ratio=ratio,
        error_note=note,
        rollback_blocked=_rollback_blocked(eng, cur),
        drift=table,
        drift_note=drift_note,
        challenger=challenger,
    )


def _drift(eng: Engine, day: pd.Timestamp) -> tuple[pd.DataFrame | None, str]:
    if not eng.rules.feature_drift:
        return None, FEATURE_DRIFT_OFF
    raw = eng.drift_table(day)
    return (None, "no recent rows") if raw is None else (drift_table(raw, eng.rules), "")


def _ic_note(eng: Engine) -> str:
    from tradai_strategy.stats.live_ic import MIN_PAIRS

    if len(eng.data) < MIN_PAIRS:
        return f"the IC rules rank pairs against each other: replay at least {MIN_PAIRS} pairs"
    return NO_REALISED


def _error_ratio(eng: Engine, cur: Model, day: pd.Timestamp) -> tuple[float | None, str]:
    """The served model's error-drift ratio, once a full error window of it is known.

    Regression targets only: a classifier's score (P(up) - 0.5) has no error in return units,
    so it has no baseline MAE (as a live version without one).
    """
    window = eng.rules.error_window_days
    if eng.data[0].task != "regression" or not np.isfinite(cur.baseline_mae):
        return None, f"version {cur.version} has no baseline MAE (classifier or no holdout)"
    if day - eng.deployed_at < pd.Timedelta(days=window):
        return None, f"version {cur.version} has served less than {window} days"
    ratio = eng.error_ratio(day)
    return (ratio, "") if np.isfinite(ratio) else (None, NO_REALISED)


def _rollback_blocked(eng: Engine, cur: Model) -> str | None:
    """Why an automatic rollback of ``cur`` may not happen (None: it may), as the live check
    reads it from the audit trail."""
    if cur.rolled_back_from:
        return f"version {cur.version} was already rolled back automatically"
    if eng.auto_rolled_back:
        return f"version {cur.version} is the target of an automatic rollback"
    if eng.fallback() is None:
        return f"no production version before {cur.version} to roll back to"
    return None


def act(eng: Engine, d: Decision, day: pd.Timestamp) -> None:
    """Carry ``d`` out on the replay's state, recording the events."""
    cur = eng.current
    if d.action == "retire":
        assert cur is not None
        below = eng.step_back(day)
        eng.retired = True
        served = f"serving fallback v{below.version}" if below else "serving nothing (flat)"
        eng.events.append(SimEvent(day, "retired", f"{d.reason}; {served}", cur.version))
    elif d.action == "rollback":
        assert cur is not None
        cur.rolled_back_from = True
        prev = eng.step_back(day)
        assert prev is not None  # the snapshot said a fallback exists
        eng.auto_rolled_back = True
        eng.events.append(
            SimEvent(
                day, "rolled back", f"{d.reason}: v{cur.version} -> v{prev.version}", prev.version
            )
        )
    elif d.action == "shadow":
        _end_shadow(eng, day)
    elif d.action == "retrain":
        _attempt(eng, day, d.reason)


def _end_shadow(eng: Engine, day: pd.Timestamp) -> None:
    """Promote or discard the staged challenger after its shadow days."""
    assert eng.challenger is not None
    model, since = eng.challenger
    eng.challenger = None
    promote, reason = shadow_verdict(eng, model, since, day)
    if promote:
        eng.promote(model, day)
    eng.events.append(SimEvent(day, "promoted" if promote else "discarded", reason, model.version))


def _attempt(eng: Engine, day: pd.Timestamp, reason: str) -> None:
    """Retrain, gate, then promote or keep."""
    eng.last_attempt = day
    cand = eng.train(day)
    _gate_and_serve(eng, day, reason, cand)
    for version in eng.retain(eng.rules.keep_versions):
        eng.events.append(
            SimEvent(
                day,
                "deleted",
                f"retention: keep_versions = {eng.rules.keep_versions} unaliased versions",
                version,
            )
        )


def _gate_and_serve(eng: Engine, day: pd.Timestamp, reason: str, cand: Model) -> None:
    gate = eng.s.min_gate_ic
    if eng.multiclass:
        eng.events.append(SimEvent(day, "retrained", reason, cand.version))
        ok = bool(cand.gate_passed)
        passed = failed = f"accuracy gate {'passed' if ok else 'refused'}: {cand.gate_text}"
    else:
        eng.events.append(
            SimEvent(day, "retrained", f"{reason}; holdout IC {cand.gate_ic:+.3f}", cand.version)
        )
        ok = bool(np.isfinite(cand.gate_ic) and cand.gate_ic >= gate)
        passed = f"holdout IC {cand.gate_ic:+.3f} >= {gate}"
        failed = f"gate failed: holdout IC {cand.gate_ic:+.3f} < {gate}"
    if ok:
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
            f"{failed}; serving " + (f"v{served.version}" if served else "nothing (flat)"),
            served.version if served else None,
        )
    )


def challenger_candle_ic(
    eng: Engine, model: Model, begin: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Per-candle cross-sectional IC of ``model``'s shadow predictions on ``[begin, end)``."""
    from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic

    rows = [np.asarray((d >= begin) & (d < end)) for d in eng.dates]
    preds = [eng.predict(i, model.estimators[i], r) for i, r in enumerate(rows)]
    frame = eng.rows_frame(rows, preds)
    if frame.empty or frame["pair"].nunique() < MIN_PAIRS:
        return pd.Series(dtype=float)
    return cross_sectional_ic(frame, pred="pred", time="date")["ic"]


def shadow_verdict(
    eng: Engine, model: Model, since: pd.Timestamp, day: pd.Timestamp
) -> tuple[bool, str]:
    """(promote?, reason with ΔIC ± s.e. and p) for the challenger staged on ``since``."""
    from tradai_strategy.stats.compare import PairedTestError, paired_ic_test, recommend

    until = eng.labelled_before(day)
    if eng.multiclass:
        from tradai_strategy.lifecycle.simulate_classes import shadow_accuracy_test

        rows = [np.asarray((d >= since) & (d < until)) for d in eng.dates]
        new_class = [np.full(len(p.X), None, dtype=object) for p in eng.data]
        for i, r in enumerate(rows):
            new_class[i][r] = eng.predict_both(i, model.estimators[i], r)[1]
        return shadow_accuracy_test(
            eng.data, eng.dates, new_class, eng.policy_class, rows, eng.s.horizon
        )
    new = challenger_candle_ic(eng, model, since, until)
    old = eng.watched_candles(since, until)["ic"]
    served = f"v{eng.current.version}" if eng.current else "nothing"
    try:
        test = paired_ic_test(new, old, eng.s.horizon)
    except PairedTestError as err:
        return False, f"shadow test of v{model.version} vs {served}: {err.args[0].split(':')[0]}"
    verdict = recommend(test)
    return verdict == "promote", (
        f"shadow test of v{model.version} vs {served}: ΔIC {test.delta_ic:+.4f} ± "
        f"{test.se:.4f}, p {test.p_value:.3g} over {test.n} candles "
        f"({test.n_periods:.0f} periods)"
    )
