"""`tradai hyperopt` on planted-signal synthetic candles: the search beats the config's
parameters, studies resume without repeating trials, two workers share one study exactly,
and bad inputs (empty space, bad storage, NaN objective) are handled."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from freqai_helpers import STRATEGIES
from hyperopt_helpers import SMALL
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.hyperopt.data import HyperoptData, prepare_data
from tradai_strategy.hyperopt.objective import Objective, evaluate
from tradai_strategy.hyperopt.output import best_fragment, to_toml
from tradai_strategy.hyperopt.space import Space, apply_overrides, resolve_space
from tradai_strategy.hyperopt.study import HyperoptSettings, open_storage, run_study, shares

pytestmark = pytest.mark.xdist_group("hyperopt")
runner = CliRunner()


def test_default_spaces_and_overrides(tmp_path: Path) -> None:
    lgb = resolve_space("lightgbm")
    assert set(lgb) == {"n_estimators", "learning_rate", "max_depth", "min_child_samples"}
    assert (lgb["n_estimators"].low, lgb["n_estimators"].high) == (100, 1000)
    assert lgb["learning_rate"].log and lgb["max_depth"].high == 10
    assert set(resolve_space("catboost")) == {"iterations", "learning_rate", "depth", "l2_leaf_reg"}
    file = tmp_path / "space.toml"
    file.write_text(
        "[params.max_depth]\nremove = true\n"
        '[params.train_period_days]\ntype = "int"\nlow = 30\nhigh = 60\n'
    )
    custom = resolve_space("lightgbm", file)
    assert "max_depth" not in custom and custom["train_period_days"].high == 60
    empty = tmp_path / "empty.json"
    empty.write_text('{"replace": true}')
    with pytest.raises(TradAIConfigError, match="search space is empty"):
        resolve_space("lightgbm", empty)
    with pytest.raises(TradAIConfigError, match=r"learning_rate: low=0\.5 high=0\.1"):
        apply_overrides(
            lgb, {"params": {"learning_rate": {"type": "float", "low": 0.5, "high": 0.1}}}
        )
    fragment = best_fragment({"n_estimators": 120, "train_period_days": 45}, {"num_leaves": 7})
    assert fragment["freqai"] == {
        "model_training_parameters": {"num_leaves": 7, "n_estimators": 120},
        "train_period_days": 45,
    }
    assert "[freqai.model_training_parameters]\nnum_leaves = 7" in to_toml(fragment)
    assert shares(5, 2) == [3, 2] and shares(1, 3) == [1]


def test_best_trial_beats_default_parameters(hdata: HyperoptData, space: Space) -> None:
    default = evaluate(hdata, {}, "ic")
    result = run_study(hdata, space, HyperoptSettings(n_trials=10, pruner="none"))
    assert result.states == {"COMPLETE": 10}
    assert result.best_value > default.value + 0.01, (result.best_value, default.value)
    assert 0.0 <= result.overfitting["pbo"] <= 1.0
    assert 0.0 <= result.overfitting["dsr"] <= 1.0


def test_resumed_study_continues_without_repeating(
    hdata: HyperoptData, space: Space, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = run_study(hdata, space, HyperoptSettings(n_trials=3, storage=url, pruner="none"))
    assert first.ran == 3 and first.numbers == [0, 1, 2]
    import optuna

    before = [t.params for t in optuna.load_study(study_name="tradai-hyperopt", storage=url).trials]
    second = run_study(hdata, space, HyperoptSettings(n_trials=6, storage=url, pruner="none"))
    assert second.ran == 3 and second.numbers == [0, 1, 2, 3, 4, 5]
    after = [t.params for t in optuna.load_study(study_name="tradai-hyperopt", storage=url).trials]
    assert after[:3] == before
    assert len({json.dumps(p, sort_keys=True) for p in after}) == 6  # no trial replayed
    third = run_study(hdata, space, HyperoptSettings(n_trials=6, storage=url, pruner="none"))
    assert third.ran == 0 and third.n_trials == 6


def test_two_workers_finish_exactly_the_total(
    hdata: HyperoptData, space: Space, tmp_path: Path
) -> None:
    url = f"journal:///{tmp_path / 'study.log'}"
    settings = HyperoptSettings(n_trials=7, storage=url, workers=2, pruner="median")
    result = run_study(hdata, space, settings)
    assert result.n_trials == 7 and result.numbers == list(range(7))
    assert sum(result.states.values()) == 7 and result.ran == 7


def test_workers_on_a_dask_cluster_finish_exactly_the_total(
    hdata: HyperoptData, space: Space, tmp_path: Path, dask_scheduler: str
) -> None:
    """The study's two workers run on a real scheduler + 2 worker processes (127.0.0.1),
    sharing one journal storage: every trial once, the total exactly."""
    url = f"journal:///{tmp_path / 'study.log'}"
    settings = HyperoptSettings(
        n_trials=5, storage=url, workers=2, pruner="median", cluster=dask_scheduler
    )
    result = run_study(hdata, space, settings)
    assert result.n_trials == 5 and result.numbers == list(range(5)) and result.ran == 5
    assert sum(result.states.values()) == 5


class _NaNOnSecond:
    def __init__(self, inner: Objective) -> None:
        self.inner = inner

    def __call__(self, trial: Any) -> float:
        return math.nan if trial.number == 1 else self.inner(trial)


def test_nan_objective_fails_the_trial_and_the_study_goes_on(
    hdata: HyperoptData, space: Space
) -> None:
    objective = _NaNOnSecond(Objective(hdata, space))
    result = run_study(hdata, space, HyperoptSettings(n_trials=4), objective=objective)
    assert result.states == {"COMPLETE": 3, "FAIL": 1}
    assert result.best_number != 1


def test_bad_storage_and_settings() -> None:
    with pytest.raises(TradAIConfigError, match="--storage 'nosuch://x' cannot be opened"):
        open_storage("nosuch://x")
    with pytest.raises(TradAIConfigError, match=r"--storage 'study\.db' cannot be opened"):
        open_storage("study.db")
    with pytest.raises(TradAIConfigError, match="--workers 2 needs a shared --storage"):
        HyperoptSettings(workers=2)
    with pytest.raises(TradAIConfigError, match="needs a --storage the cluster's machines"):
        HyperoptSettings(cluster="tcp://127.0.0.1:8786")
    with pytest.raises(TradAIConfigError, match="--pruner 'fast' is unknown"):
        HyperoptSettings(pruner="fast")  # type: ignore[arg-type]


def _cli(setup: dict[str, Any], tmp: Path, *extra: str) -> Any:
    args = ["hyperopt", "--config", str(setup["path"]), "--strategy", "RadStrategy"]
    args += ["--strategy-path", str(STRATEGIES), "--datadir", str(setup["data"])]
    args += ["--userdir", str(tmp / "user_data"), "--n-splits", "3", *extra]
    return runner.invoke(app, args)


def test_cli_unreachable_cluster_is_one_line_before_the_features(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    from tradai_strategy.replay.registry_server import free_port

    address = f"tcp://127.0.0.1:{free_port()}"
    res = _cli(
        setup, tmp_path, "--trials", "2", "--workers", "2", "--cluster", address,
        "--storage", f"journal:///{tmp_path / 'study.log'}", "--no-tracking",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and address in lines[0], lines


def test_cli_refuses_a_multi_class_target_in_one_line(tmp_path: Path) -> None:
    """A regime target has no numeric score for the IC/Sharpe objective: one line, no study."""
    from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
    from tradai_strategy.data.synthetic_regimes import write_regime_data

    data = tmp_path / "data"
    write_regime_data(["BTC/USDT"], "1h", 60, seed=4, datadir=data)
    meta = StrategyMeta(pairs=["BTC/USDT"], datadir=str(data), target="regime")
    cfg = build_training_config(meta)
    cfg["freqai"]["tradai"]["regime"] = {"lookback": 100}
    path = tmp_path / "regime.json"
    path.write_text(json.dumps(cfg))
    res = _cli(
        {"path": path, "data": data}, tmp_path, "--trials", "2", "--no-tracking",
        "--storage", f"sqlite:///{tmp_path / 'study.db'}",
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "has 5 classes" in lines[0], lines


def test_cli_end_to_end_with_mlflow(setup: dict[str, Any], tmp_path: Path) -> None:
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(SMALL))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "best.toml"
    res = _cli(
        setup, tmp_path, "--trials", "4", "--space", str(space_file), "--tracking-uri", uri,
        "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "best trial" in res.output and "PBO" in res.output and "DSR" in res.output
    assert "[freqai.model_training_parameters]" in out.read_text()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("tradai-hyperopt")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert "best_value" in parents[0].data.metrics


def test_cli_bad_storage_is_one_line(setup: dict[str, Any], tmp_path: Path) -> None:
    res = _cli(setup, tmp_path, "--storage", "nosuch://x", "--no-tracking")
    assert res.exit_code == 2
    assert "--storage 'nosuch://x' cannot be opened" in res.output
    res = _cli(setup, tmp_path, "--metric", "sortino", "--no-tracking")
    assert res.exit_code == 2 and "--metric 'sortino' is unknown" in res.output


def test_window_hooks_prepare_each_horizon(setup: dict[str, Any], space: Space) -> None:
    hooks = {
        "label_period_candles": {"type": "categorical", "choices": [6, 12]},
        "train_period_days": {"type": "int", "low": 20, "high": 40},
    }
    wide = apply_overrides(space, {"params": hooks})
    data = prepare_data(setup["config"], wide, n_splits=3)
    assert sorted(data.by_horizon) == [6, 12]
    y6, y12 = (data.by_horizon[h].pairs[0].y for h in (6, 12))
    assert not (y6[: len(y12)] == y12[: len(y6)]).all()  # the labels follow the horizon
    short = evaluate(data, {"label_period_candles": 6, "train_period_days": 20})
    assert len(short.split_scores) == 3 and math.isfinite(short.value)
    with pytest.raises(TradAIConfigError, match="label_period_candles: use type"):
        apply_overrides(space, {"params": {"label_period_candles": {"type": "int", "high": 9}}})
