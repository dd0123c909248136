"""Stale trials and CPCV splits of ``tradai hyperopt``.

A worker killed mid-trial (SIGKILL) leaves its trial RUNNING; with the heartbeat on, the next
run fails it, flags it stale and still completes exactly the requested number of counted
trials. The CPCV objective scores every ``C(N, k)`` split; the Wilcoxon pruner sees one
instance per (split, pair).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from freqai_helpers import STRATEGIES
from hyperopt_helpers import PAIRS, SMALL
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.hyperopt.data import HyperoptData, prepare_data
from tradai_strategy.hyperopt.objective import evaluate
from tradai_strategy.hyperopt.space import Space, apply_overrides, resolve_space
from tradai_strategy.hyperopt.study import HyperoptSettings, run_study

pytestmark = pytest.mark.xdist_group("hyperopt")
runner = CliRunner()

#: a worker that runs the real objective but hangs in trial 2 until it is killed
WORKER = """
import pickle, sys, time
from pathlib import Path
from tradai_strategy.hyperopt.objective import Objective
from tradai_strategy.hyperopt.study import HyperoptSettings, run_study

data, space = pickle.loads(Path(sys.argv[1]).read_bytes())
marker = Path(sys.argv[3])

class HangInTrialTwo:
    def __init__(self, inner):
        self.inner = inner
    def __call__(self, trial):
        if trial.number == 2:
            marker.write_text("running")
            time.sleep(600)
        return self.inner(trial)

settings = HyperoptSettings(n_trials=5, storage=sys.argv[2], pruner="none", heartbeat=1)
run_study(data, space, settings, objective=HangInTrialTwo(Objective(data, space)))
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from tradai_strategy.cli.common import freqtrade_args
    from tradai_strategy.data.freqtrade_runner import resolve_config

    tmp = tmp_path_factory.mktemp("hyperopt-stale")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 120, seed=11, signal="planted", datadir=data)
    cfg = build_training_config(StrategyMeta(pairs=PAIRS, datadir=str(data)))
    path = tmp / "config.json"
    path.write_text(json.dumps(cfg))
    args = freqtrade_args([path], "RadStrategy", strategy_path=STRATEGIES, datadir=data)
    args["user_data_dir"] = str(tmp / "user_data")
    (tmp / "user_data").mkdir()
    return {"config": resolve_config(args), "path": path, "data": data}


@pytest.fixture(scope="module")
def space() -> Space:
    return apply_overrides(resolve_space("lightgbm"), SMALL)


@pytest.fixture(scope="module")
def hdata(setup: dict[str, Any], space: Space) -> HyperoptData:
    return prepare_data(setup["config"], space, n_splits=3)


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode}: {proc.stderr!r}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("worker never reached trial 2")
        time.sleep(0.1)


def test_killed_worker_trial_is_failed_as_stale_and_not_counted(
    hdata: HyperoptData, space: Space, tmp_path: Path
) -> None:
    import optuna

    blob = tmp_path / "data.pkl"
    blob.write_bytes(pickle.dumps((hdata, space)))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    marker = tmp_path / "in-trial-2"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(blob), url, str(marker)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(marker, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    states = [
        t.state.name for t in optuna.load_study(study_name="tradai-hyperopt", storage=url).trials
    ]
    assert states == ["COMPLETE", "COMPLETE", "RUNNING"]

    time.sleep(2.5)  # > grace period (2 x heartbeat of 1 s): the trial's heartbeat is stale
    settings = HyperoptSettings(n_trials=5, storage=url, pruner="none", heartbeat=1)
    result = run_study(hdata, space, settings)
    assert result.stale == [2]
    assert result.states == {"COMPLETE": 5, "FAIL": 1}
    assert result.ran == 3 and result.numbers == list(range(6))
    study = optuna.load_study(study_name="tradai-hyperopt", storage=url)
    assert study.trials[2].state.name == "FAIL"
    assert "tradai.stale.2" in study.user_attrs
    again = run_study(hdata, space, settings)  # complete: nothing more to run
    assert again.ran == 0 and again.states == {"COMPLETE": 5, "FAIL": 1}


def test_without_heartbeat_a_killed_trial_stays_running_and_uncounted(
    hdata: HyperoptData, space: Space, tmp_path: Path
) -> None:
    import optuna

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="tradai-hyperopt", storage=url, direction="maximize")
    study.ask()  # a trial nobody will ever tell: what a killed process leaves behind
    result = run_study(hdata, space, HyperoptSettings(n_trials=2, storage=url, heartbeat=0))
    assert result.states == {"COMPLETE": 2, "RUNNING": 1} and result.stale == []


def test_cpcv_objective_scores_every_combination(setup: dict[str, Any], space: Space) -> None:
    data = prepare_data(setup["config"], space, cv="cpcv", n_groups=4, k=2, embargo=3)
    prep = data.get(None)
    assert data.cv == "cpcv" and prep.n_splits == math.comb(4, 2)
    h = prep.horizon
    n = len(prep.pairs[0].X)
    covered = np.zeros(n, dtype=int)
    for train, test in prep.splits[0]:
        covered[test] += 1
        assert not set(train) & set(test)
        # purged by hand: no training label [i, i + h] touches a test block's [a, b + h]
        for block in np.split(test, np.flatnonzero(np.diff(test) > 1) + 1):
            a, b = int(block[0]), int(block[-1])
            assert not ((train + h >= a) & (train <= b + h)).any()
    assert (covered == 3).all()  # each row is tested in C(N-1, k-1) = 3 splits
    ev = evaluate(data, {"n_estimators": 60})
    assert len(ev.split_scores) == 6 and math.isfinite(ev.value)
    assert ev.value == pytest.approx(float(np.mean(ev.split_scores)))
    result = run_study(data, space, HyperoptSettings(n_trials=3, pruner="median"))
    assert sum(result.states.values()) == 3


def test_cpcv_bad_inputs(setup: dict[str, Any], space: Space) -> None:
    with pytest.raises(TradAIConfigError, match=r"--n-groups/--k: k=4 test groups must be fewer"):
        prepare_data(setup["config"], space, cv="cpcv", n_groups=4, k=4)
    with pytest.raises(TradAIConfigError, match="--cv 'kfold' is unknown"):
        prepare_data(setup["config"], space, cv="kfold")  # type: ignore[arg-type]
    hooks = apply_overrides(
        space, {"params": {"train_period_days": {"type": "int", "low": 20, "high": 40}}}
    )
    with pytest.raises(TradAIConfigError, match="train_period_days needs --cv walkforward"):
        prepare_data(setup["config"], hooks, cv="cpcv")
    with pytest.raises(TradAIConfigError, match="--heartbeat must be >= 0"):
        HyperoptSettings(heartbeat=-1)


def test_wilcoxon_pruner_sees_one_instance_per_split_and_pair(
    setup: dict[str, Any], space: Space, tmp_path: Path
) -> None:
    import optuna
    from scipy.stats import wilcoxon

    data = prepare_data(setup["config"], space, n_splits=6)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    result = run_study(data, space, HyperoptSettings(n_trials=8, storage=url, pruner="wilcoxon"))
    assert sum(result.states.values()) == 8 and result.states.get("PRUNED", 0) >= 1
    trials = optuna.load_study(study_name="tradai-hyperopt", storage=url).trials
    best: Any = None
    for t in trials:  # one process: trials ran in number order
        steps = sorted(t.intermediate_values)
        if t.state.name == "COMPLETE":
            assert steps == list(range(6))  # 6 splits x 1 pair, one instance each
            mean = np.mean([t.intermediate_values[s] for s in steps])
            assert t.value == pytest.approx(mean)
            best = t if best is None or t.value > best.value else best
        elif t.state.name == "PRUNED":
            assert best is not None and 4 <= len(steps) < 6
            diff = [t.intermediate_values[s] - best.intermediate_values[s] for s in steps]
            p = wilcoxon(diff, alternative="less", zero_method="zsplit").pvalue
            assert p < 0.1, (t.number, p)


def test_cli_cpcv_run(setup: dict[str, Any], tmp_path: Path) -> None:
    space_file = tmp_path / "space.json"
    space_file.write_text(json.dumps(SMALL))
    args = ["hyperopt", "--config", str(setup["path"]), "--strategy", "RadStrategy"]
    args += ["--strategy-path", str(STRATEGIES), "--datadir", str(setup["data"])]
    args += ["--userdir", str(tmp_path), "--cv", "cpcv", "--n-groups", "4", "--k", "1"]
    args += ["--trials", "2", "--space", str(space_file), "--no-tracking"]
    args += ["--out", str(tmp_path / "best.json")]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "4 cpcv splits" in res.output and "best trial" in res.output
    res = runner.invoke(app, [*args[:-2], "--cv", "kfold"])
    assert res.exit_code == 2 and "--cv 'kfold' is unknown" in res.output


def test_a_separate_run_stops_at_the_study_total(hdata: HyperoptData, space: Space) -> None:
    """What a second machine does: its own share is larger than what the study still needs."""
    from tradai_strategy.hyperopt.objective import Objective
    from tradai_strategy.hyperopt.study import _optimize, load_study

    settings = HyperoptSettings(n_trials=3, pruner="none")
    study = load_study(settings, 3)
    _optimize(study, Objective(hdata, space), 2, (), total=99)  # "the other machine" ran 2
    _optimize(study, Objective(hdata, space), 5, (), total=3)  # asked for 5, 1 was missing
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
