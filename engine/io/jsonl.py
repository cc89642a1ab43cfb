"""JSON Lines reader: one JSON object per line, the text under ``text_column``.

``.jsonl``, ``.json``, ``.ndjson``, plain or ``.gz`` / ``.zst`` / ``.zstd``; a plain file
may be read in slices that start at line starts (:func:`engine.io.plan_parts`). ``row`` is
the 0-based line number in the file. Blank lines are neither documents nor problems; a
line that is not a JSON object, or whose text is missing, null or not a string, is
counted in the report -- the first line as any other: only a key asked for (text, id or
extra column) that no record of the file holds is an error, naming the keys present. A
file with a NUL byte in its first 8 KiB is counted once as ``binary_file``. Extra
``columns`` are strings (other values as compact JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pyarrow as pa

from engine.io.compression import iter_jsonl_lines, open_decompressed
from engine.io.jsonl_fast import BLOCK_BYTES, parse_block
from engine.io.plan import BINARY_SNIFF_BYTES, InputPart
from engine.io.reading import (
    SURROGATES,
    Document,
    Reading,
    batched,
    check_columns_present,
    decode_utf8,
    id_list,
    scrub,
)
from engine.io.report import MAX_PROBLEMS, READ_ERRORS

__all__ = ["read_jsonl"]

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark, stripped from the first line


def read_jsonl(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the JSONL part ``reading.part`` (see :data:`engine.io.reading.Document`)."""
    return batched(reading, _jsonl_documents(reading))


def _jsonl_documents(reading: Reading) -> Iterator[Document | pa.Table]:
    """Documents of the part in line order; clean blocks of lines come as whole batch
    tables from the fast path (:mod:`engine.io.jsonl_fast`), the rest line by line."""
    part = reading.part
    reading.location = {"line": part.first_row}
    first_part = part.byte_start == 0
    # the keys asked for are checked over the whole file, by its first part
    columns = _ColumnCheck(reading) if first_part else None
    binary = _BinaryCheck(reading) if first_part and _nul_in_head(part) else None
    lines = _LineReader(reading, columns, binary)
    fast = binary is None and not reading.columns  # extra columns: line by line
    block: list[bytes] = []
    block_rows: list[int] = []
    block_bytes = 0
    try:
        for row, raw in iter_jsonl_lines(part):
            reading.location = {"line": row + 1}  # a read error would hit the next line
            if raw.isspace():  # blank line: not a document, not a problem
                continue
            if fast and not (row == 0 and raw.startswith(BOM)):
                block.append(raw)
                block_rows.append(row)
                block_bytes += len(raw)
                if block_bytes >= min(BLOCK_BYTES, reading.batch_bytes):
                    yield from _block_documents(reading, lines, block, block_rows)
                    block, block_rows, block_bytes = [], [], 0
                continue
            yield from lines.read(row, raw)
    except READ_ERRORS:
        yield from _block_documents(reading, lines, block, block_rows)
        lines.abort()
        raise
    yield from _block_documents(reading, lines, block, block_rows)
    lines.finish()


def _block_documents(
    reading: Reading, lines: _LineReader, block: list[bytes], rows: list[int]
) -> Iterator[Document | pa.Table]:
    """One block of lines: a batch table when the fast path takes it, else line by line."""
    table = parse_block(block, rows, reading.text_column, reading.id_column, reading.path)
    if table is not None:
        lines.saw_clean_records(table.num_rows)
        yield table
        return
    for row, raw in zip(rows, block):
        yield from lines.read(row, raw)


class _LineReader:
    """The line-by-line reader: one raw line in, a document (or a counted skip) out."""

    def __init__(
        self, reading: Reading, columns: _ColumnCheck | None, binary: _BinaryCheck | None
    ) -> None:
        self.reading = reading
        self.columns = columns
        self.binary = binary
        self.first_content_line = True

    def saw_clean_records(self, n: int) -> None:
        """``n`` records with every key asked for, read by the fast path."""
        self.first_content_line = False
        if self.columns is not None and n:
            self.columns.see_clean()

    def read(self, row: int, raw: bytes) -> Iterator[Document]:
        reading = self.reading
        line, invalid = decode_utf8(raw)
        if row == 0 and line.startswith("\ufeff"):
            line = line[1:]
        obj, error = _parse_json_object(line)
        if error:
            if self.first_content_line and row == 0 and line.lstrip()[:1] == "[":
                error += (
                    " (the file looks like one JSON array, not JSON Lines: one object per line)"
                )
            self.first_content_line = False
            if self.binary is not None:
                self.binary.hold(row, error)
            else:
                reading.skip("malformed_json", line=row, detail=error)
            return
        self.first_content_line = False
        if self.binary is not None:  # a JSON object: not a binary file after all
            self.binary.release()
            self.binary = None
        if self.columns is not None:
            self.columns.see(obj)
        document = _document(reading, row, raw, obj, invalid)
        if document is not None:
            yield document

    def abort(self) -> None:
        """A read error: count what the binary check held back."""
        if self.binary is not None:
            self.binary.release()
            self.binary = None

    def finish(self) -> None:
        if self.binary is not None:
            self.binary.finish()
        if self.columns is not None:
            self.columns.finish()


def _document(reading: Reading, row: int, raw: bytes, obj: dict, invalid: bool) -> Document | None:
    """The document of one JSON object, or None (counted) when its text is unusable."""
    text = obj.get(reading.text_column)
    if text is None:
        state = "is null" if reading.text_column in obj else "is missing"
        reading.skip("missing_text", line=row, detail=f"key {reading.text_column!r} {state}")
        return None
    if not isinstance(text, str):
        reading.skip(
            "non_string_text",
            line=row,
            detail=f"key {reading.text_column!r} holds a {type(text).__name__}, not a string",
        )
        return None
    # lone surrogates can only come from \uD800-\uDFFF escapes: a cheap byte test first
    if (b"\\ud" in raw or b"\\uD" in raw) and SURROGATES.search(text):
        text = scrub(text)
        invalid = True
    if invalid:
        reading.invalid_utf8(
            "invalid UTF-8 (or a lone surrogate escape) replaced by U+FFFD", line=row
        )
    doc_id = _json_doc_id(reading, obj, row)
    extras = [_json_extra(obj.get(name)) for name in reading.columns]
    return row, text, doc_id, extras, len(raw)


def _nul_in_head(part: InputPart) -> bool:
    """A NUL byte in the file's first 8 KiB (decompressed): JSON text never holds one."""
    with open_decompressed(part.path, part.compression, part.storage_options) as stream:
        return b"\0" in stream.read(BINARY_SNIFF_BYTES)


class _BinaryCheck:
    """A file with a NUL byte in its first 8 KiB: its malformed lines are held back
    until a line parses as a JSON object (then they are counted as usual). If none ever
    does, the file is counted once as ``binary_file`` (not once per line plus
    ``empty_file``). In strict mode nothing is held: the first bad line stops the read.
    """

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.held: list[tuple[int, str]] = []  # (line, detail), at most MAX_PROBLEMS
        self.more = 0  # malformed lines beyond those held
        self.strict = reading.strict

    def hold(self, row: int, detail: str) -> None:
        if self.strict:
            self.reading.skip("malformed_json", line=row, detail=detail)
        elif len(self.held) < MAX_PROBLEMS:
            self.held.append((row, detail))
        else:
            self.more += 1

    def release(self) -> None:
        """Count the held lines as ``malformed_json``, as if never held."""
        for row, detail in self.held:
            self.reading.skip("malformed_json", line=row, detail=detail)
        report = self.reading.report
        for _ in range(self.more):  # past the cap on examples: counted only
            report.count_skip("malformed_json", self.reading.path, example_limit=0)
        report.problems_omitted += self.more
        self.held, self.more = [], 0

    def finish(self) -> None:
        """No line was a JSON object: count the file once as ``binary_file``."""
        lines = len(self.held) + self.more
        if not lines:
            return
        self.reading.stopped_early = True  # counted: not also an empty_file
        self.reading.skip(
            "binary_file",
            detail=f"NUL byte in the first 8 KiB and none of its {lines} lines is a JSON "
            "object: a binary file, or text not in UTF-8 (UTF-16?)",
        )


class _ColumnCheck:
    """The keys asked for (text, id, extra columns) must each occur in some record.

    A record lacking one is handled like any other row (``missing_text``, a fallback
    id, a null extra); only a key that no record of the file holds is an error
    (``InputError`` naming the keys of the first record), raised when the file has been
    read. The first part of a split file reads on past its slice (parsing only) while a
    key has not been seen. In strict mode the first record must hold them all (any
    gap would stop the read anyway, and this error names the columns present).
    """

    def __init__(self, reading: Reading) -> None:
        self.reading = reading
        self.wanted = list(
            dict.fromkeys([reading.text_column, *id_list(reading), *reading.columns])
        )
        self.missing = set(self.wanted)
        self.first_keys: list[str] | None = None
        self.first_strings: list[str] = []

    def see_clean(self) -> None:
        """Records holding every key asked for (as strings) were read: nothing missing."""
        if self.first_keys is None:
            self.first_keys = list(self.wanted)
            self.first_strings = list(self.wanted)
        self.missing.clear()

    def see(self, obj: dict) -> None:
        if self.first_keys is None:
            self.first_keys = list(obj)
            self.first_strings = [key for key, value in obj.items() if isinstance(value, str)]
            if self.reading.strict:
                check_columns_present(self.reading, self.first_keys, self.first_strings)
        if self.missing:
            self.missing.difference_update([name for name in self.missing if name in obj])

    def finish(self) -> None:
        if not self.missing or self.first_keys is None:
            return  # every key seen, or no record at all (counted elsewhere)
        part = self.reading.part
        if part.byte_end >= 0:
            self._scan_rest(replace(part, byte_start=part.byte_end, byte_end=-1))
            if not self.missing:
                return
        present = self.first_keys + [
            name for name in self.wanted if name not in self.missing and name not in self.first_keys
        ]
        check_columns_present(self.reading, present, self.first_strings)

    def _scan_rest(self, rest: InputPart) -> None:
        """Look for the missing keys in the rest of the file (other parts read it)."""
        try:
            for _, raw in iter_jsonl_lines(rest):
                if raw.isspace():
                    continue
                obj, _ = _parse_json_object(decode_utf8(raw)[0])
                if obj is not None:
                    self.missing.difference_update([n for n in self.missing if n in obj])
                    if not self.missing:
                        return
        except READ_ERRORS:  # the part that reads those lines counts the error
            self.missing.clear()


def _parse_json_object(line: str) -> tuple[dict | None, str]:
    """Parse one line; returns ``(object, "")`` or ``(None, error text)``."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as err:
        return None, f"{err}; line starts {line[:60]!r}"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got a {type(obj).__name__}"
    return obj, ""


def _json_scalar_str(value: Any) -> str:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return scrub(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _json_doc_id(reading: Reading, obj: dict, row: int) -> str:
    if reading.id_column is None:
        return f"{reading.path}:{row}"
    value = obj.get(reading.id_column)
    if value is None:
        state = "is null" if reading.id_column in obj else "is missing"
        return reading.fallback_id(row, f"id key {reading.id_column!r} {state}", line=row)
    return _json_scalar_str(value)


def _json_extra(value: Any) -> str | None:
    return None if value is None else _json_scalar_str(value)
