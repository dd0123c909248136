"""No password of a tracking URI or a storage URL in anything TradAI prints, logs, tags or
writes (issue 16, item 4), and no silently ignored typo in ``freqai.tradai`` (item 5).

The end-to-end checks run the real commands (typer's CliRunner on the ``tradai`` app, a real
``mlflow server``, freqtrade in-process) with ``alice:s3cr3t`` in the URL and grep every
output: the commands' stdout/stderr, the log records, every file written (zip members too)
and what MLflow stored (params, tags, descriptions).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.redact import (
    RedactingStream,
    redact_log_records,
    redact_obj,
    redact_text,
    redact_url,
)
from tradai_strategy.core.settings import TRADAI_KEYS, TradAISettings

SECRET = "s3cr3t"
runner = CliRunner()


def _closed_port() -> int:
    """A local port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str) -> tuple[int, str]:
    """``tradai ARGS``: exit code and everything it printed (stdout and stderr)."""
    res = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return res.exit_code, res.output  # click >= 8.2: stdout and stderr, as a terminal shows


def _files_with_secret(root: Path) -> list[str]:
    """Every file under ``root`` (and every member of a zip) holding the secret."""
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if SECRET.encode() in path.read_bytes():
            hits.append(str(path))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                hits += [f"{path}!{m}" for m in zf.namelist() if SECRET.encode() in zf.read(m)]
    return hits


@pytest.fixture
def log_factory():
    """Leave the process's log-record factory as it was."""
    before = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(before)


# ---- the redaction helper ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:s3cr3t@127.0.0.1:5000", "http://alice:***@127.0.0.1:5000"),
        (
            "https://alice:s3cr3t@mlflow.example.com/api?x=1",
            "https://alice:***@mlflow.example.com/api?x=1",
        ),
        ("http://alice:s3cr3t@[::1]:5000/", "http://alice:***@[::1]:5000/"),
        (
            "postgresql+psycopg://u:s3cr3t@db:5432/optuna",
            "postgresql+psycopg://u:***@db:5432/optuna",
        ),
        ("mysql://root:s3cr3t@localhost/optuna", "mysql://root:***@localhost/optuna"),
        ("http://alice:p@s3cr3t@host:1/", "http://alice:***@host:1/"),  # a raw @ in it
        ("http://:s3cr3t@host", "http://:***@host"),  # password only
        ("https://host/x?token=s3cr3t&page=2", "https://host/x?token=***&page=2"),
        ("https://host/x?a=1&password=s3cr3t", "https://host/x?a=1&password=***"),
        # nothing to redact: unchanged
        ("http://alice@host:5000", "http://alice@host:5000"),  # a user name is no secret
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
        ("https://host/x?page_token=abc", "https://host/x?page_token=abc"),
        ("", ""),
        # malformed: unchanged
        ("http://[::1", "http://[::1"),
        ("not a url", "not a url"),
        ("alice:s3cr3t", "alice:s3cr3t"),  # no scheme: not recognisable as a URL
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_masks_every_url_and_secret_parameter_in_a_line() -> None:
    line = (
        "tracking server http://alice:s3cr3t@127.0.0.1:1 unreachable; --storage "
        "'postgresql://bob:s3cr3t@db/optuna' failed (host=db password=s3cr3t user=bob)"
    )
    assert redact_text(line) == (
        "tracking server http://alice:***@127.0.0.1:1 unreachable; --storage "
        "'postgresql://bob:***@db/optuna' failed (host=db password=*** user=bob)"
    )
    plain = "nothing here: http://host/a=b, sqlite:///x.db, user=alice"
    assert redact_text(plain) == plain


def test_redact_obj_copies_a_config_with_every_string_redacted() -> None:
    cfg = {"freqai": {"tradai": {"tracking_uri": "http://a:s3cr3t@h", "seed": 1}}, "l": ["x"]}
    out = redact_obj(cfg)
    assert out == {"freqai": {"tradai": {"tracking_uri": "http://a:***@h", "seed": 1}}, "l": ["x"]}
    assert cfg["freqai"]["tradai"]["tracking_uri"] == "http://a:s3cr3t@h"  # the live one stays


def test_log_records_and_printed_text_are_redacted(log_factory, tmp_path: Path) -> None:
    """Any logger's records (message, args and traceback) once turned on, and any text written
    through a RedactingStream: the way MLflow prints "View run at <URI>"."""
    from tradai_strategy.core.logs import capture_output

    redact_log_records()
    redact_log_records()  # idempotent: one wrapper
    log = tmp_path / "out.log"
    with capture_output(log):
        logging.getLogger("mlflow.some").warning("connect to %s failed", "http://a:s3cr3t@h:1")
        try:
            raise ConnectionError("http://a:s3cr3t@h:1/api refused")
        except ConnectionError:
            logging.getLogger("x").exception("boom")
        sys.stdout.write("🏃 View run r at: http://a:s3cr3t@h:1/#/experiments/1/runs/2\n")
        print("password=s3cr3t", file=sys.stderr)
    text = log.read_text()
    assert SECRET not in text
    assert "connect to http://a:***@h:1 failed" in text
    assert "ConnectionError: http://a:***@h:1/api refused" in text
    assert "View run r at: http://a:***@h:1/#/experiments/1/runs/2" in text
    assert "password=***" in text
    stream = RedactingStream(sys.stdout)
    assert stream.write("http://a:s3cr3t@h") == len("http://a:s3cr3t@h")
    assert stream.isatty() == sys.stdout.isatty()  # everything else is the wrapped stream's


def test_freqai_run_records_lose_the_password(tmp_path: Path, log_factory) -> None:
    """run_params.json (FreqAI's copy of the freqai block) and the config a backtest zips."""
    from tradai_strategy.freqai.run_records import redact_run_records

    uri = "http://alice:s3cr3t@127.0.0.1:1"
    params = {"freqai": {"tradai": {"tracking_uri": uri, "model_uri": "models:/M/1"}}}
    (tmp_path / "run_params.json").write_text(json.dumps(params, indent=4))
    config = {"freqai": params["freqai"], "original_config": json.loads(json.dumps(params))}
    redact_run_records(config, tmp_path)
    assert SECRET not in (tmp_path / "run_params.json").read_text()
    assert json.loads((tmp_path / "run_params.json").read_text())["freqai"]["tradai"] == {
        "tracking_uri": "http://alice:***@127.0.0.1:1",
        "model_uri": "models:/M/1",
    }
    assert SECRET not in json.dumps(config["original_config"])
    assert config["freqai"]["tradai"]["tracking_uri"] == uri  # what the model connects with


# ---- unreachable tracking server: every registry command -----------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--json"],
        ["metrics"],
        ["audit"],
        ["promote", "rad", "1", "--to", "production"],
        ["rollback", "rad"],
        ["retire", "rad", "1"],
        ["report", "--model", "rad", "--version", "1"],
    ],
    ids=lambda c: " ".join(c),
)
def test_unreachable_tracking_server_lines_hide_the_password(
    command: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    uri = f"http://alice:{SECRET}@127.0.0.1:{_closed_port()}"
    audit = [] if command[0] == "report" else ["--audit-db", str(tmp_path / "audit.db")]
    with caplog.at_level(logging.DEBUG):
        code, out = _cli(*command, "--tracking-uri", uri, *audit)
    assert code == 2, out
    assert "alice:***@127.0.0.1" in out and "unreachable" in out, out
    assert SECRET not in out and SECRET not in caplog.text
    assert _files_with_secret(tmp_path) == []


# ---- hyperopt: a PostgreSQL storage that refuses the connection ------------------------
def test_hyperopt_storage_error_hides_the_password(tmp_path: Path, caplog) -> None:
    pytest.importorskip("psycopg", reason="no psycopg driver for postgresql:// URLs")
    cfg = tmp_path / "train.json"
    cfg.write_text("{}")
    url = f"postgresql://alice:{SECRET}@127.0.0.1:{_closed_port()}/optuna"
    with caplog.at_level(logging.DEBUG):
        code, out = _cli(
            "hyperopt", "--config", str(cfg), "--strategy", "RadStrategy", "--storage", url,
            "--no-tracking", "--out", str(tmp_path / "best.json"),
        )  # fmt: skip
    assert code == 2, out
    assert "--storage 'postgresql://alice:***@127.0.0.1:" in out and "cannot be opened" in out
    assert SECRET not in out and SECRET not in caplog.text
    assert _files_with_secret(tmp_path) == []


# ---- freqai.tradai: unknown keys ----------------------------------------------------------
def _config(**tradai: object) -> dict:
    return {
        "timeframe": "1h",
        "freqai": {"feature_parameters": {"label_period_candles": 12}, "tradai": tradai},
    }


def test_an_unknown_tradai_key_is_refused_with_the_closest_valid_one() -> None:
    with pytest.raises(TradAIConfigError) as err:
        TradAISettings.from_config(_config(estimater="catboost"))
    msg = str(err.value)
    assert msg.startswith("freqai.tradai.estimater is unknown: did you mean estimator? ")
    assert "\n" not in msg and all(key in msg for key in TRADAI_KEYS)
    with pytest.raises(TradAIConfigError, match="xyz is unknown: valid keys: estimator"):
        TradAISettings.from_config(_config(xyz=1))  # nothing close: no guess
    with pytest.raises(TradAIConfigError, match=r"freqai\.tradai must be an object"):
        TradAISettings.from_config(_config() | {"freqai": {"tradai": ["estimator"]}})
    # every key TradAI reads is accepted
    assert TradAISettings.from_config(_config(estimator="catboost", seed=1)).estimator == "catboost"


@pytest.mark.parametrize(
    ("reader", "typo", "meant"),
    [
        ("serving", "traking_uri", "tracking_uri"),
        ("prediction_log", "shadow_alais", "shadow_alias"),
        ("prediction_source", "prediction_sorce", "prediction_source"),
    ],
)
def test_every_reader_of_freqai_tradai_refuses_a_typo(reader: str, typo: str, meant: str) -> None:
    from tradai_strategy.bundle.predict import ServingSettings
    from tradai_strategy.serving.live_log import LogSettings
    from tradai_strategy.serving.prediction_source import source_settings

    parse = {
        "serving": ServingSettings.from_config,
        "prediction_log": LogSettings.from_config,
        "prediction_source": source_settings,
    }[reader]
    valid = {"model_uri": "models:/M@production", "prediction_source": {"type": "csv", "path": "p"}}
    parse(_config(**valid))  # the valid keys pass
    with pytest.raises(TradAIConfigError, match=f"{typo} is unknown: did you mean {meant}\\?"):
        parse(_config(**valid, **{typo: 1}))


@pytest.mark.e2e
def test_train_with_a_typo_in_freqai_tradai_fails_before_registering(tmp_path: Path) -> None:
    """The issue's case: ``"estimater": "catboost"`` used to train LightGBM with rc 0."""
    from freqai_helpers import STRATEGIES, small_training_config, timerange

    from tradai_strategy.data.synthetic import write_synthetic_data

    data = tmp_path / "data"
    write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 45, 3, "none", data)
    cfg = small_training_config(data, "typo", backtest_period_days=10)
    cfg["freqai"]["tradai"]["estimater"] = "catboost"
    path = tmp_path / "train.json"
    path.write_text(json.dumps(cfg))
    code, out = _cli(
        "train", "--config", str(path), "--strategy", "RadStrategy",
        "--strategy-path", str(STRATEGIES), "--datadir", str(data),
        "--userdir", str(tmp_path / "user_data"), "--timerange", timerange(30, 44),
        "--offline", "--skip-leakage-check",
        "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
    )  # fmt: skip
    assert code == 2, out
    assert "freqai.tradai.estimater is unknown: did you mean estimator?" in out
    assert "\n" not in out.strip()  # one line
    assert not list((tmp_path / "user_data" / "models").rglob("*.joblib"))  # nothing trained
    from tradai_strategy.registry.client import RegistryClient

    assert RegistryClient(f"sqlite:///{tmp_path / 'mlflow.db'}").models() == []


# ---- the normal path: a real MLflow server behind http://alice:s3cr3t@... ----------------
@pytest.mark.e2e
@pytest.mark.xdist_group("mlflow-server")
def test_train_serve_and_status_through_a_server_never_show_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, log_factory
) -> None:
    """``tradai train`` (its train.log gets MLflow's "View run at <URI>" line), an inference
    backtest with the URI in ``freqai.tradai.tracking_uri`` (FreqAI's run_params.json, the
    result zip's config copy) and ``tradai status --json``: the secret is in no output, no
    written file, no MLflow param/tag/description."""
    from freqai_helpers import MODELS, STRATEGIES, small_training_config, timerange
    from inference_helpers import MlflowServer, inference_config
    from mlflow import MlflowClient

    from tradai_strategy.data.synthetic import write_synthetic_data

    inputs, out = tmp_path / "inputs", tmp_path / "out"  # the user's files hold the secret
    inputs.mkdir()
    server = MlflowServer(out / "server")
    try:
        plain = server.uri
        uri = plain.replace("http://", f"http://alice:{SECRET}@")
        shown = plain.replace("http://", "http://alice:***@")
        data = out / "data"
        write_synthetic_data(["BTC/USDT", "ETH/USDT"], "1h", 70, seed=11, signal="planted",
                             datadir=data)  # fmt: skip
        cfg = small_training_config(data, "secret", backtest_period_days=15, trees=30)
        (inputs / "train.json").write_text(json.dumps(cfg))
        common = ("--strategy", "RadStrategy", "--strategy-path", str(STRATEGIES),
                  "--datadir", str(data), "--userdir", str(out / "user_data"))  # fmt: skip
        outputs = []
        with caplog.at_level(logging.INFO):
            code, text = _cli(
                "train", "--config", str(inputs / "train.json"), *common,
                "--timerange", timerange(40, 55), "--offline", "--skip-leakage-check",
                "--model-name", "rad", "--tracking-uri", uri,
            )  # fmt: skip
            assert code == 0, text
            outputs.append(text)
            log = next((out / "user_data" / "tradai_runs").glob("secret-*/train.log"))
            assert "View run" in log.read_text() and shown in log.read_text()
            serve = inference_config(
                inputs, data, {"type": "mlflow", "model_uri": "models:/rad/1"},
                identifier="secret-serve", freqaimodel="TradAIMLflowModel",
            )  # fmt: skip
            serve["freqai"]["tradai"]["tracking_uri"] = uri
            (inputs / "serve.json").write_text(json.dumps(serve))
            code, text = _cli(
                "backtest", "--offline", "--config", str(inputs / "serve.json"), *common,
                "--freqaimodel", "TradAIMLflowModel", "--freqaimodel-path", str(MODELS),
                "--timerange", timerange(60, 69),
                "--export", "trades",
            )  # fmt: skip
            assert code == 0, text
            outputs.append(text)
            params = next((out / "user_data" / "models").glob("secret-serve*/run_params.json"))
            assert shown in params.read_text()  # the record is there, without the password
            zips = list((out / "user_data" / "backtest_results").glob("*.zip"))
            assert zips and any(
                shown in zipfile.ZipFile(z).read(m).decode()
                for z in zips
                for m in zipfile.ZipFile(z).namelist()
                if m.endswith("_config.json")
            )
            res = runner.invoke(app, ["status", "--json", "--tracking-uri", uri,
                                      "--audit-db", str(out / "audit.db")])  # fmt: skip
            assert res.exit_code == 0, res.output
            assert json.loads(res.stdout)["tracking_uri"] == shown
            outputs.append(res.output)
        for text in [*outputs, caplog.text]:
            assert SECRET not in text
        # what MLflow stored: every run's params and tags, every version's tags/description
        client = MlflowClient(tracking_uri=plain, registry_uri=plain)
        stored = []
        for exp in client.search_experiments():
            for run in client.search_runs([exp.experiment_id]):
                stored += [json.dumps(run.data.params), json.dumps(run.data.tags)]
        for mv in client.search_model_versions("name = 'rad'"):
            stored += [json.dumps(mv.tags), mv.description or "", mv.source or ""]
        assert len(stored) >= 3 and all(SECRET not in s for s in stored)
    finally:
        server.stop()
    assert _files_with_secret(out) == []
