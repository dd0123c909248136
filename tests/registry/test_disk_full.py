"""A full disk during registration: one ``error:`` line naming what was written and where to
free space, exit 2, nothing registered, no uploads and (after a reconcile at most) no RUNNING
run left, the bundle untouched. The writes fail for real in the operating system (a file
size limit, ``RLIMIT_FSIZE``: EFBIG), except where the store must stay writable (ENOSPC
raised at the upload's fault point). Real ``tradai`` processes, a real sqlite store.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_helpers import TRADAI, bundle_runs, empty_store, tradai_process
from tiny_bundle import make_bundle

from tradai_strategy.bundle.format import MANIFEST, read_manifest
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.cli.common import handle_error
from tradai_strategy.lifecycle.promotion import Lifecycle, reconcile
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.registry.client import RegistryClient
from tradai_strategy.registry.store import sqlite_path

NAME = "tradai-crash"


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return empty_store(tmp_path)


#: bytes of the bundle's padded reference sample: larger than the store and its growth
BIG = 3_000_000


@pytest.fixture(scope="module")
def big_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny bundle whose reference sample is ~3 MB of random doubles (a valid bundle:
    the manifest lists the file's sha256)."""
    out = make_bundle(tmp_path_factory.mktemp("big") / "bundle")
    ref = out / "pairs" / "BTC_USDT" / "reference_features.parquet"
    rows = BIG // 24
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["%-f0", "%-f1", "%-f2"])
    frame.to_parquet(ref, index=False, compression=None)
    manifest = read_manifest(out)
    manifest["artifacts"]["pairs/BTC_USDT/reference_features.parquet"] = sha256_file(ref)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    assert ref.stat().st_size > BIG
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()
    }


def _file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG (SIGXFSZ ignored)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "and run again; nothing registered" in lines[0]
    return " ".join(lines[0].split())


def _artifact_files(uri: str) -> list[Path]:
    db = sqlite_path(uri)
    assert db is not None
    return [p for p in (db.parent / "mlruns").rglob("*") if p.is_file()]


def _registers_cleanly_again(uri: str, bundle: Path) -> None:
    """Nothing was lost: once there is room, the same bundle registers as version 1."""
    assert register_bundle(bundle, NAME, tracking_uri=uri) == "1"
    versions = RegistryClient(uri).versions(NAME)
    assert [v.version for v in versions] == ["1"]


def test_upload_fails_on_a_full_disk_and_the_store_still_writes(uri: str, big_bundle: Path) -> None:
    before = _snapshot(big_bundle)
    args = ["bundle", "register", str(big_bundle), "--name", NAME, "--alias", "production"]
    proc = tradai_process(uri, *args, fault="during_artifact_upload:enospc")
    line = _one_error_line(proc)
    assert f"registering {big_bundle} as {NAME} (run " in line
    assert "no space left on device (ENOSPC): free space on " in line
    assert "its uploads were deleted, the run is marked FAILED" in line
    reg = RegistryClient(uri)
    assert NAME not in reg.models()  # no model, no version, no alias
    (run,) = bundle_runs(reg)
    assert run.info.status == "FAILED"  # closed by the failing process itself
    assert _artifact_files(uri) == []  # the uploaded bundle is gone
    assert _snapshot(big_bundle) == before
    lc = Lifecycle.open(uri)
    reconcile(lc)
    assert lc.repairs == []
    _registers_cleanly_again(uri, big_bundle)


def test_upload_fails_with_the_disk_really_full_store_included(uri: str, big_bundle: Path) -> None:
    """From the upload on, every write past 300 bytes fails in the OS (EFBIG): the rest of
    the upload and every write of the sqlite store, so the run cannot be closed then."""
    before = _snapshot(big_bundle)
    proc = tradai_process(
        uri, "bundle", "register", str(big_bundle), "--name", NAME,
        fault="during_artifact_upload:fsize=300",
    )  # fmt: skip
    line = _one_error_line(proc)
    assert "file too large" in line and "(EFBIG): free space on " in line
    assert "its uploads were deleted, the run stays RUNNING until the next registry" in line
    reg = RegistryClient(uri)
    assert NAME not in reg.models()
    assert _artifact_files(uri) == []
    (run,) = bundle_runs(reg)
    assert run.info.status == "RUNNING"  # the store refused; the process is gone
    lc = Lifecycle.open(uri)
    reconcile(lc)
    (repair,) = lc.repairs
    assert "marked FAILED" in repair.note
    assert bundle_runs(reg)[0].info.status == "FAILED"
    assert _snapshot(big_bundle) == before
    _registers_cleanly_again(uri, big_bundle)


def _register_limited(uri: str, bundle: Path, limit: int, tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TRADAI_FAULT_INJECT"}
    env.update(PYTHONDONTWRITEBYTECODE="1", TMPDIR=str(tmp))
    return subprocess.run(
        [*TRADAI, "bundle", "register", str(bundle), "--name", NAME, "--tracking-uri", uri],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_file_size_limit(limit),
    )


def test_model_files_too_large_for_the_disk(uri: str, big_bundle: Path, tmp_path: Path) -> None:
    """A file size limit above the store but below the bundle's largest file: the store's
    small writes pass, the copy of the model files fails (EFBIG) before any run exists."""
    db = sqlite_path(uri)
    assert db is not None
    limit = db.stat().st_size + 512 * 1024
    assert limit < BIG
    before = _snapshot(big_bundle)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = _register_limited(uri, big_bundle, limit, scratch)
    line = _one_error_line(proc)
    assert f"preparing the MLflow model of {big_bundle} failed: file too large" in line
    assert f"free space on {scratch}" in line or f"(the filesystem holding {scratch})" in line
    reg = RegistryClient(uri)
    assert NAME not in reg.models() and bundle_runs(reg) == []
    assert list(scratch.iterdir()) == []  # the half-written model folder is gone
    assert _artifact_files(uri) == []
    assert _snapshot(big_bundle) == before
    _registers_cleanly_again(uri, big_bundle)


def test_the_store_itself_is_full(uri: str, big_bundle: Path, tmp_path: Path) -> None:
    """A limit below the sqlite file's size: its first write fails (SQLite: disk I/O error,
    SQLITE_IOERR_WRITE) — still one line, nothing registered."""
    proc = _register_limited(uri, big_bundle, 4096, tmp_path)
    line = _one_error_line(proc)
    assert "SQLite could not write the database (SQLITE_IOERR_WRITE" in line
    db = sqlite_path(uri)
    assert db is not None and f"(the filesystem holding {db.parent})" in line
    reg = RegistryClient(uri)
    assert NAME not in reg.models() and bundle_runs(reg) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), "/srv/store/f"),
        lambda: RuntimeError("(sqlite3.OperationalError) database or disk is full"),
    ],
    ids=["edquot", "sqlite-text"],
)
def test_any_wrapped_full_disk_is_one_line(
    make: Callable[[], BaseException], capsys: pytest.CaptureFixture[str]
) -> None:
    """The fallback of the one error handler: a full disk deep in an exception chain that no
    boundary converted (e.g. MLflow wrapping SQLAlchemy wrapping the OS error)."""
    try:
        try:
            raise make()
        except BaseException as inner:
            raise ValueError("MLflow: could not log") from inner
    except ValueError as err:
        code = handle_error(err)
    out = capsys.readouterr()
    assert code == 2
    (line,) = out.err.strip().splitlines()
    assert line.startswith("error: the command failed: ")
    assert "and run again" in line and "Traceback" not in out.err


def test_a_sqlite_error_code_is_recognised(capsys: pytest.CaptureFixture[str]) -> None:
    err = sqlite3.OperationalError("disk I/O error")
    err.sqlite_errorname = "SQLITE_IOERR_WRITE"  # what SQLite says for EFBIG/EDQUOT
    assert handle_error(RuntimeError("store")) == 1  # not a full disk: still a bug report
    capsys.readouterr()
    try:
        raise RuntimeError("MLflow: could not write") from err
    except RuntimeError as wrapped:
        assert handle_error(wrapped) == 2
    assert "SQLITE_IOERR_WRITE" in capsys.readouterr().err


def test_the_disk_fills_after_the_version_exists(uri: str, big_bundle: Path) -> None:
    """The version is complete; its run cannot be closed and the alias cannot be set: the
    line says so and how to set the alias; reconcile closes the run FINISHED."""
    args = ["bundle", "register", str(big_bundle), "--name", NAME, "--alias", "production"]
    proc = tradai_process(uri, *args, fault="after_version_create:fsize=300")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    line = " ".join(line.split())
    assert line.startswith("error: setting @production failed: SQLite could not write")
    assert f"tradai promote {NAME} 1 --to production" in line
    assert line.endswith(f"{NAME} version 1 is registered (complete), @production is not set")
    reg = RegistryClient(uri)
    (v,) = reg.versions(NAME)
    assert v.aliases == () and v.tags["tradai.manifest_sha256"]
    assert bundle_runs(reg)[0].info.status == "RUNNING"
    lc = Lifecycle.open(uri)
    reconcile(lc)
    (repair,) = lc.repairs
    assert "marked FINISHED" in repair.note
    code = subprocess.run(
        [*TRADAI, "promote", NAME, "1", "--reason", "registered", "--force", "--tracking-uri", uri],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert code.returncode == 0, code.stdout + code.stderr
    assert reg.aliases(NAME) == {"production": "1"}
