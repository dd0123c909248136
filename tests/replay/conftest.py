"""Fixtures shared by the replay tests: a registry with two versions of one small bundle."""

from __future__ import annotations

import json

import pytest
from inference_helpers import inference_config, registered_small_bundle

from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.registry.bundle_registry import register_bundle


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """60 days of candles; ``Rad`` v1 @production and v2 (the same bundle registered again)
    in a sqlite store; a TradAIMLflowModel config serving ``models:/Rad@production``."""
    tmp = tmp_path_factory.mktemp("replay-registry")
    data = tmp / "data"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 60, seed=5, signal="planted", datadir=data)
    bundle, uri = registered_small_bundle(tmp, data, "replay-ev")
    assert register_bundle(bundle, "Rad", tracking_uri=uri) == "2"
    cfg = inference_config(
        tmp, data, {"type": "mlflow", "model_uri": "models:/Rad@production"},
        identifier="replay-events", freqaimodel="TradAIMLflowModel",
    )  # fmt: skip
    cfg["freqai"]["tradai"]["tracking_uri"] = uri
    path = tmp / "mlflow.json"
    path.write_text(json.dumps(cfg))
    return {"tmp": tmp, "data": data, "config": path, "uri": uri}
