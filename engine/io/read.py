"""Reading: one :class:`~engine.io.InputPart` as Arrow tables, in a worker.

:func:`read_part` checks the options, counts the file, dispatches to the reader of the
part's format (:data:`FORMAT_READERS`) and turns a read error into a counted skip (or an
``InputError`` in strict mode) after yielding what was read before it. A file with no
documents and no counted skip (0 bytes, or only blank lines) is counted as ``empty_file``;
a file whose every row was counted under its own reason is not counted again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from engine.io.arrow_ipc import read_arrow
from engine.io.jsonl import read_jsonl
from engine.io.options import DEFAULT_BATCH_BYTES, DEFAULT_HTML_TEXT, HTML_TEXT_MODES
from engine.io.parquet import read_parquet
from engine.io.plan import InputPart
from engine.io.reading import RESERVED_COLUMNS, Reading
from engine.io.remote import input_size
from engine.io.report import (
    READ_ERRORS,
    InputError,
    ReadReport,
    read_error_reason,
    strict_message,
)
from engine.io.text import read_text
from engine.io.warc import read_warc

__all__ = ["FORMAT_READERS", "read_part"]

# fmt -> reader: takes the state of one read, yields its tables
FORMAT_READERS: dict[str, Callable[[Reading], Iterator[pa.Table]]] = {
    "arrow": read_arrow,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "text": read_text,
    "warc": read_warc,
}


def read_part(
    part: InputPart,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    columns: Sequence[str] = (),
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    strict: bool = False,
    html_text: str = DEFAULT_HTML_TEXT,
    report: ReadReport,
) -> Iterator[pa.Table]:
    """Read one part as Arrow tables of about ``batch_bytes`` bytes of text each.

    Args:
        part: from :func:`plan_parts`.
        text_column: JSONL key / Parquet or Arrow IPC column holding the text (ignored for text and
            WARC input, whose text is the file / the record payload).
        id_column: column whose value (cast to string) is ``doc_id``; for WARC one of
            ``url``, ``warc_record_id``, ``warc_date``. None: ``f"{part.id_path}:{row}"``
            (the path as the user gave it; ``part.path``, absolute, is what is opened).
            A missing or null value falls back to the default id (``report.fallback_ids``).
        columns: extra columns to carry. Parquet and Arrow IPC: as stored. JSONL: strings
            (non-string values as compact JSON). WARC: any of ``WARC_COLUMNS``.
        batch_bytes: target text bytes per table.
        strict: raise ``InputError`` at the first damaged row or file instead of
            skipping and counting it.
        html_text: WARC HTML pages as ``"main"`` content or ``"full"`` visible text
            (:mod:`engine.io.html`); other formats ignore it.
        report: counters and examples are added here.

    Yields:
        Tables with columns ``doc_id`` (string), ``text`` (large_string), ``row`` (int64,
        0-based row number in the file), then ``columns``; documents in file order. No
        table is yielded for a part without documents; no table is empty.

    Raises:
        InputError: a column asked for does not exist (the message lists those that do),
            or, with ``strict``, a damaged row or file.
    """
    columns = tuple(columns)
    _check_read_options(text_column, id_column, columns, batch_bytes)
    if html_text not in HTML_TEXT_MODES:
        raise InputError(f"html_text must be one of {list(HTML_TEXT_MODES)}, got {html_text!r}")
    reading = Reading(part, text_column, id_column, columns, int(batch_bytes), strict, report)
    reading.html_text = html_text
    if part.fmt == "jsonl":
        reading.whole_file = part.byte_start == 0 and part.byte_end < 0
    documents = 0
    failed = False
    skipped_before = report.total_skipped  # a file whose every row was counted is not "empty"
    try:
        size = input_size(part.path, part.storage_options)  # FileNotFoundError: deleted
        if part.is_first_part:
            report.files += 1
        if reading.whole_file and size == 0:
            reading.skip("empty_file", detail="file is 0 bytes")
            return
        for table in FORMAT_READERS[part.fmt](reading):
            documents += table.num_rows
            report.documents += table.num_rows
            yield table
    except READ_ERRORS as err:
        failed = True
        reason = read_error_reason(err)
        detail = f"{type(err).__name__}: {err}; rest of the file skipped"
        if reading.strict:
            raise InputError(
                strict_message(reading.path, reason, reading.location, detail)
            ) from err
        reading.skip(reason, detail=detail, **reading.location)
    counted = report.total_skipped != skipped_before
    if not (failed or reading.stopped_early or counted) and reading.whole_file and documents == 0:
        reading.skip("empty_file", detail="file holds no documents")


def _check_read_options(
    text_column: str, id_column: str | None, columns: tuple[str, ...], batch_bytes: int
) -> None:
    if not isinstance(text_column, str) or not text_column:
        raise InputError(f"text_column must be a non-empty column name, got {text_column!r}")
    if id_column is not None and (not isinstance(id_column, str) or not id_column):
        raise InputError(f"id_column must be a column name or None, got {id_column!r}")
    if len(set(columns)) != len(columns):
        raise InputError(f"columns lists a name twice: {list(columns)}")
    clashes = [name for name in columns if name in RESERVED_COLUMNS]
    if clashes:
        raise InputError(
            f"columns {clashes} clash with the output columns {list(RESERVED_COLUMNS)}; "
            "the text is already in 'text' and the row number in 'row'"
        )
    if isinstance(batch_bytes, bool) or not isinstance(batch_bytes, (int, np.integer)):
        raise InputError(f"batch_bytes must be a positive int, got {batch_bytes!r}")
    if batch_bytes <= 0:
        raise InputError(f"batch_bytes must be a positive int, got {batch_bytes!r}")
