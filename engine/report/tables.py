"""Bounded reading of the output tables: a report's cost never grows with the run's size.

Every aggregate reads only the columns it needs, one row group at a time, and at most
:data:`ROW_BUDGET` rows per table: a larger table is *sampled* by reading evenly spaced
row groups, and the aggregate says which share of the rows it saw
(:attr:`RowGroupSample.fraction`). Two questions are answered exactly whatever the size,
because the footer's statistics say where to look:

- :func:`largest_clusters`: the ``k`` largest clusters (row groups are visited by their
  ``cluster_size`` maximum, largest first, until none can beat the ``k``-th found);
- :func:`rows_where_in`: the rows whose value is in a small set (row groups whose
  min/max cannot hold one are skipped).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = [
    "ROW_BUDGET",
    "RowGroupSample",
    "column_names",
    "largest_clusters",
    "lookup_by_position",
    "rows_where_in",
    "sample_row_groups",
]

ROW_BUDGET = 4_000_000  # rows read per table for an aggregate; more are sampled


@dataclass(frozen=True)
class RowGroupSample:
    """The row groups of one Parquet file that an aggregate reads.

    Attributes:
        path: the file.
        row_groups: indices of the row groups to read, ascending.
        rows_read: rows in those row groups.
        rows_total: rows in the file.
    """

    path: Path
    row_groups: tuple[int, ...]
    rows_read: int
    rows_total: int

    @property
    def fraction(self) -> float:
        """Share of the file's rows read (1.0 when nothing was sampled)."""
        return self.rows_read / self.rows_total if self.rows_total else 1.0

    @property
    def sampled(self) -> bool:
        return self.rows_read < self.rows_total

    def note(self, what: str = "rows") -> str:
        """A sentence saying that an aggregate comes from a sample ("" when it does not)."""
        if not self.sampled:
            return ""
        return (
            f"Estimated from a sample: {self.rows_read:,} of {self.rows_total:,} {what} "
            f"({self.fraction:.1%}, evenly spaced row groups)."
        )

    def batches(self, columns: Sequence[str]) -> Iterator[pa.Table]:
        """The chosen row groups, one table each, holding only ``columns``."""
        parquet = pq.ParquetFile(self.path)
        for group in self.row_groups:
            yield parquet.read_row_group(group, columns=list(columns))

    def read(self, columns: Sequence[str]) -> pa.Table:
        """The chosen row groups as one table (at most about :data:`ROW_BUDGET` rows)."""
        tables = list(self.batches(columns))
        if not tables:
            return pq.ParquetFile(self.path).schema_arrow.empty_table().select(list(columns))
        return pa.concat_tables(tables)


def column_names(path: Path) -> list[str]:
    """The column names of a Parquet file (from its footer)."""
    return list(pq.ParquetFile(path).schema_arrow.names)


def sample_row_groups(path: Path, budget_rows: int = ROW_BUDGET) -> RowGroupSample:
    """All row groups of ``path`` when they hold at most ``budget_rows`` rows, else evenly
    spaced ones holding about ``budget_rows`` (at least one group)."""
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    total = int(sum(sizes))
    if total <= budget_rows or not sizes:
        return RowGroupSample(path, tuple(range(len(sizes))), total, total)
    mean_rows = total / len(sizes)
    wanted = max(1, min(len(sizes), int(budget_rows // max(mean_rows, 1))))
    groups = tuple(sorted({int(g) for g in np.linspace(0, len(sizes) - 1, wanted)}))
    return RowGroupSample(path, groups, int(sum(sizes[g] for g in groups)), total)


def _column_range(metadata: pq.FileMetaData, group: int, name: str) -> tuple | None:
    """(min, max) of column ``name`` in one row group, or None without statistics."""
    row_group = metadata.row_group(group)
    for index in range(row_group.num_columns):
        column = row_group.column(index)
        if column.path_in_schema == name:
            stats = column.statistics
            if stats is None or not stats.has_min_max:
                return None
            return stats.min, stats.max
    return None


def largest_clusters(path: Path, k: int) -> list[tuple[int, int]]:
    """The ``k`` largest clusters of size >= 2 in ``clusters.parquet``, exactly.

    Returns ``[(cluster_id, cluster_size), ...]``, largest first (ties: smaller id
    first). Row groups are read (columns ``cluster_id``, ``cluster_size`` only) in
    decreasing order of their ``cluster_size`` maximum, stopping when the next group's
    maximum cannot beat the ``k``-th cluster found.
    """
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    order = []
    for group in range(metadata.num_row_groups):
        bounds = _column_range(metadata, group, "cluster_size")
        order.append((bounds[1] if bounds else np.iinfo(np.int64).max, group))
    order.sort(reverse=True)
    best: dict[int, int] = {}
    for group_max, group in order:
        if group_max < 2:
            break
        if len(best) >= k and group_max < sorted(best.values(), reverse=True)[k - 1]:
            break
        table = parquet.read_row_group(group, columns=["cluster_id", "cluster_size"])
        big = table.filter(pc.greater_equal(table["cluster_size"], 2))
        ids = big["cluster_id"].to_numpy()
        sizes = big["cluster_size"].to_numpy()
        for cluster_id, size in zip(ids.tolist(), sizes.tolist()):
            best[cluster_id] = size
        if len(best) > 4 * k:  # keep memory bounded: drop all but the best k
            best = dict(sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k])
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]


def rows_where_in(
    path: Path, column: str, values: Sequence[int], columns: Sequence[str]
) -> pa.Table:
    """Rows of ``path`` whose ``column`` (int64) is in ``values`` (a small set), with
    ``columns``; row groups whose min/max statistics exclude every value are not read."""
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    wanted = np.unique(np.asarray(list(values), dtype=np.int64))
    value_set = pa.array(wanted, type=pa.int64())
    read_columns = list(dict.fromkeys([*columns, column]))
    tables = []
    for group in range(metadata.num_row_groups):
        bounds = _column_range(metadata, group, column)
        if bounds is not None:
            low, high = bounds
            inside = wanted[(wanted >= low) & (wanted <= high)]
            if inside.size == 0:
                continue
        table = parquet.read_row_group(group, columns=read_columns)
        tables.append(table.filter(pc.is_in(table[column], value_set=value_set)))
    if not tables:
        return parquet.schema_arrow.empty_table().select(read_columns).select(list(columns))
    return pa.concat_tables(tables).select(list(columns))


def lookup_by_position(path: Path, column: str, positions: np.ndarray) -> np.ndarray:
    """``column`` at the given 0-based row positions of ``path``.

    ``positions``: int64 (m,), any order, each in ``[0, rows)``. Returns an array (m,)
    of the column's values. The column is streamed one row group at a time (memory: one
    row group plus the answer), so the cost is one pass over one column.
    """
    positions = np.asarray(positions, dtype=np.int64)
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    total = metadata.num_rows
    if positions.size and (positions.min() < 0 or positions.max() >= total):
        raise ValueError(
            f"{path}: row positions must lie in [0, {total}), got "
            f"[{positions.min()}, {positions.max()}]; the edges and clusters files are "
            "from different runs"
        )
    order = np.argsort(positions, kind="stable")
    sorted_positions = positions[order]
    values = None
    start = 0
    for group in range(metadata.num_row_groups):
        end = start + metadata.row_group(group).num_rows
        low, high = np.searchsorted(sorted_positions, [start, end])
        if high > low:
            chunk = parquet.read_row_group(group, columns=[column])[column].to_numpy()
            picked = chunk[sorted_positions[low:high] - start]
            if values is None:
                values = np.empty(positions.size, dtype=picked.dtype)
            values[order[low:high]] = picked
        start = end
    return values if values is not None else np.empty(0, dtype=np.int64)
