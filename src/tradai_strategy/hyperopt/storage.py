"""Optuna storages of ``tradai hyperopt`` and the stale-trial bookkeeping.

URLs: ``sqlite:///file.db`` and ``postgresql://user:pass@host/db`` (optuna's RDB storage;
PostgreSQL for workers on several machines; SQLAlchemy's default driver for it is
``psycopg``) and ``journal:///path/file.log`` (optuna's journal file storage).

Stale trials: on an RDB storage every running trial records a heartbeat (optuna's
``heartbeat_interval``); a trial whose heartbeat is older than ``2 x heartbeat`` seconds
belongs to a killed process. The next run marks it FAIL (optuna's ``fail_stale_trials``),
flags it in the study's user attributes (``tradai.stale.<number>``) and does not count it
toward ``n_trials``. A journal storage has no heartbeat: there a killed trial stays RUNNING
(and is not counted either).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tradai_strategy.core import tags as tag
from tradai_strategy.core.errors import TradAIConfigError
from tradai_strategy.core.redact import redact_text, redact_url


@dataclass(frozen=True)
class MarkStale:
    """Heartbeat-stale trial callback: flag the trial in the study's user attributes so it is
    not counted toward ``n_trials`` (picklable: worker processes build their own storage)."""

    def __call__(self, study: Any, trial: Any) -> None:
        import datetime

        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        study.set_user_attr(f"{tag.STALE_PREFIX}{trial.number}", now)


def open_storage(url: str | None, heartbeat: int = 0) -> Any:
    """An optuna storage for ``url`` (``None``: in memory); one clear error when unusable.

    ``heartbeat`` > 0 turns on optuna's heartbeat on RDB storages (grace period: twice the
    interval) so trials of a killed process are failed by the next run.
    """
    import optuna

    if not url:
        return None
    hint = "use sqlite:///path.db, postgresql://user:pass@host/db or journal:///path.log"
    try:
        if url.startswith("journal:///"):
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(
                JournalFileBackend(url.removeprefix("journal://"))
            )
        if "://" not in url:
            raise ValueError("no scheme")
        beat: dict[str, Any] = {}
        if heartbeat > 0:
            beat = {
                "heartbeat_interval": heartbeat,
                "grace_period": 2 * heartbeat,
                "heartbeat_stale_trial_callback": MarkStale(),
            }
        with quiet_experimental():
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url), **beat)
    except Exception as err:  # sqlalchemy/optuna raise many types for a bad URL
        reason = redact_text(" ".join(str(err).split()))[:160]  # no password, even cut short
        raise TradAIConfigError(
            f"--storage {redact_url(url)!r} cannot be opened ({reason}): {hint}"
        ) from None


@contextlib.contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence optuna's ExperimentalWarning (heartbeat, fail_stale_trials, Wilcoxon)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def fail_stale(study: Any) -> None:
    """Fail the study's heartbeat-stale RUNNING trials now (no-op without a heartbeat)."""
    import optuna

    with quiet_experimental():
        optuna.storages.fail_stale_trials(study)


def stale_numbers(study: Any) -> set[int]:
    """Numbers of the trials failed as heartbeat-stale (see :class:`MarkStale`)."""
    return {
        int(k.removeprefix(tag.STALE_PREFIX))
        for k in study.user_attrs
        if k.startswith(tag.STALE_PREFIX) and k.removeprefix(tag.STALE_PREFIX).isdigit()
    }


def _engine_kwargs(url: str) -> dict[str, Any]:
    # several processes on one sqlite file: wait for the write lock instead of failing
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
