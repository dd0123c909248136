"""A cheap registry (two validated versions, no training) and planted prediction logs for
the retrain-check and shadow tests."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.monitoring.prediction_log import PredictionLog
from tradai_strategy.registry.audit import AUDIT_DB

NAME = "tradai-rt"


def build_store(root: Path) -> Path:
    """NAME versions 1 (@fallback) and 2 (@production after 1), both validated."""
    lc = Lifecycle.open(f"sqlite:///{root / 'mlflow.db'}")
    lc.registry.client.create_registered_model(NAME)
    for _ in range(2):
        mv = lc.registry.client.create_model_version(NAME, root.as_uri())
        tags = {
            "tradai.validation_status": "passed",
            "tradai.label_period_candles": "1",
            "tradai.manifest_sha256": f"{int(mv.version):064x}",  # never promoted without one
        }
        lc.registry.set_tags(NAME, mv.version, tags)
    promote(lc, NAME, "1", alias="fallback", reason="safe baseline")
    promote(lc, NAME, "1", reason="first")
    promote(lc, NAME, "2", reason="better IC")
    return root


def copy_store(template: Path, dest: Path) -> Lifecycle:
    """A fresh copy of the template store and its audit trail in ``dest``."""
    for f in ("mlflow.db", AUDIT_DB):
        shutil.copy(template / f, dest / f)
    return Lifecycle.open(f"sqlite:///{dest / 'mlflow.db'}")


def policy(lc: Lifecycle, log: PredictionLog, **changes: object) -> RetrainPolicy:
    base = RetrainPolicy(
        model_name=NAME,
        tracking_uri=lc.registry.uri,
        prediction_log=str(log.path),
        interval="none",
        retrain_on_drift=False,
        feature_drift=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def day0() -> pd.Timestamp:
    """Midnight after the versions were registered: the log starts there."""
    return pd.Timestamp.now(tz="UTC").floor("D") + pd.Timedelta(days=1)


PAIRS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def plant(log: PredictionLog, version: str, signs: list[int], *, error: float = 0.0) -> None:
    """One day of 24 hourly rows per sign and pair (3 pairs): prediction = sign * realised
    (+ error), so the cross-sectional IC of every candle of a day is exactly ``sign``
    (error = 0) and the MAE exactly ``error`` when sign = +1."""
    rng = np.random.default_rng(0)
    times = pd.date_range(day0(), periods=24 * len(signs), freq="h")
    sign = np.repeat(np.asarray(signs, float), 24)
    for pair in PAIRS:
        realised = rng.normal(0, 0.01, len(times))
        rows = pd.DataFrame(
            {
                "time": times,
                "pair": pair,
                "model": NAME,
                "version": version,
                "prediction": sign * realised + error,
            }
        )
        log.log(rows)
        log.record_realised(pd.DataFrame({"time": times, "pair": pair, "realised": realised}))


def at(day: int) -> pd.Timestamp:
    """The last hour of log day ``day``."""
    return day0() + pd.Timedelta(days=day, hours=23)
