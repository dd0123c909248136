"""What stops an executor run, as one line naming the task; shared by the backends."""

from __future__ import annotations

import os

from tradai_strategy.core.errors import TradAIConfigError, TradAIError

#: one retry per task for failures that are not a TradAIError, and for a dead worker
ATTEMPTS = 2


class FitFailedError(TradAIError):
    """A task failed (twice, unless its cause was a TradAIError); the message names it."""


class ClusterUnreachableError(TradAIConfigError):
    """No Dask scheduler answered at the configured address."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def one_line(err: BaseException) -> str:
    """``err`` as one line: its type (unless a TradAIError) and first message line."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, TradAIError):
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def failure(label: str, err: BaseException, attempts: int) -> FitFailedError:
    """The error that stops a run when the task ``label`` failed with ``err``."""
    if isinstance(err, TradAIError):
        return FitFailedError(f"{label}: {one_line(err)}")
    tries = "twice" if attempts > 1 else "once"
    return FitFailedError(
        f"{label} failed {tries} ({one_line(err)}); fix the cause and rerun, or train this "
        "run serially (freqai.tradai.executor.backend: serial) to see the full traceback"
    )


def died(label: str, how: str) -> FitFailedError:
    """The error that stops a run when the worker processes training ``label`` died."""
    return FitFailedError(
        f"{label}: {how} (killed: out of memory, or a crash in the estimator's native code?); "
        "lower freqai.tradai.executor.workers or the model's size, then rerun"
    )
