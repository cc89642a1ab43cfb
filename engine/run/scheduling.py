"""How a run uses the machine when the user leaves it to the engine: ``scheduler="auto"``
and ``partition_size="auto"`` (the defaults), each choice recorded with its reason
(``summary.json`` key ``choices``).

Scheduler (:func:`choose_scheduler`):

- ``"threads"`` (Dask's threaded scheduler in this process) unless worker processes
  are allowed *and* the input is at least :data:`PROCESSES_MIN_BYTES`, or holds at
  least :data:`GIL_BOUND_MIN_BYTES` of WARC/WET files (their reading is Python that
  holds the GIL: two threads read WET.gz slower than one, bench/RESULTS.md). The compiled
  kernels release the GIL, so threads overlap reading and hashing; a local cluster of
  processes costs about 2-3 s to start and pickles every result across processes.
  Measured on 2 cores (bench/RESULTS.md): 1 GB of JSONL in 17.3 s with threads against
  18.6 s with the local cluster; 50 MB in 2.7 s against 5.0 s.
- Worker processes are allowed only from the ``ouroboros`` command
  (:func:`allow_worker_processes`, called by its entry point). An API call never starts
  them unless asked (``scheduler="local"``): starting processes from a script without
  an ``if __name__ == "__main__":`` guard re-runs the caller's script in every worker.

Partition size (:func:`partition_rule`): ``"auto"`` splits the input so that every
worker gets at least :data:`PARTS_PER_WORKER` parts (a 250 MB JSONL file on 2 cores was
one 256 MB part, and one core idled), within ``[MIN_AUTO_PARTITION, MAX_AUTO_PARTITION]``
bytes. Compressed JSONL, WARC and text files stay one part each whatever the size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

MiB = 2**20
PROCESSES_MIN_BYTES = 4 * 2**30  # auto: a local cluster of processes from 4 GiB of input
# ... or from this much WARC/WET input, whose reading holds the GIL (Python framing and
# HTTP/WARC header parsing): one thread reads 39 MB/s of WET.gz text, two threads 26 MB/s
GIL_BOUND_MIN_BYTES = 256 * 2**20
PARTS_PER_WORKER = 2
MIN_AUTO_PARTITION = 16 * MiB
MAX_AUTO_PARTITION = 256 * MiB

_processes_allowed = False


def allow_worker_processes(allowed: bool = True) -> None:
    """Let ``scheduler="auto"`` start a local cluster of worker processes for large
    inputs. Called by the ``ouroboros`` entry point, whose ``__main__`` is guarded."""
    global _processes_allowed
    _processes_allowed = allowed


def worker_processes_allowed() -> bool:
    return _processes_allowed


def default_workers() -> int:
    """Parallel tasks when the user gives none: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class Choice:
    """One choice the engine made for the user: ``value`` and why (``reason``)."""

    value: str | int
    reason: str

    def to_dict(self) -> dict:
        return {"value": self.value, "reason": self.reason}


def choose_scheduler(
    scheduler: str, input_bytes: int, workers: int, gil_bound_bytes: int = 0
) -> Choice:
    """The scheduler to run ``input_bytes`` bytes of input on ``workers`` workers, of
    which ``gil_bound_bytes`` are read by Python code that holds the GIL (WARC/WET).

    ``scheduler`` other than ``"auto"`` is returned as given (reason ``"given"``)."""
    if scheduler != "auto":
        return Choice(scheduler, "given")
    size = f"{input_bytes / MiB:.0f} MiB of input"
    if workers < 2:
        return Choice("threads", f"{size}, one worker: no process to gain")
    if not _processes_allowed:
        return Choice(
            "threads",
            f"{size}; called from Python: worker processes only when asked (scheduler='local')",
        )
    if gil_bound_bytes >= GIL_BOUND_MIN_BYTES:
        return Choice(
            "local",
            f"{gil_bound_bytes / MiB:.0f} MiB of WARC/WET input >= "
            f"{GIL_BOUND_MIN_BYTES // MiB} MiB: its reading holds the GIL, so a local "
            f"cluster of {workers} worker processes reads it in parallel",
        )
    if input_bytes < PROCESSES_MIN_BYTES:
        return Choice(
            "threads",
            f"{size} < {PROCESSES_MIN_BYTES // 2**30} GiB: threads in this process start "
            "at once and keep pace with a local cluster below that size",
        )
    return Choice(
        "local",
        f"{size} >= {PROCESSES_MIN_BYTES // 2**30} GiB: a local cluster of {workers} "
        "worker processes",
    )


class PartitionRule:
    """``partition_size="auto"`` as a callable for :func:`engine.io.plan_parts`: given
    the input's total bytes it returns bytes per part and records :attr:`choice`."""

    def __init__(self, workers: int):
        self.workers = workers
        self.choice: Choice | None = None

    def __call__(self, total_bytes: int) -> int:
        wanted = total_bytes // max(1, self.workers * PARTS_PER_WORKER)
        size = int(min(MAX_AUTO_PARTITION, max(MIN_AUTO_PARTITION, wanted)))
        self.choice = Choice(
            size,
            f"{total_bytes / MiB:.0f} MiB over {self.workers} workers x "
            f"{PARTS_PER_WORKER} parts, within {MIN_AUTO_PARTITION // MiB}-"
            f"{MAX_AUTO_PARTITION // MiB} MiB",
        )
        return size


def partition_rule(partition_size: str | int, workers: int, parse) -> int | PartitionRule:
    """``partition_size`` as :func:`engine.io.plan_parts` takes it: bytes (``parse``
    reads ``"256MB"``-style text) or, for ``"auto"``, a :class:`PartitionRule`."""
    if isinstance(partition_size, str) and partition_size.strip().lower() == "auto":
        return PartitionRule(workers)
    return parse(partition_size)


def chosen_partition_size(rule: int | PartitionRule) -> tuple[int, Choice]:
    """The bytes per part a plan used, and why."""
    if isinstance(rule, PartitionRule):
        if rule.choice is None:
            raise RuntimeError("partition rule read before planning")
        return int(rule.choice.value), rule.choice
    return int(rule), Choice(int(rule), "given")
