"""``tradai hyperopt`` on a PostgreSQL study: two worker processes finish exactly the requested
total. The test starts a throw-away PostgreSQL server (Debian's ``postgresql`` package
binaries, trust auth, fsync off) in a temporary folder and stops it afterwards; it skips,
saying why, when the server binaries or the ``psycopg`` driver (SQLAlchemy's default for
``postgresql://`` URLs) are missing."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tradai_strategy.hyperopt.data import HyperoptData
from tradai_strategy.hyperopt.space import Space
from tradai_strategy.hyperopt.study import HyperoptSettings, run_study
from tradai_strategy.replay.registry_server import free_port

pytestmark = pytest.mark.xdist_group("hyperopt")


def _bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    pytest.importorskip(
        "psycopg",
        reason="no psycopg driver (SQLAlchemy's postgresql:// default): pip install psycopg",
    )
    root = Path(tempfile.mkdtemp(prefix="tradai-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as 'postgres'
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser: cannot start PostgreSQL as 'postgres'")
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -F"
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "tradai"], **run)
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        **run,
    )
    try:
        yield f"postgresql://tradai@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], **run)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_on_postgresql_finish_exactly_the_total(
    hdata: HyperoptData,
    space: Space,
    postgres_url: str,
) -> None:
    settings = HyperoptSettings(
        n_trials=4, storage=postgres_url, workers=2, pruner="median", study_name="pg"
    )
    result = run_study(hdata, space, settings)
    assert result.n_trials == 4 and result.numbers == list(range(4)) and result.ran == 4
    again = run_study(
        hdata,
        space,
        HyperoptSettings(n_trials=5, storage=postgres_url, study_name="pg", pruner="median"),
    )
    assert again.ran == 1 and again.numbers == list(range(5))
