"""``tradai scheduler``: the retrain check on a cron schedule, one instance at a time.

An APScheduler ``BlockingScheduler`` runs :func:`run_check` (the same check and act as
``tradai retrain --check``) on the policy's ``[scheduler] cron`` (UTC). The policy file is
re-read before every run, so edits take effect without a restart (a broken edit is logged
and that run skipped). An exclusive ``flock`` on the lock file (``[scheduler] lock_file``,
default ``tradai_scheduler.lock`` beside the policy) keeps a second scheduler from starting;
the file holds the holder's PID for the error message. The OS drops the lock when the
process dies, so a stale file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from tradai_strategy.core.errors import TradAIError
from tradai_strategy.lifecycle.policy import PolicyError, RetrainPolicy, load_policy, lock_path

logger = logging.getLogger(__name__)


class LockHeld(TradAIError):
    """Another scheduler holds the lock file."""


class SchedulerLock:
    """Exclusive, non-blocking ``flock`` on ``path``; the file records the holder's PID."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` naming the holder's PID."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise LockHeld(
                f"another tradai scheduler or retrain check is running (PID {holder} holds "
                f"{self.path}): wait for it or stop it, or give this policy its own "
                "[scheduler] lock_file"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> SchedulerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_check(policy: RetrainPolicy, *, dry_run: bool = False, **kwargs: Any) -> tuple[Any, Any]:
    """One retrain check: :func:`~.retrain.check` then (unless ``dry_run``)
    :func:`~.retrain_act.act`. Returns ``(decision, outcome)``; the outcome of a dry run is
    ``would_act`` or ``nothing``.

    :param kwargs: ``now``, ``lc``, ``log``, ``features`` go to ``check``; ``alerter``,
        ``trainer``, ``validator`` to ``act``.
    """
    from tradai_strategy.lifecycle.promotion import Lifecycle
    from tradai_strategy.lifecycle.retrain import check, open_log
    from tradai_strategy.lifecycle.retrain_act import Outcome, act

    # the registry and the prediction log are opened once, for check and act
    lc = kwargs.get("lc") or Lifecycle.open(policy.tracking_uri, model=policy.model_name)
    log = kwargs.get("log") or open_log(policy)
    check_kw = {k: kwargs[k] for k in ("now", "features") if k in kwargs}
    act_kw = {k: kwargs[k] for k in ("alerter", "trainer", "validator") if k in kwargs}
    decision = check(policy, lc=lc, log=log, **check_kw)
    if dry_run:
        result = "nothing" if decision.action == "nothing" else "would_act"
        return decision, Outcome(result, f"dry run: would {decision.action} ({decision.reason})")
    return decision, act(decision, lc=lc, log=log, **act_kw)


def run_scheduler(
    policy_file: str | Path,
    *,
    once: bool = False,
    report: Callable[[Any, Any], None] | None = None,
    **kwargs: Any,
) -> None:
    """Hold the lock and run the check on the policy's cron schedule (``once``: one check now,
    then return; its errors propagate). ``report(decision, outcome)`` is called after each
    run. A scheduled run that fails is logged and the scheduler goes on.

    :raises PolicyError: the policy file is wrong at start-up.
    :raises LockHeld: another scheduler runs.
    """
    policy = load_policy(policy_file)

    def job() -> None:
        try:
            current = load_policy(policy_file)
        except PolicyError as err:
            if once:
                raise
            logger.error("scheduled check skipped: %s", err)
            return
        try:
            decision, outcome = run_check(current, **kwargs)
        except Exception:
            if once:
                raise
            logger.exception("scheduled retrain check failed; next run as scheduled")
            return
        if report is not None:
            report(decision, outcome)

    with SchedulerLock(lock_path(policy)):
        if once:
            job()
            return
        from apscheduler.schedulers.blocking import BlockingScheduler
        from apscheduler.triggers.cron import CronTrigger

        scheduler = BlockingScheduler(timezone="UTC")
        scheduler.add_job(
            job,
            CronTrigger.from_crontab(policy.cron, timezone="UTC"),
            id="tradai-retrain-check",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        logger.info("tradai scheduler: retrain check on cron %r (UTC)", policy.cron)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)
