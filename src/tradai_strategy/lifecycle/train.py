"""TRAIN mode: leakage pre-flight -> walk-forward training backtest -> bundle -> MLflow version.

:func:`train_and_register` is the whole flow; the CLI (``tradai train``) only parses options
and prints. The run's files (the derived config, the bundle) go into
``<userdir>/tradai_runs/<identifier>-<UTC time>/``; FreqAI's models of the training go to
``<userdir>/models/<identifier>-<UTC time>/`` (a fresh identifier per training, never a
previous run's models).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIDataError
from tradai_strategy.core.labels import CLASSIFIER_TARGETS
from tradai_strategy.core.logs import quiet_logging
from tradai_strategy.core.paths import run_folder
from tradai_strategy.core.settings import label_period_candles
from tradai_strategy.stats.compare import finite_float

logger = logging.getLogger(__name__)

TRAINING_MODEL = "TrainingPredictionModel"
CLASSIFIER_MODEL = "TrainingClassifierModel"


def training_model(cfg: dict[str, Any]) -> str:
    """The FreqAI model that trains the strategy's target: a classifier for ``updown`` and
    ``regime`` (``freqai.tradai.target``, else the strategy's own ``target`` attribute)."""
    import copy

    from tradai_strategy.data.features import load_strategy

    with quiet_logging():  # the resolver logs every strategy attribute
        kind = getattr(load_strategy(copy.deepcopy(cfg)), "target_kind", "return")
    return CLASSIFIER_MODEL if kind in CLASSIFIER_TARGETS else TRAINING_MODEL


class LeakageFound(TradAIDataError):
    """The lookahead pre-flight found leaking features: nothing was trained (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class TrainResult:
    """A registered training run."""

    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    tags: dict[str, str]
    run_dir: Path
    leakage_summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config_hash(paths: list[str]) -> str:
    """sha256 over the given config files' bytes, in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def git_commit(start: Path | None = None) -> str:
    """The checked-out commit of the repository holding ``start`` (read from ``.git``, no git
    process), or ``"unknown"``."""
    for base in (p := (start or Path.cwd()).resolve(), *p.parents):
        head = base / ".git" / "HEAD"
        if not head.is_file():
            continue
        ref = head.read_text().strip()
        if not ref.startswith("ref: "):
            return ref or "unknown"
        name = ref.removeprefix("ref: ")
        loose = base / ".git" / name
        if loose.is_file():
            return loose.read_text().strip()
        packed = base / ".git" / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + name):
                    return line.split()[0]
        return "unknown"
    return "unknown"


def backtest_metrics(stats: dict[str, Any]) -> dict[str, float]:
    """Sharpe, total profit, max drawdown, win rate and trade count from freqtrade's stats."""
    wanted = {
        "sharpe": stats.get("sharpe"),
        "profit_total": stats.get("profit_total"),
        "max_drawdown": stats.get("max_drawdown_account", stats.get("max_relative_drawdown")),
        "win_rate": stats.get("winrate"),
        "trade_count": stats.get("total_trades"),
    }
    return {k: v for k, v in ((k, finite_float(v)) for k, v in wanted.items()) if v is not None}


def oos_metrics(metrics_file: dict[str, Any]) -> dict[str, float]:
    """Pooled OOS RankIC (n-weighted over pairs) and ICIR over all windows' RankIC; for a
    classifier the pooled OOS accuracy (``accuracy``, what ``tradai status`` judges it on)."""
    out: dict[str, float] = {}
    for agg in (metrics_file.get("summary") or {}).values():
        if finite_float(agg.get("mean")) is None:
            continue
        if agg.get("metric") == "rank_ic":
            out.setdefault("oos_rank_ic", float(agg["mean"]))
        elif agg.get("metric") == "accuracy":
            out.setdefault("accuracy", float(agg["mean"]))
    window_ics = [
        float(w["rank_ic"])
        for payload in (metrics_file.get("pairs") or {}).values()
        for lab in payload.get("labels", [])
        if lab.get("kind") == "regression"
        for w in lab.get("windows", [])
        if finite_float(w.get("rank_ic")) is not None
    ]
    if len(window_ics) > 1:
        mean = sum(window_ics) / len(window_ics)
        std = math.sqrt(sum((x - mean) ** 2 for x in window_ics) / (len(window_ics) - 1))
        if std > 0:
            out["oos_icir"] = mean / std
    return out


def preflight(cfg: dict[str, Any], timerange: str | None) -> str:
    """Run the lookahead guard; raise :class:`LeakageFound` naming the features, else return
    the clean summary line."""
    from tradai_strategy.validation.lookahead import check_lookahead

    report = check_lookahead(cfg, timerange=timerange)
    if not report.ok:
        raise LeakageFound(
            f"{report.summary_line()}: fix the strategy (or pass --skip-leakage-check)"
        )
    return report.summary_line()


def new_run_dir(userdir: Path, identifier: str) -> Path:
    """A new ``<userdir>/tradai_runs/<identifier>-<UTC time>[-n]`` folder (created); its name
    is also the training's FreqAI identifier, so no two trainings share saved models."""
    base = run_folder(userdir, identifier)
    for n in range(1000):
        folder = base if n == 0 else base.with_name(f"{base.name}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise TradAIDataError(f"{base.parent}: 1000 runs of {identifier} this second: clean it up")


def train_and_register(
    args: dict[str, Any],
    *,
    timerange: str | None = None,
    offline: bool = False,
    skip_leakage_check: bool = False,
    model_name: str | None = None,
    tracking_uri: str | None = None,
    freqaimodel_path: Path | None = None,
    validation_status: str = "pending",
    report: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train, bundle and register one model version.

    :param args: freqtrade parsed arguments (config, strategy, strategy_path, datadir,
        user_data_dir), e.g. from :func:`tradai_strategy.cli.common.freqtrade_args`.
    :param report: write the version's HTML report (``<run_dir>/report.html``, also logged
        to the run under ``report/``); its path is ``TrainResult.extra["report"]``.
    :param progress: called with each phase's name as it starts (lookahead pre-flight,
        training backtest, bundle, register, report).
    """
    from tradai_strategy.bundle.format import bundle_from_model_dir, read_manifest
    from tradai_strategy.data.freqtrade_runner import backtest, resolve_config
    from tradai_strategy.registry.bundle_registry import register_bundle
    from tradai_strategy.registry.client import RegistryClient, bound_registry_calls

    def step(phase: str) -> None:
        if progress is not None:
            progress(phase)

    started = time.time()
    # the registry first: an unreachable tracking server is one line now, not after training
    bound_registry_calls(30, retries=2)
    RegistryClient(tracking_uri)
    with quiet_logging():
        cfg = resolve_config(args)
    strategy = str(args["strategy"])
    summary = "skipped"
    if not skip_leakage_check:
        with quiet_logging():
            step("lookahead pre-flight")
            summary = preflight(cfg, timerange)
    freqai = cfg.get("freqai") or {}
    identifier = str(freqai.get("identifier") or "tradai")
    userdir = Path(cfg["user_data_dir"])
    run_dir = new_run_dir(userdir, identifier)
    # a fresh FreqAI identifier per training: FreqAI reuses any model saved under the
    # config's identifier ("Found model at ..."), which would register another run's model
    fresh = run_dir.name
    model = training_model(cfg)
    derived = run_dir / "train_overrides.json"
    overrides = {"freqai": {"save_backtest_models": True, "identifier": fresh}}
    derived.write_text(json.dumps(overrides, indent=2) + "\n")
    with quiet_logging():
        step("training backtest")
        result = backtest(
            [*args["config"], str(derived)],
            strategy,
            freqaimodel=model,
            timerange=timerange,
            datadir=args.get("datadir"),
            userdir=userdir,
            strategy_path=args.get("strategy_path"),
            freqaimodel_path=freqaimodel_path,
            offline=offline,
            results_dir=run_dir / "backtest_results",
        )
    model_dir = userdir / "models" / fresh
    metrics_path = model_dir / "tradai_metrics.json"
    ic_file = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    metrics = {**backtest_metrics(result.stats), **oos_metrics(ic_file)}
    step("bundle")
    bundle = bundle_from_model_dir(model_dir, run_dir / "bundle", strategy=strategy)
    manifest = read_manifest(bundle)
    pairs = sorted(manifest["pairs"])
    features = sorted({f for meta in manifest["pairs"].values() for f in meta["features"]})
    starts = [meta["train_start"] for meta in manifest["pairs"].values()]
    ends = [meta["train_end"] for meta in manifest["pairs"].values()]
    name = model_name or f"tradai-{strategy}"
    tags = {
        tag.STRATEGY: strategy,
        tag.PAIRS: ",".join(pairs),
        tag.TIMEFRAME: str(manifest.get("timeframe") or cfg.get("timeframe")),
        tag.DATA_RANGE: timerange or f"{min(starts)}..{max(ends)}",
        tag.CONFIG_HASH: config_hash([str(p) for p in args["config"]]),
        tag.GIT_COMMIT: git_commit(),
        tag.IDENTIFIER: identifier,
        tag.FREQAI_IDENTIFIER: fresh,
        tag.FEATURE_LIST_HASH: sha256_text("\n".join(features)),
        tag.VALIDATION_STATUS: validation_status,
        tag.LABEL_HORIZON: str(label_period_candles(cfg)),
    }
    run_tags = {**tags, tag.LEAKAGE_CHECK: "skipped" if skip_leakage_check else "passed"}
    step("register")
    reg = RegistryClient(tracking_uri)
    # the run's metrics and files, the version's tags and description all go in before the
    # version exists (it is created last, in one call): a crash never leaves a half-made one
    version = register_bundle(
        bundle,
        name,
        tracking_uri=tracking_uri,
        tags=run_tags,
        version_tags=tags,
        description=f"{strategy} trained on {tags[tag.DATA_RANGE]}",
        on_run=lambda run_id: _log_run(
            reg, run_id, metrics, freqai, model, timerange, result.results_path, started
        ),
    )
    info = reg.version(name, version)
    run_id = str(info.run_id)
    extra: dict[str, Any] = {}
    # the report's inputs and the report itself come after the version is complete: if
    # they fail, the version stands (the error is logged; `tradai report` can redo it)
    try:
        _log_oos(reg, info, cfg, model_dir, run_dir, timerange)
        if report:
            step("report")
            extra["report"] = _write_report(name, version, run_dir, tracking_uri)
    except Exception as err:
        logger.warning("TradAI: the report of %s v%s failed: %s", name, version, err)
    return TrainResult(name, version, run_id, metrics, tags, run_dir, summary, extra=extra)


def _log_oos(
    reg: Any,
    info: Any,
    cfg: dict[str, Any],
    model_dir: Path,
    run_dir: Path,
    timerange: str | None,
) -> None:
    """The OOS metrics, prediction table and feature history (``oos/``) for the report, and
    the version's monitoring baselines (:mod:`tradai_strategy.lifecycle.reference`)."""
    from tradai_strategy.lifecycle.reference import read_baselines
    from tradai_strategy.reports.train_artifacts import write_oos_artifacts

    with quiet_logging():
        folder = write_oos_artifacts(cfg, model_dir, run_dir / "oos", timerange)
    run_id = str(info.run_id)
    reg.client.log_artifacts(run_id, str(folder), artifact_path="oos")
    base = read_baselines(folder / "predictions.parquet", label_period_candles(cfg))
    if base is None:
        return
    if base.mae is not None:
        # the monitoring baseline: live MAE / this > 1.5 is the error-drift trigger
        reg.client.log_metric(run_id, "oos_mae", base.mae)
    if base.reference_ic is not None and base.reference_ic_se is not None:
        reg.client.log_metric(run_id, "oos_cs_ic", base.reference_ic)
        reg.client.log_metric(run_id, "oos_cs_ic_se", base.reference_ic_se)
        reg.set_tags(
            info.name,
            info.version,
            {
                tag.REFERENCE_IC: f"{base.reference_ic:.6f}",
                tag.REFERENCE_IC_SE: f"{base.reference_ic_se:.6f}",
            },
        )


def _write_report(name: str, version: str, run_dir: Path, tracking_uri: str | None) -> Path:
    """The version's HTML report in the run folder (also logged under ``report/``)."""
    from tradai_strategy.reports.model_report import build_report

    return build_report(name, version, out=run_dir / "report.html", tracking_uri=tracking_uri)


def _log_run(
    reg: Any,
    run_id: str,
    metrics: dict[str, float],
    freqai: dict[str, Any],
    freqaimodel: str,
    timerange: str | None,
    results_path: Path,
    started: float,
) -> None:
    """Params, metrics and the backtest result file on the registered version's run."""
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    params = {
        "freqaimodel": freqaimodel,
        "timerange": timerange or "",
        "train_period_days": freqai.get("train_period_days"),
        "backtest_period_days": freqai.get("backtest_period_days"),
        "label_period_candles": (freqai.get("feature_parameters") or {}).get(
            "label_period_candles"
        ),
    }
    values = {**metrics, "training_duration_s": time.time() - started}
    reg.client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in values.items()],
        params=[Param(k, str(v)) for k, v in params.items()],
    )
    reg.client.log_artifact(run_id, str(results_path), artifact_path="backtest")
