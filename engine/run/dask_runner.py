"""The one module that knows Dask: runs per-partition functions on a scheduler.

Schedulers (``"auto"``, the default, picks one of the first two:
:mod:`engine.run.scheduling`):

- ``"local"``: a ``distributed.LocalCluster`` on 127.0.0.1, one worker
  process per core (``workers``), one thread each, memory split evenly between them,
  numba limited to one thread per worker so processes do not oversubscribe cores.
- ``"threads"``: Dask's threaded scheduler in this process (no start-up cost; the
  compiled kernels release the GIL, so reading and hashing overlap).
- ``"local-cuda"``: ``dask_cuda.LocalCUDACluster``, one worker per GPU.
- a path to a Dask scheduler file (``dask scheduler --scheduler-file F``), or
- the address of a running Dask scheduler (``tcp://host:8786``).

Tasks are plain functions of picklable arguments returning small picklable results
(partition outputs go to files in the output folder, which must be on a file system
every worker can reach), so every scheduler runs them the same way. A worker that
dies mid-task is replaced by Dask and its tasks are rerun; the outputs are atomic
files, so a rerun task simply rewrites them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.run.kernel_cache import notice_compilation
from engine.run.output import disk_full, is_disk_full
from engine.run.progress import Progress
from engine.run.scheduling import choose_scheduler, default_workers

SCHEDULERS = ("auto", "local", "threads", "local-cuda")


class Runner:
    """Runs batches of tasks on one scheduler; create with :func:`session`.

    ``out``: the run's output folder, named when a stage runs out of disk space (None:
    a temporary work folder of a run whose results stay in memory).
    """

    def __init__(self, scheduler: str, workers: int, client=None, out: Path | None = None):
        self.scheduler = scheduler
        self.workers = workers
        self.client = client
        self.out = out

    def run(
        self,
        func: Callable[..., Any],
        args_list: Sequence[tuple],
        progress: Progress | None = None,
    ) -> list[Any]:
        """``func(*args)`` for each args tuple; results in the order of ``args_list``."""
        if not args_list:
            return []
        if self.client is None:
            return _run_threads(func, args_list, self.workers, progress)
        return _run_client(self.client, func, args_list, progress)

    def stage(
        self,
        name: str,
        func: Callable[..., Any],
        args_list: Sequence[tuple],
        *,
        show: bool = True,
        timings: dict[str, float] | None = None,
    ) -> list[Any]:
        """:meth:`run` as one named stage of a pipeline: a progress bar (or log lines)
        under ``name`` when ``show``, and its seconds added to ``timings[name]``.

        A task that runs out of disk space (``OSError`` ``ENOSPC``) raises
        :class:`engine.run.output.DiskFull` naming ``name`` and the output folder."""
        started = time.perf_counter()
        if show:
            notice_compilation(name)
        try:
            with Progress(len(args_list), name, enabled=show) as bar:
                results = self.run(func, args_list, progress=bar)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(exc, self.out, name) from exc
            raise
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
        return results


@contextmanager
def session(scheduler: str = "local", workers: int | None = None, out: Path | None = None):
    """A :class:`Runner` for the whole run; starts and stops a local cluster if asked.

    ``out``: the run's output folder (see :class:`Runner`)."""
    workers = workers or default_workers()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if scheduler == "auto":  # a plan resolves "auto" first (engine.run.scheduling)
        scheduler = choose_scheduler("auto", 0, workers).value
    if scheduler == "threads":
        yield Runner(scheduler, workers, out=out)
        return
    client, cluster = _make_client(scheduler, workers)
    try:
        yield Runner(scheduler, workers, client, out=out)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_threads(func, args_list, workers, progress):
    import dask
    from dask.callbacks import Callback

    class _Tick(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if progress is not None:
                progress.update(result=result)

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
            dashboard_address="127.0.0.1:0",  # any free port, never a public interface
            env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        )
        return Client(cluster), cluster
    if scheduler == "local-cuda":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as exc:
            raise RuntimeError(
                "--scheduler local-cuda needs dask-cuda: pip install 'ouroboros-dedup[gpu]'"
            ) from exc
        cluster = LocalCUDACluster(host="127.0.0.1", dashboard_address="127.0.0.1:0")
        return Client(cluster), cluster
    if os.path.isfile(scheduler):
        return Client(scheduler_file=scheduler), None
    if "://" not in scheduler and ":" not in scheduler:
        raise ValueError(
            f"--scheduler must be one of {SCHEDULERS}, a scheduler file, or an address like "
            f"tcp://host:8786; got {scheduler!r}"
        )
    return Client(scheduler, timeout="30s"), None


def _run_client(client, func, args_list, progress):
    from distributed import as_completed

    futures = [client.submit(func, *args, pure=False) for args in args_list]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        results[index[future.key]] = future.result()
        if progress is not None:
            progress.update(result=results[index[future.key]])
    return results
