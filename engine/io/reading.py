"""What every format reader shares: the state of one read, batching, decoding, columns.

A format reader (:mod:`engine.io.jsonl`, :mod:`~engine.io.parquet`, :mod:`~engine.io.text`,
:mod:`~engine.io.warc`) takes a :class:`Reading` and yields Arrow tables. The row-wise
readers yield :data:`Document` tuples and let :func:`batched` pack them into tables of
about ``batch_bytes`` bytes of text each, so memory is bounded by the batch size, never by
the file size.

Every table has the columns :data:`RESERVED_COLUMNS` -- ``doc_id`` (string), ``text``
(large_string), ``row`` (int64: 0-based line / row / record number in its file) -- then
the extra ``columns`` asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from engine.io.plan import InputPart
from engine.io.report import (
    READ_ERRORS,
    STRICT_REASONS,
    InputError,
    ReadReport,
    strict_message,
)

__all__ = [
    "RESERVED_COLUMNS",
    "Batcher",
    "Document",
    "Reading",
    "batched",
    "check_columns_present",
    "decode_utf8",
    "id_list",
    "scrub",
]

RESERVED_COLUMNS = ("doc_id", "text", "row")
SURROGATES = re.compile("[\ud800-\udfff]")

Document = tuple[int, str, str, Sequence[Any], int]  # row, text, doc_id, extras, text bytes


@dataclass
class Reading:
    """Options and state of one :func:`engine.io.read_part` call.

    Attributes:
        part: the part being read.
        text_column: JSONL key / Parquet column holding the text.
        id_column: column whose value is ``doc_id``; None: ``f"{path}:{row}"`` with
            :attr:`path`, the file's path as given.
        columns: extra columns to carry into the tables.
        batch_bytes: target text bytes per table.
        strict: raise ``InputError`` at the first damaged row or file.
        report: counters and examples are added here.
        location: where reading is, for error examples (``{"line": n}``, ``{"row": n}``
            or ``{"offset": bytes}``).
        whole_file: this part covers its whole file.
        stopped_early: a counted problem ended reading this file.
        html_text: how HTML pages become text, ``"main"`` or ``"full"`` (WARC only;
            :mod:`engine.io.html`).
    """

    part: InputPart
    text_column: str
    id_column: str | None
    columns: tuple[str, ...]
    batch_bytes: int
    strict: bool
    report: ReadReport
    location: dict = field(default_factory=dict)
    whole_file: bool = True
    stopped_early: bool = False
    html_text: str = "main"

    @property
    def path(self) -> str:
        """The file's path as given (doc ids, report entries); open ``part.path``."""
        return self.part.id_path

    def skip(self, reason: str, *, detail: str = "", example_limit: int | None = None, **where):
        """Count a skipped row or file, or raise ``InputError`` in strict mode."""
        if self.strict and reason in STRICT_REASONS:
            raise InputError(strict_message(self.path, reason, where, detail))
        self.report.count_skip(
            reason, self.path, detail=detail, example_limit=example_limit, **where
        )

    def warn(
        self, reason: str, *, row: int, detail: str = "", example_limit: int | None = None
    ) -> None:
        """Count a document read with a warning (not a skip; e.g. ``charset_detected``)."""
        self.report.count_warning(
            reason, self.path, row=row, detail=detail, example_limit=example_limit
        )

    def invalid_utf8(self, detail: str, **where) -> None:
        """Count a document whose invalid bytes were replaced by U+FFFD."""
        self.report.invalid_utf8_documents += 1
        self.report.add_problem("invalid_utf8", self.path, detail=detail, **where)

    def fallback_id(self, doc_row: int, detail: str, **where) -> str:
        """Default id (``path:doc_row``) for a document whose ``id_column`` value is missing."""
        if self.strict:
            raise InputError(strict_message(self.path, "missing_id", where, detail))
        self.report.fallback_ids += 1
        self.report.add_problem("missing_id", self.path, detail=detail, **where)
        return f"{self.path}:{doc_row}"


class Batcher:
    """Collect documents; emit a table whenever about ``batch_bytes`` of text is held."""

    def __init__(self, reading: Reading) -> None:
        self._columns = reading.columns
        self._batch_bytes = reading.batch_bytes
        self._reset()

    def _reset(self) -> None:
        self._doc_ids: list[str] = []
        self._texts: list[str] = []
        self._rows: list[int] = []
        self._extras: list[list[str | None]] = [[] for _ in self._columns]
        self._text_bytes = 0

    def add(
        self, row: int, text: str, doc_id: str, extras: Sequence[str | None], text_bytes: int
    ) -> pa.Table | None:
        """Add one document; returns a full table when the batch is complete."""
        self._doc_ids.append(doc_id)
        self._texts.append(text)
        self._rows.append(row)
        for values, value in zip(self._extras, extras, strict=True):
            values.append(value)
        self._text_bytes += text_bytes
        return self.flush() if self._text_bytes >= self._batch_bytes else None

    def flush(self) -> pa.Table | None:
        """The documents held so far as a table (None when there are none)."""
        if not self._rows:
            return None
        arrays = [
            pa.array(self._doc_ids, type=pa.string()),
            pa.array(self._texts, type=pa.large_string()),
            pa.array(self._rows, type=pa.int64()),
            *(pa.array(values, type=pa.string()) for values in self._extras),
        ]
        table = pa.Table.from_arrays(arrays, names=[*RESERVED_COLUMNS, *self._columns])
        self._reset()
        return table


def batched(reading: Reading, documents: Iterator[Document]) -> Iterator[pa.Table]:
    """Batch documents into tables; on a read error, yield what was read, then re-raise."""
    batcher = Batcher(reading)
    error: BaseException | None = None
    try:
        for document in documents:
            if isinstance(document, pa.Table):  # a batch built whole (a fast path)
                table = batcher.flush()
                if table is not None:
                    yield table
                yield document
                continue
            table = batcher.add(*document)
            if table is not None:
                yield table
    except READ_ERRORS as err:
        error = err
    table = batcher.flush()
    if table is not None:
        yield table
    if error is not None:
        raise error


def decode_utf8(data: bytes) -> tuple[str, bool]:
    """Decode UTF-8; invalid bytes become U+FFFD. Returns ``(text, had_invalid_bytes)``."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def scrub(text: str) -> str:
    """Replace lone surrogates (from ``\\ud800``-style JSON escapes) with U+FFFD."""
    return SURROGATES.sub("\ufffd", text)


def id_list(reading: Reading) -> list[str]:
    """``[id_column]``, or ``[]`` when ids are the default ``path:row``."""
    return [] if reading.id_column is None else [reading.id_column]


def _missing_column_error(
    kind: str, name: str, path: str, present: Sequence[str], hint: str
) -> InputError:
    return InputError(
        f"{kind} {name!r} not found in {path}; columns present: {list(present)}. {hint}"
    )


def check_columns_present(
    reading: Reading, present: Sequence[str], string_columns: Sequence[str]
) -> None:
    """Raise ``InputError`` if the text, id or extra columns asked for are absent.

    ``present``: the column names of the input; ``string_columns``: those holding
    strings (offered in the message as ``--text-column`` candidates).
    """
    present_set = set(present)
    if reading.text_column not in present_set:
        candidates = [name for name in string_columns if name != reading.id_column]
        hint = (
            f"Pass --text-column {candidates[0]}"
            if candidates
            else "Pass --text-column with the column that holds the text"
        )
        raise _missing_column_error("text column", reading.text_column, reading.path, present, hint)
    if reading.id_column is not None and reading.id_column not in present_set:
        raise _missing_column_error(
            "id column",
            reading.id_column,
            reading.path,
            present,
            "Pass --id-column with one of them, or leave it out to use path:row ids",
        )
    missing = [name for name in reading.columns if name not in present_set]
    if missing:
        raise _missing_column_error(
            "column", missing[0], reading.path, present, "Ask only for columns that exist"
        )
