"""The near-duplicate pipeline over files, in resumable stages.

1. ``signatures`` (a task per input part): read in batches, MinHash, write
   ``_work/signatures/part-NNNNN.arrow`` (doc_id, row, n_bytes, signature).
2. ``shuffle`` (a task per part, :mod:`engine.shuffle`): band keys, records split by
   key range into ``_work/shuffle-<fp>/map-NNNNN/range-RRRRR.arrow``.
3. ``edges`` (a task per key range): buckets, verified star edges, written to
   ``_work/edges-<fp>/range-RRRRR.npy``.
4. ``components``: ``cluster_id`` is the smallest input position of each component.
   Up to ``MAX_DRIVER_DOCS`` documents (or with ``components="driver"``): union-find
   in the driver with edges streamed range by range (8 bytes per document plus one
   range's edges: 10 GB of driver memory covers about 1.2 billion documents). Beyond
   that (or with ``components="distributed"``): large-star/small-star rounds of tasks
   over edge files (:mod:`engine.components`, ``_work/components-<fp>/``), each task
   holding one node range's edges; labels are read back range by range.
5. ``write``: keep flags, ``clusters.parquet`` streamed part by part, ``summary.json``;
   optionally ``deduped/`` with the kept documents in the input's own format.

Resume: every task output is written atomically with the fingerprint of the
parameters it depends on. Rerunning the same command with the same ``--out`` reuses
what matches and recomputes the rest: a new ``threshold`` redoes stages 3-5 (and 2
when bands/rows are derived from it), a new ``keep`` only stage 5, a new ``ngram``
everything. An output folder made by another command or for other inputs is refused.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.cluster import session
from engine.components import distributed_components, read_labels
from engine.deduped_writer import write_kept
from engine.inputs import InputPart, ReadReport, parse_size, plan_parts, read_part
from engine.memory import peak_rss_mib
from engine.near_dup import choose_kept, partition_signatures
from engine.params import DedupParams
from engine.progress import Progress, prefetch
from engine.shuffle import choose_n_ranges, edges_file, shuffle_map_task, shuffle_reduce_task
from engine.storage import (
    claim_output,
    fingerprint,
    output_folder,
    read_signature_file,
    read_signature_meta,
    write_json_atomic,
    write_signature_file,
)
from engine.texts import pack
from kernels.backend import resolve_backend
from kernels.hashing import fmix64
from kernels.unicode_table import unicode_version
from kernels.union_find import finish_labels_cpu, union_edges_cpu

log = logging.getLogger("ouroboros")

MAX_DRIVER_DOCS = 500_000_000  # components="auto": union-find in the driver up to this
COMPONENTS = ("auto", "driver", "distributed")

CLUSTERS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("cluster_id", pa.int64()),
        ("cluster_size", pa.int64()),
        ("keep", pa.bool_()),
    ]
)


@dataclass
class DedupResult:
    """What :func:`dedup` returns.

    Attributes:
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
        clusters: pyarrow Table with the ``clusters.parquet`` schema, input order
            (read from ``out`` on first use when an output folder was given).
        flags, cluster_flags: the provenance tables when ``reference`` was given
            (likewise read from ``out`` on first use); None otherwise.
    """

    summary: dict
    out: Path | None
    _clusters: pa.Table | None = field(default=None, repr=False)
    _flags: pa.Table | None = field(default=None, repr=False)
    _cluster_flags: pa.Table | None = field(default=None, repr=False)

    def _read(self, name: str) -> pa.Table | None:
        path = None if self.out is None else self.out / f"{name}.parquet"
        return pq.read_table(path) if path is not None and path.exists() else None

    @property
    def clusters(self) -> pa.Table:
        if self._clusters is None and self.out is not None:
            self._clusters = pq.read_table(self.out / "clusters.parquet")
        return self._clusters

    @property
    def flags(self) -> pa.Table | None:
        if self._flags is None and "provenance" in self.summary:
            self._flags = self._read("flags")
        return self._flags

    @property
    def cluster_flags(self) -> pa.Table | None:
        if self._cluster_flags is None and "provenance" in self.summary:
            self._cluster_flags = self._read("cluster_flags")
        return self._cluster_flags


@dataclass(frozen=True)
class ReadOptions:
    text_column: str = "text"
    id_column: str | None = None
    strict: bool = False
    batch_bytes: int = 64 * 2**20


def _part_file(work: Path, part: InputPart) -> Path:
    return work / "signatures" / f"part-{part.index:05d}.arrow"


def signature_task(
    part: InputPart, params: DedupParams, backend: str, read: ReadOptions, work: str
) -> dict:
    """Stage 1 for one part; returns a small dict (counts, seconds, read report)."""
    path = _part_file(Path(work), part)
    stage_fp = fingerprint(params.signature_fingerprint(), read.text_column, read.id_column)
    meta = read_signature_meta(path)
    if meta and meta.get("fingerprint") == stage_fp and meta.get("part") == repr(part):
        return {"reused": True, **meta["result"]}
    started = time.perf_counter()
    report = ReadReport()
    ids, rows, n_bytes, sigs = [], [], [], []
    batches = read_part(
        part,
        text_column=read.text_column,
        id_column=read.id_column,
        batch_bytes=read.batch_bytes,
        strict=read.strict,
        report=report,
    )
    for batch in prefetch(batches):
        texts = batch.column("text").combine_chunks()
        out = partition_signatures(texts, params, backend)
        ids.append(batch.column("doc_id").combine_chunks())
        rows.append(batch.column("row").to_numpy())
        n_bytes.append(out.n_bytes)
        sigs.append(out.signatures)
    result = {
        "documents": int(sum(len(r) for r in rows)),
        "bytes": int(sum(int(b.sum()) for b in n_bytes)),
        "seconds": round(time.perf_counter() - started, 4),
        "peak_rss_mib": peak_rss_mib(),
        "report": report.to_dict(),
    }
    write_signature_file(
        path,
        doc_ids=pa.concat_arrays(ids) if ids else pa.array([], type=pa.string()),
        rows=np.concatenate(rows) if rows else np.zeros(0, np.int64),
        n_bytes=np.concatenate(n_bytes) if n_bytes else np.zeros(0, np.int64),
        signatures=np.concatenate(sigs) if sigs else np.zeros((0, params.num_perm), np.uint32),
        meta={"fingerprint": stage_fp, "part": repr(part), "result": result},
    )
    return {"reused": False, **result}


def date_column_for(part: InputPart, date_column: str | None) -> str:
    """The date column of a part: ``date_column``, else ``warc_date`` for WARC input and
    ``date`` for the rest."""
    if date_column is not None:
        return date_column
    return "warc_date" if part.fmt == "warc" else "date"


def dates_task(part: InputPart, read: ReadOptions, date_column: str | None) -> dict:
    """Stage 5 for ``keep="earliest"``: one part's document dates, in row order.

    Returns ``{"rows": int64 (n,), "dates": int64 (n,) microseconds (engine.dates),
    "undated": count}``.
    """
    from engine.dates import parse_dates

    column = date_column_for(part, date_column)
    rows: list[np.ndarray] = []
    dates: list[np.ndarray] = []
    undated = 0
    for table in read_part(
        part,
        text_column=read.text_column,
        id_column=read.id_column,
        columns=[column],
        batch_bytes=read.batch_bytes,
        strict=read.strict,
        report=ReadReport(),
    ):
        values, missing = parse_dates(table.column(column))
        rows.append(table.column("row").to_numpy())
        dates.append(values)
        undated += missing
    return {
        "rows": np.concatenate(rows) if rows else np.zeros(0, np.int64),
        "dates": np.concatenate(dates) if dates else np.zeros(0, np.int64),
        "undated": undated,
    }


def write_kept_task(part: InputPart, kept_rows: np.ndarray, out: str) -> str | None:
    path = write_kept(part, kept_rows, out)
    return None if path is None else str(path)


def dedup(
    inputs,
    out=None,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    backend: str = "auto",
    scheduler: str = "local",
    workers: int | None = None,
    partition_size: str | int = "256MB",
    write_deduped: bool = False,
    strict: bool = False,
    progress: bool = True,
    reference: str | os.PathLike | None = None,
    components: str = "auto",
    date_column: str | None = None,
    **params,
) -> DedupResult:
    """Find near-duplicate clusters in files.

    Args:
        inputs: a path or list of paths (JSONL[.gz|.zst], Parquet, WARC/WET, text
            files or folders).
        out: output folder for clusters.parquet, summary.json and work files; None
            keeps the result in memory (a temporary work folder is removed).
        text_column, id_column: columns to read; without id_column doc_id is
            ``<path>:<row>``.
        backend: "auto", "cpu" or "cuda".
        scheduler: "local" (a Dask LocalCluster of worker processes), "threads"
            (in this process), "local-cuda", or a Dask scheduler address or
            scheduler-file path (see engine.cluster). workers: worker processes or
            threads (default: CPU count).
        partition_size: bytes per input partition ("256MB"); also the size of one
            shuffle range. write_deduped: also write the kept documents under
            ``out/deduped/``.
        strict: malformed records raise instead of being counted and skipped.
        reference: a reference index folder (``ouroboros reference build``): also
            flag every document (``flags.parquet``), roll flags up per cluster
            (``cluster_flags.parquet``) and keep an unflagged member of each cluster
            where one exists.
        components: "driver" (union-find in this process, 8 bytes per document),
            "distributed" (large-star/small-star rounds of tasks over edge files,
            :mod:`engine.components`) or "auto" (driver up to ``MAX_DRIVER_DOCS``
            documents). Both give the same clusters.
        date_column: with ``keep="earliest"``, the column holding each document's
            date (ISO 8601, epoch seconds, or a Parquet timestamp/date: see
            :mod:`engine.dates`); default ``date``, ``warc_date`` for WARC input.
            Documents without a readable date are counted (``undated_documents``) and
            kept only when no member of their cluster has a date.
        **params: DedupParams fields (shingle, ngram, num_perm, threshold, bands,
            rows, seed, keep, max_anchors).

    Example:
        >>> result = engine.dedup(["crawl.jsonl.gz"], out="out/")  # doctest: +SKIP
        >>> result.clusters.filter(~result.clusters["keep"]).num_rows  # doctest: +SKIP
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = [str(p) for p in inputs]
    dedup_params = DedupParams(**params)
    resolved = resolve_backend(backend)
    if components not in COMPONENTS:
        raise ValueError(f"components must be one of {COMPONENTS}, got {components!r}")
    if write_deduped and out is None:
        raise ValueError("write_deduped needs an output folder: pass out=...")
    read = ReadOptions(text_column=text_column, id_column=id_column, strict=strict)
    size = parse_size(partition_size)

    with output_folder(out) as out_dir:
        t0 = time.perf_counter()
        plan_report = ReadReport()
        parts = plan_parts(inputs, size, report=plan_report)
        claim_output(out_dir, "dedup", inputs)
        job = _Job(
            inputs=inputs,
            parts=parts,
            plan_report=plan_report,
            out_dir=out_dir,
            in_memory=out is None,
            params=dedup_params,
            backend=resolved,
            read=read,
            partition_size=size,
            write_deduped=write_deduped,
            progress=progress,
            reference=None if reference is None else str(reference),
            components=components,
            date_column=date_column,
        )
        timings = {"plan": time.perf_counter() - t0}
        with session(scheduler, workers) as runner:
            return _run_stages(job, runner, timings)


@dataclass(frozen=True)
class _Job:
    """Everything the stages of one dedup run share."""

    inputs: list[str]
    parts: list[InputPart]
    plan_report: ReadReport
    out_dir: Path
    in_memory: bool
    params: DedupParams
    backend: str
    read: ReadOptions
    partition_size: int
    write_deduped: bool
    progress: bool
    reference: str | None = None
    components: str = "auto"
    date_column: str | None = None

    @property
    def work(self) -> Path:
        return self.out_dir / "_work"


def _run_stages(job: _Job, runner, timings: dict[str, float]) -> DedupResult:
    parts, work, read, progress = job.parts, job.work, job.read, job.progress
    dedup_params, resolved, size = job.params, job.backend, job.partition_size
    out_dir, plan_report, inputs = job.out_dir, job.plan_report, job.inputs
    text_column, id_column, scheduler = read.text_column, read.id_column, runner.scheduler

    t0 = time.perf_counter()
    with Progress(len(parts), "signatures", enabled=progress) as bar:
        results = runner.run(
            signature_task,
            [(part, dedup_params, resolved, read, str(work)) for part in parts],
            progress=bar,
        )
    timings["signatures"] = time.perf_counter() - t0
    counts_per_part = np.array([r["documents"] for r in results], dtype=np.int64)
    doc_offsets = np.concatenate([[0], np.cumsum(counts_per_part)]).astype(np.int64)
    n_docs = int(doc_offsets[-1])

    # 2. shuffle: band keys split by key range
    t0 = time.perf_counter()
    bands, rows = dedup_params.band_rows
    n_ranges = choose_n_ranges(n_docs, dedup_params, size)
    sig_fp = fingerprint(dedup_params.signature_fingerprint(), text_column, id_column)
    map_fp = fingerprint(sig_fp, bands, rows, n_ranges, [repr(p) for p in parts])
    shuffle_dir = work / f"shuffle-{map_fp}"
    with Progress(len(parts), "shuffle", enabled=progress) as bar:
        map_results = runner.run(
            shuffle_map_task,
            [
                (
                    str(_part_file(work, part)),
                    part.index,
                    int(doc_offsets[i]),
                    dedup_params,
                    n_ranges,
                    resolved,
                    str(shuffle_dir),
                    map_fp,
                )
                for i, part in enumerate(parts)
            ],
            progress=bar,
        )
    timings["shuffle"] = time.perf_counter() - t0

    # 3. verified edges per key range
    t0 = time.perf_counter()
    edge_fp = fingerprint(map_fp, float(dedup_params.threshold), dedup_params.max_anchors)
    edges_dir = work / f"edges-{edge_fp}"
    part_indices = [part.index for part in parts]
    with Progress(n_ranges, "edges", enabled=progress) as bar:
        reduce_results = runner.run(
            shuffle_reduce_task,
            [
                (r, part_indices, dedup_params, resolved, str(shuffle_dir), str(edges_dir))
                for r in range(n_ranges)
            ],
            progress=bar,
        )
    timings["edges"] = time.perf_counter() - t0

    # 4. connected components: in the driver, or in rounds of tasks over edge files
    t0 = time.perf_counter()
    components_dir = work / f"components-{edge_fp}"
    distributed = job.components == "distributed" or (
        job.components == "auto" and n_docs > MAX_DRIVER_DOCS
    )
    if distributed:
        n_edges = sum(r["edges"] for r in reduce_results)
        labels_dir = distributed_components(
            [edges_file(edges_dir, r) for r in range(n_ranges)],
            n_docs,
            work=components_dir,
            runner=runner,
            n_partitions=_components_partitions(n_docs, n_edges, size, runner.workers),
            progress=progress,
        )
        labels = read_labels(labels_dir, n_docs)
    else:
        labels = np.arange(n_docs, dtype=np.int64)  # streamed: one range's edges at a time
        for r in range(n_ranges):
            edges = np.load(edges_file(edges_dir, r))
            union_edges_cpu(
                labels, np.ascontiguousarray(edges[:, 0]), np.ascontiguousarray(edges[:, 1])
            )
        labels = finish_labels_cpu(labels)
    timings["components"] = time.perf_counter() - t0

    # 5. keep flags and outputs
    t0 = time.perf_counter()
    cluster_size = np.bincount(labels, minlength=n_docs).astype(np.int64)[labels]
    n_bytes = _load_column(work, parts, "n_bytes")
    dates, undated = None, None
    if dedup_params.keep == "earliest":
        dates, undated = _load_dates(job, runner)
    keep = choose_kept(labels, n_bytes, dedup_params.keep, dates)
    del dates
    timings["write"] = time.perf_counter() - t0
    provenance = None
    if job.reference is not None:
        t0 = time.perf_counter()
        keep, provenance = _provenance(job, runner, labels, cluster_size, keep)
        timings["provenance"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clusters_table = _write_clusters(
        None if job.in_memory else out_dir, work, parts, labels, cluster_size, keep
    )
    deduped_files: list[str] = []
    if job.write_deduped:
        deduped_files = _write_deduped(parts, work, keep, doc_offsets, out_dir, runner, progress)
    timings["write"] += time.perf_counter() - t0
    _remove_stale(
        work,
        keep_names={shuffle_dir.name, edges_dir.name, components_dir.name, "signatures"},
    )

    report = plan_report
    for result in results:
        report = report.merge(ReadReport.from_dict(result["report"]))
    stats = {
        key: sum(r[key] for r in reduce_results)
        for key in ("candidate_pairs", "verified_edges", "unverified", "edges")
    }
    clusters_stats = {
        "clusters": int(np.count_nonzero(labels == np.arange(n_docs))),
        "duplicate_clusters": int(np.count_nonzero((cluster_size > 1) & keep)),
        "duplicates": int(n_docs - np.count_nonzero(keep)),
        "kept": int(np.count_nonzero(keep)),
        "largest_cluster": int(cluster_size.max()) if n_docs else 0,
    }
    summary = _summary(
        inputs=inputs,
        params=dedup_params,
        read=read,
        backend=resolved,
        scheduler=scheduler,
        partition_size=size,
        parts=parts,
        results=results,
        stage_results={"shuffle": map_results, "edges": reduce_results},
        n_ranges=n_ranges,
        report=report,
        clusters_stats=clusters_stats,
        edge_stats=stats,
        documents_without_shingles=n_docs - sum(r["records"] for r in map_results) // bands,
        duplicate_ids=_count_duplicate_ids(work, parts, read),
        timings=timings,
        deduped_files=deduped_files,
    )
    if undated is not None:
        summary["counts"]["undated_documents"] = undated
        summary["parameters"]["date_column"] = job.date_column
    if provenance is not None:
        summary["provenance"] = provenance["counts"]
    if not job.in_memory:
        write_json_atomic(out_dir / "summary.json", summary)
    _log_summary(summary)
    result = DedupResult(summary, None if job.in_memory else out_dir, clusters_table)
    if provenance is not None:
        result._flags = provenance["flags"]
        result._cluster_flags = provenance["cluster_flags"]
    return result


def _load_dates(job: _Job, runner) -> tuple[np.ndarray, int]:
    """Dates of every document (global order) for ``keep="earliest"``; undated count."""
    with Progress(len(job.parts), "dates", enabled=job.progress) as bar:
        results = runner.run(
            dates_task, [(part, job.read, job.date_column) for part in job.parts], progress=bar
        )
    for part, result in zip(job.parts, results):
        rows = read_signature_file(_part_file(job.work, part)).column("row").to_numpy()
        if not np.array_equal(rows, result["rows"]):
            raise RuntimeError(
                f"{part.path} no longer reads as it did when its signatures were computed; "
                "delete the output folder's _work and run again"
            )
    dates = [r["dates"] for r in results]
    return (
        np.concatenate(dates) if dates else np.zeros(0, np.int64),
        int(sum(r["undated"] for r in results)),
    )


def _components_partitions(n_docs: int, n_edges: int, size: int, workers: int) -> int:
    """Node ranges for distributed components, so that one range's records (two of 16
    bytes per edge in a large-star round, twice that while sorting) and its labels
    (8 bytes per document) fit in ``size`` bytes; at least one range per worker."""
    per_range = max(64 * n_edges, 8 * n_docs)
    return max(1, workers, -(-per_range // max(1, size)))


def _provenance(job: _Job, runner, labels, cluster_size, keep) -> tuple[np.ndarray, dict]:
    """Flag every document against the reference; move keep to unflagged members.

    Writes ``flags.parquet`` and ``cluster_flags.parquet`` next to clusters.parquet
    (work files under ``provenance/``), streaming both part by part: besides the
    per-document arrays it already holds, the driver keeps one flag bit per document
    and aggregates for flagged documents only. Returns the new keep flags and the
    summary counts (plus both tables when the run is in memory).
    """
    from engine.flag_files import flag as run_flag
    from engine.provenance import (
        CLUSTER_FLAGS_SCHEMA,
        LABEL_RANK,
        ClusterFlagStats,
        keep_unflagged,
    )

    flag_dir = None if job.in_memory else job.out_dir / "provenance"
    flagged_run = run_flag(
        job.inputs,
        flag_dir,
        reference=job.reference,
        text_column=job.read.text_column,
        id_column=job.read.id_column,
        backend=job.backend,
        partition_size=job.partition_size,
        strict=job.read.strict,
        progress=job.progress,
        runner=runner,
    )
    n_docs = len(labels)
    stats = ClusterFlagStats()
    flagged = np.zeros(n_docs, dtype=bool)
    if flag_dir is None:
        flag_batches = iter([flagged_run.flags])
    else:
        flag_batches = pq.ParquetFile(flag_dir / "flags.parquet").iter_batches(
            batch_size=65536, columns=["doc_id", "label", "cov_doc", "cov_ref", "ref_ids"]
        )
    pending: list[pa.Table] = []
    pending_rows = 0
    start = 0
    for part in job.parts:
        ids = read_signature_file(_part_file(job.work, part)).column("doc_id").cast(pa.string())
        n = len(ids)
        while pending_rows < n:
            batch = next(flag_batches, None)
            if batch is None:
                break
            table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            pending.append(table)
            pending_rows += table.num_rows
        if pending_rows < n:
            raise RuntimeError(f"flags hold fewer rows than the {n_docs} documents clustered")
        chunk = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
        rows, rest = chunk.slice(0, n), chunk.slice(n)
        pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        if not rows.column("doc_id").cast(pa.string()).equals(pa.chunked_array([ids])):
            raise RuntimeError(
                f"flags and clusters list different documents in {part.path}; "
                "delete the output folder's provenance/ and run again"
            )
        ranks = stats.add(labels[start : start + n], rows)
        flagged[start : start + n] = ranks != LABEL_RANK["none"]
        start += n
    if pending_rows or next(flag_batches, None) is not None:
        raise RuntimeError(f"flags hold more rows than the {n_docs} documents clustered")

    new_keep = keep_unflagged(labels, keep, flagged)
    roots = labels == np.arange(n_docs)
    rollup = None
    if job.in_memory:
        ids = np.flatnonzero(roots)
        rollup = stats.table(ids, cluster_size[ids])
    else:
        tmp = job.out_dir / ".tmp-cluster_flags.parquet"
        writer = pq.ParquetWriter(tmp, CLUSTER_FLAGS_SCHEMA, compression="zstd")
        try:
            step = 1 << 20  # documents per written row group of roots
            for lo in range(0, n_docs, step):
                ids = np.flatnonzero(roots[lo : lo + step]) + lo
                writer.write_table(stats.table(ids, cluster_size[ids]))
        finally:
            writer.close()
        tmp.replace(job.out_dir / "cluster_flags.parquet")
        (flag_dir / "flags.parquet").replace(job.out_dir / "flags.parquet")
    flagged_clusters = len(stats.best)
    counts = {
        "flagged": flagged_run.summary["counts"]["flagged"],
        "labels": flagged_run.summary["counts"]["labels"],
        "flagged_clusters": int(flagged_clusters),
        "keep_moved_to_unflagged": int(np.count_nonzero(new_keep & ~keep)),
        "reference": flagged_run.summary["reference"],
    }
    tables = {"flags": flagged_run.flags if job.in_memory else None, "cluster_flags": rollup}
    return new_keep, {"counts": counts, **tables}


def _load_column(work: Path, parts: list[InputPart], name: str) -> np.ndarray:
    """One int64 column of every part's signature file, concatenated in input order."""
    columns = [read_signature_file(_part_file(work, p)).column(name).to_numpy() for p in parts]
    return np.concatenate(columns).astype(np.int64) if columns else np.zeros(0, np.int64)


def _write_clusters(out_dir, work, parts, labels, cluster_size, keep) -> pa.Table | None:
    """Write clusters.parquet part by part (atomically); return it only when in memory."""
    tables = []
    writer = None
    tmp = None
    if out_dir is not None:
        tmp = out_dir / ".tmp-clusters.parquet"
        writer = pq.ParquetWriter(tmp, CLUSTERS_SCHEMA, compression="zstd")
    start = 0
    try:
        for part in parts:
            ids = read_signature_file(_part_file(work, part)).column("doc_id")
            n = len(ids)
            table = pa.table(
                {
                    "doc_id": ids.cast(pa.string()),
                    "cluster_id": pa.array(labels[start : start + n], type=pa.int64()),
                    "cluster_size": pa.array(cluster_size[start : start + n], type=pa.int64()),
                    "keep": pa.array(keep[start : start + n], type=pa.bool_()),
                },
                schema=CLUSTERS_SCHEMA,
            )
            start += n
            if writer is not None:
                writer.write_table(table)
            else:
                tables.append(table)
    finally:
        if writer is not None:
            writer.close()
    if out_dir is not None:
        tmp.replace(out_dir / "clusters.parquet")
        return None
    return pa.concat_tables(tables) if tables else CLUSTERS_SCHEMA.empty_table()


@numba.njit(cache=True, nogil=True)
def _id_hashes(data, offsets):
    """uint64 (n,): a 64-bit hash (FNV-1a, then fmix64) of each packed string."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = np.uint64(0xCBF29CE484222325)
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * np.uint64(0x100000001B3)
        out[i] = fmix64(h ^ np.uint64(offsets[i + 1] - offsets[i]))
    return out


def _count_duplicate_ids(work: Path, parts: list[InputPart], read: ReadOptions) -> int:
    """Documents whose id an earlier document already had (0 without --id-column).

    Streams the ids part by part and keeps one 64-bit hash per document (8 bytes, not
    the ids): two different ids with the same hash would be counted once too often,
    with probability about n**2 / 2**65 (1e-3 at 200 million documents).
    """
    if read.id_column is None:
        return 0
    hashes = []
    for part in parts:
        ids = read_signature_file(_part_file(work, part)).column("doc_id")
        data, offsets = pack(ids.cast(pa.large_string()).combine_chunks())
        hashes.append(_id_hashes(data, offsets))
    if not hashes:
        return 0
    allh = np.sort(np.concatenate(hashes))
    return int(np.count_nonzero(allh[1:] == allh[:-1])) if len(allh) else 0


def _remove_stale(work: Path, keep_names: set[str]) -> None:
    """Remove work folders of earlier parameter sets (other fingerprints)."""
    for path in work.iterdir():
        if path.is_dir() and path.name not in keep_names:
            shutil.rmtree(path, ignore_errors=True)


def _write_deduped(parts, work, keep, doc_offsets, out_dir, runner, progress) -> list[str]:
    args = []
    for i, part in enumerate(parts):
        rows = read_signature_file(_part_file(work, part)).column("row").to_numpy()
        part_keep = keep[doc_offsets[i] : doc_offsets[i + 1]]
        args.append((part, np.sort(rows[part_keep]).astype(np.int64), str(out_dir)))
    with Progress(len(args), "write-deduped", enabled=progress) as bar:
        written = runner.run(write_kept_task, args, progress=bar)
    return [w for w in written if w is not None]


def _versions() -> dict:
    import numba
    import pyarrow

    from engine import __version__

    return {
        "ouroboros": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pyarrow": pyarrow.__version__,
        "unicode": unicode_version(),
    }


def _summary(
    *,
    inputs,
    params,
    read,
    backend,
    scheduler,
    partition_size,
    parts,
    results,
    stage_results,
    n_ranges,
    report,
    clusters_stats,
    edge_stats,
    documents_without_shingles,
    duplicate_ids,
    timings,
    deduped_files,
) -> dict:
    n_docs = int(sum(r["documents"] for r in results))
    return {
        "command": "dedup",
        "inputs": inputs,
        "parameters": {
            **params.to_dict(),
            "text_column": read.text_column,
            "id_column": read.id_column,
            "strict": read.strict,
            "partition_size": partition_size,
        },
        "backend": backend,
        "scheduler": scheduler,
        "counts": {
            "partitions": len(parts),
            "partitions_reused": sum(1 for r in results if r.get("reused")),
            "shuffle_ranges": n_ranges,
            "stages_reused": {
                name: sum(1 for r in rs if r.get("reused")) for name, rs in stage_results.items()
            },
            "documents": n_docs,
            "bytes": int(sum(r["bytes"] for r in results)),
            **clusters_stats,
            "documents_without_shingles": int(documents_without_shingles),
            "duplicate_doc_ids": int(duplicate_ids),
            "shuffle_records": int(sum(r["records"] for r in stage_results["shuffle"])),
            "candidate_pairs": edge_stats["candidate_pairs"],
            "verified_edges": edge_stats["verified_edges"],
            "edges": edge_stats["edges"],
            "unverified_bucket_members": edge_stats["unverified"],
        },
        "read": report.to_dict(),
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "memory": {
            "task_peak_rss_mib": max(
                [
                    r.get("peak_rss_mib", 0.0)
                    for rs in [results, *stage_results.values()]
                    for r in rs
                ]
                or [0.0]
            ),
            "driver_peak_rss_mib": peak_rss_mib(),
        },
        "deduped_files": deduped_files,
        "versions": _versions(),
    }


def _log_summary(summary: dict) -> None:
    counts = summary["counts"]
    skipped = sum(summary["read"].get("skipped", {}).values())
    log.info(
        "%d documents, %d clusters, %d duplicates removed, %d records skipped",
        counts["documents"],
        counts["clusters"],
        counts["duplicates"],
        skipped,
    )
    if counts["duplicate_doc_ids"]:
        log.warning("%d doc_id values occur more than once", counts["duplicate_doc_ids"])
