"""The registry store the retrain-check, shadow and regime lifecycle tests start from."""

from __future__ import annotations

from pathlib import Path

import pytest
from retrain_helpers import build_store, copy_store

from tradai_strategy.lifecycle.promotion import Lifecycle


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store of :func:`build_store`, built once a module (an MLflow sqlite store takes
    seconds)."""
    return build_store(tmp_path_factory.mktemp("store"))


@pytest.fixture
def lc(template: Path, tmp_path: Path) -> Lifecycle:
    """A copy of ``template`` for one test: NAME versions 1 (@fallback) and 2 (@production)."""
    return copy_store(template, tmp_path)
