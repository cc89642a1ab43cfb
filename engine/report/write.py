"""``write_report(out)``: gather the numbers of one output folder into ``OUT/report.html``.

The kind of output is read from ``summary.json``'s ``command`` (``dedup``, ``substr``,
``flag``); each kind adds its sections to the ones every report has (the run, timings,
skipped records). The page is written atomically (:mod:`engine.run.atomic`).
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.report.flags import flags_section
from engine.report.neardup import clusters_section, edges_section, largest_clusters_section
from engine.report.overview import overview_section, skipped_section, timings_section
from engine.report.page import Section, render_page
from engine.report.substrings import spans_section
from engine.run.atomic import read_json, write_bytes_atomic

__all__ = ["REPORT_NAME", "REPORTED_COMMANDS", "write_report"]

REPORT_NAME = "report.html"
REPORTED_COMMANDS = ("dedup", "substr", "flag")
_TITLES = {
    "dedup": "Near-duplicates",
    "substr": "Repeated substrings",
    "flag": "Provenance flags",
}


def _load_summary(out: Path) -> dict:
    if not out.is_dir():
        raise FileNotFoundError(f"{out} is not a folder: pass the --out folder of a finished run")
    summary = read_json(out / "summary.json")
    if summary is None:
        raise ValueError(
            f"{out} has no readable summary.json: the run did not finish (rerun the command "
            "with the same --out to resume it), or this is not an ouroboros output folder"
        )
    command = summary.get("command")
    if command == "run":
        steps = [str(out / r.get("step", "?")) for r in summary.get("steps", [])]
        raise ValueError(
            f"{out} is the output of `ouroboros run`, one folder per step: make a report "
            f"of each step's folder ({', '.join(steps) or 'OUT/<step>'})"
        )
    if command not in REPORTED_COMMANDS:
        raise ValueError(
            f"{out}/summary.json is from the command {command!r}; a report is made for the "
            f"outputs of {', '.join(REPORTED_COMMANDS)}"
        )
    return summary


def build_sections(
    out: Path, summary: dict, input_root: str | os.PathLike | None
) -> tuple[list[Section], list[dict]]:
    """The page's sections in order, and the largest clusters' details (dedup only)."""
    command = summary["command"]
    sections = [overview_section(summary), timings_section(summary)]
    clusters: list[dict] = []
    if command == "dedup":
        sections.append(clusters_section(out, summary))
        sections.append(edges_section(out, summary))
        largest, clusters = largest_clusters_section(out, summary, input_root)
        sections.append(largest)
    elif command == "substr":
        sections.append(spans_section(out, summary, input_root))
    flags = flags_section(out, summary, input_root) if command in ("dedup", "flag") else None
    if flags is not None:
        sections.append(flags)
    sections.append(skipped_section(summary))
    return sections, clusters


def write_report(out: str | os.PathLike, *, input_root: str | os.PathLike | None = None) -> Path:
    """Write ``OUT/report.html`` for the output folder of a ``dedup``, ``substr`` or
    ``flag`` run and return its path.

    The page is self-contained (plotly.js, styles, script and data inline; it opens from
    disk with no network) and stays a few MB whatever the run's size: tables are
    aggregated, sampled beyond :data:`engine.report.tables.ROW_BUDGET` rows, never embedded.

    Args:
        out: the run's ``--out`` folder (holding ``summary.json``).
        input_root: folder that the run's relative input paths are relative to (where it
            was started; default: the current folder). Member texts for diffs, spans and
            evidence are read back from the inputs; what cannot be found is reported on
            the page.

    Raises:
        FileNotFoundError: ``out`` is not a folder.
        ValueError: no readable ``summary.json``, or one from another command.
    """
    out = Path(out)
    summary = _load_summary(out)
    sections, clusters = build_sections(out, summary, input_root)
    counts = summary.get("counts", {})
    subtitle = (
        f"{out.resolve()} — {counts.get('documents', 0):,} documents, "
        f"{counts.get('bytes', 0) / 1e6:,.1f} MB of text"
    )
    title = f"Ouroboros report: {_TITLES[summary['command']]}"
    page = render_page(title, subtitle, sections, clusters)
    path = out / REPORT_NAME
    write_bytes_atomic(path, page.encode("utf-8"))
    return path
