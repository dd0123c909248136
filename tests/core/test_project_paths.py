"""Run-folder names: one UTC stamp for train, validate and compare."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest

from tradai_strategy.core.paths import RUN_STAMP, run_folder


def test_run_folder_stamp_is_utc_whatever_the_local_zone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Etc/GMT+5")  # local time 5 h behind UTC
    time.tzset()
    try:
        before = time.time()
        folder = run_folder(tmp_path, "tradai")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert folder.parent == tmp_path / "tradai_runs"
    prefix, stamp = folder.name.rsplit("-", 1)
    assert prefix == "tradai" and stamp.endswith("Z")
    written = calendar.timegm(time.strptime(stamp, RUN_STAMP))  # the stamp read as UTC
    assert abs(written - before) < 5
    assert not folder.exists()


SHIMS = (
    "CatboostClassifier",
    "CatboostRegressor",
    "TradAIMLflowModel",
    "TradAIPredictionModel",
    "TrainingClassifierModel",
    "TrainingPredictionModel",
)


def test_freqaimodel_shims_come_from_the_package_whatever_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retrain job and `tradai train` find the shims outside a checkout (the old lookup
    searched the working folder for RadStrategy.py); freqtrade's own resolver loads each."""
    from freqtrade.resolvers.freqaimodel_resolver import FreqaiModelResolver

    from tradai_strategy.core.paths import freqaimodels_path

    monkeypatch.chdir(tmp_path)
    folder = freqaimodels_path()
    assert folder.is_dir()
    for name in SHIMS:
        cls, path = FreqaiModelResolver._search_object(folder, object_name=name)
        assert cls is not None and path == folder / f"{name}.py", name
        assert cls.__mro__[1].__name__ == name  # a one-line subclass of our model
    # the checkout's user_data shims are links to the same files: one copy of each
    checkout = Path(__file__).resolve().parents[2] / "user_data" / "freqaimodels"
    for name in SHIMS:
        assert (checkout / f"{name}.py").resolve() == (folder / f"{name}.py").resolve()
