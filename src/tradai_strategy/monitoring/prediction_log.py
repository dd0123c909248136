"""The prediction log: every dry-run/live prediction and, once known, its realised target.

A local sqlite file (default ``<userdir>/tradai_predictions.sqlite``, WAL mode) with one
row per (model, version, role, pair, candle time). ``role`` is ``champion`` (the served
model, used for trading) or ``shadow`` (a challenger predicting beside it, not traded).
Times are the candle's open time, stored as UTC epoch milliseconds.

Realised targets are filled later with :meth:`PredictionLog.record_realised` (rows
``time, pair, realised``); :func:`realised_from_candles` computes them from candles with the
strategy's own label (forward mean return over ``label_period_candles``), only for candles
whose horizon has passed. ``TradAIMLflowModel``'s logger
(:mod:`tradai_strategy.serving.live_log`) does the same on every new live candle through
the array methods :meth:`PredictionLog.insert` and :meth:`PredictionLog.set_realised`.

A classifier's rows also carry its predicted class (``label``), every class probability
(``probabilities``, a JSON object), the label horizon (``horizon``) and, once the forward
window has passed, the realised class (``realised_label``): :meth:`PredictionLog.insert_classes`,
:meth:`PredictionLog.set_realised_labels`, read back by :meth:`PredictionLog.class_frame`.
Their numeric ``prediction`` is the model's score where it has one (``P(up)`` of an up/down
model) and empty otherwise (a regime model). A log written before these columns existed is
given them when opened.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.core.labels import forward_mean_return

FILENAME = "tradai_predictions.sqlite"
ROLES = ("champion", "shadow")
_LOG_COLUMNS = ("time", "pair", "model", "version", "prediction")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    time_ms    INTEGER NOT NULL,
    pair       TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    role       TEXT    NOT NULL DEFAULT 'champion',
    prediction REAL,
    realised   REAL,
    PRIMARY KEY (model, version, role, pair, time_ms)
);
CREATE INDEX IF NOT EXISTS predictions_model_time ON predictions (model, time_ms);
CREATE INDEX IF NOT EXISTS predictions_pair_time ON predictions (pair, time_ms);
"""
#: a classifier's columns (added to a log written before them)
_CLASS_COLUMNS = {
    "label": "TEXT",
    "probabilities": "TEXT",
    "realised_label": "TEXT",
    "horizon": "INTEGER",
}


def default_prediction_log_path(userdir: str | Path) -> Path:
    """``<userdir>/tradai_predictions.sqlite``."""
    return Path(userdir) / FILENAME


def epoch_ms(values: pd.Series, what: str) -> np.ndarray:
    """Timestamps (UTC; naive ones taken as UTC) as int64 epoch milliseconds, the log's time
    key; ``what`` names the input in the error for values that are not all timestamps."""
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
    except (TypeError, ValueError) as err:
        raise MonitoringError(f"{what}: column 'time' is not timestamps ({err})") from None
    if stamps.hasnans:
        raise MonitoringError(f"{what}: column 'time' has empty values: every row needs a time")
    return np.asarray(stamps.as_unit("ms").asi8, dtype=np.int64)


def _require(rows: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise MonitoringError(
            f"{what}: missing column(s) {', '.join(missing)} (need {', '.join(columns)})"
        )


class PredictionLog:
    """sqlite-backed prediction log; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            have = {row[1] for row in con.execute("PRAGMA table_info(predictions)")}
            for name, kind in _CLASS_COLUMNS.items():
                if name not in have:
                    con.execute(f"ALTER TABLE predictions ADD COLUMN {name} {kind}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=10)
            # WAL + NORMAL: no fsync per commit (a crash can lose the last rows, never
            # corrupt the file); a live bot writes here on every candle
            con.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as err:
            raise self._unusable(err) from None
        try:
            with con:  # commit or roll back
                yield con
        except sqlite3.DatabaseError as err:  # not a database, corrupt, locked for 10 s
            raise self._unusable(err) from None
        finally:
            con.close()

    def _unusable(self, err: sqlite3.Error) -> MonitoringError:
        what = " ".join(str(err).split())
        fix = (
            "another process holds it: retry, or stop the other writer"
            if "locked" in what
            else "move it aside (the bot starts a new one) or restore it from a backup"
        )
        return MonitoringError(f"prediction log {self.path} is unusable ({what}): {fix}")

    def log(self, rows: pd.DataFrame) -> int:
        """Insert (or replace) predictions: columns time, pair, model, version, prediction
        and optionally role (default ``champion``). Returns the number of rows written."""
        _require(rows, _LOG_COLUMNS, "prediction log rows")
        if rows.empty:
            return 0
        roles = rows["role"] if "role" in rows.columns else pd.Series("champion", index=rows.index)
        return self.insert(
            epoch_ms(rows["time"], "prediction log rows"),
            rows["pair"].astype(str).tolist(),
            rows["model"].astype(str).tolist(),
            rows["version"].astype(str).tolist(),
            roles.astype(str).tolist(),
            pd.to_numeric(rows["prediction"], errors="coerce").to_numpy(float),
        )

    def insert(
        self,
        time_ms: np.ndarray,
        pair: str | list[str],
        model: str | list[str],
        version: str | list[str],
        role: str | list[str],
        prediction: np.ndarray,
    ) -> int:
        """:meth:`log` on plain arrays (epoch milliseconds; a str is the same for every row):
        the live writer's path, which builds no DataFrame (pandas' string columns are slow
        to build row by row, and the writer shares the GIL with the bot)."""
        n = len(time_ms)
        cols = [[c] * n if isinstance(c, str) else list(c) for c in (pair, model, version, role)]
        bad = sorted(set(cols[3]) - set(ROLES))
        if bad:
            raise MonitoringError(f"role {bad[0]!r} is not one of {', '.join(ROLES)}")
        values = [None if np.isnan(x) else float(x) for x in np.asarray(prediction, float)]
        with self._connect() as con:
            con.executemany(
                "INSERT INTO predictions (time_ms, pair, model, version, role, prediction) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, version, role, pair, time_ms) "
                "DO UPDATE SET prediction = excluded.prediction",
                zip(np.asarray(time_ms, np.int64).tolist(), *cols, values, strict=True),
            )
        return n

    def insert_classes(
        self,
        time_ms: np.ndarray,
        pair: str,
        model: str,
        version: str,
        role: str,
        labels: np.ndarray,
        proba: np.ndarray,
        classes: list[str],
        horizon: int,
        score: np.ndarray | None = None,
    ) -> int:
        """A classifier's predictions: the predicted class of each row, its probability of
        every class (``proba``: rows x ``classes``), the label horizon and the numeric score
        (None: no score, ``prediction`` stays empty)."""
        if role not in ROLES:
            raise MonitoringError(f"role {role!r} is not one of {', '.join(ROLES)}")
        n = len(time_ms)
        prob = np.asarray(proba, float).reshape(n, len(classes))
        names = [str(c) for c in classes]
        docs = [json.dumps(dict(zip(names, row, strict=True))) for row in prob.tolist()]
        values = (
            [None] * n
            if score is None
            else [None if np.isnan(x) else float(x) for x in np.asarray(score, float)]
        )
        text = [None if v is None or v != v else str(v) for v in list(labels)]
        with self._connect() as con:
            con.executemany(
                "INSERT INTO predictions (time_ms, pair, model, version, role, prediction, "
                "label, probabilities, horizon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (model, version, role, pair, time_ms) DO UPDATE SET "
                "prediction = excluded.prediction, label = excluded.label, "
                "probabilities = excluded.probabilities, horizon = excluded.horizon",
                (
                    (t, pair, model, version, role, v, lab, doc, int(horizon))
                    for t, v, lab, doc in zip(
                        np.asarray(time_ms, np.int64).tolist(), values, text, docs, strict=True
                    )
                ),
            )
        return n

    def set_realised_labels(self, time_ms: np.ndarray, pair: str, labels: np.ndarray) -> int:
        """Set ``realised_label`` (the class that happened) on every logged row of ``pair``
        at those times; missing labels (None/NaN) are skipped."""
        rows = [
            (str(lab), pair, t)
            for t, lab in zip(np.asarray(time_ms, np.int64).tolist(), list(labels), strict=True)
            if lab is not None and lab == lab
        ]
        if not rows:
            return 0
        with self._connect() as con:
            cur = con.executemany(
                "UPDATE predictions SET realised_label = ? WHERE pair = ? AND time_ms = ? "
                "AND label IS NOT NULL",
                rows,
            )
            return int(cur.rowcount)

    def class_frame(
        self,
        model: str | None = None,
        since: pd.Timestamp | None = None,
        *,
        role: str | None = None,
    ) -> pd.DataFrame:
        """A classifier's logged rows sorted by time: time, pair, model, version, role,
        horizon, predicted, realised (the class, None until known) and one probability
        column per class (columns sorted by name)."""
        where, params = self._where(model, since, role)
        sql = (
            "SELECT time_ms, pair, model, version, role, horizon, label, realised_label, "
            "probabilities FROM predictions WHERE label IS NOT NULL"
        )
        if where:
            sql += " AND " + " AND ".join(where)
        sql += " ORDER BY time_ms, pair, model, version, role"
        with self._connect() as con:
            out = pd.read_sql_query(sql, con, params=params)
        out.insert(0, "time", pd.to_datetime(out.pop("time_ms"), unit="ms", utc=True))
        out = out.rename(columns={"label": "predicted", "realised_label": "realised"})
        proba = pd.DataFrame([json.loads(doc) for doc in out.pop("probabilities")])
        proba = proba.reindex(columns=sorted(proba.columns)).astype(float)
        out["realised"] = out["realised"].astype(object).where(out["realised"].notna(), None)
        return pd.concat([out, proba.set_axis(out.index)], axis=1)

    def _where(
        self, model: str | None, since: pd.Timestamp | None, role: str | None
    ) -> tuple[list[str], list[object]]:
        where: list[str] = []
        params: list[object] = []
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if role is not None:
            where.append("role = ?")
            params.append(role)
        if since is not None:
            where.append("time_ms >= ?")
            start = pd.Timestamp(since)
            start = start.tz_localize("UTC") if start.tzinfo is None else start
            params.append(int(start.value // 1_000_000))
        return where, params

    def record_realised(self, rows: pd.DataFrame) -> int:
        """Set ``realised`` on every logged row of the same pair and time (all models and
        roles). Columns time, pair, realised; NaN realised values are skipped. Returns the
        number of log rows updated."""
        _require(rows, ("time", "pair", "realised"), "realised rows")
        return self.set_realised(
            epoch_ms(rows["time"], "realised rows"),
            rows["pair"].astype(str).tolist(),
            pd.to_numeric(rows["realised"], errors="coerce").to_numpy(float),
        )

    def set_realised(self, time_ms: np.ndarray, pair: str | list[str], realised: np.ndarray) -> int:
        """:meth:`record_realised` on plain arrays (a str pair for every row)."""
        values = np.asarray(realised, float)
        keep = ~np.isnan(values)
        if not keep.any():
            return 0
        pairs = [pair] * len(values) if isinstance(pair, str) else list(pair)
        with self._connect() as con:
            cur = con.executemany(
                "UPDATE predictions SET realised = ? WHERE pair = ? AND time_ms = ?",
                (
                    (v, p, t)
                    for v, p, t, k in zip(
                        values.tolist(),
                        pairs,
                        np.asarray(time_ms, np.int64).tolist(),
                        keep.tolist(),
                        strict=True,
                    )
                    if k
                ),
            )
            return int(cur.rowcount)

    def frame(
        self,
        model: str | None = None,
        since: pd.Timestamp | None = None,
        *,
        role: str | None = None,
    ) -> pd.DataFrame:
        """Logged rows sorted by time: time (UTC), pair, model, version, role, prediction,
        realised (NaN until known)."""
        where, params = self._where(model, since, role)
        sql = "SELECT time_ms, pair, model, version, role, prediction, realised FROM predictions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time_ms, pair, model, version, role"
        with self._connect() as con:
            out = pd.read_sql_query(sql, con, params=params)
        out.insert(0, "time", pd.to_datetime(out.pop("time_ms"), unit="ms", utc=True))
        for col in ("prediction", "realised"):
            out[col] = out[col].astype(float)
        return out

    def prune(self, retention_days: int = 30, *, now: pd.Timestamp | None = None) -> int:
        """Delete rows older than ``retention_days`` before ``now`` (default: the wall clock).
        Returns the number of rows deleted."""
        if retention_days <= 0:
            raise MonitoringError(f"retention_days: must be > 0, got {retention_days}")
        ref = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        if ref.tzinfo is None:
            ref = ref.tz_localize("UTC")
        cutoff = int((ref - pd.Timedelta(days=retention_days)).value // 1_000_000)
        with self._connect() as con:
            cur = con.execute("DELETE FROM predictions WHERE time_ms < ?", (cutoff,))
            return int(cur.rowcount)


def realised_from_candles(
    candles: pd.DataFrame, horizon: int, *, pair: str, date: str = "date"
) -> pd.DataFrame:
    """Realised targets (``time, pair, realised``) of the candles whose horizon has passed.

    ``realised`` is the strategy's label ``mean(close[t+1..t+h]) / close[t] - 1`` (see
    :func:`tradai_strategy.core.labels.forward_mean_return`); the last ``horizon``
    candles have no realised value yet and are left out.
    """
    _require(candles, (date, "close"), "candles")
    values = forward_mean_return(candles["close"].to_numpy(float), horizon)
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(candles[date], utc=True).to_numpy(),
            "pair": pair,
            "realised": values,
        }
    )
    out["time"] = pd.to_datetime(out["time"], utc=True)
    return out.dropna(subset=["realised"]).reset_index(drop=True)
