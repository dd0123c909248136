"""The regime pipeline through the commands, for the regime report tests: ``tradai train``
(RegimeStrategy, target regime) -> ``tradai validate --model --version`` (the accuracy gate,
which is expected to refuse) -> ``tradai promote --force`` -> ``tradai backtest`` with
``TradAIMLflowModel`` serving ``@production`` to RegimeStrategy -> ``tradai report``.

Everything is real: FreqAI walk-forward training, a sqlite MLflow registry, freqtrade
backtests offline. The timings of each step are returned with the outputs.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from freqai_helpers import REGIME_LGBM, STRATEGIES
from typer.testing import CliRunner

from tradai_strategy.cli.app import app
from tradai_strategy.cli.config_builder import (
    StrategyMeta,
    build_inference_config,
    build_training_config,
)

PAIRS = ["BTC/USDT", "ETH/USDT"]
NAME = "tradai-regime-report"
H = 12
#: trailing windows of the regime thresholds: shorter than the default 720, so a 30-day
#: training window has labelled rows and RegimeStrategy's startup is 252 candles
REGIME = {"lookback": 240}
runner = CliRunner()


def _invoke(args: list[str], codes: tuple[int, ...] = (0,)) -> tuple[str, float]:
    started = time.perf_counter()
    res = runner.invoke(app, args)
    seconds = time.perf_counter() - started
    assert res.exit_code in codes, f"{args[0]}: exit {res.exit_code}\n{res.output}{res.exception!r}"
    return " ".join(res.output.split()), seconds


def _write(path: Path, cfg: dict[str, Any]) -> Path:
    cfg["freqai"]["tradai"]["regime"] = dict(REGIME)
    cfg["freqai"]["data_kitchen_thread_count"] = 1
    cfg.pop("startup_candle_count", None)  # RegimeStrategy asks for lookback + h
    path.write_text(json.dumps(cfg))
    return path


def regime_pipeline(
    tmp: Path,
    datadir: Path,
    *,
    train_range: str,
    backtest_range: str,
    train_days: int = 30,
    test_days: int = 15,
    n_groups: int = 4,
) -> dict[str, Any]:
    """Run the five commands (module docstring); returns outputs, paths and step seconds."""
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    common = ["--strategy", "RegimeStrategy", "--strategy-path", str(STRATEGIES)]
    common += ["--datadir", str(datadir), "--userdir", str(tmp / "user_data")]
    meta = {
        "pairs": PAIRS,
        "strategy": "RegimeStrategy",
        "datadir": str(datadir),
        "target": "regime",
        "label_period_candles": H,
        "train_period_days": train_days,
        "backtest_period_days": test_days,
        "model_training_parameters": REGIME_LGBM,
        "model_name": NAME,
    }
    train_cfg = _write(tmp / "train.json", build_training_config(StrategyMeta(**meta)))
    seconds: dict[str, float] = {}
    out: dict[str, Any] = {"uri": uri, "tmp": tmp, "seconds": seconds}
    out["train"], seconds["train"] = _invoke(
        [
            *("train", "--config", str(train_cfg), *common, "--timerange", train_range),
            *("--offline", "--tracking-uri", uri, "--model-name", NAME, "--skip-leakage-check"),
        ]
    )
    found = re.search(rf"registered {NAME} version (\d+)", out["train"])
    assert found, out["train"]
    version = found.group(1)
    out["version"] = version
    out["validation_html"] = tmp / "validation_report.html"
    out["validation_json"] = tmp / "validation_report.json"
    out["validate"], seconds["validate"] = _invoke(
        [
            *("validate", "--config", str(train_cfg), *common, "--tracking-uri", uri),
            *("--model", NAME, "--version", version, "--cv", "walkforward"),
            *("--n-groups", str(n_groups), "--seeds", "1", "--jobs", "1"),
            *("--purge", str(2 * H), "--embargo", str(H), "--skip-leakage-check"),
            *("--json", str(out["validation_json"]), "--report", str(out["validation_html"])),
        ],
        codes=(0, 1),
    )
    out["validate_exit"] = 0 if "verdict: PASS" in out["validate"] else 1
    promote = ["promote", NAME, version, "--tracking-uri", uri]
    promote += ["--reason", "regime pipeline check on real candles; the accuracy gate refused"]
    if out["validate_exit"]:
        promote.append("--force")
    out["promote"], seconds["promote"] = _invoke(promote)
    inference = build_inference_config(
        StrategyMeta(
            **{
                **meta,
                "prediction_source": {"type": "mlflow", "model_uri": f"models:/{NAME}@production"},
            }
        )
    )
    inference["freqaimodel"] = "TradAIMLflowModel"
    inference["freqai"]["tradai"]["tracking_uri"] = uri
    inference_cfg = _write(tmp / "inference.json", inference)
    results = tmp / "backtest_results"
    results.mkdir()  # freqtrade takes a path that is no folder for a file name
    out["backtest"], seconds["backtest"] = _invoke(
        [
            *("backtest", "--offline", "--config", str(inference_cfg), *common),
            *("--freqaimodel", "TradAIMLflowModel", "--timerange", backtest_range),
            *("--export", "trades", "--backtest-directory", str(results)),
        ]
    )
    out["backtest_results"] = results
    out["report_html"] = tmp / "report.html"
    out["report"], seconds["report"] = _invoke(
        [
            *("report", "--model", NAME, "--version", version, "--tracking-uri", uri),
            *("--out", str(out["report_html"])),
        ]
    )
    return out


def backtest_trades(results: Path) -> Any:
    """The trades of the newest backtest result in ``results`` (freqtrade's loader)."""
    from freqtrade.data.btanalysis import get_latest_backtest_filename, load_backtest_data

    return load_backtest_data(results / get_latest_backtest_filename(results))


def served_predictions(tmp: Path) -> Any:
    """What TradAIMLflowModel served in the backtest (FreqAI's saved predictions)."""
    from tradai_strategy.data.prediction_files import load_backtest_predictions

    (folder,) = (tmp / "user_data" / "models").glob("*-inference")
    return load_backtest_predictions(folder)


def page_sections(page: str) -> dict[str, str]:
    """Section key -> its visible text (tags and scripts stripped), in page order."""
    import html

    out = {}
    pattern = r'<section id="([^"]+)" data-has-plot="\w+"><h2>[^<]*</h2>(.*?)</section>'
    for key, body in re.findall(pattern, page, re.S):
        body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
        out[key] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return out


def plot_divs(page: str) -> set[str]:
    """Section keys with a plot div."""
    return set(re.findall(r'id="plot-([\w-]+)"', page))


#: the sections of a numeric target's report that a regime version must not show
IC_SECTIONS = {"window-ic", "rolling-ic", "ic-decay", "scatter", "splits"}
#: a regime version's report and validation page
VERSION_SECTIONS = {"classification", "confusion", "window-accuracy", "validation"}
VALIDATION_SECTIONS = {"validation", "classification", "confusion", "settings"}


def check_regime_pages(out: dict[str, Any]) -> dict[str, Any]:
    """The version report and the validation page show the validation's own numbers: the
    scores of the model and both baselines, the gate's failed conditions and the confusion
    matrix (rows realised, columns predicted) as a heatmap with counts and row shares; no IC
    section. Returns the validation JSON's classification section."""
    report = json.loads(out["validation_json"].read_text())
    section = report["classification"]
    for path, wanted in (
        (out["report_html"], VERSION_SECTIONS),
        (out["validation_html"], VALIDATION_SECTIONS),
    ):
        page = path.read_text()
        texts = page_sections(page)
        assert wanted <= set(texts) and not IC_SECTIONS & set(texts), (path, list(texts))
        assert {"classification", "confusion"} <= plot_divs(page)
        scores = texts["classification"]
        for pair, r in section["pairs"].items():
            cells = [f"{r[w]['accuracy']:.3f}" for w in ("model", "majority", "persistence")]
            assert f"{pair} model {cells[0]}" in scores, scores
            assert f"majority {cells[1]}" in scores and f"persistence {cells[2]}" in scores
            vs = r["vs_persistence"]
            assert f"{pair} {vs['delta']:+.3f} {vs['se']:.3f}" in scores
        assert "No IC sections: the target has 5 classes" in scores
        gate = texts["validation"]
        verdict = report["verdict"]
        assert ("verdict: PASS" if verdict["passed"] else "verdict: FAIL") in gate
        for reason in verdict["reasons"]:
            assert " ".join(reason.split()) in gate
        matrix = section["confusion"]
        first = section["classes"][0]
        row = matrix[0]
        share = row[0] / sum(row)
        assert f"{first} {int(row[0])} ({share:.0%})" in texts["confusion"]
        assert "recall per pair" in texts["confusion"]
    # each pair's own matrix (the report's menu) adds up to the matrix of all pairs
    own = sum(np.asarray(r["confusion"]) for r in section["pairs"].values())
    assert own.tolist() == section["confusion"]
    return section
