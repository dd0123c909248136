"""``tradai validate --train-workers N``: the CPCV fits run on TradAI's executor (the process
pool of parallel training, issue 19) and the report equals the serial run's."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from freqai_helpers import STRATEGIES
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.data.synthetic import write_synthetic_data

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
SMALL = {"n_estimators": 50, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 100}


def cli(tmp: Path, out: Path, *options: str) -> Any:
    """``tradai validate`` (CPCV N=4, k=2, 2 seeds) of 2 synthetic pairs, in this process."""
    data = tmp / "data"
    if not data.exists():
        write_synthetic_data(PAIRS, "1h", 150, seed=11, signal="planted", datadir=data)
        cfg = build_training_config(
            StrategyMeta(pairs=PAIRS, datadir=str(data), model_training_parameters=SMALL)
        )
        (tmp / "config.json").write_text(json.dumps(cfg))
    args = ["validate", "--config", str(tmp / "config.json"), "--strategy", "RadStrategy"]
    args += ["--strategy-path", str(STRATEGIES), "--datadir", str(data)]
    args += ["--userdir", str(tmp / "user_data"), "--timerange", "20240101-20240501"]
    args += ["--cv", "cpcv", "--n-groups", "4", "--k", "2", "--seeds", "2"]
    args += ["--skip-leakage-check", "--no-tracking", "--no-report", "--json", str(out)]
    return CliRunner().invoke(app, [*args, *options])


def validate(tmp: Path, name: str, *options: str) -> dict[str, Any]:
    """The JSON report of a ``tradai validate`` run."""
    res = cli(tmp, tmp / f"{name}.json", *options)
    assert res.exit_code in (0, 1), res.output
    return dict(json.loads((tmp / f"{name}.json").read_text()))


def results(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what may differ between equal runs: timings, how they ran."""
    splits = [{k: v for k, v in row.items() if k != "fit_seconds"} for row in report["splits"]]
    kept = {k: v for k, v in report.items() if k not in ("timings", "settings", "splits")}
    return {**kept, "splits": splits}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("validate-executor")


@pytest.fixture(scope="module")
def serial(work: Path) -> dict[str, Any]:
    report = validate(work, "serial", "--jobs", "1")
    assert report["settings"]["n_splits"] == 6 and len(report["splits"]) == 2 * 6
    return report


def test_local_executor_gives_the_serial_report(work: Path, serial: dict[str, Any]) -> None:
    local = validate(work, "local", "--train-workers", "2")
    assert local["settings"]["executor"] == "local" and local["settings"]["n_jobs"] == 2
    assert results(local) == results(serial)


def test_dask_cluster_gives_the_serial_report(work: Path, serial: dict[str, Any]) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        on_dask = validate(work, "dask", "--cluster", cluster.scheduler_address)
    assert on_dask["settings"]["executor"] == cluster.scheduler_address
    assert results(on_dask) == results(serial)


def test_an_unreachable_cluster_is_one_line_before_any_work(work: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    res = cli(work, work / "unreachable.json", "--cluster", address)
    assert res.exit_code == 2, res.output
    (line,) = [ln for ln in res.output.splitlines() if "no Dask scheduler answered" in ln]
    assert line.startswith(f"error: freqai.tradai.executor.address {address}: ")
    assert "leakage check" not in res.output and "fits on" not in res.output  # nothing ran
