"""``tradai retrain --check`` and ``tradai scheduler`` (monitoring/retraining issue).

``tradai retrain --check`` exit status (cron-friendly: say what was done):

====  =====================================================================
0     nothing to do
10    retrained, validation passed, promoted to @production (auto_promote)
11    retrained, validation passed, staged as @challenger (shadow test)
12    retrained, validation failed: production kept
13    rolled back (error drift)
14    production version retired (IC decay); serving falls back to @fallback
15    shadow test over: challenger promoted
16    shadow test over: challenger discarded
20    --dry-run: an action is due (printed, not done)
1     error (training failed, unexpected error)
2     bad input (policy file, unknown model)
====  =====================================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from tradai_strategy.cli.common import console, fail

if TYPE_CHECKING:
    from tradai_strategy.lifecycle.retrain import Decision
    from tradai_strategy.lifecycle.retrain_act import Outcome

PolicyOpt = Annotated[
    Path,
    typer.Option("--policy", help="Retraining policy TOML (see configs/lifecycle.toml)."),
]
_STATUS = {"ok": "green", "warn": "yellow", "trigger": "bold magenta", "skipped": "dim"}

retrain_app = typer.Typer(
    help="Retraining: `tradai retrain --check` decides and acts (schedule, drift, IC decay).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def print_result(decision: Decision, outcome: Outcome) -> None:
    """One line per rule, then the decision and what was done."""
    for f in decision.findings:
        colour = _STATUS.get(f.status, "white")
        console.print(
            f"{decision.model} {f.rule:<10} [{colour}]{f.status:<7}[/] {escape(f.message)}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"{decision.model} decision   [bold]{decision.action}[/] ({escape(decision.reason)})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"{decision.model} outcome    [bold]{outcome.result}[/] {escape(outcome.message)} "
        f"(exit {outcome.exit_code})",
        highlight=False,
        soft_wrap=True,
    )


@retrain_app.callback()
def retrain(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Decide from schedule, drift and IC decay, act (holding the scheduler's "
            "lock), exit with what was done "
            "(0 nothing, 10 promoted, 11 challenger, 12 kept, 13 rolled back, 14 retired, "
            "15/16 shadow promoted/discarded, 20 dry run due, 1 error, 2 bad input).",
        ),
    ] = False,
    policy: PolicyOpt = Path("configs/lifecycle.toml"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and print only: no training, no alias move.")
    ] = False,
) -> None:
    """Retraining: `--check` decides and acts; `simulate` replays the policy over history."""
    if ctx.invoked_subcommand is not None:
        return
    if not check:
        console.print(ctx.get_help())
        raise typer.Exit(0)
    from contextlib import nullcontext

    from tradai_strategy.core.errors import MonitoringError
    from tradai_strategy.lifecycle.policy import PolicyError, load_policy, lock_path
    from tradai_strategy.lifecycle.scheduler import LockHeld, SchedulerLock, run_check
    from tradai_strategy.registry.client import RegistryError

    try:
        pol = load_policy(policy)
        # one actor at a time: a check that acts holds the scheduler's lock
        with nullcontext() if dry_run else SchedulerLock(lock_path(pol)):
            decision, outcome = run_check(pol, dry_run=dry_run)
    except (PolicyError, RegistryError, MonitoringError, LockHeld) as err:
        fail(str(err))
    print_result(decision, outcome)
    raise typer.Exit(outcome.exit_code)


def scheduler(
    policy: PolicyOpt = Path("configs/lifecycle.toml"),
    once: Annotated[
        bool, typer.Option("--once", help="Run one check now and exit (tests, manual runs).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and print only at each run.")
    ] = False,
) -> None:
    """Run the retrain check on the policy's cron schedule (UTC), one instance at a time.

    A lock file (scheduler.lock_file, default beside the policy) keeps
    a second scheduler from starting: it exits with status 2 naming the
    lock holder's PID. With --once the exit status is the check's.
    """
    from tradai_strategy.core.errors import MonitoringError
    from tradai_strategy.lifecycle.policy import PolicyError, load_policy
    from tradai_strategy.lifecycle.scheduler import LockHeld, run_scheduler
    from tradai_strategy.registry.client import RegistryError

    codes: list[int] = []

    def report(decision: Decision, outcome: Outcome) -> None:
        print_result(decision, outcome)
        codes.append(outcome.exit_code)

    try:
        pol = load_policy(policy)
        if not once:
            console.print(
                f"tradai scheduler: {pol.model_name}, cron {pol.cron!r} (UTC); Ctrl-C stops",
                highlight=False,
            )
        run_scheduler(policy, once=once, report=report, dry_run=dry_run)
    except (PolicyError, LockHeld, RegistryError, MonitoringError) as err:
        fail(str(err))
    if once and codes:
        raise typer.Exit(codes[-1])


def register(app: typer.Typer) -> None:
    """Add ``retrain`` (group: ``--check``, ``simulate``) and ``scheduler`` to ``tradai``."""
    try:
        from tradai_strategy.cli.retrain_simulate import register_simulate
    except ImportError:
        pass
    else:
        register_simulate(retrain_app)
    app.add_typer(retrain_app, name="retrain")
    app.command("scheduler")(scheduler)
