"""The local pool's side of :mod:`tradai_strategy.models.executor`, in the worker processes.

Standard library only: a worker imports this module before its first task, and the task's
own modules (freqtrade, the estimators) come from the fork server's preload.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def adopt_environment(env: dict[str, str]) -> None:
    """Pool worker initializer: the driver's environment as the pool starts (workers fork from
    the fork server, whose environment is the one it started with)."""
    os.environ.clear()
    os.environ.update(env)


def run_marked(fn: Callable[[T], R], marks: str, i: int, task: T) -> R:
    """``fn(task)`` in a pool worker, with the file ``marks/i`` present while it runs: a worker
    that dies leaves it behind, naming the tasks that were running."""
    path = os.path.join(marks, str(i))
    open(path, "w").close()
    try:
        return fn(task)
    finally:
        os.remove(path)


def apply_task(task: tuple[Callable[..., R], tuple[Any, ...]]) -> R:
    """``fn(*args)`` for a task ``(fn, args)``: any call as a one-argument executor task."""
    fn, args = task
    return fn(*args)
