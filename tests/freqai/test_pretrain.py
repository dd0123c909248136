"""Parallel pre-training of a FreqAI backtest gives the serial run's files, predictions and
trades (issue 19): serial vs a local process pool vs a Dask cluster on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from freqai_helpers import STRATEGIES, run_training_backtest, small_training_config, timerange
from pretrain_helpers import assert_same_run, run, write_candles

from tradai_strategy.models.executor import ClusterUnreachableError

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("freqai-pretrain")]


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_candles(tmp_path_factory.mktemp("pretrain-candles"))


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory, candles: Path) -> tuple[Any, Path]:
    return run(tmp_path_factory.mktemp("serial"), candles, None)


def pretrained(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "fits of 2 pairs trained" in r.getMessage()]


def test_local_pool_gives_the_serial_run(
    tmp_path: Path,
    candles: Path,
    serial: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import freqtrade.data.btanalysis as btanalysis

    recounted: list[int] = []  # the pass's own precision recount (freqtrade's is imported)
    counted = btanalysis.get_tick_size_over_time
    monkeypatch.setattr(
        btanalysis,
        "get_tick_size_over_time",
        lambda frame: recounted.append(len(frame)) or counted(frame),
    )
    local = run(tmp_path, candles, {"backend": "local", "workers": 2})
    (line,) = pretrained(caplog)
    assert line.startswith("TradAI: 6 fits of 2 pairs trained on local (2 workers)")
    assert_same_run(serial, local)
    assert recounted == []  # every pair's candles came from the backtest's own frames


def test_classifier_local_pool_gives_the_serial_run(tmp_path: Path, candles: Path) -> None:
    (tmp_path / "serial").mkdir()
    (tmp_path / "local").mkdir()
    serial = run(tmp_path / "serial", candles, None, classifier=True)
    local = run(tmp_path / "local", candles, {"backend": "local", "workers": 2}, classifier=True)
    assert_same_run(serial, local)


def test_dask_cluster_gives_the_serial_run(
    tmp_path: Path,
    candles: Path,
    serial: Any,
    dask_scheduler: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    on_dask = run(tmp_path, candles, {"backend": "dask", "address": dask_scheduler})
    (line,) = pretrained(caplog)
    assert line.startswith(f"TradAI: 6 fits of 2 pairs trained on dask ({dask_scheduler})")
    assert_same_run(serial, on_dask)


def cli_backtest(tmp_path: Path, candles: Path, ident: str, *options: str) -> Any:
    """``tradai backtest`` of the small training config, in this process."""
    from freqtrade.configuration.directory_operations import create_userdata_dir
    from typer.testing import CliRunner

    from tradai_strategy.cli.app import app

    cfg = small_training_config(candles, ident)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    create_userdata_dir(str(tmp_path / "ud"), create_dir=True)
    args = ["backtest", "--offline", "--config", str(tmp_path / "c.json")]
    args += ["--strategy", "RadStrategy", "--strategy-path", str(STRATEGIES)]
    args += ["--freqaimodel", "TrainingPredictionModel", "--datadir", str(candles)]
    args += ["--userdir", str(tmp_path / "ud"), "--timerange", timerange(40, 100)]
    return CliRunner().invoke(app, [*args, *options])


def test_unreachable_cluster_is_one_line_before_training(
    tmp_path: Path, candles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    started = time.monotonic()
    res = cli_backtest(tmp_path, candles, "pretrain-unreachable", "--cluster", address)
    assert time.monotonic() - started < 30  # refused: no 10 s of Dask retries either
    assert res.exit_code == 2, res.output
    (line,) = [ln for ln in res.output.splitlines() if "no Dask scheduler answered" in ln]
    assert line.startswith(f"error: freqai.tradai.executor.address {address}: ")
    assert "connection refused" in line and "Traceback" not in res.output
    assert not any("Starting training" in r.getMessage() for r in caplog.records)
    assert not list((tmp_path / "ud" / "models").rglob("*_metadata.json"))  # nothing trained


def test_a_port_that_never_answers_is_one_line_in_bounded_time() -> None:
    pytest.importorskip("distributed")
    from tradai_strategy.models.executor import HANDSHAKE_MARGIN_S, connect

    with socket.socket() as silent:  # accepts connections (the backlog), never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ClusterUnreachableError, match="gave no Dask handshake within"):
            connect(address, timeout=0.5)
        assert time.monotonic() - started < 0.5 + HANDSHAKE_MARGIN_S + 3


def test_tradai_backtest_train_workers(
    tmp_path: Path, candles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    res = cli_backtest(tmp_path, candles, "pretrain-cli", "--train-workers", "2")
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
