"""Crash-safe registration and retirement: a real ``tradai`` process killed at each injected
point (``TRADAI_FAULT_INJECT``, exit 137 as abrupt as SIGKILL), then: nothing servable is
wrong, the next start's reconcile repairs what was left, nothing the user made is lost.
Real sqlite MLflow registry, a tiny real bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from registry_helpers import bundle_runs, cli, empty_store, make_store, tradai_process
from tiny_bundle import make_bundle

from tradai_strategy.bundle.format import MANIFEST, load_bundle
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIError
from tradai_strategy.lifecycle.promotion import (
    Lifecycle,
    promote,
    reconcile,
    retire,
    rollback,
)
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.registry.client import RegistryClient, RegistryError
from tradai_strategy.serving.loader import (
    ModelNotFoundError,
    NoServableVersionError,
    RegistryBundleLoader,
    choose_serving,
)

NAME = "tradai-crash"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "bundle")


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return empty_store(tmp_path)


def _served_predictions(uri: str, version: str, cache: Path) -> Any:
    loader = RegistryBundleLoader(f"models:/{NAME}/{version}", cache, uri)
    return loader.fetch(*loader.resolve())


def _same_predictions(a: Any, b: Any) -> bool:
    frame = pd.read_parquet(b.path / "pairs" / "BTC_USDT" / "reference_features.parquet")
    pa, _, _ = a.model("BTC/USDT").predict(frame)
    pb, _, _ = b.model("BTC/USDT").predict(frame)
    return bool((pa.to_numpy() == pb.to_numpy()).all())


@pytest.mark.parametrize("point", ["during_artifact_upload", "before_version_create"])
def test_killed_before_the_version_exists(
    uri: str, bundle: Path, tmp_path: Path, point: str
) -> None:
    before = sha256_file(bundle / MANIFEST)
    proc = tradai_process(uri, "bundle", "register", str(bundle), "--name", NAME, fault=point)
    assert proc.returncode == 137, proc.stdout + proc.stderr
    reg = RegistryClient(uri)
    # nothing servable is wrong: no version exists at all
    assert NAME not in reg.models()
    with pytest.raises(ModelNotFoundError):
        RegistryBundleLoader(f"models:/{NAME}@production", tmp_path / "c", uri).resolve()
    (run,) = bundle_runs(reg)
    assert run.info.status == "RUNNING"  # what the kill left
    assert run.data.tags[tag.BUNDLE_PATH] == str(bundle.resolve())
    # the next start repairs it: the dead process's run is FAILED, with the fix
    lc = Lifecycle.open(uri)
    assert reconcile(lc) == []
    (repair,) = lc.repairs
    assert "marked FAILED" in repair.note and str(bundle.resolve()) in repair.note
    assert f"tradai bundle register {bundle.resolve()} --name {NAME}" in repair.note
    (run,) = bundle_runs(reg)
    assert run.info.status == "FAILED" and "left RUNNING" in run.data.tags[tag.RECONCILED]
    again = Lifecycle.open(uri)
    reconcile(again)
    assert again.repairs == []  # repaired once
    # nothing lost: the bundle is intact and registers as version 1, served verified
    assert sha256_file(bundle / MANIFEST) == before
    assert register_bundle(bundle, NAME, tracking_uri=uri) == "1"
    served = _served_predictions(uri, "1", tmp_path / "cache")
    assert _same_predictions(served, load_bundle(bundle))


def test_killed_after_the_version_exists(uri: str, bundle: Path, tmp_path: Path) -> None:
    args = ["bundle", "register", str(bundle), "--name", NAME, "--alias", "production"]
    proc = tradai_process(uri, *args, fault="after_version_create")
    assert proc.returncode == 137, proc.stdout + proc.stderr
    reg = RegistryClient(uri)
    (v,) = reg.versions(NAME)
    # the version is complete (every tag was written with it); only the alias is missing
    assert v.tags[tag.MANIFEST] == sha256_file(bundle / MANIFEST)
    assert v.tags[tag.MODEL_FILES] and v.tags[f"{tag.TRAIN_END_PREFIX}BTC/USDT"]
    assert v.aliases == ()
    with pytest.raises(NoServableVersionError, match="alias production not found"):
        RegistryBundleLoader(f"models:/{NAME}@production", tmp_path / "c", uri).resolve()
    assert _same_predictions(_served_predictions(uri, "1", tmp_path / "c"), load_bundle(bundle))
    (run,) = bundle_runs(reg)
    assert run.info.status == "RUNNING"
    lc = Lifecycle.open(uri)
    reconcile(lc)
    (repair,) = lc.repairs
    assert "marked FINISHED" in repair.note and f"{NAME} version 1" in repair.note
    assert bundle_runs(reg)[0].info.status == "FINISHED"
    # nothing lost: the version is promotable and then served
    promote(lc, NAME, "1", reason="registered before the crash", force=True)
    loader = RegistryBundleLoader(f"models:/{NAME}@production", tmp_path / "d", uri)
    assert loader.resolve()[0] == "1"


def test_a_half_registered_version_is_never_served_or_promoted(
    uri: str, bundle: Path, tmp_path: Path
) -> None:
    """What a kill right after version creation left before registration became atomic: a
    READY version without tags, pointing at real files, force-promoted."""
    assert register_bundle(bundle, NAME, alias="fallback", tracking_uri=uri) == "1"
    reg = RegistryClient(uri)
    good = reg.version(NAME, "1")
    source = reg.client.get_model_version_download_uri(NAME, "1")
    bare = reg.client.create_model_version(NAME, source=source, run_id=good.run_id)
    assert str(bare.version) == "2"
    reg.client.set_registered_model_alias(NAME, "production", "2")  # the old --force path
    # serving skips it (one line naming why) and serves the verified @fallback
    info, notes = choose_serving(reg, NAME)
    assert info is not None and info.version == "1"
    assert notes == [
        "@production is unverified (version 2: no tradai.manifest_sha256 tag: its files "
        "cannot be verified)"
    ]
    pinned = RegistryBundleLoader(f"models:/{NAME}/2", tmp_path / "c", uri)
    with pytest.raises(NoServableVersionError, match=r"models:/tradai-crash/2 is unverified"):
        pinned.resolve()
    with pytest.raises(TradAIError, match=r"has no tradai\.manifest_sha256 tag") as err:
        pinned.fetch("2", None)
    assert "\n" not in str(err.value)
    # never promotable, not even forced (CLI: exit 2, one line)
    code, out = cli(uri, "promote", NAME, "2", "--force", "--reason", "trust me")
    assert code == 2
    assert "version 2 is unverified" in out and "not even with --force" in out
    lc = Lifecycle.open(uri)
    with pytest.raises(RegistryError, match="can never be rolled back to"):
        rollback(lc, NAME, to="2", reason="no")
    # the CLI session above reconciled: version 2 tagged incomplete, its alias released
    v2 = reg.version(NAME, "2")
    assert v2.tags[tag.STATE] == "incomplete" and v2.aliases == ()
    rows = [(e.action, e.alias, e.from_version, e.to_version) for e in lc.audit.events(NAME)]
    assert ("reconcile", "production", None, "2") in rows  # the move it never recorded
    assert rows[-1] == ("reconcile", "production", "2", None)
    assert lc.audit.events(NAME)[-1].details["reconciled"] is True
    # nothing lost: version 1 and its files untouched, still served
    assert reg.aliases(NAME) == {"fallback": "1"}
    assert _same_predictions(_served_predictions(uri, "1", tmp_path / "e"), load_bundle(bundle))


@pytest.fixture
def two_versions(tmp_path: Path) -> str:
    """NAME v1 @fallback and @production before v2; v2 @production and @staging."""
    uri = make_store(tmp_path, NAME, ["passed", "passed"])
    lc = Lifecycle.open(uri)
    promote(lc, NAME, 1, alias="fallback", reason="baseline")
    promote(lc, NAME, 1, reason="first")
    promote(lc, NAME, 2, reason="better")
    promote(lc, NAME, 2, alias="staging", reason="stage")
    return uri


@pytest.mark.parametrize("point", ["after_retire_tag", "after_retire_aliases"])
def test_killed_while_retiring(two_versions: str, point: str) -> None:
    uri = two_versions
    lc = Lifecycle.open(uri)
    history = [(e.id, e.action, e.alias, e.to_version) for e in lc.audit.events(NAME)]
    proc = tradai_process(uri, "retire", NAME, "2", "--reason", "IC decayed", fault=point)
    assert proc.returncode == 137, proc.stdout + proc.stderr
    reg = lc.registry
    assert reg.version(NAME, "2").tags[tag.RETIRED] == "true"
    held = {"production": "2", "staging": "2", "fallback": "1"}
    assert reg.aliases(NAME) == (held if point == "after_retire_tag" else {"fallback": "1"})
    assert len(lc.audit.events(NAME)) == len(history)  # no row committed
    # nothing servable is wrong: the retired version is skipped even while it holds aliases
    info, _ = choose_serving(reg, NAME)
    assert info is not None and info.version == "1"
    # the next start repairs it: rows marked reconciled, aliases gone
    events = reconcile(lc)
    assert reg.aliases(NAME) == {"fallback": "1"}
    rows = [(e.action, e.alias, e.from_version, e.to_version) for e in events]
    assert rows[0] == ("retire", None, "2", None)
    assert events[0].details["reconciled"] is True and "IC decayed" in events[0].reason
    if point == "after_retire_tag":
        assert rows[1:] == [("retire", "production", "2", None), ("retire", "staging", "2", None)]
        assert all(e.details["reconciled"] for e in events)
    else:  # the aliases went before the rows: recorded as moves the trail missed
        assert rows[1:] == [
            ("reconcile", "production", "2", None),
            ("reconcile", "staging", "2", None),
        ]
    assert reconcile(lc) == []
    # nothing lost: the earlier history is intact; version 2 exists, retired for good
    after = [(e.id, e.action, e.alias, e.to_version) for e in lc.audit.events(NAME)]
    assert after[: len(history)] == history
    with pytest.raises(RegistryError, match="already retired"):
        retire(lc, NAME, "2", reason="again")


def test_retire_is_one_audited_step(two_versions: str) -> None:
    lc = Lifecycle.open(two_versions)
    code, out = cli(two_versions, "retire", NAME, "2", "--reason", "IC decayed")
    assert code == 0, out
    rows = [(e.action, e.alias, e.from_version, e.to_version) for e in lc.audit.events(NAME)]
    assert rows[-3:] == [
        ("retire", None, "2", None),
        ("retire", "production", "2", None),
        ("retire", "staging", "2", None),
    ]
    assert not any(e.details.get("reconciled") for e in lc.audit.events(NAME))
    assert reconcile(lc) == [] and lc.repairs == []


def test_a_live_registration_is_left_alone(uri: str, bundle: Path) -> None:
    """A RUNNING run whose owner still runs (here: this test process) is not touched."""
    from tradai_strategy.registry.bundle_registry import process_owner

    reg = RegistryClient(uri)
    calls: list[str] = []

    def during(run_id: str) -> None:
        lc = Lifecycle.open(uri)
        reconcile(lc)
        calls.append(run_id)
        assert lc.repairs == []
        assert reg.client.get_run(run_id).data.tags[tag.OWNER] == process_owner()

    register_bundle(bundle, NAME, tracking_uri=uri, on_run=during)
    assert len(calls) == 1 and bundle_runs(reg)[0].info.status == "FINISHED"
