"""`tradai hyperopt` with ``estimator = "random_forest"``: its default space (before, the
search refused the estimator) and a short study on planted-signal candles."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from freqai_helpers import STRATEGIES

from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.hyperopt.data import prepare_data
from tradai_strategy.hyperopt.output import best_fragment
from tradai_strategy.hyperopt.space import apply_overrides, resolve_space
from tradai_strategy.hyperopt.study import HyperoptSettings, run_study

pytestmark = pytest.mark.xdist_group("hyperopt")


def test_random_forest_space_and_study(tmp_path: Path) -> None:
    from tradai_strategy.cli.common import freqtrade_args
    from tradai_strategy.data.freqtrade_runner import resolve_config

    space = resolve_space("random_forest")
    assert set(space) == {"n_estimators", "max_depth", "min_samples_leaf", "max_features"}
    assert space["min_samples_leaf"].log and space["max_features"].high == 1.0
    with pytest.raises(TradAIConfigError, match="use lightgbm, catboost or random_forest"):
        resolve_space("xgboost")
    data = tmp_path / "data"
    write_synthetic_data(["BTC/USDT"], "1h", 120, seed=11, signal="planted", datadir=data)
    cfg = build_training_config(
        StrategyMeta(pairs=["BTC/USDT"], datadir=str(data), estimator="random_forest")
    )
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    args = freqtrade_args([path], "RadStrategy", strategy_path=STRATEGIES, datadir=data)
    args["user_data_dir"] = str(tmp_path / "user_data")
    (tmp_path / "user_data").mkdir()
    small = apply_overrides(
        space,
        {
            "params": {
                "n_estimators": {"type": "int", "low": 20, "high": 60},
                "max_depth": {"type": "int", "low": 3, "high": 6},
            }
        },
    )
    hdata = prepare_data(resolve_config(args), small, n_splits=3)
    assert hdata.estimator == "random_forest"
    result = run_study(hdata, small, HyperoptSettings(n_trials=4, pruner="none"))
    assert result.states == {"COMPLETE": 4}
    assert math.isfinite(result.best_value) and result.best_value > 0  # the planted signal
    fragment = best_fragment(result.best_params, {})
    assert set(fragment["freqai"]["model_training_parameters"]) == set(small)
