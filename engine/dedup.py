"""The near-duplicate pipeline over files: read -> signatures -> clusters -> outputs.

Stage 1 (per input partition, scheduled by :mod:`engine.cluster`): read the part in
batches, compute signatures and band keys, write ``_work/signatures/part-NNNNN.arrow``.
A part whose file exists with the same parameter fingerprint is not recomputed, so
rerunning a command with the same ``--out`` resumes it.

Stage 2 (driver): load every part's signatures in input order, verified LSH edges,
connected components, keep flags; write ``clusters.parquet`` and ``summary.json``.

Stage 3 (optional, per part): ``deduped/`` holds the kept documents in the input's
own format.
"""

from __future__ import annotations

import logging
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.cluster import run_tasks
from engine.deduped_writer import write_kept
from engine.inputs import InputPart, ReadReport, parse_size, plan_parts, read_part
from engine.near_dup import cluster_documents, partition_signatures
from engine.params import DedupParams
from engine.progress import Progress, prefetch
from engine.storage import (
    matrix_of,
    read_signature_file,
    read_signature_meta,
    write_json_atomic,
    write_parquet_atomic,
    write_signature_file,
)
from kernels.backend import resolve_backend
from kernels.unicode_table import unicode_version

log = logging.getLogger("ouroboros")

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
        clusters: pyarrow Table with the ``clusters.parquet`` schema, input order.
        summary: the ``summary.json`` content.
        out: the output folder, or None when ``out`` was not given.
    """

    clusters: pa.Table
    summary: dict
    out: Path | None


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
    fingerprint = params.signature_fingerprint()
    meta = read_signature_meta(path)
    if meta and meta.get("fingerprint") == fingerprint and meta.get("part") == repr(part):
        return {"reused": True, **meta["result"]}
    started = time.perf_counter()
    report = ReadReport()
    ids, rows, n_bytes, sigs, keys = [], [], [], [], []
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
        keys.append(out.band_keys)
    bands, _ = params.band_rows
    result = {
        "documents": int(sum(len(r) for r in rows)),
        "bytes": int(sum(int(b.sum()) for b in n_bytes)),
        "seconds": round(time.perf_counter() - started, 4),
        "report": report.to_dict(),
    }
    write_signature_file(
        path,
        doc_ids=pa.concat_arrays(ids) if ids else pa.array([], type=pa.string()),
        rows=np.concatenate(rows) if rows else np.zeros(0, np.int64),
        n_bytes=np.concatenate(n_bytes) if n_bytes else np.zeros(0, np.int64),
        signatures=np.concatenate(sigs) if sigs else np.zeros((0, params.num_perm), np.uint32),
        band_keys=np.concatenate(keys) if keys else np.zeros((0, bands), np.uint64),
        meta={"fingerprint": fingerprint, "part": repr(part), "result": result},
    )
    return {"reused": False, **result}


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
    scheduler: str = "threads",
    workers: int | None = None,
    partition_size: str | int = "256MB",
    write_deduped: bool = False,
    strict: bool = False,
    progress: bool = True,
    **params,
) -> DedupResult:
    """Find near-duplicate clusters in files.

    Args:
        inputs: a path or list of paths (JSONL[.gz|.zst], Parquet, WARC/WET, text
            files or folders).
        out: output folder for clusters.parquet, summary.json and work files; None
            keeps everything in memory (a temporary work folder is removed).
        text_column, id_column: columns to read; without id_column doc_id is
            ``<path>:<row>``.
        backend: "auto", "cpu" or "cuda". scheduler, workers: see engine.cluster.
        partition_size: bytes per input partition ("256MB"). write_deduped: also
            write the kept documents under ``out/deduped/``.
        strict: malformed records raise instead of being counted and skipped.
        **params: DedupParams fields (shingle, ngram, num_perm, threshold, bands,
            rows, seed, keep, max_anchors).

    Example:
        >>> result = engine.dedup(["crawl.jsonl.gz"], out="out/")  # doctest: +SKIP
        >>> result.clusters.filter(~result.clusters["keep"]).num_rows  # doctest: +SKIP
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    dedup_params = DedupParams(**params)
    resolved = resolve_backend(backend)
    if write_deduped and out is None:
        raise ValueError("write_deduped needs an output folder: pass out=...")
    read = ReadOptions(text_column=text_column, id_column=id_column, strict=strict)
    size = parse_size(partition_size)
    timings: dict[str, float] = {}

    temp_dir = None
    if out is None:
        temp_dir = tempfile.mkdtemp(prefix="ouroboros-")
        out_dir = Path(temp_dir)
    else:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "_work"
    try:
        t0 = time.perf_counter()
        plan_report = ReadReport()
        parts = plan_parts([str(p) for p in inputs], size, report=plan_report)
        timings["plan"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        with Progress(len(parts), "signatures", enabled=progress) as bar:
            results = run_tasks(
                signature_task,
                [(part, dedup_params, resolved, read, str(work)) for part in parts],
                scheduler=scheduler,
                workers=workers,
                progress=bar,
            )
        timings["signatures"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        tables = [read_signature_file(_part_file(work, part)) for part in parts]
        table = pa.concat_tables(tables) if tables else None
        bands, _ = dedup_params.band_rows
        if table is None or table.num_rows == 0:
            signatures = np.zeros((0, dedup_params.num_perm), np.uint32)
            band_keys = np.zeros((0, bands), np.uint64)
            n_bytes = np.zeros(0, np.int64)
            doc_ids = pa.array([], type=pa.string())
        else:
            signatures = matrix_of(table.column("signature"), dedup_params.num_perm, np.uint32)
            band_keys = matrix_of(table.column("band_keys"), bands, np.uint64)
            n_bytes = table.column("n_bytes").to_numpy()
            doc_ids = table.column("doc_id").combine_chunks()
        timings["load"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        clusters = cluster_documents(signatures, band_keys, n_bytes, dedup_params, resolved)
        timings["cluster"] = time.perf_counter() - t0

        clusters_table = pa.table(
            {
                "doc_id": doc_ids.cast(pa.string()),
                "cluster_id": pa.array(clusters.cluster_id, type=pa.int64()),
                "cluster_size": pa.array(clusters.cluster_size, type=pa.int64()),
                "keep": pa.array(clusters.keep, type=pa.bool_()),
            },
            schema=CLUSTERS_SCHEMA,
        )
        t0 = time.perf_counter()
        if out is not None:
            write_parquet_atomic(out_dir / "clusters.parquet", clusters_table)
        deduped_files: list[str] = []
        if write_deduped:
            deduped_files = _write_deduped(
                parts, tables, clusters.keep, out_dir, scheduler, workers, progress
            )
        timings["write"] = time.perf_counter() - t0

        report = plan_report
        for result in results:
            report = report.merge(ReadReport.from_dict(result["report"]))
        summary = _summary(
            inputs=[str(p) for p in inputs],
            params=dedup_params,
            read=read,
            backend=resolved,
            scheduler=scheduler,
            partition_size=size,
            parts=parts,
            results=results,
            report=report,
            clusters=clusters,
            doc_ids=doc_ids,
            timings=timings,
            deduped_files=deduped_files,
        )
        if out is not None:
            write_json_atomic(out_dir / "summary.json", summary)
        _log_summary(summary)
        return DedupResult(clusters_table, summary, None if out is None else out_dir)
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _write_deduped(parts, tables, keep, out_dir, scheduler, workers, progress) -> list[str]:
    args = []
    start = 0
    for part, table in zip(parts, tables):
        n = table.num_rows
        rows = table.column("row").to_numpy()
        kept_rows = np.sort(rows[keep[start : start + n]]).astype(np.int64)
        start += n
        args.append((part, kept_rows, str(out_dir)))
    with Progress(len(args), "write-deduped", enabled=progress) as bar:
        written = run_tasks(
            write_kept_task, args, scheduler=scheduler, workers=workers, progress=bar
        )
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
    report,
    clusters,
    doc_ids,
    timings,
    deduped_files,
) -> dict:
    n_docs = len(clusters.keep)
    duplicate_ids = 0
    if read.id_column is not None and n_docs:
        duplicate_ids = n_docs - len(pc.unique(doc_ids))
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
            "documents": n_docs,
            "bytes": int(sum(r["bytes"] for r in results)),
            "clusters": clusters.stats["clusters"],
            "duplicate_clusters": clusters.stats["duplicate_clusters"],
            "duplicates": clusters.stats["duplicates"],
            "kept": int(np.count_nonzero(clusters.keep)),
            "largest_cluster": clusters.stats["largest_cluster"],
            "documents_without_shingles": clusters.stats["documents_without_shingles"],
            "duplicate_doc_ids": int(duplicate_ids),
            "candidate_pairs": clusters.stats["candidate_pairs"],
            "verified_edges": clusters.stats["verified_edges"],
            "edges": clusters.stats["edges"],
            "unverified_bucket_members": clusters.stats["unverified"],
        },
        "read": report.to_dict(),
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
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
