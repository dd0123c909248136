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
