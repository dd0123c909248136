"""The paired IC test against scipy and planted differences; ``tradai compare`` end to end on
two real registered versions (one trained on a random walk, one on the planted signal)."""

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
from tradai_strategy.data.synthetic import write_synthetic_data
from tradai_strategy.registry.bundle_registry import register_bundle
from tradai_strategy.stats.compare import PairedTest, paired_ic_test, recommend

PAIRS = ["BTC/USDT", "ETH/USDT"]
NAME = "RadCompare"
STRENGTH = 0.15  # planted mean reversion: ideal IC ~0.45 at the 12-candle horizon
LATER = timerange(45, 105)  # after both versions' training data (days 10-40)
runner = CliRunner()


def _days(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz="UTC")


# ---- pure statistics ---------------------------------------------------------------------
def test_paired_test_matches_scipy_on_the_common_days() -> None:
    rng = np.random.default_rng(7)
    old = pd.Series(rng.normal(0.02, 0.1, 60), index=_days(60))
    new = pd.Series(rng.normal(0.03, 0.1, 60), index=_days(60, "2024-01-11"))  # 50 shared
    new.iloc[5] = np.nan  # one more day without an IC: dropped from both
    t = paired_ic_test(new, old)
    common = pd.concat({"n": new, "o": old}, axis=1, join="inner").dropna()
    assert t.n_days == len(common) == 49
    ref = stats.ttest_rel(common["n"], common["o"])
    assert t.t_stat == pytest.approx(ref.statistic, rel=1e-12)
    assert t.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert t.wilcoxon_p == pytest.approx(stats.wilcoxon(common["n"], common["o"]).pvalue)
    assert t.delta_ic == pytest.approx((common["n"] - common["o"]).mean())
    assert t.ic_new == pytest.approx(common["n"].mean())


def test_hand_computed_case() -> None:
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1 / sqrt 3) = 3.4641
    old = pd.Series([0.0, 0.0, 0.0], index=_days(3))
    new = pd.Series([0.1, 0.2, 0.3], index=_days(3))
    t = paired_ic_test(new, old)
    assert t.t_stat == pytest.approx(2 * np.sqrt(3))
    assert t.p_value == pytest.approx(2 * stats.t.sf(2 * np.sqrt(3), df=2))


def test_planted_difference_is_found_and_none_is_not() -> None:
    rng = np.random.default_rng(3)
    market = rng.normal(0, 0.1, 120)  # what both versions share each day
    old = pd.Series(market + rng.normal(0.02, 0.03, 120), index=_days(120))
    planted = pd.Series(market + rng.normal(0.05, 0.03, 120), index=_days(120))
    same = pd.Series(market + rng.normal(0.02, 0.03, 120), index=_days(120))
    up = paired_ic_test(planted, old)
    assert up.delta_ic == pytest.approx(0.03, abs=0.01) and up.p_value < 1e-6
    assert recommend(up) == "promote"
    assert recommend(paired_ic_test(old, planted)) == "keep"  # worse: never promoted
    flat = paired_ic_test(same, old)
    assert flat.p_value > 0.05 and recommend(flat) == "keep"
    # the p-value rule of the false-positive rate: ~5% of null pairs pass alpha=0.05
    hits = sum(
        paired_ic_test(
            pd.Series(rng.normal(0, 0.1, 40), index=_days(40)),
            pd.Series(rng.normal(0, 0.1, 40), index=_days(40)),
        ).p_value
        < 0.05
        for _ in range(200)
    )
    assert 2 <= hits <= 20  # Binomial(200, 0.05): mean 10, sd 3.1


def test_edge_cases_and_bad_inputs() -> None:
    days = _days(5)
    const = paired_ic_test(pd.Series(0.05, index=days), pd.Series(0.02, index=days))
    assert const.p_value == 0.0 and const.t_stat == np.inf and np.isfinite(const.delta_ic)
    equal = paired_ic_test(pd.Series(0.02, index=days), pd.Series(0.02, index=days))
    assert equal.p_value == 1.0 and np.isnan(equal.wilcoxon_p) and recommend(equal) == "keep"
    with pytest.raises(ValueError, match="only 2 day\\(s\\) with an IC for both versions"):
        paired_ic_test(pd.Series([0.1, 0.2], index=days[:2]), pd.Series(0.0, index=days))
    twice = pd.Series([0.1, 0.2, 0.3], index=[days[0], days[0], days[1]])
    with pytest.raises(ValueError, match="twice"):
        paired_ic_test(twice, pd.Series(0.0, index=days))
    with pytest.raises(ValueError, match=r"alpha=1\.5"):
        recommend(PairedTest(0.1, 3.0, 0.01, 30), alpha=1.5)
    assert PairedTest(0.1, float("nan"), float("nan"), 3).to_dict()["p_value"] is None


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
            config_edit=lambda c: c["freqai"].update(save_backtest_models=True),
        )
        bundle = bundle_from_model_dir(model_dir, tmp / f"bundle-{signal}", strategy="RadStrategy")
        assert register_bundle(bundle, NAME, tracking_uri=uri) == version
    cfg = inference_config(tmp, data["planted"], {"type": "mlflow", "model_uri": "unused"})
    return {"tmp": tmp, "uri": uri, "data": data["planted"], "config": write_config(tmp, cfg)}


def _compare(store: dict[str, Any], *args: str, tr: str = LATER) -> tuple[int, str, dict]:
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
            str(store["config"]),
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
    assert "recommendation: promote version 2" in out and "paired t-test" in out
    assert rep["recommendation"] == "promote"
    assert rep["test"]["n_days"] == 60 and rep["test"]["p_value"] < 0.01
    assert rep["new"]["version"] == "2" and rep["old"]["version"] == "1"
    assert rep["test"]["ic_new"] > rep["test"]["ic_old"] + 0.05
    assert rep["delta"]["ic"] == pytest.approx(rep["test"]["ic_new"] - rep["test"]["ic_old"])
    for key in ("sharpe", "profit_total", "max_drawdown", "trade_count"):
        assert rep["delta"][key] == pytest.approx(rep["new"][key] - rep["old"][key])
    assert rep["new"]["trade_count"] > 0


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "tr", "message"),
    [
        (("1", "7"), LATER, "has no version 7: versions are 2, 1"),
        (("2", "2"), LATER, "version 2 given twice"),
        (("1", "2"), "20250101-20250201", "no candles in"),
        (("1", "2"), timerange(20, 35), "--timerange 20240121-20240205 ends before RadCompare"),
    ],
)
def test_bad_inputs_exit_2(
    store: dict[str, Any], args: tuple[str, str], tr: str, message: str
) -> None:
    code, out, _ = _compare(store, *args, tr=tr)
    assert code == 2 and message in out, out
