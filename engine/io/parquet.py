"""Parquet reader: the text from a string (or binary) column, read in row batches.

A part reads a group of row groups (:func:`engine.io.plan_parts`); ``row`` is the 0-based
row index in the file, from the footer's row counts. Batches hold about ``batch_bytes``,
estimated from the footer's row-group sizes. Rows whose text is null are
counted as ``missing_text``; a null ``id_column`` value takes the default ``path:row`` id.
Extra ``columns`` are carried with their stored types.

Row groups are read one by one, so a damaged one costs only its own rows: the rows it
could not give (all of them, or those after the batch that failed) are counted as
``corrupt_row_group`` (one count per row, one example at the first lost row), and the
next group is read. Page checksums are verified where the file has them. A file whose
footer cannot be read is one ``unreadable_file`` (see :func:`engine.io.read_part`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.io.reading import (
    RESERVED_COLUMNS,
    Reading,
    check_columns_present,
    decode_utf8,
    id_list,
)
from engine.io.remote import open_parquet
from engine.io.report import InputError

__all__ = ["read_parquet", "row_group_error", "row_group_starts"]

MAX_PARQUET_BATCH_ROWS = 2**16
CORRUPT_ROW_GROUP = "corrupt_row_group"


def read_parquet(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the Parquet part ``reading.part``: its row groups, in batches of at
    most 65536 rows and about ``reading.batch_bytes`` bytes of text."""
    part = reading.part
    try:  # a remote file is opened through fsspec (engine.io.remote)
        source = open_parquet(part.path, part.storage_options, page_checksum_verification=True)
        schema = source.file.schema_arrow
    except UnicodeDecodeError as err:  # column names in a damaged footer
        raise OSError(f"damaged Parquet footer: {err}") from err
    with source as parquet:
        yield from _read_row_groups(reading, parquet, schema)


def check_table_schema(reading: Reading, schema: pa.Schema) -> None:
    """The columns asked for are in ``schema`` and the text column holds strings
    (dictionary-encoded or not); else ``InputError`` naming the string columns there
    are. Shared by the Parquet and Arrow IPC readers."""
    strings = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    check_columns_present(reading, schema.names, strings)
    text_type = schema.field(reading.text_column).type
    if pa.types.is_dictionary(text_type):
        text_type = text_type.value_type
    if not _is_text_type(text_type):
        hint = f"Pass --text-column {strings[0]}" if strings else "Pass a string column"
        raise InputError(
            f"text column {reading.text_column!r} in {reading.path} has type {text_type}, "
            f"not string; string columns: {strings}. {hint}"
        )


def _read_row_groups(
    reading: Reading, parquet: pq.ParquetFile, schema: pa.Schema
) -> Iterator[pa.Table]:
    part = reading.part
    check_table_schema(reading, schema)
    all_groups = list(range(parquet.num_row_groups))
    row_groups = all_groups if part.row_groups is None else list(part.row_groups)
    reading.whole_file = row_groups == all_groups
    if not row_groups:
        return
    read_columns = list(dict.fromkeys([reading.text_column, *id_list(reading), *reading.columns]))
    metadata = parquet.metadata
    batch_rows = _parquet_batch_rows(metadata, row_groups, reading.batch_bytes)
    starts = row_group_starts(metadata)
    for rg in row_groups:
        first_row, end_row = starts[rg], starts[rg + 1]
        next_row = first_row
        reading.location = {"row": next_row}
        try:
            for batch in parquet.iter_batches(
                batch_size=batch_rows, row_groups=[rg], columns=read_columns, use_threads=False
            ):
                table = batch_table(reading, batch, next_row)
                next_row += batch.num_rows
                reading.location = {"row": next_row}
                if table.num_rows:
                    yield table
        except (OSError, pa.ArrowException) as err:
            if not row_group_error(err):
                raise
            _count_lost_rows(reading, rg, next_row, end_row, f"cannot be read: {err}")
            continue
        if next_row < end_row:
            _count_lost_rows(
                reading,
                rg,
                next_row,
                end_row,
                f"missing (the group gave {next_row - first_row} of {end_row - first_row} rows)",
            )


def row_group_starts(metadata: pq.FileMetaData) -> list[int]:
    """The row index of each row group's first row, then the file's row count."""
    starts = [0]
    for rg in range(metadata.num_row_groups):
        starts.append(starts[-1] + metadata.row_group(rg).num_rows)
    return starts


def row_group_error(err: BaseException) -> bool:
    """True for an error that damaged data in a row group raises (a damaged page, a
    checksum mismatch); False for one about the file itself (gone, not allowed)."""
    return not isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError))


def _count_lost_rows(reading: Reading, rg: int, first: int, end: int, why: str) -> None:
    """Count rows ``first..end-1`` of row group ``rg`` as ``corrupt_row_group``."""
    lost = end - first
    if lost <= 0:
        return
    reading.stopped_early = True  # counted: a file left without documents is not "empty"
    reading.skip(
        CORRUPT_ROW_GROUP,
        row=first,
        detail=f"row group {rg}: {lost} rows (rows {first}-{end - 1}) {why}",
    )
    skipped = reading.report.skipped
    skipped[CORRUPT_ROW_GROUP] += lost - 1  # one count per row; one example is enough


def _is_text_type(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _parquet_batch_rows(metadata: pq.FileMetaData, row_groups: list[int], batch_bytes: int) -> int:
    """Rows per batch so that a batch holds about ``batch_bytes`` of data.

    From the row groups' sizes (all columns): pyarrow's column-chunk metadata accessor
    aborts the whole process on some damaged footers, so it is never touched here.
    """
    rows = nbytes = 0
    for rg in row_groups:
        rg_meta = metadata.row_group(rg)
        rows += rg_meta.num_rows
        nbytes += rg_meta.total_byte_size
    bytes_per_row = max(nbytes // max(rows, 1), 1)
    return int(min(max(batch_bytes // bytes_per_row, 1), MAX_PARQUET_BATCH_ROWS))


def batch_table(reading: Reading, batch: pa.RecordBatch, first_row: int) -> pa.Table:
    """One Parquet batch as an output table (rows with null text counted and dropped)."""
    n = batch.num_rows
    rows = pa.array(np.arange(first_row, first_row + n, dtype=np.int64))
    text = _arrow_text(reading, batch.column(reading.text_column), first_row)
    has_text = text.is_valid()
    if text.null_count:
        null_rows = np.flatnonzero(~has_text.to_numpy(zero_copy_only=False)) + first_row
        for row in null_rows.tolist():
            reading.skip("missing_text", row=row, detail=f"{reading.text_column!r} is null")
    default_ids = pc.binary_join_element_wise(
        pa.scalar(f"{reading.path}:"), pc.cast(rows, pa.string()), ""
    )
    doc_ids = default_ids
    if reading.id_column is not None:
        doc_ids = _arrow_ids(
            reading, batch.column(reading.id_column), has_text, default_ids, first_row
        )
    arrays = [doc_ids, text, rows, *(batch.column(name) for name in reading.columns)]
    table = pa.Table.from_arrays(arrays, names=[*RESERVED_COLUMNS, *reading.columns])
    return table if not text.null_count else table.filter(has_text)


def _arrow_text(reading: Reading, column: pa.Array, first_row: int) -> pa.Array:
    """The text column as large_string; invalid UTF-8 replaced by U+FFFD and counted."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            column.validate(full=True)
            return pc.cast(column, pa.large_string())
        except pa.ArrowInvalid:
            pass  # invalid UTF-8 stored in a string column: decode value by value
    values = pc.cast(column, pa.large_binary()).to_pylist()
    texts: list[str | None] = []
    for i, value in enumerate(values):
        if value is None:
            texts.append(None)
            continue
        text, invalid = decode_utf8(value)
        if invalid:
            reading.invalid_utf8("invalid UTF-8 replaced by U+FFFD", row=first_row + i)
        texts.append(text)
    return pa.array(texts, type=pa.large_string())


def _arrow_ids(
    reading: Reading, column: pa.Array, has_text: pa.Array, default_ids: pa.Array, first_row: int
) -> pa.Array:
    """``id_column`` cast to string; nulls (for rows with text) take the default id."""
    try:
        ids = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InputError(
            f"id column {reading.id_column!r} in {reading.path} has type {column.type}, "
            f"which cannot be cast to string ({err}). Pass another --id-column"
        ) from err
    if not ids.null_count:
        return ids
    missing = pc.and_(ids.is_null(), has_text).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(missing).tolist():
        row = first_row + i
        reading.fallback_id(row, f"id column {reading.id_column!r} is null", row=row)
    return pc.if_else(ids.is_null(), default_ids, ids)
