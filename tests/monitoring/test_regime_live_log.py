"""A regime model in dry-run: the prediction log holds what was served (the predicted regime
and every regime's probability), the realised regime once its forward window has passed (the
training label, computed on the candles the bot held), and the daily accuracy on
non-overlapping rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import timerange
from freqtrade.enums import RunMode
from inference_helpers import live_step, runtime_config, strategy_with_model
from regime_serving_helpers import REGIME, H, regime_serving_config, registered_regime_model

from tradai_strategy.core.regimes import REGIME_LABEL, REGIMES, RegimeSettings, regime_labels
from tradai_strategy.data.features import load_candles
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.monitoring.class_accuracy import daily_accuracy, live_accuracy
from tradai_strategy.monitoring.prediction_log import PredictionLog

pytestmark = pytest.mark.e2e
CLASSES = sorted(REGIMES)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return registered_regime_model(tmp_path_factory)


@pytest.mark.xdist_group("freqai-models")
def test_live_regime_log_has_classes_probabilities_realised_regime_and_accuracy(
    tmp_path: Path, run: dict
) -> None:
    path = tmp_path / "pred.sqlite"
    cfg = regime_serving_config(tmp_path, run)
    cfg["freqai"]["tradai"]["prediction_log_path"] = str(path)
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    pair = "BTC/USDT"
    candles = load_candles(config, [pair], timerange(80, 110))[(pair, "1h")]
    for i in (620, 621, 622):  # the model trained up to day 90; day 80 + 620 h = day 105.8
        out = live_step(strategy, candles.iloc[:i], pair)
    model.shutdown()
    assert out["do_predict"].iloc[-1] == 1 and out[REGIME_LABEL].iloc[-1] in REGIMES
    log = PredictionLog(path).class_frame("Regime", role="champion").set_index("time")
    served = out.assign(time=pd.to_datetime(out["date"], utc=True)).set_index("time")
    assert len(log) > 300  # every served candle after the training end
    assert log.columns[-5:].tolist() == CLASSES and (log["horizon"] == H).all()
    np.testing.assert_allclose(
        log[CLASSES].to_numpy(), served.loc[log.index, CLASSES].to_numpy(), rtol=0, atol=1e-12
    )
    assert log["predicted"].tolist() == served.loc[log.index, REGIME_LABEL].tolist()
    # realised: the training label on the candles the bot held, none within h of the end
    close = candles.iloc[:622].set_index(pd.to_datetime(candles["date"].iloc[:622], utc=True))
    truth = regime_labels(close["close"], H, RegimeSettings(**REGIME))
    known = log["realised"].notna()
    assert known.sum() > 250 and not known.iloc[-H:].any()
    assert log.loc[known, "realised"].tolist() == truth.reindex(log.index[known]).tolist()
    # accuracy: every h-th candle only, s.e. from those rows
    rows = log.reset_index()
    daily = daily_accuracy(rows)
    summary = live_accuracy(rows, days=30)
    assert summary is not None and summary.horizon == H and summary.n == daily["n"].sum()
    grid = rows[known.to_numpy() & (rows["time"].dt.hour % H == 0).to_numpy()]
    direct = float((grid["predicted"] == grid["realised"]).mean())
    assert summary.accuracy == pytest.approx(direct)
    assert summary.se == pytest.approx(np.sqrt(direct * (1 - direct) / len(grid)), rel=0.05)
    print(summary.text())


def test_drift_of_a_regime_model_reads_every_class_probability(tmp_path: Path, run: dict) -> None:
    from tradai_strategy.bundle.format import load_bundle
    from tradai_strategy.monitoring.check import check_bundle_drift, current_features
    from tradai_strategy.monitoring.reference import load_reference, model_outputs
    from tradai_strategy.stats.drift import ks_statistic, last_days

    bundle = load_bundle(run["bundle"])
    config = runtime_config(tmp_path, regime_serving_config(tmp_path, run), RunMode.BACKTEST)
    current = current_features(
        config, ["BTC/USDT"], datadir=run["data"], timerange=timerange(80, 120)
    )
    report = check_bundle_drift(bundle, current, model="Regime", days=20)
    model = bundle.model("BTC/USDT")
    ref = model_outputs(model, "features", load_reference(bundle, "BTC/USDT"))
    cur = model_outputs(model, "features", last_days(current["BTC/USDT"], 20))
    assert ref.shape[1] == cur.shape[1] == 5
    np.testing.assert_allclose(ref.sum(axis=1), 1.0, atol=1e-9)
    ks = [ks_statistic(ref[:, i], cur[:, i]) for i in range(5)]
    row = report.predictions.set_index("pair").loc["BTC/USDT"]
    assert row["ks"] == pytest.approx(max(ks))
    assert row["output"] == f"P({model.classes[int(np.argmax(ks))]})"
    print({c: round(k, 3) for c, k in zip(model.classes, ks, strict=True)}, row["level"])
