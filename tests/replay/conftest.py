"""Fixtures shared by the replay tests: a registry with two versions of one small bundle."""

from __future__ import annotations

import pytest
from replay_helpers import registered_world

from tradai_strategy.registry.bundle_registry import register_bundle


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """60 days of candles; ``Rad`` v1 @production and v2 (the same bundle registered again)
    in a sqlite store; a TradAIMLflowModel config serving ``models:/Rad@production``."""
    world = registered_world(tmp_path_factory.mktemp("replay-registry"), "replay-events")
    assert register_bundle(world["bundle"], "Rad", tracking_uri=world["uri"]) == "2"
    return world
