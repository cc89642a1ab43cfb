"""A real Dask cluster for tests: a `dask scheduler` and `dask worker` processes on
127.0.0.1, started from the command line as a user would, and killed afterwards."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.01) -> None:
    """Poll ``predicate`` until it holds; TimeoutError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out waiting for {what}")


@contextmanager
def dask_processes(
    scheduler_file: Path, env: dict, *, cwd: Path | None = None, workers: int = 2
) -> Iterator[list[subprocess.Popen]]:
    """Start a scheduler (writing ``scheduler_file``) and ``workers`` single-threaded
    workers without nannies, all in ``cwd``; yield the worker processes once every
    worker has joined; kill everything on exit."""
    common = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    dask = [sys.executable, "-m", "dask"]
    scheduler = ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    worker = ["worker", "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1", "--no-dashboard"]
    procs = [
        subprocess.Popen([*dask, *scheduler, "--scheduler-file", str(scheduler_file)], **common)
    ]
    try:
        wait_for(scheduler_file.exists, 60, "the scheduler file")
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [*dask, *worker, "--scheduler-file", str(scheduler_file)], **common
                )
            )
        from distributed import Client

        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield procs[1:]
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait()
