"""The ``tradai`` command's side of parallel training: ``--train-workers``/``--cluster`` as
freqtrade config overrides, and a progress bar of the fits.

freqtrade merges ``FREQTRADE__SECTION__KEY`` environment variables over the config files, so
the options become ``freqai.tradai.executor`` for the one in-process run, whatever config
files the user passes; :func:`executor_options` sets them and removes them after.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tradai_strategy.models.executor import progress_displays

PREFIX = "FREQTRADE__FREQAI__TRADAI__EXECUTOR__"


def overrides(workers: int | None, cluster: str | None) -> dict[str, str]:
    """The environment variables for ``--train-workers``/``--cluster`` (none: the config's)."""
    if cluster:
        env = {"BACKEND": "dask", "ADDRESS": cluster}
        if workers:
            env["WORKERS"] = str(workers)
        return {PREFIX + k: v for k, v in env.items()}
    if workers:
        return {PREFIX + "BACKEND": "local", PREFIX + "WORKERS": str(workers)}
    return {}


def rich_progress(total: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A rich progress bar of fits done / total with the time left, on stderr."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "left",
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task("training (pair, window) models", total=total)
    bar.start()
    return (lambda done, _total: bar.update(task, completed=done)), bar.stop


@contextmanager
def executor_options(workers: int | None, cluster: str | None) -> Iterator[None]:
    """Run the block with the options as config overrides and the progress bar shown."""
    env = overrides(workers, cluster)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    progress_displays.append(rich_progress)
    try:
        yield
    finally:
        progress_displays.remove(rich_progress)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
