"""What near-duplicate search produces: ``clusters.parquet`` and :class:`DedupResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import InputPart
from engine.neardup.signatures import read_signatures
from engine.run.atomic import parquet_writer_atomic

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
    """What :func:`engine.dedup` returns.

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


def _part_tables(work: Path, parts: list[InputPart], labels, cluster_size, keep):
    """``clusters.parquet`` rows of each part in turn (ids from the signature files)."""
    start = 0
    for part in parts:
        ids = read_signatures(work, part).column("doc_id")
        end = start + len(ids)
        yield pa.table(
            {
                "doc_id": ids.cast(pa.string()),
                "cluster_id": pa.array(labels[start:end], type=pa.int64()),
                "cluster_size": pa.array(cluster_size[start:end], type=pa.int64()),
                "keep": pa.array(keep[start:end], type=pa.bool_()),
            },
            schema=CLUSTERS_SCHEMA,
        )
        start = end


def write_clusters(
    out_dir: Path | None,
    work: Path,
    parts: list[InputPart],
    labels: np.ndarray,
    cluster_size: np.ndarray,
    keep: np.ndarray,
) -> pa.Table | None:
    """Write ``clusters.parquet`` part by part (atomically) into ``out_dir``; with
    ``out_dir=None`` return the table instead.

    ``labels``, ``cluster_size``: int64 (n,); ``keep``: bool (n,), global input order.
    """
    tables = _part_tables(work, parts, labels, cluster_size, keep)
    if out_dir is None:
        return pa.concat_tables(list(tables)) if parts else CLUSTERS_SCHEMA.empty_table()
    with parquet_writer_atomic(out_dir / "clusters.parquet", CLUSTERS_SCHEMA) as writer:
        for table in tables:
            writer.write_table(table)
    return None
