"""The one module that knows Dask: runs per-partition functions on a scheduler.

Schedulers:

- ``"threads"`` (default): Dask's local threaded scheduler in this process. The
  compiled kernels release the GIL, so reading and hashing overlap.
- ``"local"``: a ``distributed.LocalCluster`` of worker processes on 127.0.0.1.
- ``"local-cuda"``: ``dask_cuda.LocalCUDACluster``, one worker per GPU.
- anything else: the address of a running Dask scheduler (``tcp://host:8786``).

Tasks are plain functions of picklable arguments returning small picklable results
(partition outputs go to files), so every scheduler runs them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from engine.progress import Progress

SCHEDULERS = ("threads", "local", "local-cuda")


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_tasks(
    func: Callable[..., Any],
    args_list: Sequence[tuple],
    *,
    scheduler: str = "threads",
    workers: int | None = None,
    progress: Progress | None = None,
) -> list[Any]:
    """Run ``func(*args)`` for each args tuple; results in the order of ``args_list``."""
    if not args_list:
        return []
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if scheduler == "threads":
        return _run_threads(func, args_list, workers, progress)
    return _run_distributed(func, args_list, scheduler, workers, progress)


def _run_threads(func, args_list, workers, progress):
    import dask
    from dask.callbacks import Callback

    class _Tick(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if progress is not None:
                progress.update()

    tasks = [dask.delayed(func, pure=False)(*args) for args in args_list]
    with _Tick():
        return list(dask.compute(*tasks, scheduler="threads", num_workers=workers))


def _make_client(scheduler: str, workers: int):
    from distributed import Client, LocalCluster

    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return Client(cluster), cluster
    if scheduler == "local-cuda":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as exc:
            raise RuntimeError(
                "--scheduler local-cuda needs dask-cuda: pip install 'ouroboros-dedup[gpu]'"
            ) from exc
        cluster = LocalCUDACluster(host="127.0.0.1", dashboard_address=None)
        return Client(cluster), cluster
    return Client(scheduler), None


def _run_distributed(func, args_list, scheduler, workers, progress):
    from distributed import as_completed

    client, cluster = _make_client(scheduler, workers)
    try:
        futures = [client.submit(func, *args, pure=False) for args in args_list]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for future in as_completed(futures):
            results[index[future.key]] = future.result()
            if progress is not None:
                progress.update()
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
