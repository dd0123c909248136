"""Parallel pre-training of a FreqAI backtest gives the serial run's files, predictions and
trades (issue 19): serial vs a local process pool vs a Dask cluster on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, run_training_backtest, small_training_config, timerange

from tradai_strategy.data.synthetic import write_synthetic_data

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("freqai-pretrain")]

TRADE_COLUMNS = ["pair", "open_date", "close_date", "open_rate", "close_rate", "profit_abs"]
IDENT = "pretrain-eq"


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pretrain-candles")
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 110, seed=5, signal="planted", datadir=d)
    return d


def run(
    tmp: Path, candles: Path, executor: dict[str, Any] | None, classifier: bool = False
) -> tuple[Any, Path]:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["freqai"]["save_backtest_models"] = True  # models, pipelines, native copies too
        if executor is not None:
            cfg["freqai"]["tradai"]["executor"] = executor

    result, _, model_dir = run_training_backtest(
        tmp,
        candles,
        identifier=IDENT,
        tr=timerange(40, 100),
        config_edit=edit,
        freqaimodel="TrainingClassifierModel" if classifier else "TrainingPredictionModel",
        meta_overrides={"target": "updown"} if classifier else None,
    )
    return result, model_dir


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, candles: Path) -> tuple[Any, Path]:
    return run(tmp_path_factory.mktemp("serial"), candles, None)


def model_files(model_dir: Path) -> list[str]:
    """The files of a model folder, minus the run's config copies and logs."""
    return sorted(
        str(p.relative_to(model_dir))
        for p in model_dir.rglob("*")
        if p.is_file() and (p.suffix != ".json" or p.name.endswith("_metadata.json"))
    )


def read_json(model_dir: Path, name: str) -> Any:
    """A JSON file of a model folder, with the folder's own path written as <dir>."""
    return json.loads((model_dir / name).read_text().replace(str(model_dir), "<dir>"))


def assert_same_run(a: tuple[Any, Path], b: tuple[Any, Path]) -> None:
    (res_a, dir_a), (res_b, dir_b) = a, b
    files = model_files(dir_a)
    assert files == model_files(dir_b)
    assert sum(f.endswith("_model.joblib") for f in files) == 6  # save_backtest_models
    native = [f for f in files if f.endswith(".lgb.txt")]  # TradAI's own copies, byte for byte
    assert len(native) == 6
    assert all((dir_a / f).read_bytes() == (dir_b / f).read_bytes() for f in native)
    preds = sorted((dir_a / "backtesting_predictions").glob("*.feather"))
    assert len(preds) == 2 * 3  # 2 pairs x 3 windows
    for path in preds:
        fa = pd.read_feather(path)
        fb = pd.read_feather(dir_b / "backtesting_predictions" / path.name)
        assert list(fa.columns) == list(fb.columns)
        assert fa["date"].equals(fb["date"])
        num = fa.select_dtypes("number").columns
        np.testing.assert_allclose(fa[num].to_numpy(), fb[num].to_numpy(), rtol=0, atol=1e-9)
    metas = [str(p.relative_to(dir_a)) for p in dir_a.glob("sub-train-*/*_metadata.json")]
    for name in [*metas, "tradai_metrics.json", "pair_dictionary.json"]:
        assert read_json(dir_a, name) == read_json(dir_b, name), name
    assert len(res_a.trades) > 0
    pd.testing.assert_frame_equal(
        res_a.trades[TRADE_COLUMNS].reset_index(drop=True),
        res_b.trades[TRADE_COLUMNS].reset_index(drop=True),
    )


def pretrained(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "fits of 2 pairs trained" in r.getMessage()]


def test_local_pool_gives_the_serial_run(
    tmp_path: Path, candles: Path, serial: Any, caplog: pytest.LogCaptureFixture
) -> None:
    local = run(tmp_path, candles, {"backend": "local", "workers": 2})
    (line,) = pretrained(caplog)
    assert line.startswith("TradAI: 6 fits of 2 pairs trained on local (2 workers)")
    assert_same_run(serial, local)


def test_classifier_local_pool_gives_the_serial_run(tmp_path: Path, candles: Path) -> None:
    (tmp_path / "serial").mkdir()
    (tmp_path / "local").mkdir()
    serial = run(tmp_path / "serial", candles, None, classifier=True)
    local = run(tmp_path / "local", candles, {"backend": "local", "workers": 2}, classifier=True)
    assert_same_run(serial, local)


@pytest.fixture
def dask_cluster() -> Any:
    """A real Dask scheduler and 2 worker processes on 127.0.0.1, closed after the test."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)


def test_dask_cluster_gives_the_serial_run(
    tmp_path: Path, candles: Path, serial: Any, dask_cluster: str, caplog: pytest.LogCaptureFixture
) -> None:
    on_dask = run(tmp_path, candles, {"backend": "dask", "address": dask_cluster})
    (line,) = pretrained(caplog)
    assert line.startswith(f"TradAI: 6 fits of 2 pairs trained on dask ({dask_cluster})")
    assert_same_run(serial, on_dask)


def test_unreachable_cluster_is_one_line_before_training(
    tmp_path: Path, candles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Exception, match="no Dask scheduler answered") as err:
        run(tmp_path, candles, {"backend": "dask", "address": address})
    assert address in str(err.value)
    assert not any("Starting training" in r.getMessage() for r in caplog.records)


def test_tradai_backtest_train_workers(
    tmp_path: Path, candles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from freqtrade.configuration.directory_operations import create_userdata_dir
    from typer.testing import CliRunner

    from tradai_strategy.cli.app import app

    cfg = small_training_config(candles, "pretrain-cli")
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    create_userdata_dir(str(tmp_path / "ud"), create_dir=True)
    args = ["backtest", "--offline", "--config", str(tmp_path / "c.json")]
    args += ["--strategy", "RadStrategy", "--strategy-path", str(STRATEGIES)]
    args += ["--freqaimodel", "TrainingPredictionModel", "--datadir", str(candles)]
    args += ["--userdir", str(tmp_path / "ud"), "--timerange", timerange(40, 100)]
    res = CliRunner().invoke(app, [*args, "--train-workers", "2"])
    assert res.exit_code == 0, res.output
    (line,) = pretrained(caplog)
    assert line.startswith("TradAI: 6 fits of 2 pairs trained on local (2 workers)")
    preds = tmp_path / "ud" / "models" / "pretrain-cli" / "backtesting_predictions"
    assert len(list(preds.glob("*.feather"))) == 6
    assert not [k for k in os.environ if k.startswith("FREQTRADE__FREQAI__TRADAI")]


def test_a_failing_fit_is_one_line_naming_pair_and_window(tmp_path: Path, candles: Path) -> None:
    def classifier_on_returns(cfg: dict[str, Any]) -> None:
        cfg["freqai"]["tradai"]["executor"] = {"backend": "local", "workers": 2}

    with pytest.raises(
        Exception, match="TrainingClassifierModel is a classifier but &-s_close"
    ) as err:
        run_training_backtest(
            tmp_path,
            candles,
            identifier="pretrain-fail",
            freqaimodel="TrainingClassifierModel",
            tr=timerange(40, 100),
            config_edit=classifier_on_returns,
        )
    message = str(err.value)
    assert "USDT window " in message and "(training 2024" in message
    assert "\n" not in message.strip()
