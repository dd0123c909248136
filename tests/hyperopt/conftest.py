"""Module-scoped hyperopt fixtures: one synthetic config and its prepared data."""

from __future__ import annotations

import json
from typing import Any

import pytest
from freqai_helpers import STRATEGIES
from hyperopt_helpers import PAIRS, SMALL

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.hyperopt.data import HyperoptData, prepare_data
from tradai_strategy.hyperopt.space import Space, apply_overrides, resolve_space


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tradai_strategy.cli.common import freqtrade_args
    from tradai_strategy.data.freqtrade_runner import resolve_config

    tmp = tmp_path_factory.mktemp("hyperopt")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 120, seed=11, signal="planted", datadir=data)
    cfg = build_training_config(StrategyMeta(pairs=PAIRS, datadir=str(data)))
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    args = freqtrade_args([path], "RadStrategy", strategy_path=STRATEGIES, datadir=data)
    args["user_data_dir"] = str(tmp / "user_data")
    (tmp / "user_data").mkdir()
    return {"config": resolve_config(args), "path": path, "data": data, "tmp": tmp}


@pytest.fixture(scope="module")
def space() -> Space:
    return apply_overrides(resolve_space("lightgbm"), SMALL)


@pytest.fixture(scope="module")
def hdata(setup: dict[str, Any], space: Space) -> HyperoptData:
    return prepare_data(setup["config"], space, n_splits=3)
