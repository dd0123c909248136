"""Arrays every task of a run reads (a pair's features in ``tradai validate``'s fits), written
once as ``.npy`` files that the worker processes open memory-mapped, instead of a copy
pickled into every task.

A :class:`MappedArray` pickles as its file's name and unpickles as the read-only memory-mapped
array, so a task that carries one ships ~100 bytes; the pages are the OS's page cache, shared
by every worker on the machine. Only for workers that see the driver's disk (the local
pool, joblib's processes, a Dask cluster started for the run); a Dask scheduler's workers
elsewhere get each array scattered once instead (``validation.runner.shared_features``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np


def open_mapped(path: str) -> np.ndarray:
    """The array in ``path``, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")


@dataclass(frozen=True)
class MappedArray:
    """A ``.npy`` file: pickled, its name; unpickled, the memory-mapped array."""

    path: str

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (open_mapped, (self.path,))

    def open(self) -> np.ndarray:
        return open_mapped(self.path)


@contextmanager
def mapped_arrays(
    arrays: Sequence[np.ndarray], prefix: str = "tradai-"
) -> Iterator[list[MappedArray]]:
    """Write ``arrays`` to a temporary folder for the block; removed after it."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        out = []
        for i, array in enumerate(arrays):
            path = os.path.join(tmp, f"{i}.npy")
            np.save(path, np.ascontiguousarray(array))
            out.append(MappedArray(path))
        yield out
