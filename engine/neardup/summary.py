"""``summary.json`` of a dedup run: parameters, counts per stage, read report, timings,
memory and versions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa

from engine.io import InputPart, ReadOptions
from engine.io.texts import pack
from engine.neardup.signatures import read_signatures
from engine.run.summary import memory, merged_report, reused, rounded, versions
from kernels.hashing import string_hashes

log = logging.getLogger("ouroboros")

EDGE_COUNTS = ("candidate_pairs", "verified_edges", "unverified", "edges")


def dedup_summary(job, scheduler: str, labels, cluster_size, keep, deduped_files) -> dict:
    """The summary of a finished :class:`engine.neardup.pipeline.DedupJob`.

    ``labels``, ``cluster_size``: int64 (n,); ``keep``: bool (n,).
    """
    signatures, shuffle, edges = (job.results[k] for k in ("signatures", "shuffle", "edges"))
    n_docs = len(labels)
    bands, _ = job.params.band_rows
    edge_stats = {key: sum(r[key] for r in edges) for key in EDGE_COUNTS}
    shuffle_records = int(sum(r["records"] for r in shuffle))
    counts = {
        "partitions": len(job.parts),
        "partitions_reused": reused(signatures),
        "shuffle_ranges": len(edges),
        "stages_reused": {"shuffle": reused(shuffle), "edges": reused(edges)},
        "documents": n_docs,
        "bytes": int(sum(r["bytes"] for r in signatures)),
        "clusters": int(np.count_nonzero(labels == np.arange(n_docs))),
        "duplicate_clusters": int(np.count_nonzero((cluster_size > 1) & keep)),
        "duplicates": int(n_docs - np.count_nonzero(keep)),
        "kept": int(np.count_nonzero(keep)),
        "largest_cluster": int(cluster_size.max()) if n_docs else 0,
        "documents_without_shingles": int(n_docs - shuffle_records // bands),
        "duplicate_doc_ids": count_duplicate_ids(job.work, job.parts, job.read),
        "shuffle_records": shuffle_records,
        "candidate_pairs": edge_stats["candidate_pairs"],
        "verified_edges": edge_stats["verified_edges"],
        "edges": edge_stats["edges"],
        "unverified_bucket_members": edge_stats["unverified"],
        **job.counts,
    }
    parameters = {
        **job.params.to_dict(),
        **job.read.to_dict(),
        "partition_size": job.partition_size,
    }
    if job.params.keep == "earliest":
        parameters["date_column"] = job.date_column
    return {
        "command": "dedup",
        "inputs": job.inputs,
        "parameters": parameters,
        "backend": job.backend,
        "scheduler": scheduler,
        "choices": job.choices,
        "counts": counts,
        "read": merged_report(job.plan_report, signatures).to_dict(),
        "timings_s": rounded(job.timings),
        "memory": memory(signatures, shuffle, edges),
        "deduped_files": deduped_files,
        "versions": versions(),
    }


def count_duplicate_ids(work: Path, parts: list[InputPart], read: ReadOptions) -> int:
    """Documents whose id an earlier document already had (0 without an id column).

    Streams the ids part by part and keeps one 64-bit hash per document (8 bytes, not
    the ids): two different ids with the same hash would be counted once too often,
    with probability about n**2 / 2**65 (1e-3 at 200 million documents).
    """
    if read.id_column is None:
        return 0
    hashes = []
    for part in parts:
        ids = read_signatures(work, part).column("doc_id")
        data, offsets = pack(ids.cast(pa.large_string()).combine_chunks())
        hashes.append(string_hashes(data, offsets))
    if not hashes:
        return 0
    ordered = np.sort(np.concatenate(hashes))
    return int(np.count_nonzero(ordered[1:] == ordered[:-1]))


def log_summary(summary: dict) -> None:
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
