"""Tasks for the executor's own tests, in a module light enough that a pool worker imports
it in milliseconds (a test module would pull freqtrade into every new worker process)."""

from __future__ import annotations

import os
import time

from tradai_strategy.registry.faults import fault_point


def fit_like(task: tuple[str, int]) -> int:
    """A task with the pre-training worker's fault point: it dies where the test says."""
    name, n = task
    time.sleep(0.1)  # long enough that two workers run side by side
    fault_point("during_fit", name)
    return n * 2


def die_once(marker: str) -> int:
    """Kill the worker process the first time (a worker dying mid-run), then succeed."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return 7
