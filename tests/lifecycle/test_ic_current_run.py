"""IC triggers on a second low-IC run: the current run, not the first one, decides."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from tradai_strategy.lifecycle.policy import RetrainPolicy
from tradai_strategy.lifecycle.retrain import Decision
from tradai_strategy.lifecycle.retrain_rules import ic_rules
from tradai_strategy.stats.decay import ic_triggers

START = pd.Timestamp("2025-03-01", tz="UTC")
# IC +1 for 5 days, -1 for 10 (run 1: days 5-14), +1 for 5, -1 for 10 (run 2: days 20-29)
SIGNS = [1] * 5 + [-1] * 10 + [1] * 5 + [-1] * 10


def _rows(signs: list[int]) -> pd.DataFrame:
    """3 pairs x 24 hourly rows a day whose cross-sectional IC is exactly the day's sign."""
    times = pd.date_range(START, periods=24 * len(signs), freq="h")
    rng = np.random.default_rng(0)
    sign = np.repeat(np.asarray(signs, float), 24)
    parts = []
    for pair in ("A/USDT", "B/USDT", "C/USDT"):
        realised = rng.normal(0, 0.01, len(times))
        parts.append(
            pd.DataFrame(
                {"time": times, "pair": pair, "prediction": sign * realised, "realised": realised}
            )
        )
    return pd.concat(parts, ignore_index=True)


def _day(i: int) -> pd.Timestamp:
    return START + pd.Timedelta(days=i)


def test_current_run_fields_name_the_second_run() -> None:
    ic = pd.Series(np.asarray(SIGNS, float), index=pd.date_range(START, periods=len(SIGNS)))
    decision = ic_triggers(ic, retrain_days=10, retire_days=10)
    assert decision.retrain_at == _day(14)  # the first run (unchanged)
    assert decision.retrain_run_at == _day(29) and decision.retire_run_at == _day(29)
    assert ic_triggers(ic.iloc[:-1], retrain_days=10).retrain_run_at is None


def test_a_second_decay_run_after_a_retrain_triggers_again() -> None:
    pol = RetrainPolicy(model_name="m", ic_window_days=1, ic_retire_days=40)
    d = Decision(pol, _day(29), "m", "2")
    ic_rules(d, _rows(SIGNS), newest=_day(20), horizon=1)  # retrained after run 1
    (finding,) = d.findings
    assert d.action == "retrain", finding.message
    assert "trigger day 2025-03-30" in finding.message
    # the retire message dates the current run too
    short = Decision(replace(pol, ic_retire_days=10), _day(29), "m", "2")
    ic_rules(short, _rows(SIGNS), newest=_day(20), horizon=1)
    assert short.action == "retire" and "since 2025-03-21" in short.findings[0].message
