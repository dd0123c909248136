"""`tradai validate --model --version` on a regime (multi-class) version: accuracy, balanced
accuracy, kappa, log loss and the confusion matrix next to the majority and persistence
baselines, and the version's validation status (what `tradai promote` reads) decided by the
accuracy gate, the reason naming the condition that failed.

Market: the herald regime market (volumes announce the regime h candles ahead,
:class:`~tradai_strategy.data.synthetic_regimes.Herald`), where persistence can be beaten
(tests/freqai/test_regime_herald.py); a real sqlite MLflow registry holds the version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from freqai_helpers import REGIME_LGBM, STRATEGIES, herald_config
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import StrategyMeta, build_training_config
from tradai_strategy.core import tags as tag
from tradai_strategy.core.regimes import REGIMES
from tradai_strategy.data.synthetic_regimes import write_regime_data
from tradai_strategy.lifecycle.promotion import Lifecycle, promote
from tradai_strategy.registry.client import RegistryClient, RegistryError

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
NAME = "tradai-regime"
H = 12
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    """Herald candles, a regime config and NAME version 1 (pending) in a sqlite registry;
    returns the folder, the validate command line and the registry URI."""
    tmp = tmp_path_factory.mktemp("validate-regime")
    path = herald_config(tmp, PAIRS, 300, H)
    data = tmp / "data"
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    reg = RegistryClient(uri)
    reg.client.create_registered_model(NAME)
    (tmp / "src").mkdir()
    manifest = {"tradai.manifest_sha256": "0" * 64}
    mv = reg.client.create_model_version(NAME, (tmp / "src").as_uri(), tags=manifest)
    tags = {
        "tradai.strategy": "RadStrategy",
        "tradai.pairs": ",".join(PAIRS),
        "tradai.validation_status": "pending",
    }
    reg.set_tags(NAME, mv.version, tags)
    args = ["validate", "--config", str(path), "--strategy", "RadStrategy"]
    args += ["--strategy-path", str(STRATEGIES), "--datadir", str(data)]
    args += ["--userdir", str(tmp / "user_data"), "--tracking-uri", uri]
    args += ["--model", NAME, "--version", "1", "--cv", "walkforward", "--n-groups", "4"]
    args += ["--seeds", "1", "--jobs", "1", "--skip-leakage-check"]
    return tmp, args, uri


def test_regime_version_reports_baselines_and_the_gate_passes(store: tuple) -> None:
    tmp, args, uri = store
    out = tmp / "pass.json"
    res = runner.invoke(app, [*args, "--min-accuracy", "0.5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    for needle in ("Out-of-sample classes", "Confusion matrix", "balanced acc.", "log loss"):
        assert needle in text
    assert "persistence" in text and "majority" in text and "verdict: PASS" in text
    assert "RankIC" not in text  # the IC of P(last class) says nothing about regimes
    assert f"{NAME} version 1: tradai.validation_status=passed" in text
    section = json.loads(out.read_text())["classification"]
    assert section["classes"] == sorted(REGIMES) and section["min_accuracy"] == 0.5
    for pair in PAIRS:
        got = section["pairs"][pair]
        model, pers, maj = got["model"], got["persistence"], got["majority"]
        print(f"\n{pair}: model {model}, persistence {pers}, majority {maj}, {got['gate']}")
        assert model["accuracy"] > pers["accuracy"] + 0.03 > maj["accuracy"] + 0.03
        assert 0 < model["balanced_accuracy"] < model["accuracy"]
        assert model["kappa"] > 0.3 and model["log_loss"] < 1.61  # uniform guess: ln 5
        assert got["vs_persistence"]["p_value"] < 0.05 and got["passed"]
    confusion = section["confusion"]
    assert len(confusion) == 5 and sum(map(sum, confusion)) > 2 * 5000
    assert RegistryClient(uri).version(NAME, 1).tags[tag.VALIDATION_STATUS] == "passed"
    event = promote(Lifecycle.open(uri), NAME, 1, reason="regime validated")
    assert event.details["validation_status"] == "passed"


def test_default_floor_refuses_and_says_which_condition_failed(store: tuple) -> None:
    _, args, uri = store
    res = runner.invoke(app, [*args, "--no-report"])
    assert res.exit_code == 1, res.output
    text = " ".join(res.output.split())
    assert "verdict: FAIL" in text and "is not above min_accuracy 0.750" in text
    assert "does not beat persistence" not in text  # persistence is beaten; the floor is not
    tags = RegistryClient(uri).version(NAME, 1).tags
    assert tags[tag.VALIDATION_STATUS] == "failed"
    assert "accuracy gate refused" in tags[tag.VALIDATION_REASONS]
    assert "min_accuracy 0.750" in tags[tag.VALIDATION_REASONS]
    with pytest.raises(RegistryError, match="validation_status='failed'"):
        promote(Lifecycle.open(uri), NAME, 1, reason="try")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--min-accuracy", "1.5"], "--min-accuracy must be in [0, 1), got 1.5"),
        (["--accuracy-margin", "-0.1"], "--accuracy-margin must be in [0, 1), got -0.1"),
    ],
)
def test_bad_gate_settings_are_one_line(store: tuple, extra: list[str], message: str) -> None:
    _, args, _ = store
    res = runner.invoke(app, [*args, *extra, "--no-report"])
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output


def test_a_class_a_split_never_trained_on_is_one_warning_line(tmp_path: Path) -> None:
    """Crisis labels only in the last days: the last walk-forward split's model never saw the
    class; validate says so, naming the pair, split and class (its probability there is 0)."""
    from freqai_helpers import TEST_STRATEGIES

    data = tmp_path / "data"
    write_regime_data(PAIRS[:1], "1h", 62, seed=4, datadir=data)
    meta = StrategyMeta(
        pairs=PAIRS[:1],
        datadir=str(data),
        target="regime",
        label_period_candles=H,
        model_training_parameters=REGIME_LGBM,
    )
    cfg = build_training_config(meta)
    cfg["freqai"]["tradai"]["regime"] = {"lookback": 100}
    cfg["tradai_test_crisis_span"] = ["2024-02-27 00:00", "2024-02-28 00:00"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    args = ["validate", "--config", str(path), "--strategy", "RegimeRareClassStrategy"]
    args += ["--strategy-path", str(TEST_STRATEGIES), "--datadir", str(data)]
    args += ["--userdir", str(tmp_path / "user_data"), "--no-tracking", "--no-report"]
    args += ["--cv", "walkforward", "--n-groups", "4", "--seeds", "1", "--jobs", "1"]
    res = runner.invoke(app, [*args, "--skip-leakage-check", "--min-accuracy", "0"])
    assert res.exit_code in (0, 1), res.output
    text = " ".join(res.output.split())
    assert "BTC/USDT split 3 (test 2024-02-" in text
    assert "class 'crisis' has 0 training rows but 25 test rows" in text
    assert "(its probability there is 0)" in text
