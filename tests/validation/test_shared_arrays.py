"""Features shared with the workers as memory-mapped files: a task ships a file name."""

from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from tradai_strategy.models.shared_arrays import MappedArray, mapped_arrays


def first_rows_sum(x: np.ndarray) -> tuple[str, float]:
    return type(x).__name__, float(np.asarray(x[:10]).sum())


def test_a_mapped_array_pickles_as_its_name_and_opens_read_only() -> None:
    rng = np.random.default_rng(3)
    big = rng.normal(size=(5000, 40))  # 1.6 MB
    with mapped_arrays([big]) as (mapped,):
        shipped = pickle.dumps(mapped)
        assert len(shipped) < 300 < len(pickle.dumps(big)) // 1000
        opened = pickle.loads(shipped)
        assert isinstance(opened, np.memmap) and not opened.flags.writeable
        assert np.array_equal(opened, big)
        with ProcessPoolExecutor(1) as pool:  # a worker process reads the same rows
            kind, total = pool.submit(first_rows_sum, mapped).result()
        assert kind == "memmap" and total == float(big[:10].sum())
        folder = os.path.dirname(mapped.path)
    assert not os.path.exists(folder)  # removed with the block


def test_arrays_that_are_not_contiguous_are_written_whole() -> None:
    base = np.arange(60, dtype=np.float64).reshape(6, 10)
    with mapped_arrays([base[:, ::2]]) as (mapped,):
        assert isinstance(mapped, MappedArray)
        assert np.array_equal(mapped.open(), base[:, ::2])


def test_validate_ships_each_pair_once_per_run(dask_scheduler: str) -> None:
    """validate's fits carry a file name (workers on this machine) or a scattered future (a
    Dask scheduler's workers), not the pair's matrix."""
    from types import SimpleNamespace

    from distributed import Future

    from tradai_strategy.core.settings import ExecutorSettings
    from tradai_strategy.validation.runner import shared_features

    pairs = [SimpleNamespace(X=np.full((300, 4), float(i))) for i in range(2)]
    for executor in (None, ExecutorSettings("local", 2, None), ExecutorSettings("dask", 2, None)):
        with shared_features(pairs, executor) as (features, client):  # type: ignore[arg-type]
            assert client is None and all(isinstance(f, MappedArray) for f in features)
            assert np.array_equal(features[1].open(), pairs[1].X)
    on_cluster = ExecutorSettings("dask", None, dask_scheduler)
    with shared_features(pairs, on_cluster) as (features, client):  # type: ignore[arg-type]
        assert client is not None and all(isinstance(f, Future) for f in features)
        assert np.array_equal(features[1].result(), pairs[1].X)
        assert len(pickle.dumps(features[1])) < 300
