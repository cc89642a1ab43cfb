"""Pieces of ``summary.json`` that every command writes the same way."""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable

from engine.run.memory import peak_rss_mib

log = logging.getLogger("ouroboros")


def versions() -> dict:
    """Versions of the engine and of what decides its results."""
    import numba
    import numpy
    import pyarrow

    from engine import __version__
    from kernels.unicode_table import unicode_version

    return {
        "ouroboros": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "pyarrow": pyarrow.__version__,
        "unicode": unicode_version(),
    }


def merged_report(first, results: Iterable[dict]):
    """``first`` (an :class:`engine.io.ReadReport`) merged with the read report of every
    task (``result["report"]``, its ``to_dict()`` form); a new report."""
    report = first
    for result in results:
        report = report.merge(type(first).from_dict(result["report"]))
    return report


def memory(*stage_results: Iterable[dict]) -> dict:
    """Peak resident memory of the largest task and of this (driver) process, MiB."""
    peaks = [r.get("peak_rss_mib", 0.0) for results in stage_results for r in results]
    return {"task_peak_rss_mib": max(peaks or [0.0]), "driver_peak_rss_mib": peak_rss_mib()}


def reused(results: Iterable[dict]) -> int:
    """How many task results came from an earlier run."""
    return sum(1 for r in results if r.get("reused"))


def rounded(timings: dict[str, float]) -> dict[str, float]:
    return {name: round(seconds, 4) for name, seconds in timings.items()}
