"""``dedup --reference``: flag every document against a reference index (through
:func:`engine.provenance.flag`), roll the flags up per cluster, and move each
cluster's keep to an unflagged member where one exists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import InputPart, ReadOptions
from engine.neardup.signatures import read_signatures
from engine.provenance import (
    CLUSTER_FLAGS_SCHEMA,
    FLAGS_SCHEMA,
    LABEL_RANK,
    ClusterFlagStats,
    flag,
    keep_unflagged,
)
from engine.run.atomic import parquet_writer_atomic

ROOTS_PER_ROW_GROUP = 1 << 20
FLAG_COLUMNS = ["doc_id", "label", "cov_doc", "cov_ref", "ref_ids"]


def flag_clusters(
    *,
    inputs: list[str],
    parts: list[InputPart],
    work: Path,
    out_dir: Path | None,
    reference: str,
    read: ReadOptions,
    backend: str,
    partition_size: int,
    progress: bool,
    runner,
    labels: np.ndarray,
    cluster_size: np.ndarray,
    keep: np.ndarray,
) -> tuple[np.ndarray, dict]:
    """Flag every document; return the new keep flags (bool (n,)) and a dict with the
    summary ``counts`` (plus ``flags``/``cluster_flags`` tables when in memory).

    With ``out_dir``, writes ``flags.parquet`` and ``cluster_flags.parquet`` next to
    ``clusters.parquet`` (work files under ``provenance/``), streaming both part by
    part: besides the per-document arrays it is given, memory holds one flag bit per
    document and aggregates for flagged documents only.
    """
    flag_dir = None if out_dir is None else out_dir / "provenance"
    flagged_run = flag(
        inputs,
        flag_dir,
        reference=reference,
        text_column=read.text_column,
        id_column=read.id_column,
        backend=backend,
        partition_size=partition_size,
        strict=read.strict,
        max_skipped=read.max_skipped,
        html_text=read.html_text,
        progress=progress,
        runner=runner,
    )
    n_docs = len(labels)
    stats = ClusterFlagStats()
    flagged = np.zeros(n_docs, dtype=bool)
    start = 0
    batches = _flag_batches(flagged_run.flags if flag_dir is None else flag_dir / "flags.parquet")
    for rows in _flags_per_part(work, parts, batches, n_docs):
        n = rows.num_rows
        ranks = stats.add(labels[start : start + n], rows)
        flagged[start : start + n] = ranks != LABEL_RANK["none"]
        start += n

    new_keep = keep_unflagged(labels, keep, flagged)
    roots = labels == np.arange(n_docs)
    rollup = None
    if out_dir is None:
        ids = np.flatnonzero(roots)
        rollup = stats.table(ids, cluster_size[ids])
    else:
        path = out_dir / "cluster_flags.parquet"
        with parquet_writer_atomic(path, CLUSTER_FLAGS_SCHEMA) as writer:
            for lo in range(0, n_docs, ROOTS_PER_ROW_GROUP):
                ids = np.flatnonzero(roots[lo : lo + ROOTS_PER_ROW_GROUP]) + lo
                writer.write_table(stats.table(ids, cluster_size[ids]))
        (flag_dir / "flags.parquet").replace(out_dir / "flags.parquet")
    counts = {
        "flagged": flagged_run.summary["counts"]["flagged"],
        "labels": flagged_run.summary["counts"]["labels"],
        "flagged_clusters": int(len(stats.best)),
        "keep_moved_to_unflagged": int(np.count_nonzero(new_keep & ~keep)),
        "reference": flagged_run.summary["reference"],
    }
    tables = {"flags": flagged_run.flags if out_dir is None else None, "cluster_flags": rollup}
    return new_keep, {"counts": counts, **tables}


def _flag_batches(source: pa.Table | Path) -> Iterator[pa.Table]:
    """The flags (in memory, or read from a Parquet file in batches) as tables."""
    if isinstance(source, pa.Table):
        yield source
        return
    for batch in pq.ParquetFile(source).iter_batches(batch_size=65536, columns=FLAG_COLUMNS):
        yield pa.Table.from_batches([batch])


def _flags_per_part(
    work: Path, parts: list[InputPart], batches: Iterator[pa.Table], n_docs: int
) -> Iterator[pa.Table]:
    """The flag rows of each part in turn, checked against its clustered doc ids."""
    pending: list[pa.Table] = []
    pending_rows = 0
    for part in parts:
        ids = read_signatures(work, part).column("doc_id").cast(pa.string())
        n = len(ids)
        while pending_rows < n:
            table = next(batches, None)
            if table is None:
                raise RuntimeError(f"flags hold fewer rows than the {n_docs} documents clustered")
            pending.append(table)
            pending_rows += table.num_rows
        chunk = pa.concat_tables(pending) if len(pending) > 1 else _first_or_empty(pending)
        rows, rest = chunk.slice(0, n), chunk.slice(n)
        pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        # ChunkedArray.equals compares values, whatever the chunking (an empty part's
        # ids may have no chunk at all: wrapping them again would give a null type)
        if not rows.column("doc_id").cast(pa.string()).equals(ids):
            raise RuntimeError(
                f"flags and clusters list different documents in {part.path}; "
                "delete the output folder's provenance/ and run again"
            )
        yield rows
    if pending_rows or next(batches, None) is not None:
        raise RuntimeError(f"flags hold more rows than the {n_docs} documents clustered")


def _first_or_empty(pending: list[pa.Table]) -> pa.Table:
    """The one pending table; an empty flags slice for a part with no documents."""
    if pending:
        return pending[0]
    return FLAGS_SCHEMA.empty_table().select(FLAG_COLUMNS)
