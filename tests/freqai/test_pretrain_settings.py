"""freqai.tradai.executor: parsing, refusals, and the executor's failure lines (no FreqAI run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from executor_tasks import die_once, fit_like

from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.settings import ExecutorSettings
from tradai_strategy.freqai.pretrain import check_parallel_model
from tradai_strategy.freqai.pretrain_windows import worker_config
from tradai_strategy.freqai.pretrain_worker import RegressionFit
from tradai_strategy.models.executor import FitFailedError, iter_tasks, run_tasks
from tradai_strategy.registry.faults import FAULT_ENV


def cfg(executor: Any = None, **freqai: Any) -> dict[str, Any]:
    tradai: dict[str, Any] = {} if executor is None else {"executor": executor}
    return {"freqai": {"tradai": tradai, **freqai}, "timeframe": "1h"}


def test_default_is_serial_and_values_are_read() -> None:
    assert ExecutorSettings.from_config(cfg()) == ExecutorSettings("serial", None, None)
    got = ExecutorSettings.from_config(cfg({"backend": "dask", "address": "tcp://h:8786"}))
    assert got == ExecutorSettings("dask", None, "tcp://h:8786")
    assert ExecutorSettings.from_config(cfg({"backend": "LOCAL", "workers": 3})).workers == 3


@pytest.mark.parametrize(
    ("executor", "says"),
    [
        ({"backend": "ray"}, "backend 'ray' is unknown: use one of serial, local, dask"),
        ({"backend": "local", "worker": 2}, "executor.worker is unknown: did you mean workers?"),
        ({"backend": "local", "workers": 0}, "workers must be a positive integer"),
        ({"backend": "local", "address": "tcp://h:1"}, "needs backend dask"),
        ("local", "must be an object"),
    ],
)
def test_bad_executor_settings_are_one_line(executor: Any, says: str) -> None:
    with pytest.raises(TradAIConfigError, match=None) as err:
        ExecutorSettings.from_config(cfg(executor))
    assert says in str(err.value) and "\n" not in str(err.value)


class FakeModel:
    task = "regression"
    train = RegressionFit.train
    fit = RegressionFit.fit
    predict = RegressionFit.predict
    define_data_pipeline = RegressionFit.define_data_pipeline
    define_label_pipeline = RegressionFit.define_label_pipeline

    def __init__(self, **freqai: Any) -> None:
        self.config = cfg(**freqai)


def test_continual_learning_and_overridden_fit_are_refused() -> None:
    check_parallel_model(FakeModel())
    with pytest.raises(TradAIConfigError, match="continual_learning trains each window"):
        check_parallel_model(FakeModel(continual_learning=True))

    class OwnFit(FakeModel):
        def fit(self, *a: Any, **k: Any) -> None: ...

    with pytest.raises(TradAIConfigError, match=r"OwnFit overrides fit\(\)"):
        check_parallel_model(OwnFit())


def test_workers_get_no_tradai_block() -> None:
    config = cfg({"backend": "local"}, identifier="x")
    config["exchange"] = {"key": "secret"}
    shipped = worker_config(config)
    assert shipped["freqai"] == {"identifier": "x"} and "exchange" not in shipped


def flaky(task: tuple[str, int]) -> int:
    name, n = task
    if name == "data":
        raise TradAIDataError("BTC/USDT: feature x is all NaN")
    if name == "crash":
        raise RuntimeError("boom\nsecond line")
    return n * 2


def test_failures_name_the_task_in_one_line() -> None:
    serial = ExecutorSettings()
    assert run_tasks(flaky, [("ok", 1), ("ok", 2)], serial) == [2, 4]
    label = lambda t: f"{t[0]} window {t[1]}"  # noqa: E731
    with pytest.raises(FitFailedError) as err:
        run_tasks(flaky, [("ok", 1), ("crash", 2)], serial, label=label)
    assert str(err.value).startswith("crash window 2 failed twice (RuntimeError: boom)")
    with pytest.raises(FitFailedError, match=r"^data window 3: BTC/USDT: feature x is all NaN$"):
        run_tasks(flaky, [("data", 3)], serial, label=label)


def test_local_pool_restarts_once_after_a_dead_worker(tmp_path: Any) -> None:
    marker = str(tmp_path / "died")
    settings = ExecutorSettings("local", 1)
    assert run_tasks(die_once, [marker], settings) == [7]


def test_local_pool_reruns_the_running_fits_after_a_death(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [(name, n) for n, name in enumerate("abcdef")]
    local = ExecutorSettings("local", 2)
    monkeypatch.setenv(FAULT_ENV, f"during_fit:once={tmp_path / 'died'}")
    assert run_tasks(fit_like, tasks, local) == [0, 2, 4, 6, 8, 10]
    assert (tmp_path / "died").exists()
    # "c" dies beside another fit, then alone: it is named, not the fit beside it
    monkeypatch.setenv(FAULT_ENV, "during_fit@c")
    label = lambda t: f"{t[0]} window {t[1]}"  # noqa: E731
    with pytest.raises(FitFailedError) as err:
        run_tasks(fit_like, tasks, local, label=label)
    assert str(err.value).startswith("c window 2: its worker process died twice (killed: out")


def test_cli_options_become_config_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    from freqtrade.configuration.environment_vars import environment_vars_to_dict

    from tradai_strategy.models.executor_options import executor_options, overrides

    assert overrides(None, None) == {}
    with executor_options(2, None):
        got = environment_vars_to_dict()["freqai"]["tradai"]
    assert ExecutorSettings.from_config(cfg(got["executor"])) == ExecutorSettings("local", 2)
    with executor_options(None, "tcp://127.0.0.1:8786"):
        got = environment_vars_to_dict()["freqai"]["tradai"]
    assert got["executor"] == {"backend": "dask", "address": "tcp://127.0.0.1:8786"}
    assert "freqai" not in environment_vars_to_dict()


def test_more_threads_than_cores_is_warned(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tradai_strategy.freqai import pretrain

    monkeypatch.setattr(pretrain, "usable_cores", lambda: 2)
    pretrain.warn_oversubscribed(cfg(data_kitchen_thread_count=1), 2)
    assert not caplog.records
    pretrain.warn_oversubscribed(cfg(), 2)  # unset: every fit uses every core
    (record,) = caplog.records
    assert "2 training workers x 2 estimator threads on 2 cores" in record.getMessage()
    assert "data_kitchen_thread_count to 1" in record.getMessage()


def test_dask_retries_once_then_names_the_task() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        settings = ExecutorSettings("dask", None, cluster.scheduler_address)
        assert run_tasks(flaky, [("ok", 1), ("ok", 2)], settings) == [2, 4]
        label = lambda t: f"{t[0]} window {t[1]}"  # noqa: E731
        with pytest.raises(FitFailedError, match=r"^crash window 2 failed twice \(RuntimeError"):
            run_tasks(flaky, [("ok", 1), ("crash", 2)], settings, label=label)
        assert_tasks_taken_as_workers_free_up(settings)


def assert_tasks_taken_as_workers_free_up(settings: ExecutorSettings) -> None:
    """The executor takes a task when a worker can start it and hands results out in task
    order as they come: a lazy caller never holds every task's data at once."""
    taken: list[int] = []

    def source() -> Iterator[tuple[str, int]]:
        for n in range(8):
            taken.append(n)
            yield ("x", n)

    results = iter_tasks(fit_like, source(), settings, in_flight=2)
    assert next(results) == 0 and len(taken) <= 3
    assert list(results) == [2, 4, 6, 8, 10, 12, 14] and len(taken) == 8


def test_local_pool_takes_tasks_as_workers_free_up() -> None:
    assert_tasks_taken_as_workers_free_up(ExecutorSettings("local", 2))


def test_dask_gives_work_to_workers_that_join_a_running_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        ahead: list[int] = []  # tasks taken and not finished, after each finished one
        tasks = (("x", n) for n in range(40))
        settings = ExecutorSettings("dask", None, cluster.scheduler_address)
        results = iter_tasks(fit_like, tasks, settings, on_done=lambda d, t: ahead.append(t - d))
        assert next(results) == 0
        assert max(ahead) <= 3  # one worker thread: 4 in flight
        cluster.scale(3)  # e.g. another machine's dask worker starts
        client.wait_for_workers(3, timeout=60)
        assert list(results) == [2 * n for n in range(1, 40)]
        assert max(ahead) >= 5  # three threads: 6 in flight


def test_rows_before_a_window_end_are_freqais_rows_and_writes_stay_there() -> None:
    import pandas as pd

    from tradai_strategy.freqai.pretrain_windows import rows_before

    dates = pd.Series(pd.date_range("2025-01-01", periods=10, freq="h", tz="UTC"))
    frame = pd.DataFrame({"date": dates, "%x": range(10)})
    end = dates[6].to_pydatetime()
    for ordered in (True, False):
        got = rows_before(frame, end, ordered)
        pd.testing.assert_frame_equal(got, frame.loc[frame["date"] < end, :])
        got["&target"] = 1.0  # what set_freqai_targets does to it
        got.loc[:, "%x"] = -1
        assert list(frame.columns) == ["date", "%x"] and frame["%x"].tolist() == list(range(10))
    assert rows_before(frame, dates[0].to_pydatetime(), True).empty


def test_the_fork_server_starts_only_for_a_local_backtest(monkeypatch: pytest.MonkeyPatch) -> None:
    from freqtrade.enums import RunMode

    import tradai_strategy.models.executor as executor

    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(executor, "warm_up", lambda preload: started.append(tuple(preload)))

    def config(runmode: Any, backend: str, **tradai: Any) -> dict[str, Any]:
        freqai = {"enabled": True, "tradai": {"executor": {"backend": backend}, **tradai}}
        return {**cfg(), "freqai": freqai, "runmode": runmode}

    assert executor.warm_up_backtest(config(RunMode.BACKTEST, "local", estimator="catboost"))
    assert started == [(*executor.FREQAI_FIT_MODULES, "catboost")]
    assert not executor.warm_up_backtest(config(RunMode.DRY_RUN, "local"))  # no windows
    assert not executor.warm_up_backtest(config(RunMode.BACKTEST, "serial"))
    assert not executor.warm_up_backtest(config(RunMode.BACKTEST, "dask"))
    # a config the model will refuse in one line is left to the model
    assert not executor.warm_up_backtest(config(RunMode.BACKTEST, "ray"))
    assert len(started) == 1
