"""Serving never uses a retired version: @production unset or retired -> @fallback; neither
servable -> "no model ready" (do_predict = 0), never a crash loop. Real sqlite registry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from freqai_helpers import SMALL_LGBM, run_training_backtest, timerange
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from inference_helpers import inference_config, live_step, runtime_config, strategy_with_model

from tradai_strategy.bundle.format import bundle_from_model_dir, load_bundle
from tradai_strategy.bundle.predict import strategy_features
from tradai_strategy.core import tags as tag
from tradai_strategy.data.features import load_candles
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.lifecycle.promotion import Lifecycle, retire
from tradai_strategy.registry.audit import AuditTrail
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.registry.client import RegistryClient, RegistryError
from tradai_strategy.serving.loader import (
    SERVED_FILE,
    NoServableVersionError,
    RegistryBundleLoader,
    choose_serving,
    serving_version,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]
LABEL = "&-s_close"
#: a manifest tag (no bundle behind it): versions without one are never served
VERIFIABLE = {tag.MANIFEST: "0" * 64}


def _retire(reg: RegistryClient, name: str, version: str) -> None:
    """Only the retirement tag (aliases stay on purpose: serving must also refuse an alias
    still pointing at a retired version, e.g. after a crash halfway through retire())."""
    reg.set_tags(name, version, {tag.RETIRED: "true"})


@pytest.fixture(scope="module")
def registry_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite registry for the module (creating its schema takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"


# ---- serving_version on a bare registry (no artifacts needed) -----------------------------
def test_serving_version_prefers_alias_then_fallback_never_retired(
    tmp_path: Path, registry_uri: str
) -> None:
    reg = RegistryClient(registry_uri)
    reg.client.create_registered_model("M")
    for _ in range(3):
        reg.client.create_model_version("M", source=str(tmp_path), tags=VERIFIABLE)
    assert serving_version(reg, "M") is None  # nothing aliased
    reg.set_alias("M", "production", 3)
    reg.set_alias("M", "fallback", 2)
    assert serving_version(reg, "M").version == "3"
    assert choose_serving(reg, "M")[1] == []
    _retire(reg, "M", "3")
    got, notes = choose_serving(reg, "M")
    assert got is not None and got.version == "2" and "fallback" in got.aliases
    assert notes == ["@production is retired (version 3)"]
    reg.delete_alias("M", "production")
    got, notes = choose_serving(reg, "M")
    assert got is not None and got.version == "2" and notes == ["alias production not found"]
    _retire(reg, "M", "2")
    assert choose_serving(reg, "M") == (
        None,
        ["alias production not found", "@fallback is retired (version 2)"],
    )
    # another alias falls back the same way; @fallback itself is looked at once
    reg.set_alias("M", "staging", 1)
    assert serving_version(reg, "M", "staging").version == "1"
    assert choose_serving(reg, "M", "fallback") == (None, ["@fallback is retired (version 2)"])
    with pytest.raises(RegistryError, match="model 'Nope' is not registered"):
        serving_version(reg, "Nope")
    # a version without a manifest tag (a registration that never finished) is skipped too
    reg.client.create_model_version("M", source=str(tmp_path))
    reg.set_alias("M", "staging", 4)
    reg.set_alias("M", "fallback", 1)
    got, notes = choose_serving(reg, "M", "staging")
    assert got is not None and got.version == "1"
    assert notes == [
        "@staging is unverified (version 4: no tradai.manifest_sha256 tag: its files cannot "
        "be verified)"
    ]


def test_loader_refuses_a_pinned_retired_version_and_names_the_fix(
    tmp_path: Path, registry_uri: str
) -> None:
    uri = registry_uri
    reg = RegistryClient(uri)
    reg.client.create_registered_model("P")
    reg.client.create_model_version("P", source=str(tmp_path))
    _retire(reg, "P", "1")
    pinned = RegistryBundleLoader("models:/P/1", tmp_path / "cache", uri)
    with pytest.raises(NoServableVersionError, match=r"models:/P/1 is retired"):
        pinned.resolve()
    alias = RegistryBundleLoader("models:/P@production", tmp_path / "cache", uri)
    reg.set_alias("P", "production", 1)
    with pytest.raises(NoServableVersionError) as err:
        alias.resolve()
    msg = str(err.value)
    assert "@production is retired (version 1); no @fallback" in msg
    assert "tradai promote P VERSION --to production" in msg and "\n" not in msg


# ---- the live path: FreqAI's start() candle by candle ------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, registry_uri: str) -> dict:
    """Two different bundles: Rad v1 @production, v2 @fallback, in a sqlite registry."""
    tmp = tmp_path_factory.mktemp("fallback")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 80, seed=8, signal="planted", datadir=data)
    bundles = {}
    for version, params in (("1", {"n_estimators": 30}), ("2", {"num_leaves": 4})):
        _, _, model_dir = run_training_backtest(
            tmp,
            data,
            identifier=f"fb{version}",
            tr=timerange(40, 60),
            meta_overrides={"model_training_parameters": {**SMALL_LGBM, **params}},
            config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
        )
        bundles[version] = bundle_from_model_dir(model_dir, tmp / f"b{version}", strategy="Rad")
    uri = registry_uri
    assert register_bundle(bundles["1"], "Rad", alias="production", tracking_uri=uri) == "1"
    assert register_bundle(bundles["2"], "Rad", alias="fallback", tracking_uri=uri) == "2"
    return {"tmp": tmp, "data": data, "uri": uri, "bundles": bundles}


def test_retired_production_is_replaced_by_fallback_at_the_next_candle(
    served: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = inference_config(
        tmp_path,
        served["data"],
        {"type": "mlflow", "model_uri": "models:/Rad@production"},
        freqaimodel="TradAIMLflowModel",
    )
    cfg["freqai"]["tradai"]["tracking_uri"] = served["uri"]
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    reg = RegistryClient(served["uri"])
    candles = load_candles(config, ["BTC/USDT"], timerange(50, 70))[("BTC/USDT", "1h")]
    candles = candles.reset_index(drop=True)
    bundles = {v: load_bundle(p) for v, p in served["bundles"].items()}

    def step(i: int) -> float:
        out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
        assert len(out) == i
        return float(out[LABEL].iloc[-1]) if out["do_predict"].iloc[-1] == 1 else float("nan")

    def expected(version: str, i: int) -> float:
        dk = FreqaiDataKitchen(config, live=True, pair="BTC/USDT")
        frame = strategy_features(dk, strategy, candles.iloc[:i], "BTC/USDT")
        pred, _, _ = bundles[version].model("BTC/USDT").predict(frame.tail(1))
        return float(pred[LABEL].iloc[0])

    assert step(300) == pytest.approx(expected("1", 300), abs=1e-12)
    assert model.watcher.version == "1"
    # the lifecycle's retire(): tags version 1 and removes @production (audited)
    lc = Lifecycle(reg, AuditTrail(tmp_path / "audit.db"))
    retire(lc, "Rad", "1", reason="IC decayed")
    assert reg.aliases("Rad") == {"fallback": "2"}
    with caplog.at_level(logging.INFO):
        assert step(301) == pytest.approx(expected("2", 301), abs=1e-12)
        assert step(302) == pytest.approx(expected("2", 302), abs=1e-12)
    assert model.watcher.version == "2"
    warned = [r for r in caplog.records if "serving @fallback version 2" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING  # once, not per candle
    assert "alias production not found" in warned[0].getMessage()
    assert "now serving models:/Rad@production version 2 (was: version 1)" in caplog.text
    # the fallback retired too (tag only: @fallback still names it), nothing servable ->
    # do_predict = 0, the bot keeps going
    _retire(reg, "Rad", "2")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for i in (303, 304, 305):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
            assert out["do_predict"].iloc[-1] == 0 and out[LABEL].iloc[-1] == 0
    assert model.watcher.version is None
    alerts = [r for r in caplog.records if "stop serving version 2" in r.getMessage()]
    assert len(alerts) == 1
    assert "no model ready for BTC/USDT" in caplog.text
    assert "@fallback is retired (version 2)" in caplog.text
    cache = Path(model.full_path) / "registry_cache" / "Rad"
    assert not (cache / SERVED_FILE).exists()  # a restart must not serve it from the cache
    # a new version promoted to production: served at the next candle, recovery logged
    assert register_bundle(served["bundles"]["1"], "Rad", tracking_uri=served["uri"]) == "3"
    reg.set_alias("Rad", "production", 3)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert step(306) == pytest.approx(expected("1", 306), abs=1e-12)
    assert model.watcher.version == "3"
    assert "now serving models:/Rad@production version 3 (was: no model)" in caplog.text
    model.shutdown()


def test_retired_production_is_dropped_when_the_fallback_cannot_be_loaded(
    served: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keeping the old version on a bad new one is right after a promotion, never after a
    retirement: then the bot predicts nothing rather than with the retired model."""
    reg = RegistryClient(served["uri"])
    assert register_bundle(served["bundles"]["1"], "RadB", tracking_uri=served["uri"]) == "1"
    reg.set_alias("RadB", "production", 1)
    empty = tmp_path / "not-a-bundle"
    empty.mkdir()
    reg.client.create_model_version("RadB", source=str(empty), tags=VERIFIABLE)
    reg.set_alias("RadB", "fallback", 2)
    cfg = inference_config(
        tmp_path,
        served["data"],
        {"type": "mlflow", "model_uri": "models:/RadB@production"},
        freqaimodel="TradAIMLflowModel",
    )
    cfg["freqai"]["tradai"]["tracking_uri"] = served["uri"]
    config = runtime_config(tmp_path, cfg, RunMode.DRY_RUN)
    strategy, model = strategy_with_model(config, TradAIMLflowModel)
    candles = load_candles(config, ["BTC/USDT"], timerange(50, 70))[("BTC/USDT", "1h")]
    out = live_step(strategy, candles.iloc[:300], "BTC/USDT")
    assert out["do_predict"].iloc[-1] == 1 and model.watcher.version == "1"
    _retire(reg, "RadB", "1")
    with caplog.at_level(logging.WARNING):
        for i in (301, 302, 303):
            out = live_step(strategy, candles.iloc[:i], "BTC/USDT")
            assert out["do_predict"].iloc[-1] == 0
    assert model.watcher.version is None
    stops = [r.getMessage() for r in caplog.records if "stop serving version 1" in r.getMessage()]
    assert len(stops) == 1
    assert "version 1 is retired and version 2 cannot be served" in stops[0]
    assert "not a TradAI bundle" in stops[0]
    model.shutdown()
