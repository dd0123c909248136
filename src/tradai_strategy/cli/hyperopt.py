"""``tradai hyperopt``: Optuna search over the FreqAI model's parameters (and, optionally, its
training window and label horizon), scored out of sample on purged walk-forward or
combinatorial purged (CPCV) splits.

Exit codes: 0 done, 2 bad input (one line naming the option and the fix). Heavy imports stay
inside the command function so ``tradai --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tradai_strategy.cli.common import (
    AllowGapsOpt,
    ConfigOpt,
    DatadirOpt,
    PairsOpt,
    StrategyOpt,
    StrategyPathOpt,
    TrackingUriOpt,
    UserdirOpt,
    console,
    err_console,
    fail,
    fmt_num,
    freqtrade_args,
)
from tradai_strategy.core.logs import quiet_logging


def hyperopt(
    config: ConfigOpt = None,
    strategy: StrategyOpt = "",
    strategy_path: StrategyPathOpt = None,
    datadir: DatadirOpt = None,
    userdir: UserdirOpt = None,
    timerange: Annotated[str | None, typer.Option(help="Candles to use.")] = None,
    pairs: PairsOpt = None,
    trials: Annotated[
        int, typer.Option("--trials", help="Total trials of the study (resumed runs add the rest).")
    ] = 100,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage: sqlite:///f.db, postgresql://..., journal:///f.log "
            "(default: in memory, not resumable)."
        ),
    ] = None,
    study: Annotated[str, typer.Option("--study", help="Study name.")] = "tradai-hyperopt",
    workers: Annotated[int, typer.Option(help="Worker processes sharing the study.")] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            help="Run the workers on the Dask scheduler at this address (tcp://host:8786); "
            "--storage must be one its machines reach (docs/parallel-training.md).",
        ),
    ] = None,
    metric: Annotated[str, typer.Option(help="Objective: ic (rank IC) or sharpe.")] = "ic",
    pruner: Annotated[
        str,
        typer.Option(
            help="median or hyperband (on the running mean over splits), wilcoxon (paired "
            "test against the best trial, per split and pair) or none."
        ),
    ] = "median",
    space: Annotated[
        Path | None, typer.Option(help="TOML/JSON file overriding the search space.")
    ] = None,
    cv: Annotated[
        str, typer.Option(help="Splits: walkforward (purged, expanding) or cpcv (combinatorial).")
    ] = "walkforward",
    n_splits: Annotated[int, typer.Option(help="Walk-forward splits.")] = 4,
    n_groups: Annotated[int, typer.Option(help="CPCV groups N.")] = 6,
    k: Annotated[int, typer.Option("--k", help="CPCV test groups per split (C(N, k) splits).")] = 2,
    purge: Annotated[
        int | None, typer.Option(help="Purge in bars (default: label_period_candles).")
    ] = None,
    embargo: Annotated[int, typer.Option(help="Embargo in bars.")] = 5,
    cost: Annotated[float, typer.Option(help="Cost per unit traded (Sharpe metric).")] = 0.001,
    out: Annotated[
        Path, typer.Option(help="Best parameters as a config fragment (.json or .toml).")
    ] = Path("hyperopt_best.json"),
    heartbeat: Annotated[
        int,
        typer.Option(
            help="Seconds between heartbeats of a running trial on sqlite/postgresql storage; "
            "a trial silent for twice that long (killed run) is failed and not counted. 0: off."
        ),
    ] = 30,
    tracking_uri: TrackingUriOpt = None,
    no_tracking: Annotated[
        bool, typer.Option("--no-tracking", help="Do not log the trials to MLflow.")
    ] = False,
    allow_gaps: AllowGapsOpt = False,
) -> None:
    """Tune the FreqAI model with Optuna: mean out-of-sample IC (or Sharpe) over purged
    walk-forward or CPCV splits, pruned split by split; resumable on a shared storage (trials
    of a killed run are failed by their stale heartbeat and not counted); reports PBO and the
    Deflated Sharpe ratio over the trials and writes the best parameters."""
    from tradai_strategy.data.freqtrade_runner import resolve_config
    from tradai_strategy.hyperopt.data import prepare_data
    from tradai_strategy.hyperopt.output import best_fragment, write_best
    from tradai_strategy.hyperopt.space import resolve_space
    from tradai_strategy.hyperopt.study import HyperoptSettings, open_storage, run_study

    args = freqtrade_args(
        config, strategy, strategy_path=strategy_path, datadir=datadir, userdir=userdir
    )
    pair_list = [p.strip() for p in pairs.split(",") if p.strip()] if pairs else None
    if cost < 0:
        fail(f"--cost must be >= 0 (fraction per unit traded), got {cost}")
    if out.suffix not in (".json", ".toml"):
        fail(f"--out {out}: use a .json or .toml file name")
    settings = HyperoptSettings(
        n_trials=trials,
        study_name=study,
        storage=storage,
        workers=workers,
        metric=metric,  # type: ignore[arg-type]  # checked in HyperoptSettings
        pruner=pruner,  # type: ignore[arg-type]
        cost=cost,
        heartbeat=heartbeat,
        cluster=cluster,
    )
    open_storage(storage, heartbeat)  # a bad URL fails before the features are built
    if cluster:
        from tradai_strategy.core.settings import ExecutorSettings
        from tradai_strategy.models.executor import check_reachable

        check_reachable(ExecutorSettings("dask", workers, cluster))  # one line before the features
    from tradai_strategy.data.candle_check import allow_gaps as gap_policy

    with quiet_logging(), gap_policy(allow_gaps):
        cfg = resolve_config(args)
        from tradai_strategy.core.settings import TradAISettings

        tradai = TradAISettings.from_config(cfg)
        search = resolve_space(tradai.estimator, space)
        data = prepare_data(
            cfg,
            search,
            n_splits=n_splits,
            cv=cv,  # type: ignore[arg-type]  # checked in prepare_data
            n_groups=n_groups,
            k=k,
            purge=purge,
            embargo=embargo,
            pairs=pair_list,
            timerange=timerange,
            datadir=datadir,
        )
        callbacks: list[Any] = []
        logger = None
        if not no_tracking:
            from tradai_strategy.hyperopt.tracking import start_parent

            logger = start_parent(
                tracking_uri,
                study,
                {
                    "trials": trials,
                    "metric": metric,
                    "pruner": pruner,
                    "workers": workers,
                    "cv": cv,
                },
            )
            callbacks.append(logger)
        err_console.print(
            f"{len(data.get(None).pairs)} pair(s), {data.get(None).n_splits} {cv} splits, "
            f"{len(search)} dimension(s): {', '.join(search)}",
            highlight=False,
        )
        result = run_study(data, search, settings, callbacks=callbacks)
    o = result.overfitting
    console.print(
        f"study {result.study_name}: {result.n_trials} trial(s) ({result.ran} this run; "
        f"{', '.join(f'{k.lower()} {v}' for k, v in sorted(result.states.items()))}) in "
        f"{result.wall_seconds:.1f} s",
        highlight=False,
    )
    if result.stale:
        console.print(
            f"failed as stale (killed run, not counted): trial(s) "
            f"{', '.join(map(str, result.stale))}",
            highlight=False,
        )
    console.print(
        f"best trial {result.best_number}: {result.metric} {fmt_num(result.best_value, '+.4f')} "
        f"{result.best_params}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"selection luck: PBO {fmt_num(o.get('pbo'), '.2f')}, best Sharpe/period "
        f"{fmt_num(o.get('best_sharpe'), '+.3f')}, DSR {fmt_num(o.get('dsr'), '.3f')} over "
        f"{round(o.get('n_complete', 0))} complete trial(s)",
        highlight=False,
    )
    path = write_best(out, best_fragment(result.best_params, data.base_params))
    console.print(f"wrote {path}", highlight=False)
    if logger is not None:
        from tradai_strategy.hyperopt.tracking import finish_parent

        finish_parent(logger, {"best_value": result.best_value, "n_trials": result.n_trials, **o})
        console.print(f"MLflow run {logger.parent_run_id}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``hyperopt`` to the ``tradai`` app."""
    app.command("hyperopt")(hyperopt)
