"""The ``flag`` pipeline over files.

Input parts (:func:`engine.io.plan_parts`) are flagged one task per part (scheduled by
:mod:`engine.run.dask_runner`): each task opens the reference index (memory-mapped,
once per worker process), reads its part in batches, matches every batch
(:meth:`engine.provenance.reference.ReferenceIndex.match`) and writes
``_work/flags/part-NNNNN.parquet`` atomically, stamped with the parameters, the index
fingerprint and the part (:mod:`engine.run.reuse`); a rerun with the same ``--out``
reuses finished parts. The driver concatenates the parts in input order into
``flags.parquet`` (one row per document read, every document exactly once) and writes
``summary.json``. Documents that could not be read are counted in
``summary.json["read"]``, not listed in ``flags.parquet``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io import (
    InputPart,
    InputRows,
    ReadOptions,
    ReadReport,
    accepts_in_memory,
    input_paths,
    parse_size,
    read_part,
    select_rows,
)
from engine.io.options import DEFAULT_MAX_SKIPPED, parse_share
from engine.io.report import check_skipped
from engine.io.run_plan import plan_run
from engine.provenance.params import FLAGS_SCHEMA, LABELS, ProvenanceParams
from engine.provenance.reference import ReferenceIndex
from engine.run.atomic import parquet_writer_atomic, write_json_atomic, write_parquet_atomic
from engine.run.dask_runner import Runner, session
from engine.run.output import claim_output, output_folder, require_documents
from engine.run.progress import prefetch
from engine.run.reuse import fingerprint, reusable, stamped
from engine.run.summary import merged_report, reused, rounded, versions
from engine.run.work import finish_work
from kernels.backend import resolve_backend

log = logging.getLogger("ouroboros")

_INDEX_CACHE: dict[tuple[str, float], ReferenceIndex] = {}
_INDEX_LOCK = threading.Lock()


@dataclass
class FlagResult:
    """What :func:`flag` returns.

    Attributes:
        flags: pyarrow Table with the ``flags.parquet`` schema, input order (read from
            ``out`` on first use when an output folder was given: the run itself
            streams it part by part, so its memory does not grow with the corpus).
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
        input_rows: for an in-memory input, where its documents sit in its rows
            (:class:`engine.io.InputRows`); None for files.

    Row-aligned views (:attr:`labels`, :attr:`flagged`, :meth:`filter`): for an
    in-memory input one entry per input row (rows not read, i.e. null or non-string
    text, have label None and are not flagged); for files one per ``flags`` row.

    Example:
        >>> result = engine.flag(df, reference="refs/")  # doctest: +SKIP
        >>> clean = result.filter(df)  # df without the flagged rows  # doctest: +SKIP
    """

    summary: dict
    out: Path | None
    _flags: pa.Table | None = field(default=None, repr=False)
    input_rows: InputRows | None = field(default=None, repr=False)

    @property
    def flags(self) -> pa.Table:
        if self._flags is None and self.out is not None:
            self._flags = pq.read_table(self.out / "flags.parquet")
        return self._flags

    def attach_input(self, spilled) -> None:
        """Align with the rows of an in-memory input (an ``engine.io`` spilled input)."""
        self.input_rows = spilled.input_rows()

    @property
    def labels(self) -> np.ndarray:
        """object (n_rows,): each row's label (``LABELS``; None for rows not read)."""
        values = np.asarray(self.flags.column("label").to_pylist(), dtype=object)
        return values if self.input_rows is None else self.input_rows.spread(values, None)

    @property
    def flagged(self) -> np.ndarray:
        """bool (n_rows,): True for rows labelled anything but ``none``."""
        values = pc.not_equal(self.flags.column("label"), "none").to_numpy()
        return values if self.input_rows is None else self.input_rows.spread(values, False)

    def filter(self, obj):
        """``obj`` (the input, or any object with the same rows) without the flagged
        rows; the same kind of object (:func:`engine.io.select_rows`)."""
        return select_rows(obj, ~self.flagged)


def open_index(refdir: str) -> ReferenceIndex:
    """The index at ``refdir``, loaded once per process (reloaded when it changes)."""
    info = Path(refdir) / "index.json"
    try:
        stamp = info.stat().st_mtime
    except FileNotFoundError:
        return ReferenceIndex.load(refdir)  # raises with the fix
    key = (str(Path(refdir).resolve()), stamp)
    with _INDEX_LOCK:
        index = _INDEX_CACHE.get(key)
        if index is None:
            _INDEX_CACHE.clear()
            index = ReferenceIndex.load(refdir)
            index.lookups()  # build shared lookup tables once
            _INDEX_CACHE[key] = index
        return index


def _part_file(work: Path, part: InputPart) -> Path:
    return work / "flags" / f"part-{part.index:05d}.parquet"


def flag_task(
    part: InputPart,
    refdir: str,
    params: ProvenanceParams,
    read: ReadOptions,
    backend: str,
    work: str,
) -> dict:
    """Flag one input part into its part file; returns ``reused``, ``documents``,
    ``bytes``, ``labels`` (label -> count), ``seconds`` and the read ``report``."""
    index = open_index(refdir)
    path = _part_file(Path(work), part)
    stage_fingerprint = fingerprint(params.to_dict(), read.to_dict(), index.fingerprint())
    done = reusable(path, stage_fingerprint, part)
    if done is not None:
        return {"reused": True, **done}
    started = time.perf_counter()
    report = ReadReport()
    tables: list[pa.Table] = []
    n_bytes = 0
    for batch in prefetch(read_part(part, **read.read_part_kwargs(), report=report)):
        texts = batch.column("text").combine_chunks()
        n_bytes += int(pc.sum(pc.binary_length(texts)).as_py() or 0)
        tables.append(index.match(texts, batch.column("doc_id"), params=params, backend=backend))
    flags = pa.concat_tables(tables) if tables else FLAGS_SCHEMA.empty_table()
    labels = flags.column("label").to_pylist()
    result = {
        "documents": flags.num_rows,
        "bytes": n_bytes,
        "labels": {label: labels.count(label) for label in LABELS},
        "seconds": round(time.perf_counter() - started, 4),
        "report": report.to_dict(),
    }
    write_parquet_atomic(path, stamped(flags, stage_fingerprint, part, result))
    return {"reused": False, **result}


@accepts_in_memory()
def flag(
    inputs,
    out=None,
    *,
    reference: str | os.PathLike,
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "auto",
    workers: int | None = None,
    partition_size: str | int = "auto",
    batch_size: str | int = "16MB",
    strict: bool = False,
    max_skipped: float | str = DEFAULT_MAX_SKIPPED,
    clean_work: bool = False,
    storage_options: dict | None = None,
    progress: bool = True,
    runner: Runner | None = None,
    html_text: str = "main",
    **params,
) -> FlagResult:
    """Flag documents of files that descend from the references in ``reference``.

    Args:
        inputs: a path or list of paths, or an in-memory input (as for
            :func:`engine.neardup.pipeline.dedup`; then ``result.labels``,
            ``result.flagged`` and ``result.filter(obj)`` follow its rows).
        out: output folder for flags.parquet, summary.json and work files; None keeps
            the result in memory.
        reference: folder written by ``ouroboros reference build``.
        batch_size: text bytes matched together (memory: about 40 bytes per byte of
            candidate documents and references).
        runner: an open :class:`engine.run.dask_runner.Runner` to run on (``dedup
            --reference`` passes its own); without one a session is started.
        **params: :class:`engine.provenance.params.ProvenanceParams` fields
            (``verified_max_gap`` defaults to ``max(256, max_gap)``).
        Other arguments: as for :func:`engine.neardup.pipeline.dedup`.
    """
    inputs = input_paths(inputs)
    provenance_params = ProvenanceParams(**params)
    resolved = resolve_backend(backend)
    read = ReadOptions(
        text_column,
        id_column,
        strict,
        parse_size(batch_size),
        parse_share(max_skipped),
        html_text,
    )
    refdir = str(reference)
    index = open_index(refdir)
    # inputs are planned before the output folder is created or claimed: a run that
    # fails here (a missing input) leaves no folder behind
    timings: dict[str, float] = {}
    plan = plan_run(inputs, partition_size, scheduler, workers, storage_options)
    parts, plan_report = plan.parts, plan.report
    timings["plan"] = plan.seconds
    # ``dedup --reference`` flags into its OUT/provenance: a folder of its own, claimed
    # here as `flag` on the same inputs (the dedup run holds OUT itself)
    with output_folder(out, storage_options) as out_dir, claim_output(out_dir, "flag", inputs):
        work = out_dir / "_work"
        tasks = [(part, refdir, provenance_params, read, resolved, str(work)) for part in parts]
        stage_out = None if out is None else out_dir
        results = _run_flag_tasks(
            tasks, runner, plan.scheduler, plan.workers, progress, timings, stage_out
        )
        reports = [plan_report.to_dict(), *(r["report"] for r in results)]
        require_documents(sum(r["documents"] for r in results), inputs, reports)
        check_skipped(sum(r["documents"] for r in results), reports, read.max_skipped)

        started = time.perf_counter()
        part_files = [_part_file(work, part) for part in parts]
        flags = None
        if out is not None:
            _write_flags(out_dir / "flags.parquet", part_files)
        else:
            flags = _read_flags(part_files)
        timings["write"] = time.perf_counter() - started

        summary = _summary(
            inputs=inputs,
            index=index,
            refdir=refdir,
            params=provenance_params,
            read=read,
            partition_size=plan.partition_size,
            backend=resolved,
            scheduler=plan.scheduler if runner is None else runner.scheduler,
            choices=plan.choices,
            results=results,
            report=merged_report(plan_report, results),
            timings=timings,
        )
        if out is not None:
            summary["work"] = finish_work(out_dir, clean_work)
            write_json_atomic(out_dir / "summary.json", summary)
        _log_counts(summary["counts"])
        return FlagResult(summary, None if out is None else out_dir, flags)


def _run_flag_tasks(tasks, runner, scheduler, workers, progress, timings, out) -> list[dict]:
    """:func:`flag_task` over every part, on ``runner`` or on a session of its own
    (``out``: the output folder, None in memory); the seconds go to
    ``timings["flag"]``."""
    if runner is not None:
        return runner.stage("flag", flag_task, tasks, show=progress, timings=timings)
    with session(scheduler, workers, out=out) as own_runner:
        return own_runner.stage("flag", flag_task, tasks, show=progress, timings=timings)


def _read_flags(part_files: list[Path]) -> pa.Table:
    """The part files concatenated in memory (FLAGS_SCHEMA, stamps dropped)."""
    tables = [pq.read_table(path).replace_schema_metadata(None) for path in part_files]
    flags = pa.concat_tables(tables) if tables else FLAGS_SCHEMA.empty_table()
    return flags.cast(FLAGS_SCHEMA)


def _write_flags(path: Path, part_files: list[Path]) -> None:
    """Concatenate the part files into ``path`` (atomically), one part at a time."""
    with parquet_writer_atomic(path, FLAGS_SCHEMA) as writer:
        for part_file in part_files:
            table = pq.read_table(part_file).replace_schema_metadata(None)
            writer.write_table(table.cast(FLAGS_SCHEMA))


def _summary(
    *,
    inputs: list,
    index: ReferenceIndex,
    refdir: str,
    params: ProvenanceParams,
    read: ReadOptions,
    partition_size: int,
    backend: str,
    scheduler: str,
    choices: dict,
    results: list[dict],
    report: ReadReport,
    timings: dict[str, float],
) -> dict:
    """The content of ``summary.json``."""
    labels = {label: sum(r["labels"][label] for r in results) for label in LABELS}
    n_documents = sum(labels.values())
    n_bytes = sum(r["bytes"] for r in results)
    seconds = timings["flag"]
    return {
        "command": "flag",
        "inputs": [str(p) for p in inputs],
        "reference": {
            "path": refdir,
            "n_refs": index.n_refs,
            "fingerprint": index.fingerprint(),
            "params": index.params.to_dict(),
        },
        "parameters": {
            **params.to_dict(),
            **read.to_dict(),
            "partition_size": partition_size,
            "batch_size": read.batch_bytes,
        },
        "backend": backend,
        "scheduler": scheduler,
        "choices": choices,
        "counts": {
            "partitions": len(results),
            "partitions_reused": reused(results),
            "documents": n_documents,
            "bytes": n_bytes,
            "flagged": n_documents - labels["none"],
            "labels": labels,
        },
        "read": report.to_dict(),
        "timings_s": rounded(timings),
        "throughput_mb_s": round(n_bytes / 1e6 / seconds, 3) if seconds > 0 else None,
        "versions": versions(),
    }


def _log_counts(counts: dict) -> None:
    log.info(
        "%d documents, %d flagged (%s)",
        counts["documents"],
        counts["flagged"],
        ", ".join(f"{k}={v}" for k, v in counts["labels"].items()),
    )
