"""The plan of one run: its input parts and how it will use the machine.

:func:`plan_run` is what every pipeline calls first, before its output folder is
claimed (a run that fails here, e.g. on a missing input, leaves no folder behind). It
resolves ``partition_size="auto"`` and ``scheduler="auto"``
(:mod:`engine.run.scheduling`) and keeps the reasons for ``summary.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engine.io.plan import InputPart, parse_size, plan_parts
from engine.io.report import ReadReport
from engine.run.scheduling import (
    choose_scheduler,
    chosen_partition_size,
    default_workers,
    partition_rule,
)


@dataclass
class RunPlan:
    """Input parts and the choices made for them.

    Attributes:
        parts: the input parts, in input order. report: planning problems counted.
        partition_size: bytes per part used. scheduler: the scheduler to start
        ("threads", "local", ... never "auto"). workers: parallel tasks.
        choices: ``{"scheduler": {...}, "partition_size": {...}, "workers": n}``, each
        choice with its value and reason (``summary.json`` key ``choices``).
        seconds: wall time of planning.
    """

    parts: list[InputPart]
    report: ReadReport
    partition_size: int
    scheduler: str
    workers: int
    choices: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def input_bytes(self) -> int:
        return sum(part.size_bytes for part in self.parts)


def plan_run(
    inputs: list[str],
    partition_size: str | int = "auto",
    scheduler: str = "auto",
    workers: int | None = None,
    storage_options: dict | None = None,
) -> RunPlan:
    """Plan ``inputs`` (:func:`engine.io.plan_parts`) and resolve the "auto" options;
    ``storage_options``: fsspec options for URL inputs (None: from the environment)."""
    started = time.perf_counter()
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    n_workers = workers or default_workers()
    rule = partition_rule(partition_size, n_workers, parse_size)
    report = ReadReport()
    parts = plan_parts(inputs, rule, report=report, storage_options=storage_options)
    size, size_choice = chosen_partition_size(rule)
    plan = RunPlan(parts, report, size, scheduler, n_workers)
    gil_bound = sum(part.size_bytes for part in parts if part.fmt == "warc")
    sched = choose_scheduler(scheduler, plan.input_bytes, n_workers, gil_bound)
    plan.scheduler = str(sched.value)
    plan.choices = {
        "scheduler": sched.to_dict(),
        "partition_size": size_choice.to_dict(),
        "workers": n_workers,
        "parts": len(parts),
    }
    plan.seconds = time.perf_counter() - started
    return plan
