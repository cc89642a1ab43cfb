"""What a finished command tells the user to do next: where its kept corpus is (or the
flag that writes it), how big the work folder left behind is and how to remove it.
With ``--report`` the command also writes ``OUT/report.html`` (:mod:`engine.report`)
and ends with its path. Printed as log lines on stderr and in the ``next`` field of the
one-line JSON."""

from __future__ import annotations

import json
import logging
from pathlib import Path, PurePosixPath

log = logging.getLogger("ouroboros")

MB = 1e6
CORPUS_FILES = {"dedup": "deduped_files", "substr": "deduped_files"}


def remote_url(out) -> str | None:
    """The URL a run with a remote ``--out`` uploaded to (``out``: its local staging
    folder, whose summary.json records ``remote_out``), else None."""
    if out is None:
        return None
    try:
        summary = json.loads((Path(str(out)) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    remote = summary.get("remote_out") if isinstance(summary, dict) else None
    return remote.get("url") if isinstance(remote, dict) else None


def shown_out(out) -> str:
    """Where the outputs are, as the user named it: the URL of a remote ``--out``."""
    return remote_url(out) or str(out)


def next_steps(command: str, summary: dict, out) -> list[str]:
    """Sentences for the end of ``command``'s run (``summary``: its summary.json)."""
    steps: list[str] = []
    url = remote_url(out)
    if url is not None:
        steps.append(f"outputs uploaded to {url} (a local copy stays in {out})")
        out = PurePosixPath(url)  # the corpus is named where the user will look for it
    elif out is not None:
        out = Path(str(out))
    if command in CORPUS_FILES:
        files = summary.get(CORPUS_FILES[command]) or summary.get("counts", {}).get(
            CORPUS_FILES[command]
        )
        if files:
            steps.append(f"kept corpus: {out / 'deduped'} ({len(files)} files)")
        elif out is not None:
            steps.append(
                "write the kept corpus: rerun the same command with --write-deduped "
                f"(finished stages are reused; it goes to {out / 'deduped'})"
            )
    if command == "flag" and out is not None:
        steps.append(f"flags: {out / 'flags.parquet'} (one row per document)")
    return steps + _work_step(summary)


def _work_step(summary: dict) -> list[str]:
    steps = []
    work = summary.get("work")
    if work and not work.get("removed") and work.get("bytes"):
        steps.append(
            f"{work['path']} holds {work['bytes'] / MB:,.1f} MB kept for reruns; "
            "--clean-work (or deleting it) frees it"
        )
    return steps


def tell(command: str, summary: dict, out, line: dict, report: bool = False) -> dict:
    """Log the next steps and add them to the JSON ``line`` (returned); with
    ``report`` write ``OUT/report.html`` first and end with its path (a remote run's
    report goes to its local staging folder, where the files it reads are)."""
    steps = next_steps(command, summary, out)
    if out is not None:
        if report:
            steps.append(_write_report(out, line))
        else:
            steps.append(f"see the results: ouroboros report {out}  (or ouroboros inspect {out})")
    for step in steps:
        log.info("next: %s", step)
    line["next"] = steps
    return line


def _write_report(out, line: dict) -> str:
    """Write ``OUT/report.html``; a failure is logged and said, never fails the run."""
    from engine.report import write_report

    try:
        path = write_report(out)
    except Exception as exc:  # the run itself succeeded: say why there is no report
        log.warning("report not written: %s", exc)
        line["report_error"] = str(exc)
        return f"report not written ({exc}); retry with: ouroboros report {out}"
    line["report"] = str(path)
    return f"report: {path} (open it in a browser; it needs no network)"
