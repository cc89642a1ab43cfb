"""The repeated-substring pipeline over files (``ouroboros substr``): read -> spans.parquet.

The result is always exact over the whole corpus: every substring of at least
``min_span`` bytes that occurs twice anywhere is found (:mod:`engine.substrings.spans`).

Stages, in the order :func:`substr` runs them:

1. **plan**: input parts (:func:`engine.io.plan_parts`), grouped into shards of at most
   ``shard_size`` input bytes.
2. **spans, single-shard path** (:mod:`engine.substrings.single_shard`): a corpus of one
   shard is one suffix array: one task, resumable (``_work/spans/shard-NNNNN.parquet``,
   stamped with its options and inputs). With ``write_deduped`` the task also writes
   its parts' documents with the spans cut (:mod:`engine.substrings.deduped`).
3. **spans, cross-shard path** (:mod:`engine.substrings.cross_shard`), when there are
   several shards or the shard's text outgrew one call: winnowed fingerprints route
   documents that share a substring of ``min_span`` bytes into the same group, and each
   group's suffix array finds the exact spans (memory per call: about 20 bytes per byte
   of the group; boilerplate can chain large groups). With ``write_deduped`` every part
   is read again and written cut (:mod:`engine.substrings.deduped`). This path
   recomputes; it does not resume.
4. **write**: ``spans.parquet`` and ``summary.json``.

Tasks are scheduled by :mod:`engine.run.dask_runner`, one session per run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.io import (
    InputPart,
    InputRows,
    ReadOptions,
    ReadReport,
    accepts_in_memory,
    input_paths,
    parse_size,
    replace_text,
)
from engine.io.options import DEFAULT_MAX_SKIPPED, parse_share
from engine.io.report import check_skipped
from engine.io.run_plan import plan_run
from engine.run.atomic import write_json_atomic, write_parquet_atomic
from engine.run.dask_runner import Runner, session
from engine.run.output import claim_output, output_folder, require_documents
from engine.run.summary import memory, merged_report, reused, rounded, versions
from engine.run.work import finish_work
from engine.substrings.cross_shard import substr_across_shards
from engine.substrings.deduped import finish_deduped, write_cut_parts
from engine.substrings.options import SubstrOptions
from engine.substrings.single_shard import group_shards, read_shard_spans, shard_task
from engine.substrings.spans import KEEP_RULES, remove_spans
from kernels.backend import resolve_backend

log = logging.getLogger("ouroboros")


@dataclass
class SubstrResult:
    """What :func:`substr` returns.

    Attributes:
        spans: pyarrow Table with the ``spans.parquet`` schema.
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
        input_rows: for an in-memory input, where its documents sit in its rows
            (:class:`engine.io.InputRows`); None for files.
        span_rows: for an in-memory input, int64 (n_spans,): the input row of each
            span; None for files.

    For an in-memory input, :attr:`cut_texts` holds every row's text with its spans
    cut out and :meth:`cut` gives the input back that way (rows emptied by the cut
    dropped). Rows not read (null or non-string text) are kept as they were.

    Example:
        >>> result = engine.substr(df, min_span=50)  # doctest: +SKIP
        >>> cleaned = result.cut(df)  # df["text"] without repeated spans  # doctest: +SKIP
    """

    spans: pa.Table
    summary: dict
    out: Path | None
    input_rows: InputRows | None = field(default=None, repr=False)
    span_rows: np.ndarray | None = field(default=None, repr=False)
    _cut_texts: pa.Array | None = field(default=None, repr=False)
    _emptied: np.ndarray | None = field(default=None, repr=False)

    def attach_input(self, spilled) -> None:
        """Align with the rows of an in-memory input (an ``engine.io`` spilled input,
        run with row numbers as ids): spans get the input's ids (``spans.parquet``
        rewritten when there is an ``out``), and every row its cut text."""
        spans = self.spans
        self.span_rows = pc.cast(spans.column("doc_id"), pa.int64()).to_numpy()
        if spilled.id_column is not None:
            ids = spilled.ids()
            sources = pc.cast(spans.column("source_doc_id"), pa.int64())
            for name, rows in (("doc_id", pa.array(self.span_rows)), ("source_doc_id", sources)):
                spans = spans.set_column(spans.schema.get_field_index(name), name, ids.take(rows))
            self.spans = spans.cast(self.spans.schema)
            if self.out is not None:
                write_parquet_atomic(Path(self.out) / "spans.parquet", self.spans)
        self.input_rows = spilled.input_rows()
        starts = spans.column("start").to_numpy()
        ends = spans.column("end").to_numpy()
        self._cut_texts, self._emptied = _cut_rows(spilled.texts(), self.span_rows, starts, ends)

    @property
    def cut_texts(self) -> pa.LargeStringArray:
        """large_string (n_rows,): each row's text with its spans cut out (null for rows
        not read). In-memory inputs only: for files pass ``write_deduped=True``."""
        if self._cut_texts is None:
            raise ValueError(
                "cut_texts is kept for in-memory inputs; for files pass write_deduped=True "
                "and read out/deduped/"
            )
        return self._cut_texts

    def cut(self, obj):
        """``obj`` (the input, or any object with the same rows) with its text replaced
        by :attr:`cut_texts` and the rows the cut emptied dropped; the same kind of
        object (:func:`engine.io.replace_text`)."""
        texts = self.cut_texts
        return replace_text(obj, self.input_rows.text_column, texts, ~self._emptied)


def _cut_rows(texts: pa.ChunkedArray, span_rows, starts, ends) -> tuple[pa.Array, np.ndarray]:
    """(large_string (n_rows,) texts with the byte ranges ``[starts, ends)`` of their
    rows cut out, bool (n_rows,) rows the cut left empty)."""
    order = np.argsort(span_rows, kind="stable")
    span_rows, starts, ends = span_rows[order], starts[order], ends[order]
    texts = texts.combine_chunks().cast(pa.large_string())
    emptied = np.zeros(len(texts), dtype=np.bool_)
    rows, first = np.unique(span_rows, return_index=True)
    bounds = np.append(first, len(span_rows))
    pieces, done = [], 0
    for i, row in enumerate(rows.tolist()):
        lo, hi = bounds[i], bounds[i + 1]
        text = remove_spans(texts[row].as_py().encode(), starts[lo:hi], ends[lo:hi])
        text = text.decode("utf-8", errors="replace")
        emptied[row] = text == ""
        pieces += [texts.slice(done, row - done), pa.array([text], pa.large_string())]
        done = row + 1
    pieces.append(texts.slice(done))
    return pa.concat_arrays(pieces), emptied


@accepts_in_memory(row_ids=True)
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
    scheduler: str = "auto",
    workers: int | None = None,
    partition_size: str | int = "auto",
    write_deduped: bool = False,
    strict: bool = False,
    max_skipped: float | str = DEFAULT_MAX_SKIPPED,
    clean_work: bool = False,
    storage_options: dict | None = None,
    progress: bool = True,
    html_text: str = "main",
) -> SubstrResult:
    """Find exact repeated substrings (>= ``min_span`` bytes) in files.

    Args:
        inputs: a path or list of paths, or an in-memory input (as for
            :func:`engine.neardup.pipeline.dedup`; then ``result.cut_texts`` and
            ``result.cut(obj)`` follow its rows, and ``write_deduped`` is refused).
        out: output folder for spans.parquet, summary.json and work files; None keeps
            the result in memory.
        min_span: shortest repeated substring, in bytes. keep: "first" keeps the first
            occurrence (lowest document, then offset) and marks later copies; "none"
            marks every occurrence.
        shard_size: text bytes one suffix array may hold; the result is exact over the
            whole corpus either way (see module docstring).
        write_deduped: also write ``out/deduped/``: one file per input part in the
            input's format (WARC: JSON Lines), every column kept, the text with every
            span cut out; documents left empty are dropped and counted
            (``counts.deduped`` in the summary).
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
        read=ReadOptions(
            text_column=text_column,
            id_column=id_column,
            strict=strict,
            max_skipped=parse_share(max_skipped),
            html_text=html_text,
        ),
    )
    backend = resolve_backend(backend)
    # inputs are planned before the output folder is created or claimed: a run that
    # fails here (a missing input) leaves no folder behind
    plan = plan_run(inputs, partition_size, scheduler, workers, storage_options)
    shards = group_shards(plan.parts, options.shard_size)
    with output_folder(out, storage_options) as out_dir, claim_output(out_dir, "substr", inputs):
        job = SubstrJob(
            inputs=inputs,
            parts=plan.parts,
            shards=shards,
            plan_report=plan.report,
            out_dir=out_dir,
            in_memory=out is None,
            options=options,
            backend=backend,
            scheduler=plan.scheduler,
            partition_size=plan.partition_size,
            progress=progress,
            choices=plan.choices,
            clean_work=clean_work,
        )
        job.timings["plan"] = plan.seconds
        started = time.perf_counter()
        with session(plan.scheduler, plan.workers, out=None if out is None else out_dir) as runner:
            found = single_shard_stage(job, runner)
            if found is None:
                found = cross_shard_stage(job, runner)
        job.timings["spans"] = time.perf_counter() - started
        reports = [job.plan_report.to_dict(), *(r["report"] for r in found.results)]
        require_documents(found.counts["documents"], job.inputs, reports)
        check_skipped(found.counts["documents"], reports, options.read.max_skipped)
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
    clean_work: bool = False
    choices: dict = field(default_factory=dict)
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
        deduped_files: with ``write_deduped``, the files written to ``deduped/``.
    """

    spans: pa.Table
    results: list[dict]
    counts: dict
    deduped_files: list[str] | None = None


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
    found = FoundSpans(read_shard_spans(job.work, len(job.shards)), results, counts)
    if job.options.write_deduped:
        counts["deduped"], found.deduped_files = finish_deduped(job.out_dir, results)
    return found


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
    written = []
    if job.options.write_deduped:
        written = write_cut_parts(
            runner, job.parts, spans, span_doc_index, documents_per_part, job.options, job.out_dir
        )
    counts = {
        "path": "cross-shard",
        "documents": cross["documents"],
        "bytes": cross["bytes"],
        "cross_shard": {k: v for k, v in cross.items() if k not in ("documents", "bytes", "spans")},
    }
    found = FoundSpans(spans, [{"report": report}, *written], counts)
    if job.options.write_deduped:
        counts["deduped"], found.deduped_files = finish_deduped(job.out_dir, written)
    return found


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
        "choices": job.choices,
        "counts": counts,
        "read": merged_report(job.plan_report, found.results).to_dict(),
        "timings_s": rounded(job.timings),
        "memory": memory(found.results),
        "versions": versions(),
    }
    if found.deduped_files is not None:
        summary["deduped_files"] = found.deduped_files
    if not job.in_memory:
        summary["work"] = finish_work(job.out_dir, job.clean_work)
        write_json_atomic(job.out_dir / "summary.json", summary)
    log.info(
        "%d documents, %d spans, %d of %d bytes marked for removal",
        counts["documents"],
        counts["spans"],
        counts["bytes_marked"],
        counts["bytes"],
    )
    return summary
