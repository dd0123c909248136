"""The registry layer against a real sqlite MLflow store: aliases, tags, retention."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import make_store

from tradai_strategy.registry.client import RegistryClient, RegistryError

NAME = "tradai-test"


@pytest.fixture
def reg(tmp_path: Path) -> RegistryClient:
    """A registry with model NAME holding versions 1..5 (each on an empty run, no artifacts)."""
    return RegistryClient(make_store(tmp_path, NAME, ["passed"] * 5))


def test_versions_newest_first_and_lookup(reg: RegistryClient) -> None:
    assert [v.version for v in reg.versions(NAME)] == ["5", "4", "3", "2", "1"]
    assert reg.version(NAME, 3).version == "3"
    assert reg.models() == [NAME]
    assert reg.all_aliases() == {NAME: {}}
    with pytest.raises(RegistryError, match="has no version 9: versions are 5, 4, 3, 2, 1"):
        reg.version(NAME, "9")
    with pytest.raises(RegistryError, match=r"model 'nope' is not registered.*tradai-test"):
        reg.versions("nope")


def test_aliases_move_and_resolve(reg: RegistryClient) -> None:
    assert reg.resolve(NAME, "production") is None
    assert reg.set_alias(NAME, "production", 2) is None
    assert reg.set_alias(NAME, "production", "4") == "2"
    reg.set_alias(NAME, "fallback", 2)
    assert reg.aliases(NAME) == {"production": "4", "fallback": "2"}
    assert reg.resolve_required(NAME, "production").aliases == ("production",)
    assert reg.version(NAME, 2).aliases == ("fallback",)
    assert reg.delete_alias(NAME, "fallback") == "2"
    assert reg.delete_alias(NAME, "fallback") is None
    with pytest.raises(RegistryError, match="alias 'prod' is unknown: use one of production"):
        reg.set_alias(NAME, "prod", 1)
    with pytest.raises(RegistryError, match="no @staging version"):
        reg.resolve_required(NAME, "staging")
    with pytest.raises(RegistryError, match="no version 7"):
        reg.set_alias(NAME, "staging", 7)
    assert reg.resolve(NAME, "staging") is None


def test_tags_and_description(reg: RegistryClient) -> None:
    reg.set_tags(NAME, 3, {"tradai.validation_status": "passed", "n": "1"})
    reg.set_tags(NAME, 3, {"n": "2"})
    reg.set_description(NAME, 3, "trained on synthetic data")
    v = reg.version(NAME, 3)
    manifest = {"tradai.manifest_sha256": f"{3:064x}"}  # from make_store
    assert v.tags == {"tradai.validation_status": "passed", "n": "2", **manifest}
    assert v.description == "trained on synthetic data"


def test_retention_never_deletes_an_aliased_version(reg: RegistryClient) -> None:
    reg.set_alias(NAME, "production", 1)
    reg.set_alias(NAME, "challenger", 4)
    # unaliased newest first: 5, 3, 2 -> keep 1 -> delete 3, 2
    assert reg.apply_retention(NAME, keep=1, dry_run=True) == ["3", "2"]
    assert len(reg.versions(NAME)) == 5
    assert reg.apply_retention(NAME, keep=1) == ["3", "2"]
    assert [v.version for v in reg.versions(NAME)] == ["5", "4", "1"]
    assert reg.apply_retention(NAME, keep=0) == ["5"]
    assert reg.aliases(NAME) == {"production": "1", "challenger": "4"}
    with pytest.raises(RegistryError, match="keep=-1 is negative"):
        reg.apply_retention(NAME, keep=-1)


def test_pyfunc_requirements_name_installable_packages() -> None:
    """Each estimator maps to its pip package; the random forest is scikit-learn's (already
    listed), not a package called random_forest that pip cannot install."""
    from tradai_strategy.registry.bundle_registry import requirements

    manifest = {
        "versions": {"scikit-learn": "1.7.0", "lightgbm": "4.6.0"},
        "pairs": {
            "BTC/USDT": {"estimator": "random_forest"},
            "ETH/USDT": {"estimator": "lightgbm"},
            "SOL/USDT": {"estimator": "catboost"},
        },
    }
    reqs = requirements(manifest)
    assert "scikit-learn==1.7.0" in reqs and "lightgbm==4.6.0" in reqs and "catboost" in reqs
    assert not [r for r in reqs if r.startswith("random_forest")], reqs
