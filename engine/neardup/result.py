"""What near-duplicate search produces: ``clusters.parquet`` and :class:`DedupResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.io import InputPart, InputRows, select_rows
from engine.neardup.signatures import read_signatures
from engine.neardup.similarity import member_similarity
from engine.run.atomic import parquet_writer_atomic

CLUSTERS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("cluster_id", pa.int64()),
        ("cluster_size", pa.int64()),
        ("keep", pa.bool_()),
        ("similarity", pa.float32()),
    ]
)
"""``similarity``: the document's Jaccard to its cluster's kept document, estimated
from their MinHash signatures (1.0 for the kept document and for singletons); below
the threshold for members joined through a chain of edges
(:func:`engine.neardup.similarity.member_similarity`)."""


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
        input_rows: for an in-memory input, where its documents sit in its rows
            (:class:`engine.io.InputRows`); None for files.

    Row-aligned views (:attr:`keep`, :attr:`cluster_id`, :meth:`filter`): for an
    in-memory input one entry per input row, rows that were not read (null or
    non-string text, counted in ``summary["read"]``) kept with ``cluster_id`` -1; for
    files one entry per ``clusters`` row (documents in input order).

    Example:
        >>> result = engine.dedup(df, text_column="text")  # doctest: +SKIP
        >>> deduped = result.filter(df)  # df without the duplicates  # doctest: +SKIP
    """

    summary: dict
    out: Path | None
    _clusters: pa.Table | None = field(default=None, repr=False)
    _flags: pa.Table | None = field(default=None, repr=False)
    _cluster_flags: pa.Table | None = field(default=None, repr=False)
    input_rows: InputRows | None = field(default=None, repr=False)

    def attach_input(self, spilled) -> None:
        """Align with the rows of an in-memory input (an ``engine.io`` spilled input)."""
        self.input_rows = spilled.input_rows()

    @property
    def rows(self) -> np.ndarray | None:
        """int64 (n_docs,): the input row of each ``clusters`` row (None for files)."""
        return None if self.input_rows is None else self.input_rows.rows

    @property
    def keep(self) -> np.ndarray:
        """bool (n_rows,): False for the rows to drop as near-duplicates."""
        return self._aligned("keep", True)

    @property
    def cluster_id(self) -> np.ndarray:
        """int64 (n_rows,): the cluster of each row (the document index of its first
        member, as in ``clusters``); -1 for rows not read."""
        return self._aligned("cluster_id", -1)

    def filter(self, obj):
        """``obj`` (the input, or any object with the same rows) without the rows
        dropped as near-duplicates: a Table, DataFrame, Dataset (``select``),
        IterableDataset (lazy ``filter``), mapping or list as given
        (:func:`engine.io.select_rows`)."""
        return select_rows(obj, self.keep)

    def _aligned(self, column: str, fill) -> np.ndarray:
        values = self.clusters.column(column).to_numpy()
        return values if self.input_rows is None else self.input_rows.spread(values, fill)

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
    similarities = member_similarity(work, parts, labels, cluster_size, keep)
    for part, similarity in zip(parts, similarities, strict=True):
        ids = read_signatures(work, part).column("doc_id")
        end = start + len(ids)
        yield pa.table(
            {
                "doc_id": ids.cast(pa.string()),
                "cluster_id": pa.array(labels[start:end], type=pa.int64()),
                "cluster_size": pa.array(cluster_size[start:end], type=pa.int64()),
                "keep": pa.array(keep[start:end], type=pa.bool_()),
                "similarity": pa.array(similarity, type=pa.float32()),
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
