"""``tradai compare``'s computation: two registered versions on the same data and strategy.

For each version a freqtrade backtest runs in-process with ``TradAIMLflowModel`` pinned to
``models:/NAME/VERSION`` (same config, strategy, pairs and timerange), giving Sharpe,
profit, max drawdown and trades. The predictions that backtest served are scored against
the strategy's own target (``set_freqai_targets`` on the same candles) on the rows both
versions predicted (``do_predict == 1``): per candle, the Spearman IC across the pairs
(:func:`tradai_strategy.stats.live_ic.cross_sectional_ic`, unbiased under no skill however
the ``label_period_candles``-candle labels overlap; needs at least two pairs), then the
paired test of :mod:`tradai_strategy.stats.compare` on the candle-by-candle IC difference
(overlap-aware s.e., t with ``n / h - 1`` degrees of freedom).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError, TradAIDataError
from tradai_strategy.core.paths import run_folder
from tradai_strategy.core.redact import redact_url
from tradai_strategy.core.settings import label_period_candles
from tradai_strategy.stats.compare import (
    PairedTest,
    PairedTestError,
    finite_or_none,
    paired_ic_test,
    recommend,
)
from tradai_strategy.stats.live_ic import CROSS_SECTIONAL, MIN_PAIRS, cross_sectional_ic

Notify = Callable[[str], None]
MLFLOW_MODEL = "TradAIMLflowModel"
#: backtest metrics compared (key of lifecycle.train.backtest_metrics -> higher is better?)
METRICS = {"sharpe": True, "profit_total": True, "max_drawdown": False, "trade_count": None}


@dataclass
class VersionRun:
    """One version's backtest metrics and the predictions it traded on."""

    version: str
    metrics: dict[str, float]
    predictions: pd.DataFrame  # pair, date, pred, do_predict
    results_path: str


@dataclass
class Comparison:
    """Everything ``tradai compare`` reports; ``to_dict`` is JSON-ready."""

    name: str
    old: VersionRun
    new: VersionRun
    timerange: str
    strategy: str
    label: str
    per_candle: pd.DataFrame  # index candle time; columns old, new (cross-sectional IC), pairs
    test: PairedTest
    recommendation: str
    n_rows: int
    warnings: list[str] = field(default_factory=list)
    method: str = CROSS_SECTIONAL
    min_delta: float = 0.01
    alpha: float = 0.05

    @property
    def rule(self) -> str:
        """The promotion rule :attr:`recommendation` applied."""
        return f"promote when ΔIC > {self.min_delta:g} and p < {self.alpha:g}"

    @property
    def pairs(self) -> float:
        """Mean number of pairs the per-candle IC ranks."""
        return float(self.per_candle["pairs"].mean()) if len(self.per_candle) else float("nan")

    def deltas(self) -> dict[str, float]:
        """New minus old for each backtest metric and the mean cross-sectional IC."""
        out = {}
        for key in METRICS:
            a, b = self.old.metrics.get(key), self.new.metrics.get(key)
            out[key] = (b - a) if a is not None and b is not None else float("nan")
        out["ic"] = self.test.delta_ic
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "old": {"version": self.old.version, **finite_or_none(self.old.metrics)},
            "new": {"version": self.new.version, **finite_or_none(self.new.metrics)},
            "backtest_results": {"old": self.old.results_path, "new": self.new.results_path},
            "delta": finite_or_none(self.deltas()),
            "test": {"method": self.method, "pairs": self.pairs, **self.test.to_dict()},
            "recommendation": self.recommendation,
            "rule": {"min_delta": self.min_delta, "alpha": self.alpha},
            "timerange": self.timerange,
            "strategy": self.strategy,
            "label": self.label,
            "n_rows": self.n_rows,
            "warnings": list(self.warnings),
            "candle_ic": [
                finite_or_none({"time": t.isoformat(), "old": o, "new": n, "pairs": int(k)})
                for t, o, n, k in zip(
                    self.per_candle.index,
                    self.per_candle["old"],
                    self.per_candle["new"],
                    self.per_candle["pairs"],
                    strict=True,
                )
            ],
        }


def realised_targets(config: dict[str, Any], pairs: list[str], timerange: str) -> pd.DataFrame:
    """The strategy's target per (pair, date) on the timerange's candles (numeric).

    Columns ``pair``, ``date``, ``realised``; the label column name is in ``attrs["label"]``.
    A classifier's text label is replaced by the forward mean return over the label horizon.
    """
    from tradai_strategy.core.labels import forward_mean_return
    from tradai_strategy.data.features import build_features, load_candles, load_strategy

    candles = load_candles(config, pairs, timerange, Path(config["datadir"]))
    strategy = load_strategy(config)
    horizon = label_period_candles(config)
    frames, label = [], ""
    for pair in pairs:
        built = build_features(config, strategy, pair, candles)
        if not built.labels:
            raise TradAIConfigError(
                f"strategy {config.get('strategy')} sets no FreqAI target for {pair}"
            )
        label = built.labels[0]
        values = built.frame[label]
        if not pd.api.types.is_numeric_dtype(values):
            values = pd.Series(forward_mean_return(built.frame["close"], horizon))
        frames.append(
            pd.DataFrame(
                {
                    "pair": pair,
                    "date": pd.to_datetime(built.frame["date"], utc=True),
                    "realised": values.to_numpy(dtype=float),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs["label"] = label
    return out


def prediction_column(table: pd.DataFrame, label: str) -> str:
    """The column holding the served prediction of ``label`` (``up`` for a classifier)."""
    if label in table.columns and pd.api.types.is_numeric_dtype(table[label]):
        return label
    if "up" in table.columns:
        return "up"
    raise TradAIDataError(f"the backtest predictions have no numeric {label!r} or 'up' column")


def run_version(
    args: dict[str, Any],
    config: dict[str, Any],
    name: str,
    version: str,
    *,
    timerange: str,
    tracking_uri: str,
    run_dir: Path,
    label: str,
    offline: bool,
    freqaimodel_path: Path | None,
) -> VersionRun:
    """Backtest ``models:/name/version`` with TradAIMLflowModel and collect its predictions."""
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.data.freqtrade_runner import backtest
    from tradai_strategy.data.prediction_files import load_backtest_predictions
    from tradai_strategy.lifecycle.train import backtest_metrics

    identifier = f"{run_dir.name}-v{version}"
    overlay = run_dir / f"v{version}.json"
    tradai = {"model_uri": f"models:/{name}/{version}", "tracking_uri": tracking_uri}
    # nothing trains: train_period_days 0 loads no training window before the timerange
    freqai = {"identifier": identifier, "train_period_days": 0, "tradai": tradai}
    overlay.write_text(json.dumps({"freqai": freqai}))
    try:
        with quiet_logging(), contextlib.redirect_stdout(io.StringIO()):  # freqtrade's tables
            result = backtest(
                [*args["config"], str(overlay)],
                str(args["strategy"]),
                freqaimodel=MLFLOW_MODEL,
                timerange=timerange,
                datadir=args.get("datadir"),
                userdir=config["user_data_dir"],
                strategy_path=args.get("strategy_path"),
                freqaimodel_path=freqaimodel_path,
                offline=offline,
                results_dir=run_dir / f"v{version}",
            )
    finally:
        if redact_url(tracking_uri) != tracking_uri:
            overlay.unlink(missing_ok=True)  # it holds the tracking URI's password
    table = load_backtest_predictions(Path(config["user_data_dir"]) / "models" / identifier)
    col = prediction_column(table, label)
    preds = table[["pair", "date", col, "do_predict"]].rename(columns={col: "pred"})
    return VersionRun(version, backtest_metrics(result.stats), preds, str(result.results_path))


def check_out_of_sample(tags: dict[str, str], label: str, timerange: str) -> None:
    """Refuse a timerange that ends inside the version's training data (every candle would
    get ``do_predict = 0``); the ``tradai.train_end.<pair>`` tags say where it ends."""
    from freqtrade.configuration import TimeRange

    ends = [pd.Timestamp(v) for k, v in tags.items() if k.startswith(tag.TRAIN_END_PREFIX)]
    stop = TimeRange.parse_timerange(timerange).stopdt
    if not ends or stop is None:
        return
    last = max(ends)
    last = last.tz_localize("UTC") if last.tzinfo is None else last
    if stop <= last:
        raise TradAIConfigError(
            f"--timerange {timerange} ends before {label}'s training data does ({last}): "
            "compare on candles after it (out of sample)"
        )


def paired_rows(old: VersionRun, new: VersionRun, realised: pd.DataFrame) -> pd.DataFrame:
    """Rows both versions predicted (``do_predict == 1``) with a finite realised target."""
    both = old.predictions.merge(new.predictions, on=["pair", "date"], suffixes=("_old", "_new"))
    both = both.merge(realised, on=["pair", "date"])
    keep = (both["do_predict_old"] == 1) & (both["do_predict_new"] == 1)
    keep &= np.isfinite(both[["pred_old", "pred_new", "realised"]].to_numpy(float)).all(axis=1)
    return both.loc[keep].reset_index(drop=True)


def check_pairs(pairs: list[str], where: str) -> None:
    """Refuse fewer than :data:`~tradai_strategy.stats.live_ic.MIN_PAIRS` pairs: the
    cross-sectional IC ranks the pairs against each other at each candle."""
    if len(pairs) < MIN_PAIRS:
        have = ", ".join(pairs) or "none"
        raise TradAIConfigError(
            f"{where} has {len(pairs)} pair(s) ({have}): the cross-sectional IC needs "
            f">= {MIN_PAIRS} pairs per candle; add pairs to exchange.pair_whitelist in the config"
        )


def candle_ic(rows: pd.DataFrame) -> pd.DataFrame:
    """Per candle of :func:`paired_rows`: the cross-sectional IC of each version (columns
    ``old``, ``new``) and the number of pairs it ranks (``pairs``); candles with fewer than
    two pairs are left out."""
    ics = {
        v: cross_sectional_ic(rows, pred=f"pred_{v}", realised="realised", time="date")
        for v in ("old", "new")
    }
    out = pd.concat(
        {"old": ics["old"]["ic"], "new": ics["new"]["ic"], "pairs": ics["new"]["pairs"]},
        axis=1,
        join="inner",
    )
    return out.sort_index()


def paired_candle_test(
    rows: pd.DataFrame, horizon: int, *, min_delta: float, alpha: float
) -> tuple[pd.DataFrame, PairedTest, str]:
    """(:func:`candle_ic` of ``rows``, the paired test of new vs old at ``horizon``, its
    recommendation); a :class:`TradAIDataError` naming the fix when it cannot run."""
    have = sorted(map(str, rows["pair"].unique()))
    if len(have) < MIN_PAIRS:
        raise TradAIDataError(
            f"only {len(have)} pair(s) ({', '.join(have) or 'none'}) have candles both versions "
            f"predicted: the cross-sectional IC needs >= {MIN_PAIRS} pairs per candle; add pairs "
            "to exchange.pair_whitelist or pick a timerange both versions predict on"
        )
    per_candle = candle_ic(rows)
    try:
        test = paired_ic_test(per_candle["new"], per_candle["old"], horizon)
        recommendation = recommend(test, min_delta=min_delta, alpha=alpha)
    except PairedTestError as err:  # too few candles, a bad --alpha: the one-line reason
        raise TradAIDataError(f"paired {CROSS_SECTIONAL} test: {err}") from None
    return per_candle, test, recommendation


def compare_versions(
    args: dict[str, Any],
    name: str,
    old: str,
    new: str,
    *,
    timerange: str,
    tracking_uri: str | None = None,
    offline: bool = False,
    freqaimodel_path: Path | None = None,
    min_delta: float = 0.01,
    alpha: float = 0.05,
    notify: Notify | None = None,
) -> Comparison:
    """Backtest and score versions ``old`` and ``new`` of ``name`` on the same data.

    :raises TradAIError: the same version twice, an unknown model/version (a
        :class:`~tradai_strategy.registry.client.RegistryError`), a version trained with
        another strategy, fewer than two pairs, no candles in the timerange, too few
        common candles for the paired test.
    """
    from tradai_strategy.core.logs import quiet_logging
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.lifecycle.gate import check_strategy
    from tradai_strategy.registry.client import RegistryClient

    say = notify or (lambda _msg: None)
    if not 0 < alpha < 1:
        raise TradAIConfigError(f"--alpha {alpha} must be between 0 and 1, e.g. 0.05")
    if str(old) == str(new):
        raise TradAIConfigError(
            f"version {old} given twice: compare two different versions of {name}"
        )
    registry = RegistryClient(tracking_uri)
    infos = [registry.version(name, v) for v in (old, new)]
    for info in infos:
        check_strategy(info.tags, args, f"{name} version {info.version}")
        check_out_of_sample(info.tags, f"{name} version {info.version}", timerange)
    with quiet_logging():
        config = resolve_config(args)
        pairs = list(config.get("exchange", {}).get("pair_whitelist", []))
        check_pairs(pairs, "exchange.pair_whitelist")
        horizon = label_period_candles(config)
        realised = realised_targets(config, pairs, timerange)
    label = str(realised.attrs["label"])
    run_dir = run_folder(config["user_data_dir"], f"compare-{name}")
    run_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for info in infos:
        say(f"backtesting {name} version {info.version} on {timerange}")
        runs.append(
            run_version(
                args,
                config,
                name,
                info.version,
                timerange=timerange,
                tracking_uri=registry.uri,
                run_dir=run_dir,
                label=label,
                offline=offline,
                freqaimodel_path=freqaimodel_path,
            )
        )
    rows = paired_rows(runs[0], runs[1], realised)
    warnings = []
    served = min(int((r.predictions["do_predict"] == 1).sum()) for r in runs)
    total = max(len(r.predictions) for r in runs)
    if served < total:
        warnings.append(
            f"{total - served} of {total} candles have do_predict=0 for a version (inside its "
            "training data, or filtered): IC uses the rows both versions predicted"
        )
    if rows.empty:
        raise TradAIDataError(
            f"no candle in {timerange} was predicted by both versions: pick a timerange after "
            "both versions' training data"
        )
    per_candle, test, recommendation = paired_candle_test(
        rows, horizon, min_delta=min_delta, alpha=alpha
    )
    return Comparison(
        name=name,
        old=runs[0],
        new=runs[1],
        timerange=timerange,
        strategy=str(args["strategy"]),
        label=label,
        per_candle=per_candle,
        test=test,
        recommendation=recommendation,
        n_rows=len(rows),
        warnings=warnings,
        min_delta=min_delta,
        alpha=alpha,
    )
