"""The state of a policy replay (:func:`tradai_strategy.lifecycle.simulate_routine.replay`
walks it day by day; :func:`~tradai_strategy.lifecycle.decide.decide` decides each day).

Each UTC day of ``[start, end)`` is one decision point ``T`` (00:00 of the day):

1. Information: a row's label (it reads ``close[t + h]``) is known once that candle has
   closed, at ``date + (h + 1) candles <= T``; a candle's cross-sectional IC enters the
   watched series once its label is known, as in the live prediction log. Features of rows
   opened before ``T`` are known. The IC series restarts at each deployment; the
   error-drift ratio is measured once a full ``error_window_days`` of the served model's
   rows is known; feature drift compares the served model's training rows with the last
   ``drift_window_days`` (all pairs in one table).
2. Decision: the same function as ``tradai retrain --check`` (:mod:`.decide`), on a
   snapshot of this state (:func:`~tradai_strategy.lifecycle.simulate_routine.snapshot`).
3. Retrain: one estimator per pair on the trailing ``train_period_days`` of labelled rows
   (purged: every label closed by ``T``). Gate: the same estimator fitted on the window
   without its newest ``holdout_fraction`` (purged again) must reach ``min_gate_ic`` on that
   holdout, measured as the cross-sectional IC (one pair: the IC of every ``h``-th row)
   (that IC, with its s.e., is the reference of the retrain
   rule; its MAE there is the baseline of the error-drift ratio); the full-window model is
   then promoted (``auto_promote``) or staged for a shadow test, else the served model is
   kept.
4. The served model predicts the day's rows (strictly out of sample).

A target of more than two classes (the regimes) has no numeric score: the gate is the
accuracy gate and the decision reads the live accuracy (:mod:`.simulate_classes`). Every
candidate is registered in the simulated registry; after each retrain, retention deletes all
but the newest ``keep_versions`` unaliased versions (``@production``, ``@challenger`` stay),
as ``tradai retrain --check`` does; a deleted model can no longer be rolled back to.

The baseline arm never retrains: the model trained at ``start`` predicts every day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.simulate_report import SimEvent
from tradai_strategy.lifecycle.simulate_rules import SimSettings
from tradai_strategy.validation.runner import PairData


@dataclass
class Model:
    """A trained candidate: one estimator per pair, its training window and gate numbers."""

    version: int
    estimators: list[Any]
    trained_at: pd.Timestamp
    train_masks: list[npt.NDArray[np.bool_]]
    gate_ic: float
    baseline_mae: float
    rolled_back_from: bool = False  # auto-rollback fires at most once per model
    #: holdout cross-sectional IC and its s.e. (None: one pair, or no holdout IC)
    reference: tuple[float, float] | None = None
    #: more than two classes: the accuracy gate's verdict, its text and holdout accuracy
    gate_passed: bool | None = None
    gate_text: str = ""
    gate_accuracy: float = float("nan")


class Engine:
    """State of one replay; :func:`~.simulate_routine.replay` drives it day by day."""

    def __init__(
        self, data: Sequence[PairData], rules: RetrainPolicy, settings: SimSettings
    ) -> None:
        from freqtrade.exchange import timeframe_to_minutes

        self.data, self.rules, self.s = data, rules, settings
        step = pd.Timedelta(minutes=timeframe_to_minutes(settings.timeframe))
        self.step = step
        self.dates = [pd.DatetimeIndex(p.dates) for p in data]
        # the label of the row opened at t reads close[t + h]: known when that candle closes
        self.label_end = [d + (settings.horizon + 1) * step for d in self.dates]
        self.days_of = [d.normalize() for d in self.dates]
        self.events: list[SimEvent] = []
        self.next_version = 1
        self.stack: list[Model] = []  # production history, the served model on top
        self.current: Model | None = None
        self.first_trained = pd.Timestamp(0, tz="UTC")
        # per-candle cross-sectional IC of the served predictions (column ic)
        self.candle_ic = pd.DataFrame({"ic": [], "pairs": []}, index=pd.DatetimeIndex([], tz="UTC"))
        self.acted: set[tuple[int, pd.Timestamp]] = set()  # IC-decay runs already acted on
        self.deployed_at = pd.Timestamp(0, tz="UTC")
        self.last_attempt: pd.Timestamp | None = None
        self.challenger: tuple[Model, pd.Timestamp] | None = None  # staged model, since
        # as the audit trail tells the live check: the last production move was an automatic
        # rollback; the served model was retired (no @production until the next promotion)
        self.auto_rolled_back = False
        self.retired = False
        self.policy_pred = [np.full(len(p.X), np.nan) for p in data]
        self.version = [np.full(len(p.X), np.nan) for p in data]
        from tradai_strategy.validation.classes import is_multiclass

        self.multiclass = is_multiclass(data)
        #: the served class of every row (more than two classes; None: nothing served)
        self.policy_class = [np.full(len(p.X), None, dtype=object) for p in data]
        self.registered: list[int] = []  # the simulated registry's versions
        #: live accuracy of the served model per decision day (cleared at each deployment)
        self.accuracy_at: dict[pd.Timestamp, Any] = {}

    # ---- training -----------------------------------------------------------------------
    def _fit(self, pair: int, rows: npt.NDArray[np.bool_], seed: int) -> Any:
        from tradai_strategy.models.estimators import build_estimator, fit_estimator

        p = self.data[pair]
        model = build_estimator(self.s.estimator, p.task, self.s.params, seed, self.s.threads)
        data = {
            "train_features": p.X[rows],
            "train_labels": p.y[rows],
            "train_weights": np.ones(int(rows.sum())),
        }
        return fit_estimator(model, data, early_stopping_rounds=0)

    def predict(self, pair: int, model: Any, rows: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
        """``model`` (one pair's estimator)'s predictions for the given rows of pair ``pair``."""
        return self.predict_both(pair, model, rows)[0]

    def predict_both(
        self, pair: int, model: Any, rows: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """(numeric score, predicted class or None) of ``model`` on the given rows."""
        from tradai_strategy.models.fitting import predict_scores

        if not rows.any():
            return np.empty(0), np.empty(0, dtype=object)
        score, classes = predict_scores(model, self.data[pair].X[rows], self.data[pair].task)
        if classes is None:
            return score, np.full(len(score), None, dtype=object)
        return score, np.asarray(classes).astype(str).astype(object)

    def train(self, at: pd.Timestamp) -> Model:
        """Candidate trained on the purged window ending at ``at``, with its gate numbers."""
        begin = at - pd.Timedelta(days=self.s.train_period_days)
        estimators, masks, hold_pred, hold_real, hold_rows = [], [], [], [], []
        hold_class = []
        for i, p in enumerate(self.data):
            window = np.asarray((self.dates[i] >= begin) & (self.label_end[i] <= at))
            n = int(window.sum())
            if n < self.s.min_train_rows:
                raise TradAIDataError(
                    f"{p.pair}: only {n} labelled rows in the training window "
                    f"{begin:%Y-%m-%d}..{at:%Y-%m-%d}: raise train_period_days or add candles"
                )
            idx = np.flatnonzero(window)
            cut = idx[int(len(idx) * (1.0 - self.s.holdout_fraction))]
            hold = window & (np.arange(len(window)) >= cut)
            gate_rows = window & np.asarray(self.label_end[i] <= self.dates[i][cut])
            gate_model = self._fit(i, gate_rows, self.s.seed + self.next_version)
            score, classes = self.predict_both(i, gate_model, hold)
            hold_pred.append(score)
            hold_class.append(classes)
            hold_real.append(p.realised[hold])
            hold_rows.append(hold)
            estimators.append(self._fit(i, window, self.s.seed + self.next_version))
            masks.append(window)
        pred, real = np.concatenate(hold_pred), np.concatenate(hold_real)
        ok = np.isfinite(pred) & np.isfinite(real)
        mae = float(np.mean(np.abs(pred[ok] - real[ok]))) if ok.any() else float("nan")
        if self.multiclass:  # no numeric score: the accuracy gate (module docstring)
            from tradai_strategy.lifecycle.simulate_classes import holdout_gate

            passed, text, accuracy = holdout_gate(
                self.data, masks, hold_rows, hold_class, self.s.horizon, self.rules
            )
            gate_ic, reference, mae = float("nan"), None, float("nan")
        else:
            passed, text, accuracy = None, "", float("nan")
            gate_ic, reference = self.holdout_ic(hold_rows, hold_pred)
        model = Model(
            version=self.next_version,
            estimators=estimators,
            trained_at=at,
            train_masks=masks,
            gate_ic=gate_ic,
            baseline_mae=mae,
            reference=reference,
            gate_passed=passed,
            gate_text=text,
            gate_accuracy=accuracy,
        )
        self.registered.append(self.next_version)
        self.next_version += 1
        return model

    def retain(self, keep: int) -> list[int]:
        """Retention on the simulated registry: delete all but the newest ``keep`` unaliased
        versions (the served ``@production`` and a staged ``@challenger`` stay); the deleted
        ones leave the rollback history too. Returns them, newest first."""
        aliased = set()
        if self.current is not None:  # @production, or the @fallback served after a retirement
            aliased.add(self.current.version)
        if self.challenger is not None:
            aliased.add(self.challenger[0].version)
        unaliased = [v for v in sorted(self.registered, reverse=True) if v not in aliased]
        doomed = unaliased[keep:]
        self.registered = [v for v in self.registered if v not in doomed]
        self.stack = [m for m in self.stack if m.version not in doomed or m is self.current]
        return doomed

    def rows_frame(
        self, rows: Sequence[npt.NDArray[np.bool_]], preds: Sequence[npt.NDArray[Any]]
    ) -> pd.DataFrame:
        """Columns date, pair, pred, realised of the given rows of each pair."""
        parts = [
            pd.DataFrame(
                {
                    "date": self.dates[i][r],
                    "pair": p.pair,
                    "pred": preds[i],
                    "realised": p.realised[r],
                }
            )
            for i, (p, r) in enumerate(zip(self.data, rows, strict=True))
            if r.any()
        ]
        if not parts:
            return pd.DataFrame(
                {"date": pd.DatetimeIndex([], tz="UTC"), "pair": [], "pred": [], "realised": []}
            )
        return pd.concat(parts, ignore_index=True).sort_values("date", kind="stable")

    def holdout_ic(
        self, rows: Sequence[npt.NDArray[np.bool_]], preds: Sequence[npt.NDArray[Any]]
    ) -> tuple[float, tuple[float, float] | None]:
        """(gate IC, reference) of the holdout predictions: the cross-sectional IC with its
        s.e. (two pairs or more), else the pooled IC of every h-th row of the one pair."""
        from tradai_strategy.stats.ic import non_overlapping_ic
        from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic, window_ic

        frame = self.rows_frame(rows, preds)
        if len(self.data) < MIN_PAIRS:
            return non_overlapping_ic(frame["pred"], frame["realised"], self.s.horizon).ic, None
        candles = cross_sectional_ic(frame, pred="pred", time="date")
        w = window_ic(candles["ic"], self.s.horizon)
        ok = np.isfinite(w.ic) and np.isfinite(w.se)
        return w.ic, ((w.ic, w.se) if ok else None)

    # ---- serving ------------------------------------------------------------------------
    def deploy(self, model: Model | None, day: pd.Timestamp) -> None:
        """Serve ``model`` (None: nothing, flat) from ``day`` on."""
        self.current = model
        self.deployed_at = day
        self.accuracy_at = {}
        for i in range(len(self.data)):
            rows = np.asarray(self.dates[i] >= day)
            if model is None:
                self.policy_pred[i][rows] = np.nan
                self.policy_class[i][rows] = None
                self.version[i][rows] = np.nan
            else:
                score, classes = self.predict_both(i, model.estimators[i], rows)
                self.policy_pred[i][rows] = score
                self.policy_class[i][rows] = classes
                self.version[i][rows] = model.version
        self._score_days(day)

    def fallback(self) -> Model | None:
        """The production model before the served one (the ``@fallback``), if any."""
        return self.stack[-2] if len(self.stack) >= 2 else None

    def promote(self, model: Model, day: pd.Timestamp) -> None:
        self.stack.append(model)
        self.auto_rolled_back = self.retired = False
        self.deploy(model, day)

    def step_back(self, day: pd.Timestamp) -> Model | None:
        """Drop the served model (rolled back or retired); serve the one below, if any."""
        if self.stack:
            self.stack.pop()
        below = self.stack[-1] if self.stack else None
        self.deploy(below, day)
        return below

    # ---- monitoring ---------------------------------------------------------------------
    def served(self, begin: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Served predictions and realised values of the rows in ``[begin, end)``."""
        rows = [
            np.asarray((d >= begin) & (d < end)) & np.isfinite(pred)
            for d, pred in zip(self.dates, self.policy_pred, strict=True)
        ]
        return self.rows_frame(
            rows, [pred[r] for pred, r in zip(self.policy_pred, rows, strict=True)]
        )

    def _score_days(self, day: pd.Timestamp) -> None:
        """Cross-sectional IC of every served candle from ``day`` on (called when the served
        model changes; :meth:`watched_ic` only reads the candles whose labels have closed)."""
        from tradai_strategy.stats.live_ic import MIN_PAIRS, cross_sectional_ic

        kept = self.candle_ic[self.candle_ic.index < day]
        if self.multiclass:  # P(last class) has no IC worth watching
            self.candle_ic = kept
            return
        fresh = self.served(day, pd.Timestamp.max.tz_localize("UTC"))
        if len(fresh) and len(self.data) >= MIN_PAIRS:
            new = cross_sectional_ic(fresh, pred="pred", time="date")
            kept = pd.concat([kept, new]) if len(kept) else new
        self.candle_ic = kept

    def watched_candles(self, begin: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Per-candle IC (columns ic, pairs) of the served predictions on ``[begin, end)``."""
        index = self.candle_ic.index
        return self.candle_ic[(index >= begin) & (index < end)]

    def labelled_before(self, at: pd.Timestamp) -> pd.Timestamp:
        """Candles opened before this have a known label at ``at``."""
        return at - self.s.horizon * self.step - self.step + pd.Timedelta(microseconds=1)

    def watched_ic(self, at: pd.Timestamp) -> pd.DataFrame:
        """Per-candle IC of the served model since its deployment, labels known at ``at``."""
        return self.watched_candles(self.deployed_at, self.labelled_before(at))

    def live_accuracy(self, at: pd.Timestamp) -> Any:
        """Live accuracy at ``at`` of the served model since its deployment (labels known at
        ``at``, the last ``accuracy_window_days``); None below the minimum of rows."""
        if at < self.deployed_at:  # before this model served: nothing of it to judge
            return None
        if at not in self.accuracy_at:  # as known on that day (labels closed by then)
            self.accuracy_at[at] = self._live_accuracy(at)
        return self.accuracy_at[at]

    def _live_accuracy(self, at: pd.Timestamp) -> Any:
        from tradai_strategy.lifecycle.simulate_classes import served_accuracy

        return served_accuracy(
            self.data,
            self.dates,
            self.policy_class,
            self.deployed_at,
            self.labelled_before(at),
            at,
            self.s.horizon,
            self.rules.accuracy_window_days,
        )

    def error_ratio(self, at: pd.Timestamp) -> float:
        """Error-drift ratio of the served model (labelled rows since deployment)."""
        from tradai_strategy.stats.decay import error_drift_ratio

        cur = self.current
        if cur is None or not np.isfinite(cur.baseline_mae) or cur.baseline_mae <= 0:
            return float("nan")
        known = self.served(self.deployed_at, at - self.s.horizon * self.step)
        if known.empty:
            return float("nan")
        errors = pd.Series(
            np.abs(known["pred"] - known["realised"]).to_numpy(),
            index=pd.DatetimeIndex(known["date"]),
        )
        return error_drift_ratio(errors, cur.baseline_mae, window_days=self.rules.error_window_days)

    def drift_table(self, at: pd.Timestamp) -> pd.DataFrame | None:
        """KS drift table (columns pair, feature, ks, level) of every pair's features: the
        served model's training rows against the last ``drift_window_days``; None without
        enough rows."""
        from tradai_strategy.stats.drift import feature_drift

        if self.current is None:
            return None
        tables = []
        begin = at - pd.Timedelta(days=self.rules.drift_window_days)
        for i, p in enumerate(self.data):
            recent = np.asarray((self.dates[i] >= begin) & (self.dates[i] < at))
            ref = self.current.train_masks[i]
            if recent.sum() < 2 or ref.sum() < 2:
                continue
            table = feature_drift(
                pd.DataFrame(p.X[ref], columns=p.features),
                pd.DataFrame(p.X[recent], columns=p.features),
                warn=self.rules.ks_warn,
                critical=self.rules.ks_retrain,
            )
            table = table.reset_index() if "feature" not in table.columns else table
            tables.append(table.assign(pair=p.pair))
        return pd.concat(tables, ignore_index=True) if tables else None
