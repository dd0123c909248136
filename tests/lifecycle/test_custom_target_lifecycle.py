"""A strategy with its own target name (``&-fwd_logret``, tests/strategies/CustomTargetStrategy)
goes through ``tradai train`` (an offline TrainingPredictionModel backtest inside), ``tradai
validate``, ``tradai report`` and the live prediction log under that name, its realised
values being its own label (the log return), not TradAI's forward mean return."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import TEST_STRATEGIES, small_training_config, timerange
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.data.features import load_candles
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.registry.client import RegistryClient

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("custom-target")]
PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-fwd_logret"
HORIZON = 12
STRATEGY = "CustomTargetStrategy"
runner = CliRunner()


def log_return(candles: pd.DataFrame) -> pd.Series:
    """The test strategy's label, computed here independently: log(close[t+h] / close[t])."""
    close = pd.Series(
        candles["close"].to_numpy(float), index=pd.to_datetime(candles["date"], utc=True)
    )
    return pd.Series(np.log(close.shift(-HORIZON).to_numpy() / close.to_numpy()), close.index)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``tradai train`` of the custom-target strategy, registered as ``custom`` v1."""
    tmp = tmp_path_factory.mktemp("custom-target")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 70, seed=11, signal="planted", datadir=data)
    cfg = small_training_config(data, "custom", pairs=PAIRS, backtest_period_days=15, trees=60)
    assert cfg["freqai"]["feature_parameters"]["label_period_candles"] == HORIZON
    path = tmp / "custom.json"
    path.write_text(json.dumps(cfg))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    common = [
        "--config", str(path), "--strategy", STRATEGY, "--strategy-path", str(TEST_STRATEGIES),
        "--datadir", str(data), "--userdir", str(tmp / "user_data"),
    ]  # fmt: skip
    train = ["train", *common, "--timerange", timerange(40, 69), "--offline"]
    res = runner.invoke(app, [*train, "--tracking-uri", uri, "--model-name", "custom"])
    assert res.exit_code == 0, res.output
    assert "registered custom version 1" in res.output
    return {"tmp": tmp, "data": data, "uri": uri, "common": common, "cfg": cfg}


def test_train_scores_and_logs_the_strategys_own_target(trained: dict[str, Any]) -> None:
    reg = RegistryClient(trained["uri"])
    v = reg.version("custom", 1)
    assert v.tags["tradai.strategy"] == STRATEGY
    run = reg.client.get_run(str(v.run_id))
    assert run.data.params["freqaimodel"] == "TrainingPredictionModel"
    assert "oos_rank_ic" in run.data.metrics and "oos_mae" in run.data.metrics
    folder = Path(reg.client.download_artifacts(str(v.run_id), "oos"))
    # the training model's out-of-sample metrics, under the strategy's label
    metrics = json.loads((folder / "tradai_metrics.json").read_text())
    assert set(metrics["summary"]) == {LABEL}
    assert metrics["summary"][LABEL]["metric"] == "rank_ic"
    for payload in metrics["pairs"].values():
        assert [lab["label"] for lab in payload["labels"]] == [LABEL]
    # the report's table: predictions of &-fwd_logret against the realised log return
    table = pd.read_parquet(folder / "predictions.parquet")
    assert set(table["label"]) == {LABEL} and set(table["pair"]) == set(PAIRS)
    candles = load_candles(trained["cfg"], PAIRS, timerange(40, 69))
    for pair, rows in table.groupby("pair"):
        want = log_return(candles[(str(pair), "1h")]).reindex(pd.DatetimeIndex(rows["date"]))
        known = rows["realised"].notna().to_numpy()
        assert known.sum() > 500
        np.testing.assert_allclose(rows["realised"].to_numpy()[known], want.to_numpy()[known])
        assert want.to_numpy()[~known].size <= HORIZON  # only the unlabelled tail is empty


def test_validate_and_report_use_the_strategys_target(trained: dict[str, Any]) -> None:
    tmp, uri = trained["tmp"], trained["uri"]
    out = tmp / "validation.json"
    validate = [
        "validate", *trained["common"], "--timerange", timerange(0, 69), "--cv", "walkforward",
        "--n-groups", "4", "--seeds", "1", "--jobs", "1", "--skip-leakage-check",
        "--tracking-uri", uri, "--json", str(out), "--model", "custom", "--version", "1",
    ]  # fmt: skip
    res = runner.invoke(app, validate)
    assert res.exit_code in (0, 1), res.output  # 1: the verdict failed (the data are short)
    assert f"label {LABEL} (regression)" in res.output
    report = json.loads(out.read_text())
    assert report["splits"] and all(np.isfinite(r["rank_ic"]) for r in report["splits"])

    html_path = tmp / "report.html"
    report_args = ["report", "--model", "custom", "--version", "1", "--tracking-uri", uri]
    res = runner.invoke(app, [*report_args, "--out", str(html_path), "--no-log"])
    assert res.exit_code == 0, res.output
    page = html_path.read_text()
    for key in ("window-ic", "rolling-ic", "ic-decay", "scatter", "validation"):
        section = re.search(rf'<section id="{key}"[^>]*>(.*?)</section>', page, re.S)
        assert section is not None and 'class="nodata"' not in section.group(1), key
    said = html.escape(f"realised values of the strategy's target {LABEL}")
    assert said in page  # the rolling IC names what it correlates with
    assert "not of the strategy's own target" in page  # so does the decay


def test_live_prediction_log_realises_the_strategys_own_label(trained: dict[str, Any]) -> None:
    from freqtrade.enums import RunMode
    from inference_helpers import inference_config, runtime_config, strategy_with_model

    from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
    from tradai_strategy.monitoring.prediction_log import PredictionLog

    tmp, uri = trained["tmp"] / "live", trained["uri"]
    tmp.mkdir()
    RegistryClient(uri).client.set_registered_model_alias("custom", "production", "1")
    cfg = inference_config(
        tmp,
        trained["data"],
        {"type": "mlflow", "model_uri": "models:/custom@production"},
        freqaimodel="TradAIMLflowModel",
    )
    log_path = tmp / "pred.sqlite"
    cfg["freqai"]["tradai"].update(tracking_uri=uri, prediction_log_path=str(log_path))
    config = runtime_config(tmp, cfg, RunMode.DRY_RUN)
    config.update(strategy=STRATEGY, strategy_path=str(TEST_STRATEGIES))
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(55, 69))[("BTC/USDT", "1h")]
    for i in range(280, 296):  # one bot iteration per candle, as freqtrade calls the strategy
        out = strategy.populate_indicators(candles.iloc[:i].copy(), {"pair": "BTC/USDT"})
    # the strategy's signals read its own prediction column
    signals = strategy.populate_exit_trend(
        strategy.populate_entry_trend(out.copy(), {"pair": "BTC/USDT"}), {"pair": "BTC/USDT"}
    )
    assert LABEL in out.columns and "exit_long" in signals.columns
    model.shutdown()
    log = PredictionLog(log_path).frame("custom").set_index("time")
    assert len(log) > 100 and set(log["version"]) == {"1"}
    served = out.assign(time=pd.to_datetime(out["date"], utc=True)).set_index("time")
    np.testing.assert_allclose(log["prediction"], served.loc[log.index, LABEL])
    # realised = the strategy's log return once the horizon passed, not the forward mean
    want = log_return(candles.iloc[:295]).loc[log.index]
    done = log["realised"].notna()
    assert done.sum() == len(log) - HORIZON
    np.testing.assert_allclose(log.loc[done, "realised"], want[done])
