"""JSON Lines reader: one JSON object per line, the text under ``text_column``.

``.jsonl``, ``.json``, ``.ndjson``, plain or ``.gz`` / ``.zst`` / ``.zstd``; a plain file
may be read in slices that start at line starts (:func:`engine.io.plan_parts`). ``row`` is
the 0-based line number in the file. Blank lines are neither documents nor problems; a
line that is not a JSON object, or whose text is missing, null or not a string, is
counted in the report. Extra ``columns`` are strings (other values as compact JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from engine.io.compression import iter_jsonl_lines
from engine.io.reading import (
    SURROGATES,
    Document,
    Reading,
    batched,
    check_columns_present,
    decode_utf8,
    scrub,
)

__all__ = ["read_jsonl"]


def read_jsonl(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the JSONL part ``reading.part`` (see :data:`engine.io.reading.Document`)."""
    return batched(reading, _jsonl_documents(reading))


def _jsonl_documents(reading: Reading) -> Iterator[Document]:
    part = reading.part
    check_columns = part.byte_start == 0
    first_content_line = True
    reading.location = {"line": part.first_row}
    for row, raw in iter_jsonl_lines(part):
        reading.location = {"line": row + 1}  # a read error would hit the next line
        if raw.isspace():  # blank line: not a document, not a problem
            continue
        line, invalid = decode_utf8(raw)
        if row == 0 and line.startswith("\ufeff"):
            line = line[1:]
        obj, error = _parse_json_object(line)
        if error:
            if first_content_line and row == 0 and line.lstrip()[:1] == "[":
                error += (
                    " (the file looks like one JSON array, not JSON Lines: one object per line)"
                )
            reading.skip("malformed_json", line=row, detail=error)
            first_content_line = False
            continue
        first_content_line = False
        if check_columns:
            strings = [key for key, value in obj.items() if isinstance(value, str)]
            check_columns_present(reading, list(obj), strings)
            check_columns = False
        text = obj.get(reading.text_column)
        if text is None:
            state = "is null" if reading.text_column in obj else "is missing"
            reading.skip("missing_text", line=row, detail=f"key {reading.text_column!r} {state}")
            continue
        if not isinstance(text, str):
            reading.skip(
                "non_string_text",
                line=row,
                detail=f"key {reading.text_column!r} holds a {type(text).__name__}, not a string",
            )
            continue
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
        yield row, text, doc_id, extras, len(raw)


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
