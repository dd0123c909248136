"""``tradai drift`` against a real trained, registered bundle (sqlite MLflow registry)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, timerange
from inference_helpers import inference_config, registered_small_bundle, write_config
from scipy import stats
from typer.testing import CliRunner

from tradai_strategy.bundle.format import ModelBundle, load_bundle
from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.data.synthetic import Regime, write_synthetic_data
from tradai_strategy.monitoring.reference import load_reference

pytestmark = pytest.mark.e2e
PAIRS = ["BTC/USDT", "ETH/USDT"]
CHANGE_DAY = 75  # volatility x3 from 2024-03-16 on
CALM = timerange(45, 70)  # ends before the change
runner = CliRunner()


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One training run (days 10-40) on a calm market, registered as Rad v1 @production."""
    tmp = tmp_path_factory.mktemp("drift-cli")
    data = tmp / "data"
    change = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=CHANGE_DAY)
    write_synthetic_data(
        PAIRS, "1h", 100, seed=5, signal="planted", datadir=data, clustering=False,
        regime=Regime(change, vol=3.0),
    )  # fmt: skip
    bundle, uri = registered_small_bundle(tmp, data, "drift-train")
    cfg = inference_config(tmp, data, {"type": "mlflow", "model_uri": "models:/Rad@production"})
    return {"tmp": tmp, "data": data, "bundle": bundle, "uri": uri, "cfg": write_config(tmp, cfg)}


def _drift(reg: dict, tmp: Path, *extra: str) -> tuple[int, str]:
    args = [
        "drift", "--config", str(reg["cfg"]), "--strategy", "RadStrategy",
        "--strategy-path", str(STRATEGIES), "--datadir", str(reg["data"]),
        "--userdir", str(tmp / "user_data"), *extra,
    ]  # fmt: skip
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_critical_drift_after_the_regime_change_exits_1_and_writes_json(reg, tmp_path):
    out = tmp_path / "drift.json"
    code, text = _drift(
        reg, tmp_path, "--model", "Rad", "--tracking-uri", reg["uri"], "--json", str(out),
        "--critical", "0.5",
    )  # fmt: skip
    assert code == 1, text
    assert "Drift of Rad v1" in text and "critical" in text
    report = json.loads(out.read_text())
    assert report["version"] == "1" and report["level"] == "critical"
    assert {r["pair"] for r in report["summary"]} == {*PAIRS, "ALL"}
    assert report["window"]["BTC/USDT"]["rows"] == 20 * 24
    # the table's KS is scipy's on the bundle reference and the window's features
    bundle = load_bundle(reg["bundle"])
    ref = load_reference(bundle, "BTC/USDT")
    worst = max((r for r in report["features"] if r["pair"] == "BTC/USDT"), key=lambda r: r["ks"])
    assert worst["ks"] > 0.5 and any(k in worst["feature"] for k in ("natr", "range", "bb_width"))
    from tradai_strategy.monitoring.check import current_features

    cfg_dict = _resolved(reg, tmp_path)
    window = current_features(cfg_dict, ["BTC/USDT"])["BTC/USDT"].tail(20 * 24)
    col = worst["feature"]
    want = stats.ks_2samp(ref[col].dropna(), window[col].dropna()).statistic
    assert worst["ks"] == pytest.approx(want, abs=1e-12)
    assert len(report["predictions"]) == 2


def _resolved(reg: dict, tmp: Path) -> dict:
    from tradai_strategy.data.freqtrade_runner import resolve_config

    (tmp / "ud").mkdir(exist_ok=True)
    return resolve_config(
        {
            "config": [str(reg["cfg"])],
            "strategy": "RadStrategy",
            "strategy_path": str(STRATEGIES),
            "datadir": str(reg["data"]),
            "user_data_dir": str(tmp / "ud"),
            "command": "backtesting",
        }
    )


def test_calm_window_exits_0_and_local_bundle_works(reg, tmp_path):
    code, text = _drift(
        reg, tmp_path, "--bundle", str(reg["bundle"]), "--timerange", CALM,
        "--critical", "0.5", "--pairs", "ETH/USDT", "--top", "5",
    )  # fmt: skip
    assert code == 0, text
    assert "ETH/USDT" in text and "BTC/USDT" not in text
    assert "Features by KS (5 of" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "--model is missing"),
        (("--model", "Rad", "--alias", "nope"), "alias nope not found"),
        (("--model", "Rad", "--days", "0"), "--days must be > 0"),
        (("--model", "Rad", "--warn", "0.3", "--critical", "0.2"), "need 0 <= warn"),
        (("--model", "Rad", "--pairs", "SOL/USDT"), "SOL/USDT"),
        (("--model", "Rad", "--timerange", timerange(95, 99), "--days", "20"), ""),
    ],
)
def test_bad_inputs_exit_2_with_one_line(reg, tmp_path, extra, message):
    code, text = _drift(reg, tmp_path, "--tracking-uri", reg["uri"], *extra)
    if not message:  # a 4-day timerange: the window is shorter but valid
        assert code in (0, 1), text
        return
    assert code == 2, text
    assert message in text
    assert text.count("error:") == 1


def test_missing_reference_is_a_clear_error(reg, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(reg["bundle"], copy)
    manifest = json.loads((copy / "tradai_bundle.json").read_text())
    folder = copy / manifest["pairs"]["BTC/USDT"]["dir"]
    (folder / "reference_features.parquet").unlink()
    fake = ModelBundle(path=copy, manifest=manifest, models={})
    with pytest.raises(MonitoringError, match=r"missing drift reference .*retrain"):
        load_reference(fake, "BTC/USDT")
    with pytest.raises(MonitoringError, match="not in the bundle"):
        load_reference(fake, "SOL/USDT")
    assert np.isfinite(load_reference(fake, "ETH/USDT").to_numpy(dtype=float)).any()
