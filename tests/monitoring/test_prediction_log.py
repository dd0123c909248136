"""The sqlite prediction log: write, realised targets, roles, retention, WAL, index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradai_strategy.core.errors import MonitoringError
from tradai_strategy.core.labels import forward_mean_return
from tradai_strategy.monitoring.prediction_log import (
    PredictionLog,
    default_prediction_log_path,
    realised_from_candles,
)


def _rows(times: pd.DatetimeIndex, role: str = "champion", version: str = "3") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": times,
            "pair": "BTC/USDT",
            "model": "rad",
            "version": version,
            "role": role,
            "prediction": np.arange(len(times), dtype=float) / 100,
        }
    )


def test_log_roundtrip_and_realised(tmp_path: Path) -> None:
    log = PredictionLog(default_prediction_log_path(tmp_path))
    t = pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC")
    assert log.log(_rows(t)) == 6
    assert log.log(_rows(t[:2], role="shadow", version="4")) == 2
    assert log.log(_rows(t[:1])) == 1  # replaces, no duplicate
    frame = log.frame("rad")
    assert len(frame) == 8 and frame["realised"].isna().all()
    assert str(frame["time"].dt.tz) == "UTC"
    updated = log.record_realised(
        pd.DataFrame({"time": t[:3], "pair": "BTC/USDT", "realised": [0.1, np.nan, 0.3]})
    )
    assert updated == 3  # t0 champion + shadow, t2 champion (t1's NaN skipped)
    frame = log.frame("rad", role="champion")
    assert frame["realised"].iloc[0] == 0.1 and frame["realised"].iloc[2] == 0.3
    assert frame["realised"].iloc[1:2].isna().all() and frame["realised"].iloc[3:].isna().all()
    shadow = log.frame("rad", role="shadow")
    assert shadow["realised"].iloc[0] == 0.1 and shadow["version"].tolist() == ["4", "4"]
    assert len(log.frame("rad", since=t[4])) == 2
    assert log.frame("other").empty


def test_wal_mode_and_index(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    con = sqlite3.connect(log.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[1] for r in con.execute("PRAGMA index_list(predictions)")}
    assert "predictions_model_time" in indexes
    cols = [r[2] for r in con.execute("PRAGMA index_info(predictions_model_time)")]
    assert cols == ["model", "time_ms"]
    con.close()


def test_prune_keeps_retention_window(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    t = pd.date_range("2025-01-01", periods=40, freq="D", tz="UTC")
    log.log(_rows(t))
    now = pd.Timestamp("2025-02-09 12:00", tz="UTC")  # day 39 + 12 h
    assert log.prune(30, now=now) == 10  # days 0..9 are older than 2025-01-10 12:00
    assert log.frame()["time"].min() == pd.Timestamp("2025-01-11", tz="UTC")
    with pytest.raises(MonitoringError, match="retention_days"):
        log.prune(0)


def test_bad_rows_are_rejected(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "p.sqlite")
    t = pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC")
    with pytest.raises(MonitoringError, match="missing column"):
        log.log(_rows(t).drop(columns="version"))
    with pytest.raises(MonitoringError, match="role 'spare'"):
        log.log(_rows(t, role="spare"))
    bad = _rows(t)
    bad["time"] = [t[0], None]
    with pytest.raises(MonitoringError, match="empty values"):
        log.log(bad)


def test_realised_from_candles_matches_strategy_label() -> None:
    close = pd.Series([100.0, 101.0, 99.0, 102.0, 104.0, 103.0])
    candles = pd.DataFrame(
        {"date": pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC"), "close": close}
    )
    out = realised_from_candles(candles, 2, pair="ETH/USDT")
    assert len(out) == 4  # the last 2 candles' horizon has not passed
    assert out["realised"].tolist() == pytest.approx(
        forward_mean_return(close, 2).dropna().tolist()
    )
    # hand check of the first: mean(101, 99) / 100 - 1
    assert out["realised"].iloc[0] == pytest.approx(0.0)
    assert (out["pair"] == "ETH/USDT").all()


def test_shadow_swap_keeps_the_served_models_restart_record(tmp_path: Path) -> None:
    """The shadow shares the served model's cache folder: its hot swap (and its stop) must
    leave the served model's record alone, else a restart with the registry down serves
    nothing."""
    from tradai_strategy.serving.live_log import ShadowLoader, ShadowWatcher
    from tradai_strategy.serving.loader import SERVED_FILE, RegistryBundleLoader
    from tradai_strategy.serving.watcher import Served

    uri = (tmp_path / "mlruns").as_uri()
    served = RegistryBundleLoader("models:/Rad@production", tmp_path / "cache", uri)
    served.remember("1", "abc")
    shadow = ShadowWatcher(ShadowLoader("models:/Rad@challenger", tmp_path / "cache", uri), 60, 1)
    try:
        shadow._serve(Served("2", "def", bundle=None))  # type: ignore[arg-type]
        assert served.last_served() == ("1", "abc")
        assert shadow.loader.last_served() == ("2", "def")
        shadow._stop_serving("alias not set")
        assert served.last_served() == ("1", "abc")
        assert (tmp_path / "cache" / "Rad" / SERVED_FILE).is_file()
    finally:
        shadow.close()


# ---- the live hook in TradAIMLflowModel (dry-run), with a shadow challenger ----------------
LABEL = "&-s_close"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small training run; its bundle registered twice: v1 @production, v2 @challenger."""
    from inference_helpers import registered_small_bundle

    from tradai_strategy.data.synthetic import write_synthetic_data
    from tradai_strategy.registry.bundle_registry import register_bundle

    tmp = tmp_path_factory.mktemp("live-log")
    data = tmp / "data"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 80, seed=3, signal="planted", datadir=data)
    bundle, uri = registered_small_bundle(tmp, data, "live-log")
    assert register_bundle(bundle, "Rad", alias="challenger", tracking_uri=uri) == "2"
    return {"tmp": tmp, "data": data, "uri": uri}


def _live_model(tmp: Path, served: dict, runmode, **tradai):
    from inference_helpers import inference_config, runtime_config, strategy_with_model

    from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel

    cfg = inference_config(
        tmp,
        served["data"],
        {"type": "mlflow", "model_uri": "models:/Rad@production"},
        freqaimodel="TradAIMLflowModel",
    )
    cfg["freqai"]["tradai"].update(tracking_uri=served["uri"], **tradai)
    config = runtime_config(tmp, cfg, runmode)
    return config, *strategy_with_model(config, TradAIMLflowModel)


def test_dry_run_logs_champion_shadow_and_realised(tmp_path, served):
    from freqai_helpers import timerange
    from freqtrade.enums import RunMode
    from inference_helpers import live_step

    from tradai_strategy.data.features import load_candles

    path = tmp_path / "pred.sqlite"
    config, strategy, model = _live_model(
        tmp_path,
        served,
        RunMode.DRY_RUN,
        prediction_log_path=str(path),
        shadow_alias="challenger",
    )
    candles = load_candles(config, ["BTC/USDT"], timerange(55, 75))[("BTC/USDT", "1h")]
    for i in range(300, 316):
        out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
    model.shutdown()
    log = PredictionLog(path).frame("Rad")
    champ = log[log["role"] == "champion"].set_index("time")
    shadow = log[log["role"] == "shadow"].set_index("time")
    assert set(champ["version"]) == {"1"} and set(shadow["version"]) == {"2"}
    # every served candle after the training end is logged, with what the strategy received
    served_rows = out.assign(time=pd.to_datetime(out["date"], utc=True)).set_index("time")
    common = champ.index.intersection(served_rows.index)
    assert len(common) == len(champ) > 200
    np.testing.assert_allclose(champ.loc[common, "prediction"], served_rows.loc[common, LABEL])
    # the shadow is the same bundle: same predictions, logged only
    np.testing.assert_allclose(shadow["prediction"], champ.loc[shadow.index, "prediction"])
    # realised = the strategy's label, filled once the 12-candle horizon has passed
    seen = candles.iloc[:315].assign(time=pd.to_datetime(candles["date"].iloc[:315], utc=True))
    want = pd.Series(forward_mean_return(seen["close"], 12).to_numpy(), index=seen["time"])
    done = champ["realised"].notna()
    assert done.sum() == len(champ) - 12
    np.testing.assert_allclose(champ.loc[done, "realised"], want.loc[champ.index[done]])


def test_backtest_never_logs_and_log_failures_never_stop_predictions(tmp_path, served, caplog):
    import logging

    from freqai_helpers import timerange
    from freqtrade.enums import RunMode
    from inference_helpers import live_step

    from tradai_strategy.data.features import load_candles

    _, _, bt_model = _live_model(tmp_path / "bt", served, RunMode.BACKTEST)
    assert bt_model.plog is None and bt_model.shadow is None
    bt_model.shutdown()

    path = tmp_path / "pred.sqlite"
    config, strategy, model = _live_model(
        tmp_path, served, RunMode.DRY_RUN, prediction_log_path=str(path), shadow_alias="staging"
    )
    candles = load_candles(config, ["BTC/USDT"], timerange(55, 75))[("BTC/USDT", "1h")]
    with caplog.at_level(logging.WARNING):
        live_step(strategy, candles.iloc[:300], "BTC/USDT")
        live_step(strategy, candles.iloc[:301], "BTC/USDT")
    model.plog.flush()  # the writes run on a background thread
    # an unset shadow alias: no shadow rows, one clear line, no fallback model shadowed
    assert set(PredictionLog(path).frame("Rad")["role"]) == {"champion"}
    assert caplog.text.count("no shadow predictions (models:/Rad@staging: alias not set") == 1
    assert "stop serving" not in caplog.text
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.mkdir()  # the database became a folder: every write fails
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        for i in (302, 303, 304):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
    model.shutdown()
    assert (out["do_predict"].tail(3) == 1).all() and out[LABEL].tail(3).notna().all()
    assert caplog.text.count("could not log predictions") == 1
    assert caplog.text.count("could not record realised targets") == 1


def test_live_logger_arrays_and_bad_inputs_never_raise_into_the_bot(tmp_path, caplog):
    """The writer logs plain arrays; rows or candles it cannot read are logged once per
    streak and never raise into the prediction path."""
    import logging
    from types import SimpleNamespace

    from tradai_strategy.serving.live_log import LivePredictionLogger, LogSettings

    path = tmp_path / "p.sqlite"
    settings = LogSettings(True, path, 30, 2, None)
    plog = LivePredictionLogger(settings, "Rad")
    model = SimpleNamespace(score_column="&-s_close", train_end=pd.Timestamp("2024-01-01 01:00Z"))
    dates = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    rows = pd.DataFrame({"date": dates, "&-s_close": [0.1, 0.2, np.nan, 0.4, 0.5, 0.6]})
    close = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    plog.predictions("BTC/USDT", "3", model, rows, "champion")
    plog.realised("BTC/USDT", pd.DataFrame({"date": dates, "close": close}))
    with caplog.at_level(logging.ERROR):
        for _ in range(2):
            plog.predictions("BTC/USDT", "3", model, rows.drop(columns="&-s_close"), "champion")
            plog.realised("BTC/USDT", pd.DataFrame({"date": dates}))
    plog.close()
    assert caplog.text.count("could not log predictions") == 1
    assert caplog.text.count("could not record realised targets") == 1
    got = PredictionLog(path).frame("Rad")
    # rows after the training end only; the NaN prediction is stored empty
    assert got["time"].tolist() == list(dates[2:])
    np.testing.assert_allclose(got["prediction"], [np.nan, 0.4, 0.5, 0.6])
    want = forward_mean_return(pd.Series(close), 2).to_numpy()[2:]
    np.testing.assert_allclose(got["realised"], want)  # the last 2 still unknown (NaN)


def test_a_corrupt_log_is_one_line_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "tradai_predictions.sqlite"
    bad.write_bytes(b"this is not a database, it was overwritten " * 100)
    with pytest.raises(MonitoringError) as err:
        PredictionLog(bad)
    text = str(err.value)
    assert "\n" not in text and str(bad) in text and "not a database" in text
    assert "move it aside" in text
