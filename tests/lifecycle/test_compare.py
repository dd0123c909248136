"""``tradai compare``'s statistic: the per-candle cross-sectional IC of the rows both versions
predicted (checked against scipy) and the paired test on its difference; one pair and too few
candles are one-line errors; end to end on two real registered versions (one trained on a
random walk, one on the planted signal). The test's own numbers: tests/stats/test_paired_ic.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from freqai_helpers import STRATEGIES, run_training_backtest, timerange
from inference_helpers import inference_config, write_config
from scipy import stats
from typer.testing import CliRunner

from tradai_strategy.bundle.format import bundle_from_model_dir
from tradai_strategy.cli.app import app
from tradai_strategy.cli.compare import render
from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.lifecycle.compare import (
    Comparison,
    VersionRun,
    check_pairs,
    compare_versions,
    paired_candle_test,
)
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.stats.compare import paired_ic_test
from tradai_strategy.stats.live_ic import CROSS_SECTIONAL

PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"]  # the IC ranks pairs per candle
NAME = "RadCompare"
STRENGTH = 0.15  # planted mean reversion: ideal IC ~0.45 at the 12-candle horizon
LATER = timerange(45, 105)  # after both versions' training data (days 10-40)
runner = CliRunner()


# ---- the paired cross-sectional test on the rows both versions predicted -----------------
def _rows(n_pairs: int = 4, days: int = 30, seed: int = 7, skill: float = 1.0) -> pd.DataFrame:
    """paired_rows-shaped rows: old predicts noise, new ``skill * realised + noise``."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-03-01", periods=24 * days, freq="h", tz="UTC")
    frames = []
    for k in range(n_pairs):
        realised = rng.normal(0, 0.01, len(times))
        frames.append(
            pd.DataFrame(
                {
                    "pair": f"P{k}/USDT",
                    "date": times,
                    "pred_old": rng.normal(0, 0.01, len(times)),
                    "pred_new": skill * realised + rng.normal(0, 0.01, len(times)),
                    "realised": realised,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_candle_ic_is_spearman_across_pairs_and_feeds_the_paired_test() -> None:
    rows = _rows()
    rows = rows.drop(index=rows.index[(rows["pair"] == "P0/USDT")][:5])  # 3 pairs there
    per_candle, test, verdict = paired_candle_test(rows, 12, min_delta=0.01, alpha=0.05)
    for when in (per_candle.index[0], per_candle.index[300]):
        at = rows[rows["date"] == when]
        for v in ("old", "new"):
            want = stats.spearmanr(at[f"pred_{v}"], at["realised"]).statistic
            assert per_candle.loc[when, v] == pytest.approx(want)
        assert per_candle.loc[when, "pairs"] == len(at)
    assert per_candle["pairs"].iloc[0] == 3 and per_candle["pairs"].iloc[-1] == 4
    assert test == paired_ic_test(per_candle["new"], per_candle["old"], 12)
    assert test.n == 24 * 30 and test.n_periods == 60 and test.horizon == 12
    assert test.delta_ic > 0.3 and test.p_value < 1e-6 and verdict == "promote"
    _, same, kept = paired_candle_test(_rows(skill=0.0), 12, min_delta=0.01, alpha=0.05)
    assert kept == "keep" and same.p_value > 0.05


def test_rows_of_one_pair_or_too_few_candles_are_one_line_errors() -> None:
    one = _rows(n_pairs=1)
    with pytest.raises(TradAIDataError, match="only 1 pair\\(s\\) \\(P0/USDT\\)") as err:
        paired_candle_test(one, 12, min_delta=0.01, alpha=0.05)
    assert "needs >= 2 pairs" in str(err.value) and "exchange.pair_whitelist" in str(err.value)
    with pytest.raises(TradAIConfigError, match=r"exchange\.pair_whitelist has 1 pair"):
        check_pairs(["BTC/USDT"], "exchange.pair_whitelist")
    short = _rows(days=4)  # 96 candles: 8 periods of 12
    with pytest.raises(TradAIDataError, match="needs at least 10; use a longer --timerange"):
        paired_candle_test(short, 12, min_delta=0.01, alpha=0.05)
    with pytest.raises(TradAIConfigError, match=r"--alpha 1\.5 must be between 0 and 1"):
        compare_versions({}, NAME, "1", "2", timerange=LATER, alpha=1.5)


def test_render_and_json_say_which_statistic(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows()
    per_candle, test, verdict = paired_candle_test(rows, 12, min_delta=0.01, alpha=0.05)
    empty = pd.DataFrame(columns=["pair", "date", "pred", "do_predict"])
    result = Comparison(
        NAME,
        VersionRun("1", {"sharpe": 1.0}, empty, "a.zip"),
        VersionRun("2", {"sharpe": 1.5}, empty, "b.zip"),
        LATER,
        "RadStrategy",
        "&-s_close",
        per_candle,
        test,
        verdict,
        len(rows),
    )
    render(result)
    out = " ".join(capsys.readouterr().out.split())
    assert f"paired test on the {CROSS_SECTIONAL}" in out
    assert f"ΔIC = {test.delta_ic:+.4f} ± {test.se:.4f} (s.e.)" in out
    assert "n = 720 candles, 60.0 non-overlapping periods" in out and "(t with 59 df)" in out
    assert "recommendation: promote version 2 (promote when ΔIC > 0.01 and p < 0.05)" in out
    rep = json.loads(json.dumps(result.to_dict()))
    assert rep["test"]["method"] == CROSS_SECTIONAL and rep["test"]["pairs"] == 4.0
    assert rep["test"]["se"] == test.se and rep["test"]["n_periods"] == 60.0
    assert rep["delta"]["ic"] == test.delta_ic and rep["rule"] == {"min_delta": 0.01, "alpha": 0.05}
    assert len(rep["candle_ic"]) == 720 and rep["candle_ic"][0]["pairs"] == 4


# ---- tradai compare end to end -----------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """NAME v1 trained on a random walk, v2 on the planted signal; compare data: planted."""
    tmp = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    data = {}
    for version, signal, seed in (("1", "none", 9), ("2", "planted", 5)):
        data[signal] = tmp / f"data-{signal}"
        write_synthetic_data(
            PAIRS,
            "1h",
            110,
            seed=seed,
            signal=signal,  # type: ignore[arg-type]
            datadir=data[signal],
            strength=STRENGTH,
        )
        _, _, model_dir = run_training_backtest(
            tmp,
            data[signal],
            identifier=f"train-{signal}",
            tr=timerange(40, 42),  # one window: trained on days 10-40
            meta_overrides={"pairs": PAIRS},
            config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
        )
        bundle = bundle_from_model_dir(model_dir, tmp / f"bundle-{signal}", strategy="RadStrategy")
        assert register_bundle(bundle, NAME, tracking_uri=uri) == version
    cfg = inference_config(
        tmp, data["planted"], {"type": "mlflow", "model_uri": "unused"}, pairs=PAIRS
    )
    one = {**cfg, "exchange": {**cfg["exchange"], "pair_whitelist": PAIRS[:1]}}
    return {
        "tmp": tmp,
        "uri": uri,
        "data": data["planted"],
        "config": write_config(tmp, cfg),
        "one-pair": write_config(tmp, one, "one-pair.json"),
    }


def _compare(
    store: dict[str, Any], *args: str, tr: str = LATER, config: str = "config"
) -> tuple[int, str, dict]:
    out = store["tmp"] / "compare.json"
    out.unlink(missing_ok=True)
    res = runner.invoke(
        app,
        [
            "compare",
            NAME,
            *args,
            "--timerange",
            tr,
            "--config",
            str(store[config]),
            "--strategy",
            "RadStrategy",
            "--strategy-path",
            str(STRATEGIES),
            "--datadir",
            str(store["data"]),
            "--userdir",
            str(store["tmp"] / "user_data"),
            "--tracking-uri",
            store["uri"],
            "--offline",
            "--json",
            str(out),
        ],
    )
    report = json.loads(out.read_text()) if out.exists() else {}
    return res.exit_code, " ".join(res.output.split()), report


@pytest.mark.e2e
def test_planted_version_is_recommended_over_the_random_walk_one(store: dict[str, Any]) -> None:
    code, out, rep = _compare(store, "1", "2")
    assert code == 0, out
    assert "recommendation: promote version 2" in out
    assert f"paired test on the {CROSS_SECTIONAL} (label &-s_close, horizon 12 candles" in out
    assert rep["recommendation"] == "promote" and rep["test"]["method"] == CROSS_SECTIONAL
    test = rep["test"]
    assert test["horizon"] == 12 and test["n_periods"] == pytest.approx(test["n"] / 12)
    assert 24 * 60 - 12 <= test["n"] <= 24 * 60 and test["pairs"] == 4.0  # 60 days, 4 pairs
    assert f"ΔIC = {test['delta_ic']:+.4f} ± {test['se']:.4f} (s.e.)" in out
    assert f"n = {test['n']} candles" in out and test["p_value"] < 0.01
    assert test["delta_ic"] > 0.01 and test["se"] > 0
    assert rep["new"]["version"] == "2" and rep["old"]["version"] == "1"
    assert rep["test"]["ic_new"] > rep["test"]["ic_old"] + 0.05
    assert rep["delta"]["ic"] == pytest.approx(rep["test"]["ic_new"] - rep["test"]["ic_old"])
    for key in ("sharpe", "profit_total", "max_drawdown", "trade_count"):
        assert rep["delta"][key] == pytest.approx(rep["new"][key] - rep["old"][key])
    assert rep["new"]["trade_count"] > 0


ONE_PAIR = (
    "exchange.pair_whitelist has 1 pair(s) (BTC/USDT): the cross-sectional IC needs >= 2 "
    "pairs per candle; add pairs to exchange.pair_whitelist in the config"
)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "tr", "config", "message"),
    [
        (("1", "7"), LATER, "config", "has no version 7: versions are 2, 1"),
        (("2", "2"), LATER, "config", "version 2 given twice"),
        (("1", "2"), "20250101-20250201", "config", "no candles in"),
        (
            ("1", "2"),
            timerange(20, 35),
            "config",
            "--timerange 20240121-20240205 ends before RadCompare",
        ),
        (("1", "2"), LATER, "one-pair", ONE_PAIR),
        (("1", "2", "--alpha", "0"), LATER, "config", "--alpha 0.0 must be between 0 and 1"),
    ],
)
def test_bad_inputs_exit_2(
    store: dict[str, Any], args: tuple[str, ...], tr: str, config: str, message: str
) -> None:
    code, out, _ = _compare(store, *args, tr=tr, config=config)
    assert code == 2 and message in out, out
