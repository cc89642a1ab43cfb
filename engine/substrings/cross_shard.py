"""Exact repeated substrings across shards: winnowed fingerprints, groups, exact spans.

:mod:`engine.substrings.pipeline` uses this path when the corpus exceeds one shard (one
suffix array's worth of text). It gives the result of one suffix array over the
*whole* corpus without building it: documents that can share a substring of
``min_span`` bytes are found first with winnowed fingerprints, then the exact
machinery (:func:`engine.substrings.spans.repeated_spans_arrays`) runs on each such
group of documents.

Stages (each a set of plain functions run by one :class:`engine.run.dask_runner.Runner`,
the caller's or a :func:`engine.run.dask_runner.session` of its own; every file is
written atomically, :mod:`engine.run.atomic`; the tasks of stages 1 and 2 live in
:mod:`engine.substrings.fingerprints`):

1. **Fingerprints** (a task per input part). For each document (its UTF-8 bytes) hash
   every k-gram (``k = min(k, min_span)`` bytes) and select winnowing fingerprints
   with window ``w = min_span - k + 1`` (rightmost minimal hash; :mod:`kernels.winnow`).
   The distinct (fingerprint uint64, document) pairs go to ``n_ranges`` files by
   fingerprint value: ``work/fingerprints/map-NNNNN/range-RRRR.npy`` (structured
   ``fingerprint <u8, doc <i8``, doc = row within the part). Per document the task
   also writes ``map-NNNNN/docs.npy`` (``n_bytes <i8``: UTF-8 bytes, ``self_repeat ?``:
   a fingerprint value selected at two positions of the document).
2. **Reduce** (a task per range). Read the range from every map, turn part rows into
   global document indices (position over all inputs in order; a part's first index is
   the running sum of the documents of the parts before it), sort by (fingerprint,
   doc) and emit *star* edges: the first document of each fingerprint group to each of
   the others, never all pairs. The edges are then reduced to a spanning forest of the
   same connectivity (at most ``documents in the range - 1`` edges however much
   boilerplate there is) and written to ``work/edges/range-RRRR.npy`` (int64 (e, 2)).
3. **Groups** (driver). Connected components of all edges
   (:func:`kernels.union_find.connected_components`, CPU). A document is *processed*
   when its component has >= 2 documents, or when it is alone and ``self_repeat``.
   Whole components are packed, in order of their smallest document, into batches of
   about ``options.shard_size`` bytes (a component starting in batch b's byte range
   belongs to batch b, so a batch holds at most ``shard_size`` + one component; a
   component larger than that is one batch, processed whole: ``largest_group_bytes``).
4. **Texts** (a task per part holding processed documents): the part is read again
   and its processed documents are written to ``work/group-texts/part-NNNNN.arrow``
   sorted by (batch, doc).
5. **Spans** (a task per batch): the batch's documents, in global order, go through
   :func:`engine.substrings.spans.repeated_spans_arrays` with the same ``min_span`` and
   ``keep``; rows are written to ``work/group-spans/batch-BBBBB.arrow``. The driver sorts all
   rows by (global document index, start).

Why this equals one suffix array over the whole corpus (proof sketch):

- *Shared substring => shared fingerprint.* Let documents A and B (or two offsets of
  one document) share a substring S with ``len(S) >= min_span = w + k - 1``. Its first
  ``min_span`` bytes hold exactly ``w`` k-grams, one winnowing window, whose hashes are
  the same in A and B. The selected position in a window depends only on those ``w``
  values (rightmost minimum), so A and B both select the same hash value h. (Within
  one document the two occurrences select h at two different positions, hence
  ``self_repeat``.) Hash collisions only add candidate pairs, never remove one.
- *Shared fingerprint => same star => same component.* The reduce of h's range sees
  (h, A) and (h, B) and links both to the first document of h's group; the spanning
  forest keeps that connectivity, so A and B end in one component.
- *Same result per window.* :func:`engine.substrings.spans.repeated_spans_arrays` marks window
  ``[p, p + min_span)`` from the set of all its occurrences (ordered by document, then
  offset). Every document holding an occurrence shares that substring with every
  other one, so all of them are in the same component, and they keep their relative
  order because a batch lists its documents in global order. The occurrence set, its
  first and second members, hence every mark and source, are exactly those of the
  whole-corpus call. Merging, cutting into exact pieces and UTF-8 snapping look at one
  document, the bytes of its sources and the order of source positions (shifts compared
  within one document, ties broken by the smallest source), all the same in the batch.
  So each document gets the same rows, with sources in the same documents. ``keep="first"``
  keeps the lowest (document, offset) occurrence: it is in the component.
- *Batching several components into one call is safe*: documents of different
  components share no fingerprint, hence no substring of ``min_span`` bytes, so no
  window of one component occurs in another and adding them changes no occurrence set.
- *Skipped documents have no rows*: a document alone in its component shares no
  ``min_span`` substring with any other; without ``self_repeat`` it repeats none inside
  itself either (documents shorter than ``min_span`` bytes have no window at all).

Memory: the driver holds 17 bytes per document (labels, sizes, flags) plus the forest
edges (at most ``n_ranges * documents`` in theory, about the number of documents with a
shared fingerprint in practice); a reduce holds one range (16 bytes per fingerprint);
a spans task holds its batch (about 20 bytes per byte for the suffix array and LCP).
The stage folders are cleared at the start and removed at the end (``group-texts``
holds a copy of every processed document): this path recomputes, it does not resume.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart, ReadReport, read_part
from engine.run.atomic import read_arrow, write_arrow_atomic
from engine.run.dask_runner import Runner, session
from engine.run.summary import merged_report, rounded
from engine.substrings.fingerprints import (
    DOC_DTYPE,
    default_ranges,
    docs_file,
    edges_file,
    fingerprint_task,
    reduce_task,
)
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import KEEP_RULES, SPANS_SCHEMA, repeated_spans_arrays, spans_table
from kernels.backend import resolve_backend
from kernels.union_find import connected_components

log = logging.getLogger("ouroboros")

STAGE_DIRS = ("fingerprints", "edges", "group-texts", "group-spans")

_TEXTS_SCHEMA = pa.schema(
    [
        ("batch", pa.int64()),
        ("doc", pa.int64()),
        ("doc_id", pa.string()),
        ("text", pa.large_binary()),
    ]
)
_BATCH_SPANS_SCHEMA = pa.schema([("doc_index", pa.int64()), *SPANS_SCHEMA])


# --------------------------------------------------------------------------- files


def _texts_file(work: Path, map_index: int) -> Path:
    return work / "group-texts" / f"part-{map_index:05d}.arrow"


def _batch_spans_file(work: Path, batch_index: int) -> Path:
    return work / "group-spans" / f"batch-{batch_index:05d}.arrow"


# --------------------------------------------------------------------------- tasks


def texts_task(
    map_index: int,
    part: InputPart,
    first_doc: int,
    batch_of_row: np.ndarray,
    options: SubstrOptions,
    work: str,
) -> dict:
    """Stage 4 for one part: its processed documents, sorted by (batch, doc), to a file.

    Args:
        first_doc: global index of the part's first document.
        batch_of_row: (documents in part,) int64 batch of each document, -1 = skipped.
    """
    report = ReadReport()  # counted in stage 1 already
    pieces: list[pa.Table] = []
    row = 0
    for table in read_part(part, report=report, **options.read.read_part_kwargs()):
        n = table.num_rows
        batch = batch_of_row[row : row + n]
        if batch.shape[0] != n:
            raise RuntimeError(
                f"{part.path}: more documents on the second read than on the first; "
                "the input changed while it was being processed: rerun"
            )
        rows = np.flatnonzero(batch >= 0)
        if rows.shape[0]:
            picked = table.take(pa.array(rows))
            pieces.append(
                pa.Table.from_arrays(
                    [
                        pa.array(batch[rows], type=pa.int64()),
                        pa.array(first_doc + row + rows, type=pa.int64()),
                        picked.column("doc_id").cast(pa.string()),
                        picked.column("text").cast(pa.large_binary()),
                    ],
                    schema=_TEXTS_SCHEMA,
                )
            )
        row += n
    if row != batch_of_row.shape[0]:
        raise RuntimeError(
            f"{part.path}: {row} documents on the second read, {batch_of_row.shape[0]} on "
            "the first; the input changed while it was being processed: rerun"
        )
    table = pa.concat_tables(pieces) if pieces else _TEXTS_SCHEMA.empty_table()
    table = table.sort_by([("batch", "ascending"), ("doc", "ascending")])
    write_arrow_atomic(_texts_file(Path(work), map_index), table)
    return {"documents": table.num_rows}


def spans_task(
    batch_index: int, map_indices: list[int], options: SubstrOptions, backend: str, work: str
) -> dict:
    """Stage 5 for one batch: exact spans over its documents (global order).

    Args:
        map_indices: ascending indices of the parts holding the batch's documents.
    """
    work_dir = Path(work)
    pieces = []
    for map_index in map_indices:  # ascending: parts in input order
        table = read_arrow(_texts_file(work_dir, map_index))
        batch = table.column("batch").to_numpy()
        lo, hi = np.searchsorted(batch, [batch_index, batch_index + 1])
        pieces.append(table.slice(int(lo), int(hi - lo)))
    table = pa.concat_tables(pieces)
    docs = table.column("doc").to_numpy()
    ids = table.column("doc_id").combine_chunks()
    spans = repeated_spans_arrays(
        table.column("text"), min_span=options.min_span, keep=options.keep, backend=backend
    )
    out = spans_table(spans, ids).add_column(
        0, _BATCH_SPANS_SCHEMA.field("doc_index"), pa.array(docs[spans["doc_index"]], pa.int64())
    )
    write_arrow_atomic(_batch_spans_file(work_dir, batch_index), out)
    return {"documents": table.num_rows, "spans": out.num_rows}


# --------------------------------------------------------------------------- driver


def plan_batches(
    labels: np.ndarray, n_bytes: np.ndarray, self_repeat: np.ndarray, budget_bytes: int
) -> tuple[np.ndarray, dict]:
    """Which batch each document goes to (-1: skipped), whole components per batch.

    Args:
        labels: (n_docs,) int64 component label (its smallest document).
        n_bytes: (n_docs,) int64 UTF-8 bytes per document.
        self_repeat: (n_docs,) bool.
        budget_bytes: target bytes per batch.

    Returns:
        batch_of_doc: (n_docs,) int64, batches numbered 0.. in order of their first
        component; counts ``groups`` (components of >= 2 documents),
        ``documents_in_groups``, ``singletons_checked``, ``largest_group_bytes`` (over
        every processed component), ``groups_over_budget``, ``batches``.
    """
    n_docs = labels.shape[0]
    batch_of_doc = np.full(n_docs, -1, dtype=np.int64)
    sizes = np.bincount(labels, minlength=n_docs)
    in_group = sizes[labels] >= 2
    processed = np.flatnonzero(in_group | self_repeat)
    counts = {
        "groups": int(np.count_nonzero(sizes >= 2)),
        "documents_in_groups": int(np.count_nonzero(in_group)),
        "singletons_checked": int(np.count_nonzero(self_repeat & ~in_group)),
        "largest_group_bytes": 0,
        "groups_over_budget": 0,
        "batches": 0,
    }
    if processed.shape[0] == 0:
        return batch_of_doc, counts
    order = processed[np.argsort(labels[processed], kind="stable")]
    sorted_labels = labels[order]
    group_labels, group_first = np.unique(sorted_labels, return_index=True)
    group_bytes = np.add.reduceat(n_bytes[order], group_first)
    group_start = np.cumsum(group_bytes) - group_bytes
    _, group_batch = np.unique(group_start // max(int(budget_bytes), 1), return_inverse=True)
    batch_of_doc[order] = group_batch.reshape(-1)[np.searchsorted(group_labels, sorted_labels)]
    counts["largest_group_bytes"] = int(group_bytes.max())
    counts["groups_over_budget"] = int(np.count_nonzero(group_bytes > budget_bytes))
    counts["batches"] = int(group_batch.max()) + 1
    return batch_of_doc, counts


def _check_int(name: str, value, low: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}; {hint}")
    return int(value)


def substr_across_shards(
    parts: list[InputPart],
    *,
    options: SubstrOptions,
    backend: str,
    work: Path,
    scheduler: str = "local",
    workers: int | None = None,
    n_ranges: int | None = None,
    k: int = 32,
    progress: bool = False,
    runner: Runner | None = None,
) -> tuple[pa.Table, dict]:
    """Repeated spans of the whole corpus, exact across parts and shards.

    Equal, row for row, to :func:`engine.substrings.spans.repeated_spans` over all
    documents of ``parts`` in one call (see the module docstring for the method and the
    proof).

    Args:
        parts: input parts in input order (:func:`engine.io.plan_parts`).
        options: ``min_span``, ``keep`` and ``read``; ``shard_size`` is the byte budget
            of one exact call (a larger group of documents is still processed in one
            call and counted).
        backend: "cpu", "cuda" or "auto", for the exact suffix-array stage (the
            fingerprints and components run on the CPU).
        work: folder for the stage files (its subfolders ``fingerprints``, ``edges``,
            ``group-texts``, ``group-spans`` are cleared first and removed at the end).
        scheduler, workers: as for :func:`engine.run.dask_runner.session`; used only
            when no ``runner`` is given (then one session serves all stages).
        n_ranges: fingerprint ranges (reduce tasks); None: about 64 MiB of pairs each.
        k: k-gram length in bytes; ``min(k, min_span)`` is used.
        progress: show a progress bar (or log lines) per stage.
        runner: the caller's :class:`engine.run.dask_runner.Runner` (one Dask session
            per run).

    Returns:
        spans: ``SPANS_SCHEMA`` table ordered by (global document index, start).
        counts: ``documents``, ``bytes`` (UTF-8), ``fingerprints`` ((fingerprint,
        document) pairs), ``star_edges``, ``edges`` (forest edges), ``groups``,
        ``documents_in_groups``, ``singletons_checked``, ``largest_group_bytes``,
        ``groups_over_budget``, ``batches``, ``ranges``, ``k``, ``w``, ``spans``,
        ``timings_s``, ``report`` (the merged :class:`ReadReport` as a dict),
        ``documents_per_part`` (list of int, input order) and ``span_doc_index``
        (int64 (n_spans,): the global document index of each span row).

    Example:
        >>> spans, counts = substr_across_shards(
        ...     plan_parts(["corpus/"], parse_size("64MB")), options=SubstrOptions(),
        ...     backend="cpu", work=Path("out/_work"), scheduler="threads", workers=4)
    """
    k = _check_int("k", k, 1, "e.g. k=32 (bytes per hashed k-gram)")
    if n_ranges is not None:
        n_ranges = _check_int("n_ranges", n_ranges, 1, "or None for the default")
    min_span = _check_int("options.min_span", options.min_span, 1, "e.g. 100 bytes")
    if options.keep not in KEEP_RULES:
        raise ValueError(f"options.keep must be 'first' or 'none', got {options.keep!r}")
    k = min(k, min_span)
    w = min_span - k + 1
    if n_ranges is None:
        n_ranges = default_ranges(parts, min_span, k)
    job = _CrossJob(parts, options, resolve_backend(backend), Path(work), k, w, n_ranges, progress)
    if runner is None:
        with session(scheduler, workers) as own_runner:
            return _across_shards(job, own_runner)
    return _across_shards(job, runner)


@dataclass
class _CrossJob:
    """The validated parameters of one :func:`substr_across_shards` call."""

    parts: list[InputPart]
    options: SubstrOptions
    backend: str
    work: Path
    k: int
    w: int
    n_ranges: int
    progress: bool
    timings: dict[str, float] = field(default_factory=dict)

    def stage(self, runner: Runner, name: str, func, args_list: list[tuple]) -> list:
        return runner.stage(name, func, args_list, show=self.progress, timings=self.timings)


def _across_shards(job: _CrossJob, runner: Runner) -> tuple[pa.Table, dict]:
    """The five stages of the module docstring, in order."""
    for name in STAGE_DIRS:
        shutil.rmtree(job.work / name, ignore_errors=True)
    maps = job.stage(
        runner,
        "fingerprints",
        fingerprint_task,
        [
            (i, part, job.options, job.k, job.w, job.n_ranges, str(job.work))
            for i, part in enumerate(job.parts)
        ],
    )
    docs_per_map = np.array([m["documents"] for m in maps], dtype=np.int64)
    map_offsets = np.concatenate([[0], np.cumsum(docs_per_map)]).astype(np.int64)
    reduces = job.stage(
        runner,
        "reduce",
        reduce_task,
        [(r, map_offsets[:-1], str(job.work)) for r in range(job.n_ranges)],
    )
    batch_of_doc, group_counts = _groups_stage(job, reduces, map_offsets)
    _texts_stage(job, runner, batch_of_doc, map_offsets)
    spans, span_doc_index = _spans_stage(
        job, runner, batch_of_doc, map_offsets, group_counts["batches"]
    )
    for name in STAGE_DIRS:
        shutil.rmtree(job.work / name, ignore_errors=True)

    counts = {
        "documents": int(map_offsets[-1]),
        "bytes": int(sum(m["bytes"] for m in maps)),
        "fingerprints": int(sum(m["fingerprints"] for m in maps)),
        "star_edges": int(sum(r["star_edges"] for r in reduces)),
        **group_counts,
        "ranges": job.n_ranges,
        "k": job.k,
        "w": job.w,
        "spans": spans.num_rows,
        "timings_s": rounded(job.timings),
        "report": merged_report(ReadReport(), maps).to_dict(),
        "documents_per_part": docs_per_map.tolist(),
        "span_doc_index": span_doc_index,
    }
    if group_counts["groups_over_budget"]:
        log.warning(
            "%d group(s) of documents exceed the %d-byte budget (largest %d bytes); each "
            "was processed in one call",
            group_counts["groups_over_budget"],
            job.options.shard_size,
            group_counts["largest_group_bytes"],
        )
    return spans, counts


def _groups_stage(
    job: _CrossJob, reduces: list[dict], map_offsets: np.ndarray
) -> tuple[np.ndarray, dict]:
    """Stage 3 (driver): components of the forest edges, packed into batches.

    Returns:
        batch_of_doc: (n_docs,) int64, -1 = skipped (:func:`plan_batches`).
        counts: ``edges`` and the counts of :func:`plan_batches`.
    """
    started = time.perf_counter()
    edge_chunks = [
        np.load(edges_file(job.work, r), allow_pickle=False)
        for r in range(job.n_ranges)
        if reduces[r]["edges"]
    ]
    edges = np.concatenate(edge_chunks) if edge_chunks else np.zeros((0, 2), dtype=np.int64)
    labels = connected_components(int(map_offsets[-1]), edges[:, 0], edges[:, 1], backend="cpu")
    doc_info = (
        np.concatenate([np.load(docs_file(job.work, i)) for i in range(len(job.parts))])
        if job.parts
        else np.zeros(0, dtype=DOC_DTYPE)
    )
    batch_of_doc, counts = plan_batches(
        labels, doc_info["n_bytes"], doc_info["self_repeat"], job.options.shard_size
    )
    job.timings["groups"] = time.perf_counter() - started
    return batch_of_doc, {"edges": int(edges.shape[0]), **counts}


def _texts_stage(
    job: _CrossJob, runner: Runner, batch_of_doc: np.ndarray, map_offsets: np.ndarray
) -> None:
    """Stage 4: the processed documents of each part that holds any, to a file."""
    args = []
    for i, part in enumerate(job.parts):
        rows = batch_of_doc[map_offsets[i] : map_offsets[i + 1]]
        if (rows >= 0).any():
            args.append((i, part, int(map_offsets[i]), rows, job.options, str(job.work)))
    job.stage(runner, "texts", texts_task, args)


def _spans_stage(
    job: _CrossJob,
    runner: Runner,
    batch_of_doc: np.ndarray,
    map_offsets: np.ndarray,
    n_batches: int,
) -> tuple[pa.Table, np.ndarray]:
    """Stage 5: exact spans per batch, sorted by (global document index, start).

    Returns:
        spans: ``SPANS_SCHEMA`` table; span_doc_index: (len(spans),) int64 global
        document index of each row.
    """
    processed = np.flatnonzero(batch_of_doc >= 0)
    map_of_doc = np.searchsorted(map_offsets, processed, side="right") - 1
    pairs = np.stack([batch_of_doc[processed], map_of_doc], axis=1)
    pairs = np.unique(pairs, axis=0) if pairs.shape[0] else pairs
    bounds = np.searchsorted(pairs[:, 0], np.arange(n_batches + 1))
    args = [
        (b, pairs[bounds[b] : bounds[b + 1], 1].tolist(), job.options, job.backend, str(job.work))
        for b in range(n_batches)
    ]
    job.stage(runner, "spans", spans_task, args)
    started = time.perf_counter()
    tables = [read_arrow(_batch_spans_file(job.work, b)) for b in range(n_batches)]
    spans = pa.concat_tables(tables) if tables else _BATCH_SPANS_SCHEMA.empty_table()
    spans = spans.sort_by([("doc_index", "ascending"), ("start", "ascending")])
    span_doc_index = spans.column("doc_index").to_numpy()
    spans = spans.select(SPANS_SCHEMA.names).cast(SPANS_SCHEMA).combine_chunks()
    job.timings["spans"] += time.perf_counter() - started
    return spans, span_doc_index
