"""One step of a pipeline: run it (or reuse it), and describe what it did.

A step runs its command's API function into its own folder (``OUT/dedup``,
``OUT/substr``, ``OUT/flag``) with ``write_deduped=True``, so that its kept documents,
in the input's own format with every column, are the next step's input
(``OUT/<step>/deduped/``). A finished step leaves a marker,
``OUT/_work/steps/<step>.json``, with the fingerprint of its options and of everything
upstream (the previous step's fingerprint, or the first step's input files: paths,
sizes, modification times) and its record. A rerun whose fingerprint matches, and whose
step folder still holds the files the record lists, reuses the step without calling it;
any other rerun calls the step, which resumes through its own machinery
(:mod:`engine.run.reuse`).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from engine.chain.config import StepSpec, step_function
from engine.chain.corpus import (
    DEDUPED_DIR,
    corpus_files,
    count_documents,
    local_files,
    write_unflagged,
)
from engine.run.reuse import fingerprint, finished, mark_finished

log = logging.getLogger("ouroboros")

STEPS_DIR = "steps"


def inputs_fingerprint(inputs: list[str]) -> str:
    """Fingerprint of the first step's inputs: the paths as given, and for local files
    their sizes and modification times (a changed input file reruns every step)."""
    files = local_files(inputs)
    stats = [] if files is None else [(str(f), *_size_mtime(f)) for f in files]
    return fingerprint(inputs, stats)


def _size_mtime(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def run_step(
    spec: StepSpec, inputs: list[str], out_dir: Path, upstream: str, progress: bool
) -> tuple[dict, str]:
    """Run (or reuse) ``spec`` on ``inputs`` into ``out_dir / spec.name``.

    Args:
        inputs: the step's input paths (the config's inputs, or the previous step's
            ``deduped/`` folder).
        out_dir: the pipeline's output folder (absolute).
        upstream: the fingerprint of what comes before this step
            (:func:`inputs_fingerprint` or the previous step's).
        progress: progress bars on stderr.

    Returns:
        The step's record (see :func:`step_record`) and its fingerprint.
    """
    step_dir = out_dir / spec.name
    step_fp = fingerprint(spec.name, spec.options, list(spec.drop_labels), upstream)
    marker = out_dir / "_work" / STEPS_DIR / f"{spec.name}.json"
    done = finished(marker, step_fp)
    if done is not None and _outputs_present(step_dir, done):
        log.info("step %s: reused (finished earlier with the same options)", spec.name)
        reused = {**done, "reused": True, "seconds": 0.0, "seconds_when_run": done["seconds"]}
        return reused, step_fp
    log.info("step %s: %s -> %s", spec.name, ", ".join(inputs), step_dir)
    marker.unlink(missing_ok=True)  # until this run of the step finishes
    started = time.perf_counter()
    file_bytes_in = _bytes_of(local_files(inputs))
    func = step_function(spec.name)
    if spec.name == "flag":
        result = func(inputs, step_dir, progress=progress, **spec.options)
        dropped = None
        if spec.drop_labels:
            flags = result.out / "flags.parquet"
            dropped = write_unflagged(inputs, flags, step_dir, spec, progress)
        else:
            corpus_files(step_dir / DEDUPED_DIR, remove=True)  # an earlier run's, if any
    else:
        result = func(inputs, step_dir, write_deduped=True, progress=progress, **spec.options)
        dropped = None
        _prune_stale(step_dir, result.summary)
    record = step_record(spec, step_dir, result.summary, dropped)
    record.update(file_bytes_in=file_bytes_in, seconds=round(time.perf_counter() - started, 4))
    mark_finished(marker, step_fp, record)
    return {**record, "reused": False}, step_fp


def step_record(spec: StepSpec, step_dir: Path, summary: dict, dropped: int | None) -> dict:
    """What a finished step did, from its ``summary.json``.

    Keys: ``step``, ``out`` (its folder), ``documents_in`` (documents read),
    ``documents_out`` (documents in its corpus), ``dropped`` (reason -> documents),
    ``skipped`` (records that could not be read, by reason), ``text_bytes_in`` (UTF-8
    bytes of text read), ``file_bytes_out`` (bytes of its corpus files), ``corpus``
    (its ``deduped/`` folder, None when it writes none) and ``files`` (their names);
    the flag step adds ``flagged`` and ``labels``, the substr step
    ``text_bytes_removed``.
    """
    counts = summary["counts"]
    documents = int(counts["documents"])
    record: dict = {
        "step": spec.name,
        "out": str(step_dir),
        "documents_in": documents,
        "text_bytes_in": int(counts.get("bytes", 0)),
        "skipped": summary.get("read", {}).get("skipped", {}),
    }
    if spec.name == "dedup":
        record["dropped"] = {"duplicates": int(counts["duplicates"])}
    elif spec.name == "substr":
        emptied = emptied_documents(counts)
        if emptied is None:  # a summary without the count: count what was written
            emptied = documents - count_documents(step_dir / DEDUPED_DIR, spec.options)
        record["dropped"] = {"emptied": emptied}
        record["text_bytes_removed"] = int(counts.get("bytes_marked", 0))
    else:
        record.update(flagged=int(counts["flagged"]), labels=counts["labels"])
        record["dropped"] = {"flagged": int(dropped or 0)}
    record["documents_out"] = documents - sum(record["dropped"].values())
    if spec.writes_corpus:
        files = corpus_files(step_dir / DEDUPED_DIR)
        record.update(
            corpus=str(step_dir / DEDUPED_DIR),
            files=[f.name for f in files],
            file_bytes_out=_bytes_of(files),
        )
    else:
        record.update(corpus=None, files=[], file_bytes_out=None)
    return record


def emptied_documents(counts: dict) -> int | None:
    """Documents that substr's cutting left empty (dropped from its ``deduped/``), from
    its summary counts; None when they do not say."""
    for key in ("emptied_documents", "documents_emptied", "emptied"):
        if key in counts:
            return int(counts[key])
    deduped = counts.get("deduped")
    if isinstance(deduped, dict):
        return emptied_documents(deduped)
    return None


def _outputs_present(step_dir: Path, record: dict) -> bool:
    """Whether the files a finished step's record lists are still in its folder."""
    if not (step_dir / "summary.json").is_file():
        return False
    corpus = record.get("corpus")
    if corpus is None:
        return True
    return all((Path(corpus) / name).is_file() for name in record.get("files", []))


def _prune_stale(step_dir: Path, summary: dict) -> None:
    """Remove corpus files an earlier run of the step wrote and this one did not (a
    changed partition size plans fewer parts), when the step's summary lists its files
    (``deduped_files``)."""
    written = summary.get("deduped_files")
    if written is None:
        return
    keep = {os.path.basename(str(path)) for path in written}
    for path in corpus_files(step_dir / DEDUPED_DIR):
        if path.name not in keep:
            log.info("removing %s: an earlier run's file, not written by this one", path)
            path.unlink(missing_ok=True)


def _bytes_of(files: list[Path] | None) -> int | None:
    """Total size of ``files`` in bytes; None when they are not local files."""
    if files is None:
        return None
    return int(sum(f.stat().st_size for f in files))
