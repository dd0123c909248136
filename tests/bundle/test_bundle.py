"""Model bundles: built from a training run, verified on load, registered in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import run_training_backtest, timerange
from inference_helpers import freqai_pickled_predict
from typer.testing import CliRunner

from tradai_strategy.bundle.format import MANIFEST, bundle_from_model_dir, load_bundle
from tradai_strategy.bundle.io import TRUSTED_PIPELINE_TYPES, sha256_file
from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.data.synthetic import write_synthetic_data

PAIRS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A one-window training run with saved models, and its bundle."""
    tmp = tmp_path_factory.mktemp("bundle")
    data = tmp / "data"
    write_synthetic_data(PAIRS, "1h", 62, seed=5, signal="planted", datadir=data)
    _, _, model_dir = run_training_backtest(
        tmp,
        data,
        identifier="bundle-train",
        tr=timerange(40, 60),
        config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
    )
    bundle = bundle_from_model_dir(model_dir, tmp / "bundle", strategy="RadStrategy")
    return {"tmp": tmp, "data": data, "model_dir": model_dir, "bundle": bundle}


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.e2e
@pytest.mark.xdist_group("freqai-models")
def test_bundle_manifest_and_predictions_match_freqai(run):
    manifest = json.loads((run["bundle"] / MANIFEST).read_text())
    assert manifest["strategy"] == "RadStrategy" and manifest["timeframe"] == "1h"
    assert set(manifest["pairs"]) == set(PAIRS)
    assert {"lightgbm", "skops", "freqtrade", "datasieve"} <= set(manifest["versions"])
    assert manifest["freqai"]["feature_parameters"]["label_period_candles"] == 12
    btc = manifest["pairs"]["BTC/USDT"]
    assert btc["labels"] == ["&-s_close"] and "&-s_close" in btc["labels_std"]
    assert btc["train_start"] < btc["train_end"] and btc["reference_space"] == "features"
    # no pickle anywhere in the bundle; every file is covered by a sha256
    files = {p.relative_to(run["bundle"]).as_posix() for p in run["bundle"].rglob("*.*")}
    assert files - {MANIFEST} == set(manifest["artifacts"])
    assert not any(f.endswith((".pkl", ".joblib")) for f in files)

    bundle = load_bundle(run["bundle"])
    model = bundle.model("BTC/USDT")
    ref = pd.read_parquet(run["bundle"] / btc["dir"] / "reference_features.parquet")
    pred, do_predict, di = model.predict(ref)
    window = next(run["model_dir"].glob("sub-train-BTC_*"))
    np.testing.assert_allclose(pred["&-s_close"], freqai_pickled_predict(window, ref), atol=1e-12)
    assert do_predict.tolist() == [1] * len(ref) and di.shape == (len(ref),)
    # a NaN feature gives do_predict 0 (FreqAI would predict on a zero-filled row)
    ref.iloc[3, 0] = np.nan
    assert model.predict(ref)[1][3] == 0


def test_feature_mismatch_names_missing_and_extra(run):
    model = load_bundle(run["bundle"], pairs=["ETH/USDT"]).model("ETH/USDT")
    cols = [*model.features[1:], "%-new_feature", "%%-user_col", "close"]
    with pytest.raises(TradAIDataError) as exc:
        model.check_features(cols)
    msg = str(exc.value)
    assert f"missing 1: {model.features[0]}" in msg and "extra 1: %-new_feature" in msg
    model.check_features([*model.features, "%%-user_col"])  # %% columns are not features


def test_pair_absent(run):
    with pytest.raises(TradAIDataError, match=r"pair SOL/USDT is not in the model bundle"):
        load_bundle(run["bundle"]).model("SOL/USDT")
    with pytest.raises(TradAIDataError, match=r"pair SOL/USDT is not in the model bundle"):
        load_bundle(run["bundle"], pairs=["SOL/USDT"])


def test_corrupted_or_missing_artifact(run, tmp_path):
    bad = _copy(run["bundle"], tmp_path / "corrupt")
    model_file = next(bad.rglob("model.lgb.txt"))
    model_file.write_text(model_file.read_text().replace("tree", "tref", 1))
    with pytest.raises(TradAIDataError, match=r"model\.lgb\.txt is corrupted \(sha256"):
        load_bundle(bad)
    model_file.unlink()
    with pytest.raises(TradAIDataError, match=r"model\.lgb\.txt is missing"):
        load_bundle(bad)
    (bad / MANIFEST).write_text("{not json")
    with pytest.raises(TradAIDataError, match="is corrupted"):
        load_bundle(bad)


class Evil:
    """Stands for any type outside the trusted list."""


def test_untrusted_pipeline_type_is_refused(run, tmp_path):
    import skops.io as sio

    bad = _copy(run["bundle"], tmp_path / "untrusted")
    target = next(bad.rglob("label_pipeline.skops"))
    pipeline = sio.load(target, trusted=list(TRUSTED_PIPELINE_TYPES))
    pipeline.steps.append(("evil", Evil()))
    target.write_bytes(sio.dumps(pipeline))
    manifest = json.loads((bad / MANIFEST).read_text())
    manifest["artifacts"][target.relative_to(bad).as_posix()] = sha256_file(target)
    (bad / MANIFEST).write_text(json.dumps(manifest))  # sha256 fine, content untrusted
    with pytest.raises(TradAIDataError, match=r"refused to load untrusted type.*Evil"):
        load_bundle(bad)


@pytest.mark.e2e
def test_run_without_saved_models_cannot_be_bundled(run, tmp_path):
    _, _, model_dir = run_training_backtest(
        tmp_path, run["data"], identifier="no-save", tr=timerange(40, 60)
    )
    with pytest.raises(TradAIDataError, match="save_backtest_models: true"):
        bundle_from_model_dir(model_dir, tmp_path / "b")
    with pytest.raises(TradAIDataError, match="no trained window for SOL/USDT"):
        bundle_from_model_dir(run["model_dir"], tmp_path / "b", pairs=["SOL/USDT"])


@pytest.mark.e2e
def test_cli_build_and_register_then_pyfunc_predicts(run, tmp_path):
    import mlflow

    runner = CliRunner()
    userdir = run["model_dir"].parents[1]
    out = tmp_path / "cli-bundle"
    args = ["bundle", "build", "--identifier", "bundle-train", "--userdir", str(userdir)]
    res = runner.invoke(app, [*args, "--out", str(out), "--strategy", "RadStrategy"])
    assert res.exit_code == 0, res.output
    assert "BTC/USDT: lightgbm" in res.output
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register = ["bundle", "register", str(out), "--name", "Rad", "--alias", "production"]
    res = runner.invoke(app, [*register, "--tracking-uri", uri])
    assert res.exit_code == 0, res.output
    assert "registered Rad version 1 (models:/Rad@production)" in res.output
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("Rad", "production")
    assert version.tags["tradai.manifest_sha256"] == sha256_file(out / MANIFEST)
    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)  # MLflow 3 keeps logged models in the tracking store
    mlflow.set_registry_uri(uri)
    try:
        pyfunc = mlflow.pyfunc.load_model("models:/Rad@production")
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
    assert pyfunc.metadata.signature.params.to_dict()[0]["name"] == "pair"
    bundle = load_bundle(out)
    ref = pd.read_parquet(out / "pairs" / "ETH_USDT" / "reference_features.parquet").head(20)
    got = pyfunc.predict(ref, params={"pair": "ETH/USDT"})
    want, do_predict, _ = bundle.model("ETH/USDT").predict(ref)
    np.testing.assert_allclose(got["&-s_close"], want["&-s_close"], rtol=0, atol=1e-12)
    assert got["do_predict"].tolist() == do_predict.tolist()


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()
    }


def _build_with_file_size_limit(userdir: Path, out: Path, limit: int):
    """``tradai bundle build`` in a real process whose writes past ``limit`` bytes fail in the
    OS with EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored): a disk full for every larger file."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["bundle", "build", "--identifier", "bundle-train", "--userdir", str(userdir)]
    return subprocess.run(
        [sys.executable, "-m", "tradai_strategy.cli.app", *args, "--out", str(out)],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=apply,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "replacing-a-bundle"])
def test_bundle_build_on_a_full_disk(run, tmp_path, existing):
    """The model files do not fit (4 KB file size limit): one line, exit 2, no partial
    folder, an existing bundle at --out unchanged, the training run untouched."""
    import shutil

    userdir = run["model_dir"].parents[1]
    out = tmp_path / "out" / "bundle"
    if existing:
        shutil.copytree(run["bundle"], out)
    before, source = (_tree(out) if existing else None), _tree(run["model_dir"])
    proc = _build_with_file_size_limit(userdir, out, 4096)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    line = " ".join(line.split())
    assert line.startswith(f"error: writing the bundle {out} failed: file too large")
    assert f"free space on {out.parent}" in line or f"holding {out.parent})" in line
    kept = f"{out} is unchanged" if existing else f"nothing was written to {out}"
    assert line.endswith(f"and run again; {kept}")
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == (["bundle"] if existing else [])
    if existing:
        assert _tree(out) == before
    assert _tree(run["model_dir"]) == source


def test_bundle_build_never_replaces_a_folder_that_is_not_a_bundle(run, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(TradAIDataError, match="exists and is not a bundle folder"):
        bundle_from_model_dir(run["model_dir"], out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # a bundle folder is replaced, by renames: no partial or old folder is left beside it
    again = bundle_from_model_dir(run["model_dir"], tmp_path / "b" / "bundle")
    bundle_from_model_dir(run["model_dir"], again)
    assert [p.name for p in again.parent.iterdir()] == ["bundle"]
    load_bundle(again)
