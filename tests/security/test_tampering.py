"""Tampering with a registered model is refused before any of it is used: a changed model
file, changed pyfunc code, a missing manifest tag, a malicious pickle even with every hash
(and tag) recomputed. Each is refused with one line by the loader, by the verified pyfunc
loader, and through the FreqAI inference model as ``do_predict = 0`` with the reason logged,
never a crash. Real sqlite registry, a tiny real bundle trained on RadStrategy's features.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from freqai_helpers import timerange
from freqtrade.enums import RunMode
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from inference_helpers import PAIRS, inference_config, live_step, runtime_config
from inference_helpers import strategy_with_model as with_model
from registry_helpers import cli
from tiny_bundle import artifact_hashes, make_bundle

from tradai_strategy.bundle.format import MANIFEST, load_bundle
from tradai_strategy.bundle.io import sha256_file
from tradai_strategy.bundle.model_files import write_file_list
from tradai_strategy.bundle.predict import strategy_features
from tradai_strategy.bundle.pyfunc import LOADER_MODULE
from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIError
from tradai_strategy.data.features import load_candles
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.freqai.mlflow_model import TradAIMLflowModel
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.registry.client import RegistryClient
from tradai_strategy.serving.loader import (
    NoServableVersionError,
    RegistryBundleLoader,
    UnverifiedVersionError,
)
from tradai_strategy.serving.pyfunc import load_pyfunc

PAIR = "BTC/USDT"
ROWS = 400  # candles the bot has seen at the live step


class _Payload:
    """Unpickling this runs ``touch <marker>``: proof that a pickle was (not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Synthetic candles, a registry and a tiny bundle on RadStrategy's live features."""
    tmp = tmp_path_factory.mktemp("tamper")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 30, seed=5, signal="planted", datadir=data)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    config = runtime_config(
        tmp, _config(tmp, data, uri, "models:/Unused@production"), RunMode.DRY_RUN
    )
    strategy, model = with_model(config, TradAIMLflowModel)
    candles = load_candles(config, [PAIR], timerange(0, 29))[(PAIR, "1h")].reset_index(drop=True)
    frame = strategy_features(
        FreqaiDataKitchen(config, live=True, pair=PAIR), strategy, candles.iloc[:ROWS], PAIR
    )
    model.shutdown()
    features = [c for c in frame.columns if str(c).startswith("%") and not str(c).startswith("%%")]
    bundle = make_bundle(tmp / "bundle", features=frame[features].iloc[150:], pairs=(PAIR,))
    return {"data": data, "uri": uri, "candles": candles, "bundle": bundle}


def _config(tmp: Path, data: Path, uri: str, model_uri: str) -> dict[str, Any]:
    cfg = inference_config(
        tmp, data, {"type": "mlflow", "model_uri": model_uri}, freqaimodel="TradAIMLflowModel"
    )
    cfg["freqai"]["tradai"]["tracking_uri"] = uri
    return cfg


def _register(world: dict[str, Any], name: str) -> Path:
    """Register the bundle as ``name`` v1 @production; return its stored model folder."""
    assert (
        register_bundle(world["bundle"], name, alias="production", tracking_uri=world["uri"]) == "1"
    )
    source = _client(world).get_model_version_download_uri(name, "1")
    return Path(source.removeprefix("file://"))


def _client(world: dict[str, Any]) -> Any:
    return RegistryClient(world["uri"]).client


def _bundle_dir(stored: Path) -> Path:
    return next(stored.rglob(MANIFEST)).parent


def _live(world: dict[str, Any], name: str, tmp: Path) -> tuple[pd.DataFrame, Any]:
    """One dry-run bot step of TradAIMLflowModel serving ``models:/name@production``."""
    cfg = _config(tmp, world["data"], world["uri"], f"models:/{name}@production")
    strategy, model = with_model(runtime_config(tmp, cfg, RunMode.DRY_RUN), TradAIMLflowModel)
    try:
        out = live_step(strategy, world["candles"].iloc[:ROWS], PAIR)
    finally:
        model.shutdown()
    return out, model


def _refused(
    world: dict[str, Any], name: str, tmp: Path, caplog: pytest.LogCaptureFixture, pattern: str
) -> None:
    """Refused with one line by the loader and the pyfunc loader; through the inference
    model: do_predict = 0 on every candle, nothing served, the reason logged."""
    loader = RegistryBundleLoader(f"models:/{name}@production", tmp / "loader", world["uri"])
    with pytest.raises(TradAIError, match=pattern) as err:
        loader.fetch(*loader.resolve())
    assert "\n" not in str(err.value)
    with pytest.raises(TradAIError, match=pattern):
        load_pyfunc(f"models:/{name}@production", world["uri"], tmp / "pyfunc")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out, model = _live(world, name, tmp / "bot")
    assert len(out) == ROWS and (out["do_predict"] == 0).all()
    assert model.watcher.current is None
    assert re.search(pattern, str(model.watcher.last_error))
    assert re.search(pattern, caplog.text) and "no model ready for BTC/USDT" in caplog.text


def test_an_untampered_version_is_served_and_stores_no_code(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """The control: the same steps predict when nothing was changed."""
    stored = _register(world, "Clean")
    assert not list(stored.rglob("*.py")) and not list(stored.rglob("*.pkl"))
    flavor = yaml.safe_load((stored / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == LOADER_MODULE and not flavor.get("code")
    # MLflow's own models:/ loading writes registered_model_meta into a local store's folder
    # (read by nothing): tolerated by the file-list check
    import mlflow

    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(world["uri"])
    mlflow.set_registry_uri(world["uri"])
    try:
        mlflow.pyfunc.load_model("models:/Clean@production")
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    assert (stored / "registered_model_meta").is_file()
    out, model = _live(world, "Clean", tmp_path / "bot")
    assert model.watcher.version == "1" and out["do_predict"].iloc[-1] == 1
    pyfunc = load_pyfunc("models:/Clean@production", world["uri"], tmp_path / "pyfunc")
    bundle = load_bundle(world["bundle"])
    ref = pd.read_parquet(world["bundle"] / "pairs" / "BTC_USDT" / "reference_features.parquet")
    got = pyfunc.predict(ref, params={"pair": PAIR})
    want, _, _ = bundle.model(PAIR).predict(ref)
    np.testing.assert_allclose(got["&-s_close"], want["&-s_close"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("listed", [True, False], ids=["file-list", "bundle-manifest-only"])
def test_a_changed_model_file_is_refused(
    world: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture, listed: bool
) -> None:
    """``bundle-manifest-only``: a version registered before the file list (its tag absent)
    is still checked against the bundle manifest."""
    name = f"ModelFile-{listed}"
    stored = _register(world, name)
    if not listed:
        _client(world).delete_model_version_tag(name, "1", tag.MODEL_FILES)
    target = _bundle_dir(stored) / "pairs" / "BTC_USDT" / "model.lgb.txt"
    target.write_bytes(target.read_bytes().replace(b"leaf_value=", b"leaf_value=9", 1))
    pattern = (
        r"file data/bundle/pairs/BTC_USDT/model\.lgb\.txt differs from its registered sha256"
        if listed
        else r"artifact pairs/BTC_USDT/model\.lgb\.txt is corrupted \(sha256"
    )
    if listed:
        _refused(world, name, tmp_path, caplog, pattern)
    else:  # the pyfunc loader refuses it for the missing file list, serving for the hash
        loader = RegistryBundleLoader(f"models:/{name}@production", tmp_path / "l", world["uri"])
        with pytest.raises(TradAIError, match=pattern):
            loader.fetch(*loader.resolve())
        with pytest.raises(UnverifiedVersionError, match=r"no tradai\.model_files_sha256 tag"):
            load_pyfunc(f"models:/{name}@production", world["uri"], tmp_path / "p")
        out, model = _live(world, name, tmp_path / "bot")
        assert (out["do_predict"] == 0).all() and model.watcher.current is None
        assert re.search(pattern, str(model.watcher.last_error))


@pytest.mark.parametrize("listed", [True, False], ids=["file-list", "bundle-manifest-only"])
def test_recomputed_hashes_in_the_store_do_not_help(
    world: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture, listed: bool
) -> None:
    """The attacker rewrites the manifest (and the file list) to match the changed model:
    the registry's tags, which the store cannot change, still disagree."""
    name = f"Recomputed-{listed}"
    stored = _register(world, name)
    if not listed:
        _client(world).delete_model_version_tag(name, "1", tag.MODEL_FILES)
    root = _bundle_dir(stored)
    target = root / "pairs" / "BTC_USDT" / "model.lgb.txt"
    target.write_bytes(target.read_bytes().replace(b"leaf_value=", b"leaf_value=9", 1))
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["artifacts"] = artifact_hashes(root)
    (root / MANIFEST).write_text(json.dumps(manifest))
    write_file_list(stored)
    pattern = (
        r"file list tradai_model_files\.json has sha256 \w+\.\.\., not \w+\.\.\. as registered"
        if listed
        else r"differs from the registry tag tradai\.manifest_sha256"
    )
    loader = RegistryBundleLoader(f"models:/{name}@production", tmp_path / "l", world["uri"])
    with pytest.raises(TradAIError, match=pattern):
        loader.fetch(*loader.resolve())
    if listed:
        _refused(world, name, tmp_path, caplog, pattern)


def _skops_with_untrusted_type() -> bytes:
    """A skops file whose pipeline calls ``os.system``: refused by type before loading."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return sio.dumps(Pipeline([("boom", FunctionTransformer(func=os.system))]))


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        ("feature_pipeline.skops", r"feature_pipeline\.skops: not a readable skops pipeline"),
        ("model.lgb.txt", r"model\.lgb\.txt: not a readable lightgbm model"),
        ("untrusted.skops", r"label_pipeline\.skops: refused to load untrusted type"),
    ],
)
def test_a_malicious_pickle_is_never_unpickled_even_with_every_hash_and_tag_recomputed(
    world: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    where: str,
    pattern: str,
) -> None:
    """Someone who can write both the store and the registry (or registers a bad bundle):
    every sha256 and both tags match, so only the loaders stand between the file and the
    process: they parse native formats and skops with a type allow-list, never pickle."""
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    name = f"Pickle-{where}"
    stored = _register(world, name)
    root = _bundle_dir(stored)
    folder = root / "pairs" / "BTC_USDT"
    if where == "untrusted.skops":
        (folder / "label_pipeline.skops").write_bytes(_skops_with_untrusted_type())
    else:
        (folder / where).write_bytes(payload)
    (folder / "model.joblib").write_bytes(payload)  # an extra pickle, listed: never read
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["artifacts"] = artifact_hashes(root)
    (root / MANIFEST).write_text(json.dumps(manifest))
    client = _client(world)
    client.set_model_version_tag(name, "1", tag.MANIFEST, sha256_file(root / MANIFEST))
    client.set_model_version_tag(name, "1", tag.MODEL_FILES, write_file_list(stored))
    _refused(world, name, tmp_path, caplog, pattern)
    assert not marker.exists()
    pickle.loads(payload)  # the control: unpickling it does run the payload
    assert marker.exists()


def test_a_missing_manifest_tag_is_refused_and_never_promoted(
    world: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "NoManifestTag"
    _register(world, name)
    _client(world).delete_model_version_tag(name, "1", tag.MANIFEST)
    pattern = r"@production is unverified \(version 1: no tradai\.manifest_sha256 tag"
    _refused(world, name, tmp_path, caplog, pattern)
    assert "TradAI ALERT" in caplog.text and "stop serving" in caplog.text
    pinned = RegistryBundleLoader(f"models:/{name}/1", tmp_path / "pinned", world["uri"])
    with pytest.raises(NoServableVersionError, match=r"models:/NoManifestTag/1 is unverified"):
        pinned.resolve()
    with pytest.raises(UnverifiedVersionError, match=r"has no tradai\.manifest_sha256 tag"):
        pinned.fetch("1", None)
    code, out = cli(world["uri"], "promote", name, "1", "--force", "--reason", "trust me")
    assert code == 2 and "not even with --force" in out


def test_changed_pyfunc_code_is_never_imported(
    world: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The store holds no code; code planted there and named in MLmodel is refused by every
    TradAI path before MLflow could import it (plain ``mlflow.pyfunc.load_model`` would)."""
    marker = tmp_path / "pwned"
    name = "PlantedCode"
    stored = _register(world, name)
    (stored / "code").mkdir()
    (stored / "code" / "evil_loader.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "def _load_pyfunc(path, config=None):\n    raise SystemExit('pwned')\n"
    )
    mlmodel = yaml.safe_load((stored / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"].update(loader_module="evil_loader", code="code")
    (stored / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    _refused(world, name, tmp_path, caplog, r"file MLmodel differs from its registered sha256")
    assert not marker.exists()
    # the control: MLflow alone imports the planted module
    import mlflow

    copy = tmp_path / "copy"
    shutil.copytree(stored, copy)
    path = list(sys.path)
    try:
        with pytest.raises(SystemExit, match="pwned"):
            mlflow.pyfunc.load_model(str(copy))
    finally:
        sys.path[:] = path
        sys.modules.pop("evil_loader", None)
    assert marker.exists()


_LEGACY_CODE = """\
from mlflow.models import set_model

from tradai_strategy.bundle.pyfunc import BundlePyfuncModel

set_model(BundlePyfuncModel())
"""


def test_a_legacy_versions_stored_code_is_never_run_by_serving(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """A version registered as "model from code" (before the loader module) keeps its code
    file in the store. Serving reads only the verified bundle, so an edited code file never
    runs and the bundle is served; the pyfunc loader refuses it (no file list to check)."""
    import mlflow

    from tradai_strategy.registry import store

    code = tmp_path / "tradai_bundle_model.py"
    code.write_text(_LEGACY_CODE)
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    try:
        experiment = store.get_or_create_experiment("legacy", world["uri"])
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                artifacts={"bundle": str(world["bundle"])},
                pip_requirements=["lightgbm"],
                registered_model_name="Legacy",
            )
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    version = str(info.registered_model_version)
    client = _client(world)
    sha = sha256_file(world["bundle"] / MANIFEST)
    client.set_model_version_tag("Legacy", version, tag.MANIFEST, sha)
    client.set_registered_model_alias("Legacy", "production", version)
    stored = Path(client.get_model_version_download_uri("Legacy", version).removeprefix("file://"))
    (stored_code,) = [p for p in stored.rglob("*.py") if p.name == code.name]
    marker = tmp_path / "pwned"
    stored_code.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    out, model = _live(world, "Legacy", tmp_path / "bot")
    assert model.watcher.version == version and out["do_predict"].iloc[-1] == 1
    with pytest.raises(UnverifiedVersionError, match=r"no tradai\.model_files_sha256 tag"):
        load_pyfunc("models:/Legacy@production", world["uri"], tmp_path / "pyfunc")
    assert not marker.exists()
