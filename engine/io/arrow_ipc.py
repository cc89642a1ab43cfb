"""Arrow IPC reader: ``.arrow`` (stream or file format), ``.feather`` (V2), ``.ipc``.

What Hugging Face ``datasets`` writes (``save_to_disk``: ``data-00000-of-00001.arrow``,
the stream format) and what ``pa.ipc.new_file`` / Feather V2 write (the file format) are
read alike, record batch by record batch (:mod:`engine.io.ipc_messages`: the file is
memory-mapped; a batch's data is read only when its batch is). A part reads a range of
record batches (:func:`engine.io.plan_parts`, planned from the batches' body sizes);
``row`` is the 0-based row index in the file.

As for Parquet (:mod:`engine.io.parquet`): the text comes from a string (or binary)
column; rows whose text is null are counted as ``missing_text``; a null ``id_column``
value takes the default ``path:row`` id; extra ``columns`` keep their stored types;
tables hold about ``batch_bytes`` (large batches are sliced, small ones joined).

Damage: a record batch that cannot be decoded or fails validation costs its own rows,
counted as ``corrupt_batch`` (one count per row, one example at its first row); the next
batch is read. A file that cannot be framed further (cut, overwritten, not IPC at all)
ends there: ``read_part`` counts it as ``unreadable_file`` after what was read before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from engine.io.ipc_messages import IpcBatch, IpcFile, batch_range
from engine.io.parquet import batch_table, check_table_schema
from engine.io.reading import Reading, id_list
from engine.io.report import READ_ERRORS, InputError, strict_message

__all__ = ["CORRUPT_BATCH", "read_arrow"]

CORRUPT_BATCH = "corrupt_batch"


def read_arrow(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the Arrow IPC part ``reading.part``: its record batches, as tables of
    about ``reading.batch_bytes`` bytes."""
    part = reading.part
    first, end = batch_range(part.row_groups)
    reading.whole_file = part.row_groups is None
    if end == first:
        return
    with IpcFile(part.path, part.storage_options) as source:
        check_table_schema(reading, source.schema)
        pending: list[pa.Table] = []
        pending_bytes = 0
        error: BaseException | None = None
        try:
            for table in _batch_tables(reading, source, first, end):
                pending.append(table)
                pending_bytes += table.column("text").nbytes
                if pending_bytes >= reading.batch_bytes:
                    yield _joined(pending)
                    pending, pending_bytes = [], 0
        except READ_ERRORS as err:  # what was read before it is yielded first
            error = err
        if pending:
            yield _joined(pending)
        if error is not None:
            raise error


def _batch_tables(
    reading: Reading, source: IpcFile, first: int, end: int | None
) -> Iterator[pa.Table]:
    """One output table per record batch (or per slice of a large one); damaged
    batches counted."""
    names = list(dict.fromkeys([reading.text_column, *id_list(reading), *reading.columns]))
    reading.location = {"row": reading.part.first_row}
    for item in source.batches(first, end):
        reading.location = {"row": item.first_row}
        if item.batch is None:
            _count_lost_rows(reading, item)
            continue
        batch = item.batch.select(names)
        for start, stop in _slices(batch, reading.batch_bytes):
            table = batch_table(reading, batch.slice(start, stop - start), item.first_row + start)
            if table.num_rows:
                yield table
        reading.location = {"row": item.first_row + item.num_rows}


def _count_lost_rows(reading: Reading, item: IpcBatch) -> None:
    """Count the rows of a damaged record batch as ``corrupt_batch``."""
    first, end = item.first_row, item.first_row + item.num_rows
    rows = f"{item.num_rows} rows (rows {first}-{end - 1})"
    detail = f"record batch {item.index}: {rows} {item.error}"
    if reading.strict:
        raise InputError(strict_message(reading.path, CORRUPT_BATCH, {"row": first}, detail))
    reading.stopped_early = True  # counted: a file left without documents is not "empty"
    if item.num_rows == 0:  # no row lost: an example only
        reading.report.add_problem(CORRUPT_BATCH, reading.path, row=first, detail=detail)
        return
    reading.skip(CORRUPT_BATCH, row=first, detail=detail)
    reading.report.skipped[CORRUPT_BATCH] += item.num_rows - 1  # one count per row


def _slices(batch: pa.RecordBatch, batch_bytes: int) -> list[tuple[int, int]]:
    """Row ranges of about ``batch_bytes`` each (one range for a batch that fits)."""
    rows = batch.num_rows
    nbytes = batch.get_total_buffer_size()
    if rows == 0 or nbytes <= batch_bytes:
        return [(0, rows)]
    step = max(batch_bytes * rows // nbytes, 1)
    return [(start, min(start + step, rows)) for start in range(0, rows, step)]


def _joined(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
