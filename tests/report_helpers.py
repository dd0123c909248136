"""A sqlite registry with two really trained versions of one model, for the report tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from freqai_helpers import STRATEGIES, small_training_config, timerange
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.data.synthetic import write_synthetic_data

PAIRS = ["BTC/USDT", "ETH/USDT"]
NAME = "rad-report"
runner = CliRunner()
#: one plot per section of a full report (a version with everything, compared to another)
EXPECTED_PLOTS = (
    "backtest", "window-ic", "rolling-ic", "ic-decay", "scatter", "validation", "importance",
    "importance-drift", "drift", "timeline", "compare",
)  # fmt: skip


def make_registry(tmp: Path) -> dict[str, Any]:
    """Two trained versions of NAME (v1 promoted, v2 validated) in a sqlite store."""
    from tradai_strategy.lifecycle.promotion import Lifecycle, promote
    from tradai_strategy.registry.client import RegistryClient

    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 50, seed=11, signal="planted", datadir=data)
    cfg = small_training_config(
        data, "report", pairs=PAIRS, train_period_days=20, backtest_period_days=10, trees=60
    )
    cfg_path = tmp / "report.json"
    cfg_path.write_text(json.dumps(cfg))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    args = [
        "train", "--config", str(cfg_path), "--strategy", "RadStrategy",
        "--strategy-path", str(STRATEGIES), "--datadir", str(data),
        "--userdir", str(tmp / "user_data"), "--timerange", timerange(28, 49), "--offline",
        "--tracking-uri", uri, "--model-name", NAME, "--skip-leakage-check",
    ]  # fmt: skip
    for _ in range(2):  # the second run reuses the saved windows: a fast second version
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    lc = Lifecycle.open(uri)
    promote(lc, NAME, "1", reason="first model", force=True)
    attach_validation(RegistryClient(uri), "2")
    return {"uri": uri, "tmp": tmp, "user_data": tmp / "user_data"}


def validation_report() -> Any:
    """A ValidationReport whose verdict and Sharpe figures come from real functions."""
    from tradai_strategy.stats.metrics import sharpe_ratio
    from tradai_strategy.stats.overfitting import Evidence, assess
    from tradai_strategy.validation.report import ValidationReport

    rng = np.random.default_rng(5)
    returns = [rng.normal(0.0002, 0.01, 300) for _ in range(15)]
    paths = [
        {"path": i, "n": 300, "rank_ic": float(rng.normal(0.02, 0.02)),
         "portfolio_sharpe": sharpe_ratio(r), "portfolio_sharpe_annual": sharpe_ratio(r, 730)}
        for i, r in enumerate(returns)
    ]  # fmt: skip
    verdict = assess(Evidence.from_returns(0.01, 0.02, 0.4, np.concatenate(returns)))
    splits = [{"split": j, "test": f"{j},{j + 1}", "rank_ic": 0.01 * j} for j in range(5)]
    return ValidationReport(
        settings={"strategy": "RadStrategy", "cv": "cpcv", "pairs": PAIRS},
        pairs={p: {"rows": 1000} for p in PAIRS},
        splits=splits,
        paths=paths,
        summary={"rank_ic": 0.01, "rank_ic_se": 0.02},
        ic_decay={1: 0.03, 6: 0.02, 12: 0.01, 24: -0.005},
        verdict=verdict,
    )


def attach_validation(reg: Any, version: str) -> None:
    """Log a validation report as ``tradai validate`` does and link it the way the gate does."""
    from tradai_strategy.validation.tracking import log_report

    run_id = log_report(validation_report(), reg.uri)
    reg.set_tags(NAME, version, {"tradai.validation_run_id": run_id})
