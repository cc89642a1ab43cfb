"""WARC / WET reader: one document per text record, read with warcio.

``.warc``, ``.wet``, plain or ``.gz`` (warcio decompresses those itself). Documents are
``conversion`` records (WET) and ``response`` records whose HTTP Content-Type is
text/plain or HTML (HTML is reduced to its visible text by :func:`engine.io.html_to_text`);
other responses are counted as ``non_text_record``, other record types are passed over.
``row`` is the 0-based record number in the file. A damaged or truncated record ends
the file: it is counted as ``warc_record_error`` with its byte ``offset`` (in the
compressed file for ``.gz``). Columns are :data:`WARC_COLUMNS`, from the WARC headers.
"""

from __future__ import annotations

import codecs
import gzip
import re
from collections.abc import Iterator

import pyarrow as pa
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader

from engine.io.compression import READ_BUFFER_BYTES
from engine.io.html import html_to_text
from engine.io.reading import Document, Reading, batched, decode_utf8, id_list
from engine.io.report import InputError

__all__ = ["WARC_COLUMNS", "read_warc"]

WARC_COLUMNS = ("url", "warc_record_id", "warc_date")
WARC_COLUMN_HEADERS = {
    "url": "WARC-Target-URI",
    "warc_record_id": "WARC-Record-ID",
    "warc_date": "WARC-Date",
}
HTML_MIME_TYPES = ("text/html", "application/xhtml+xml")
NON_TEXT_EXAMPLES = 3  # located examples recorded for non_text_record

_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.I
)


def read_warc(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the WARC / WET file ``reading.path``, one row per text record."""
    unknown = [name for name in [*id_list(reading), *reading.columns] if name not in WARC_COLUMNS]
    if unknown:
        raise InputError(
            f"column {unknown[0]!r} not found in {reading.path}; WARC input has the columns "
            f"{list(WARC_COLUMNS)}. Ask only for those (e.g. --id-column url)"
        )
    return batched(reading, _warc_documents(reading))


def _warc_documents(reading: Reading) -> Iterator[Document]:
    with open(reading.path, "rb", buffering=READ_BUFFER_BYTES) as stream:
        records = ArchiveIterator(stream)
        row = -1
        while True:
            reading.location = {"offset": records.offset}
            try:
                record = next(records)
                row += 1
                payload = _warc_text(record)
            except StopIteration:
                return
            except Exception as err:  # warcio raises many types for damaged input
                if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile):
                    raise  # the file itself is unreadable
                # records.offset: start of the record that failed (compressed bytes for .gz)
                reading.stopped_early = True
                reading.skip(
                    "warc_record_error",
                    offset=records.offset,
                    detail=f"{type(err).__name__}: {err}; rest of the file skipped",
                )
                return
            if payload is None:
                continue
            if payload == _NON_TEXT:
                content_type = (
                    record.http_headers.get_header("Content-Type") if record.http_headers else None
                )
                reading.skip(
                    "non_text_record",
                    row=row,
                    detail=f"response Content-Type {content_type!r}",
                    example_limit=NON_TEXT_EXAMPLES,
                )
                continue
            text, invalid, nbytes = payload
            if invalid:
                reading.invalid_utf8("undecodable bytes replaced by U+FFFD", row=row)
            headers = record.rec_headers
            values = {name: headers.get_header(WARC_COLUMN_HEADERS[name]) for name in WARC_COLUMNS}
            if reading.id_column is None:
                doc_id = f"{reading.path}:{row}"
            elif values[reading.id_column]:
                doc_id = values[reading.id_column]
            else:
                doc_id = reading.fallback_id(
                    row, f"record has no {WARC_COLUMN_HEADERS[reading.id_column]} header", row=row
                )
            yield row, text, doc_id, [values[name] for name in reading.columns], nbytes


class _DamagedRecord(ValueError):
    """A WARC record that warcio parsed without complaint but that is not whole."""


_NON_TEXT = "non_text"


def _warc_text(record) -> tuple[str, bool, int] | str | None:
    """The document text of a record: ``(text, had_invalid_bytes, payload bytes)``.

    Returns ``_NON_TEXT`` for a response that is not text/plain or HTML, None for
    records that are not documents (warcinfo, request, metadata, revisit, ...).
    """
    if not str(record.format).startswith("warc"):
        raise _DamagedRecord(f"not a WARC record (parsed as {record.format!r})")
    kind = record.rec_type
    if kind == "conversion":
        payload = record.content_stream().read()
        _check_complete(record)
        text, invalid = decode_utf8(payload)
        return text, invalid, len(payload)
    if kind != "response":
        _check_complete(record)
        return None
    content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
    mime, charset = _parse_content_type(content_type or "")
    if mime != "text/plain" and mime not in HTML_MIME_TYPES:
        _check_complete(record)
        return _NON_TEXT
    # warcio never raises for a bad Content-Encoding or chunking: it passes the raw bytes
    # through (then counted as invalid UTF-8) or ends the body early.
    payload = record.content_stream().read()
    _check_complete(record)
    if mime != "text/plain" and charset is None:
        found = _META_CHARSET.search(payload[:2048])
        charset = found.group(1).decode("ascii") if found else None
    text, invalid = _decode_charset(payload, charset)
    if mime != "text/plain":
        text = html_to_text(text)
    return text, invalid, len(payload)


def _check_complete(record) -> None:
    """Drain the record's block; raise ``_DamagedRecord`` if it is not whole.

    warcio does not raise for a file cut inside a record: the headers then lack
    Content-Length (so the block is not length-limited) or the block ends early.
    """
    raw = record.raw_stream
    if not isinstance(raw, LimitReader):
        raise _DamagedRecord("record has no valid Content-Length header (truncated file?)")
    while raw.read(READ_BUFFER_BYTES):
        pass
    if raw.limit > 0:
        raise _DamagedRecord(
            f"record block ends {raw.limit} bytes before its Content-Length (truncated file?)"
        )


def _parse_content_type(value: str) -> tuple[str, str | None]:
    """``"text/html; charset=UTF-8"`` -> ``("text/html", "UTF-8")``."""
    mime, *params = value.split(";")
    charset = None
    for param in params:
        key, _, param_value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'") or None
    return mime.strip().lower(), charset


def _decode_charset(payload: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode with the declared charset (UTF-8 when absent or unknown)."""
    if charset:
        try:
            codec = codecs.lookup(charset).name
        except LookupError:
            codec = "utf-8"
        if codec != "utf-8":
            try:
                return payload.decode(codec), False
            except UnicodeDecodeError:
                return payload.decode(codec, errors="replace"), True
    return decode_utf8(payload)
