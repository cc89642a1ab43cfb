"""The repeated-substring pipeline over files (``ouroboros substr``): read -> spans.parquet.

The result is always exact over the whole corpus: every substring of at least
``min_span`` bytes that occurs twice anywhere is found (:mod:`engine.substrings.spans`).

Stages, in the order :func:`substr` runs them:

1. **plan**: input parts (:func:`engine.io.plan_parts`), grouped into shards of at most
   ``shard_size`` input bytes.
2. **spans, single-shard path** (:mod:`engine.substrings.single_shard`): a corpus of one
   shard is one suffix array: one task, resumable (``_work/spans/shard-NNNNN.parquet``,
   stamped with its options and inputs). With ``write_deduped`` the task also writes
   ``deduped/shard-NNNNN.parquet``.
3. **spans, cross-shard path** (:mod:`engine.substrings.cross_shard`), when there are
   several shards or the shard's text outgrew one call: winnowed fingerprints route
   documents that share a substring of ``min_span`` bytes into the same group, and each
   group's suffix array finds the exact spans (memory per call: about 20 bytes per byte
   of the group; boilerplate can chain large groups). With ``write_deduped`` every part
   is read again and written cut (``deduped/part-NNNNN.parquet``,
   :mod:`engine.substrings.deduped`). This path recomputes; it does not resume.
4. **write**: ``spans.parquet`` and ``summary.json``.

Tasks are scheduled by :mod:`engine.run.dask_runner`, one session per run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from engine.io import InputPart, ReadOptions, ReadReport, input_paths, parse_size, plan_parts
from engine.run.atomic import write_json_atomic, write_parquet_atomic
from engine.run.dask_runner import Runner, session
from engine.run.output import claim_output, output_folder, require_documents
from engine.run.summary import memory, merged_report, reused, rounded, versions
from engine.substrings.cross_shard import substr_across_shards
from engine.substrings.deduped import write_cut_parts
from engine.substrings.options import SubstrOptions
from engine.substrings.single_shard import group_shards, read_shard_spans, shard_task
from engine.substrings.spans import KEEP_RULES
from kernels.backend import resolve_backend

log = logging.getLogger("ouroboros")


@dataclass
class SubstrResult:
    """What :func:`substr` returns.

    Attributes:
        spans: pyarrow Table with the ``spans.parquet`` schema.
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
    """

    spans: pa.Table
    summary: dict
    out: Path | None


def substr(
    inputs,
    out=None,
    *,
    min_span: int = 100,
    keep: str = "first",
    shard_size: str | int = "256MB",
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "local",
    workers: int | None = None,
    partition_size: str | int = "256MB",
    write_deduped: bool = False,
    strict: bool = False,
    progress: bool = True,
) -> SubstrResult:
    """Find exact repeated substrings (>= ``min_span`` bytes) in files.

    Args:
        inputs: a path or list of paths (as for :func:`engine.neardup.pipeline.dedup`).
        out: output folder for spans.parquet, summary.json and work files; None keeps
            the result in memory.
        min_span: shortest repeated substring, in bytes. keep: "first" keeps the first
            occurrence (lowest document, then offset) and marks later copies; "none"
            marks every occurrence.
        shard_size: text bytes one suffix array may hold; the result is exact over the
            whole corpus either way (see module docstring).
        write_deduped: also write ``out/deduped/*.parquet`` (per shard, or per input
            part on the cross-shard path) with ``doc_id`` and the text with every span
            cut out.
        Other arguments: as for :func:`engine.neardup.pipeline.dedup`.
    """
    inputs = input_paths(inputs)
    if min_span < 1:
        raise ValueError(f"min_span must be >= 1 byte, got {min_span}")
    if keep not in KEEP_RULES:
        raise ValueError(f"keep must be 'first' or 'none' for substr, got {keep!r}")
    if write_deduped and out is None:
        raise ValueError("write_deduped needs an output folder: pass out=...")
    options = SubstrOptions(
        min_span=int(min_span),
        keep=keep,
        shard_size=parse_size(shard_size),
        write_deduped=write_deduped,
        read=ReadOptions(text_column=text_column, id_column=id_column, strict=strict),
    )
    backend = resolve_backend(backend)
    # inputs are planned before the output folder is created or claimed: a run that
    # fails here (a missing input) leaves no folder behind
    started = time.perf_counter()
    plan_report = ReadReport()
    parts = plan_parts(inputs, parse_size(partition_size), plan_report)
    shards = group_shards(parts, options.shard_size)
    plan_seconds = time.perf_counter() - started
    with output_folder(out) as out_dir, claim_output(out_dir, "substr", inputs):
        job = SubstrJob(
            inputs=inputs,
            parts=parts,
            shards=shards,
            plan_report=plan_report,
            out_dir=out_dir,
            in_memory=out is None,
            options=options,
            backend=backend,
            scheduler=scheduler,
            partition_size=parse_size(partition_size),
            progress=progress,
        )
        job.timings["plan"] = plan_seconds
        started = time.perf_counter()
        with session(scheduler, workers, out=None if out is None else out_dir) as runner:
            found = single_shard_stage(job, runner)
            if found is None:
                found = cross_shard_stage(job, runner)
        job.timings["spans"] = time.perf_counter() - started
        reports = [job.plan_report.to_dict(), *(r["report"] for r in found.results)]
        require_documents(found.counts["documents"], job.inputs, reports)
        summary = write_stage(job, found)
        return SubstrResult(found.spans, summary, None if job.in_memory else out_dir)


@dataclass
class SubstrJob:
    """Everything the stages of one substr run share."""

    inputs: list[str]
    parts: list[InputPart]
    shards: list[list[InputPart]]
    plan_report: ReadReport
    out_dir: Path
    in_memory: bool
    options: SubstrOptions
    backend: str
    scheduler: str
    partition_size: int
    progress: bool
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def work(self) -> Path:
        return self.out_dir / "_work"


@dataclass
class FoundSpans:
    """The spans of the whole corpus and how they were found.

    Attributes:
        spans: ``SPANS_SCHEMA`` table ordered by (document in input order, start).
        results: task results, each with a ``report`` (a ReadReport as a dict).
        counts: the counts of the path taken (``path``, ``documents``, ``bytes``, ...).
    """

    spans: pa.Table
    results: list[dict]
    counts: dict


def single_shard_stage(job: SubstrJob, runner: Runner) -> FoundSpans | None:
    """Stage 2: one suffix array; None when the corpus needs the cross-shard path."""
    if len(job.shards) > 1:
        return None
    results = runner.stage(
        "spans",
        shard_task,
        [(i, s, job.options, job.backend, str(job.out_dir)) for i, s in enumerate(job.shards)],
        show=job.progress,
    )
    if sum(r["sub_shards"] for r in results) > 1:
        return None  # more text than one call holds (e.g. a compressed file): not exact
    counts = {
        "path": "single-shard",
        "shards_reused": reused(results),
        "sub_shards": sum(r["sub_shards"] for r in results),
        "documents": sum(r["documents"] for r in results),
        "bytes": sum(r["bytes"] for r in results),
    }
    return FoundSpans(read_shard_spans(job.work, len(job.shards)), results, counts)


def cross_shard_stage(job: SubstrJob, runner: Runner) -> FoundSpans:
    """Stage 3: exact over every shard (and ``deduped/`` part by part)."""
    spans, cross = substr_across_shards(
        job.parts,
        options=job.options,
        backend=job.backend,
        work=job.work / "cross",
        progress=job.progress,
        runner=runner,
    )
    report = cross.pop("report")
    span_doc_index = cross.pop("span_doc_index")
    documents_per_part = cross.pop("documents_per_part")
    if job.options.write_deduped:
        write_cut_parts(
            runner, job.parts, spans, span_doc_index, documents_per_part, job.options, job.out_dir
        )
    counts = {
        "path": "cross-shard",
        "documents": cross["documents"],
        "bytes": cross["bytes"],
        "cross_shard": {k: v for k, v in cross.items() if k not in ("documents", "bytes", "spans")},
    }
    return FoundSpans(spans, [{"report": report}], counts)


def write_stage(job: SubstrJob, found: FoundSpans) -> dict:
    """Stage 4: ``spans.parquet`` and ``summary.json`` (unless in memory); the summary."""
    started = time.perf_counter()
    if not job.in_memory:
        write_parquet_atomic(job.out_dir / "spans.parquet", found.spans)
    job.timings["write"] = time.perf_counter() - started
    spans = found.spans
    marked = pc.sum(pc.subtract(spans.column("end"), spans.column("start"))).as_py() or 0
    counts = {
        "partitions": len(job.parts),
        "shards": len(job.shards),
        "spans": spans.num_rows,
        "bytes_marked": int(marked),
        "documents_with_spans": len(pc.unique(spans.column("doc_id"))) if len(spans) else 0,
        **found.counts,
    }
    summary = {
        "command": "substr",
        "inputs": job.inputs,
        "parameters": {**job.options.parameters(), "partition_size": job.partition_size},
        "backend": job.backend,
        "scheduler": job.scheduler,
        "counts": counts,
        "read": merged_report(job.plan_report, found.results).to_dict(),
        "timings_s": rounded(job.timings),
        "memory": memory(found.results),
        "versions": versions(),
    }
    if not job.in_memory:
        write_json_atomic(job.out_dir / "summary.json", summary)
    log.info(
        "%d documents, %d spans, %d of %d bytes marked for removal",
        counts["documents"],
        counts["spans"],
        counts["bytes_marked"],
        counts["bytes"],
    )
    return summary
