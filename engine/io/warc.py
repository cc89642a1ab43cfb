"""WARC / WET reader: one document per text record; damage costs only the damaged record.

``.warc``, ``.wet``, plain or gzipped: one gzip member per record, several records per
member, members that do not end with records (bgzip style), or one gzip stream over the
whole file (the first bytes decide, else the name). Documents are ``conversion`` records
(WET) and ``response`` records whose HTTP Content-Type is text/plain or HTML; other
responses are counted as ``non_text_record``, other record types are passed over. A
response body is decoded by :func:`engine.io.charset.decode_payload` (byte-order mark,
HTTP charset, meta charset, else UTF-8 or a detected encoding: counted as the warning
``charset_detected``); HTML becomes its main content or all its visible text
(``reading.html_text``, :func:`engine.io.html.html_to_text`; a page whose main content
is empty while it has visible text is counted as the warning ``html_no_main_content``).
``row`` is the 0-based record number in the file. Columns are :data:`WARC_COLUMNS`,
from the WARC headers.

Records are framed here (:func:`iter_warc_records`), not by warcio's iterator, which
stops at the first damaged record and writes warnings to stderr: a record is its headers
up to the blank line, then exactly ``Content-Length`` bytes of block, then a blank line
and the next ``WARC/`` version line (or the end of the file). warcio parses the headers
of each framed record and decodes its HTTP body. Damage is counted with the record's
``row`` and the byte ``offset`` where the record starts (gzip: the offset of the member
that holds its first byte; the detail gives the byte within the member's data when the
record does not start it), and reading goes on with the next record:

- ``warc_record_error``: a damaged gzip member (bad deflate data, CRC or length; reading
  resumes at the next gzip member header ``1f 8b 08`` whose data decodes), a file cut
  inside a record (its WARC headers, HTTP headers or block), a record without a valid
  ``Content-Length`` or whose headers run into the next record, a record whose ``WARC/``
  line is damaged. Bytes between records that are no record are counted once per
  stretch, without a row (a record's row is its place among the records found).
- ``warc_length_mismatch``: the record's ``Content-Length`` disagrees with its framing
  (its block is not followed by a blank line, or runs over the next record's start);
  reading resumes at the first ``WARC/`` version line after the record's headers.

A record is yielded only once it is known whole: a gzip member's CRC is checked before
its record is (for one gzip stream over the whole file that check comes at the end of
the file: a stream whose CRC fails is reported, but the records before were read).
Plain WARC has no checksum (block digests are not verified): a damaged byte inside a
record may change its text unseen. Rows stay those of the intact file unless damage
destroys or forges a record start (a member's gzip header beyond one byte, a version
line), or a damaged gzip member that does not start with its record holds the start of
the next one (bgzip style): the rows after it then shift by one.
warcio's log messages (e.g. a WARC-Target-URI with spaces) and HTTP content-decoding
errors part way through a body are kept off stderr and recorded in the report as
``warc_warning`` examples (not skips: the document is read, its text ends there).
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
from warcio.bufferedreaders import BufferedReader, ChunkedDataReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader

from engine.io.charset import CHARSET_DETECTED, decode_payload
from engine.io.compression import READ_BUFFER_BYTES, RecordStream, open_record_stream
from engine.io.html import html_to_text
from engine.io.reading import Document, Reading, batched, decode_utf8, id_list
from engine.io.remote import open_input
from engine.io.report import InputError

__all__ = ["WARC_COLUMNS", "WarcDamage", "WarcRecord", "iter_warc_records", "read_warc"]

WARC_COLUMNS = ("url", "warc_record_id", "warc_date")
WARC_COLUMN_HEADERS = {
    "url": "WARC-Target-URI",
    "warc_record_id": "WARC-Record-ID",
    "warc_date": "WARC-Date",
}
HTML_MIME_TYPES = ("text/html", "application/xhtml+xml")
NON_TEXT_EXAMPLES = 3  # located examples recorded for non_text_record
WARNING_EXAMPLES = 10  # located examples recorded per warning reason (all are counted)
NO_MAIN_CONTENT = "html_no_main_content"  # warning: main content empty, visible text not

RECORD_ERROR = "warc_record_error"
LENGTH_MISMATCH = "warc_length_mismatch"
WARNING = "warc_warning"  # a problem example only (not a skip): the record is still read

MAX_HEADER_BYTES = 2**20  # a WARC header block longer than this is damage
PREFIX_BYTES = 2**16  # block bytes read before deciding to keep or drain the block
CHUNK_BYTES = 2**18  # block bytes read at a time

# A record starts with its version line: "WARC/1.0", "WARC/1.1", "WARC/0.17", ... When
# resynchronising it is looked for anywhere, not only at a line start: damage to the
# blank line before a record must not cost the record.
_VERSION_LINE = re.compile(rb"WARC/\d{1,2}\.\d{1,2}\r?\n")
_LOOKBEHIND = 16  # bytes kept between chunks when searching for _VERSION_LINE
_HEAD_END = re.compile(rb"\n\r?\n")  # the blank line that ends a header block
_CONTENT_LENGTH = re.compile(rb"^content-length:([^\r\n]*)", re.I | re.M)
_WARC_TYPE = re.compile(rb"^warc-type:([^\r\n]*)", re.I | re.M)
_HTTP_CONTENT_TYPE = re.compile(rb"^content-type:([^\r\n]*)\r?\n([ \t])?", re.I | re.M)

_LOADER = ArcWarcRecordLoader(verify_http=False, arc2warc=False)


def read_warc(reading: Reading) -> Iterator[pa.Table]:
    """Tables of the WARC / WET file ``reading.path``, one row per text record."""
    unknown = [name for name in [*id_list(reading), *reading.columns] if name not in WARC_COLUMNS]
    if unknown:
        raise InputError(
            f"column {unknown[0]!r} not found in {reading.path}; WARC input has the columns "
            f"{list(WARC_COLUMNS)}. Ask only for those (e.g. --id-column url)"
        )
    return batched(reading, _warc_documents(reading))


# --------------------------------------------------------------------------- framing


@dataclass
class WarcRecord:
    """One whole record, as framed by :func:`iter_warc_records`.

    Attributes:
        row: 0-based record number in the file.
        offset: byte offset of the record (gzip: of the member holding its first byte).
        kind: the ``WARC-Type`` header, lower case (``""`` when absent).
        head: the WARC header block, blank line included.
        length: ``Content-Length``: bytes in the block.
        prefix: the block's first bytes (at most 64 KiB).
        block: the whole block when the ``want`` callback asked for it, else None.
        inner: for gzip, where the record starts in its member's decompressed bytes.
        warnings: what warcio logged while parsing the record (kept off stderr).
    """

    row: int
    offset: int
    kind: str
    head: bytes
    length: int
    prefix: bytes
    block: bytes | None = None
    inner: int = 0
    warnings: list[str] = field(default_factory=list)

    def parse(self) -> ArcWarcRecord:
        """The record parsed by warcio (HTTP headers included); its ``raw_stream`` holds
        the block, or only ``prefix`` when the block was not kept. What warcio logs goes
        to ``warnings``, not to stderr."""
        data = self.head + (self.block if self.block is not None else self.prefix)
        with _WARCIO_LOG.captured() as messages:
            try:
                return _LOADER.parse_record_stream(io.BytesIO(data), known_format="warc")
            finally:
                self.warnings.extend(messages)


@dataclass
class WarcDamage:
    """A damaged record or stretch of bytes: ``row`` is None for bytes that were never a
    record (garbage between records or gzip members)."""

    row: int | None
    offset: int
    reason: str
    detail: str


class _BlockScan:
    """Finds the first WARC version line in a block read in chunks."""

    def __init__(self) -> None:
        self._tail = b""
        self.found: int | None = None

    def feed(self, chunk: bytes, chunk_pos: int) -> None:
        if self.found is not None or not chunk:
            return
        data = self._tail + chunk
        match = _VERSION_LINE.search(data)
        if match:
            self.found = chunk_pos - len(self._tail) + match.start()
        self._tail = data[-_LOOKBEHIND:]


def iter_warc_records(
    path: str,
    *,
    gzipped: bool,
    want: Callable[[WarcRecord], bool],
    storage_options: dict | None = None,
) -> Iterator[WarcRecord | WarcDamage]:
    """Every record of a WARC file, in order, each whole or counted as damage.

    Args:
        path: the file (a URL is opened with ``storage_options``, see
            :func:`engine.io.remote.open_input`).
        gzipped: the name says gzip (the first bytes decide when they are clear).
        want: called with each record once ``prefix`` is read; True keeps the whole
            block in ``block`` (other blocks are read through, not kept). Called before
            the record is known to be whole.

    Yields:
        :class:`WarcRecord` for each whole record, :class:`WarcDamage` for each damaged
        record or stretch of bytes that is no record (see the module docstring).

    Raises:
        OSError: the file cannot be read.
    """
    with open_input(path, storage_options, buffering=READ_BUFFER_BYTES) as raw:
        yield from _frame(open_record_stream(raw, gzipped, _VERSION_LINE), want)


def _frame(source: RecordStream, want: Callable[[WarcRecord], bool]) -> Iterator:
    row = -1
    while True:
        source.skip_blank()
        if not source.peek(1):
            brk = source.brk
            if brk is None:
                return
            if brk.kind == "garbage":
                source.resume()
                yield WarcDamage(None, brk.offset, RECORD_ERROR, brk.detail)
            else:  # a member that held (the start of) a record
                _resume(source)
                row += 1
                yield WarcDamage(row, brk.offset, RECORD_ERROR, brk.detail)
            continue
        start = source.pos
        source.forget_before(start)
        offset, inner = source.offset_of(start)
        if not source.at_record_start():
            if inner == 0 and source.member_damage(start) is not None:
                brk = source.brk  # a damaged member whose data is no record: one record
                _resume(source)
                row += 1
                yield WarcDamage(row, brk.offset, RECORD_ERROR, brk.detail)
                continue
            skipped = source.skip_to_record_start()
            if b"\nWARC-" in source.recent(start, 1024):  # a record with a damaged first line
                row += 1
                yield WarcDamage(row, offset, RECORD_ERROR, "the record's WARC/ line is damaged")
            else:
                detail = f"{skipped} bytes that are not a WARC record" + _where(inner, offset)
                yield WarcDamage(None, offset, RECORD_ERROR, detail)
            continue
        row += 1
        yield _frame_record(source, want, _Place(row, start, offset, inner))


def _resume(source: RecordStream) -> None:
    """Go on after a damaged gzip member that held a record: skip the rest of that
    record (in later members, when members do not end with records)."""
    source.resume()
    source.skip_blank()
    source.skip_to_record_start()


def _where(inner: int, offset: int) -> str:
    if not inner:
        return ""
    return f" (at byte {inner} of the data of the gzip member at offset {offset})"


@dataclass
class _Place:
    """Where a record being framed starts: its row, logical position, file offset and
    byte within its gzip member's data."""

    row: int
    start: int
    offset: int
    inner: int

    def damage(self, reason: str, detail: str) -> WarcDamage:
        return WarcDamage(self.row, self.offset, reason, detail + _where(self.inner, self.offset))

    def broken(self, source: RecordStream, what: str) -> WarcDamage:
        """The record is cut by a damaged gzip member (the stream's break)."""
        brk = source.brk
        _resume(source)
        return self.damage(RECORD_ERROR, f"{what}: {brk.detail}")

    def failed(
        self, source: RecordStream, reason: str, detail: str, resync: int | None = None
    ) -> WarcDamage:
        """The record's framing fails: if it starts a gzip member that turns out damaged
        (data that inflates but fails its CRC), that is the damage; else go on at
        ``resync`` (None: the next version line from here)."""
        if self.inner == 0 and source.member_damage(self.start) is not None:
            return self.broken(source, "in a damaged gzip member")
        if resync is None:
            source.skip_to_record_start()
        else:
            source.seek(resync)
        return self.damage(reason, detail)


def _frame_record(
    source: RecordStream, want: Callable[[WarcRecord], bool], at: _Place
) -> WarcRecord | WarcDamage:
    """The record at ``at.start`` (a version line), whole, or the damage."""
    head = source.read_through(_HEAD_END, MAX_HEADER_BYTES)
    inside = _VERSION_LINE.search(head, 1)
    if inside is not None:  # no blank line before the next record
        what = "the record's WARC headers run into the next record"
        return at.failed(source, RECORD_ERROR, what, at.start + inside.start())
    if not _HEAD_END.search(head):
        if source.brk is not None:
            return at.broken(source, "cut inside the record's WARC headers")
        if len(head) >= MAX_HEADER_BYTES:
            what = "WARC headers longer than 1 MiB (no blank line)"
            return at.failed(source, RECORD_ERROR, what)
        return at.damage(RECORD_ERROR, "the file ends inside the record's WARC headers")
    length_text = _header(_CONTENT_LENGTH, head)
    if not length_text.isdigit():
        what = f"no valid Content-Length header ({length_text!r})"
        return at.failed(source, RECORD_ERROR, what)
    length = int(length_text)
    header_end = source.pos
    prefix = source.read(min(length, PREFIX_BYTES))
    kind = _header(_WARC_TYPE, head).lower()
    record = WarcRecord(at.row, at.offset, kind, head, length, prefix, inner=at.inner)
    scan = _BlockScan()
    scan.feed(prefix, header_end)
    kept = [prefix] if want(record) else None
    remaining = length - len(prefix)
    while remaining and (not source.stopped or source.peek(1)):
        chunk_pos = source.pos
        chunk = source.read(min(remaining, CHUNK_BYTES))
        scan.feed(chunk, chunk_pos)
        if kept is not None:
            kept.append(chunk)
        remaining -= len(chunk)
    if remaining:
        if scan.found is not None:  # the block runs over the next record
            return at.failed(
                source,
                LENGTH_MISMATCH,
                f"Content-Length {length} runs {remaining} bytes past the data, over the "
                f"next record (which starts {scan.found - header_end} bytes into the block)",
                scan.found,
            )
        if source.brk is not None:
            return at.broken(source, "cut inside the record's block")
        return at.damage(
            RECORD_ERROR,
            f"the file ends {remaining} bytes before the end of the record's block "
            f"(Content-Length {length})",
        )
    damage = _check_record_end(source, at, length, scan.found, header_end)
    if damage is not None:
        return damage
    if kept is not None:
        record.block = b"".join(kept)
    return record


def _check_record_end(
    source: RecordStream, at: _Place, length: int, found: int | None, header_end: int
) -> WarcDamage | None:
    """After the block: a blank line, then the next record (or the end of the data);
    None when so. ``found``: the first version line inside the block."""
    ahead = source.peek(2)
    if ahead and not (ahead[:1] == b"\n" or ahead == b"\r\n" or ahead == b"\r"):
        return at.failed(
            source,
            LENGTH_MISMATCH,
            f"Content-Length {length} does not match the record: its block is not "
            "followed by a blank line",
            found,
        )
    source.skip_blank()
    brk = source.brk
    if brk is not None and not source.peek(1) and brk.member_pos < source.pos:
        # the data stops at a damaged gzip member: is this record in it?
        if brk.member_pos > at.start or at.inner == 0 or brk.kind == "checksum":
            return at.broken(source, "in a damaged gzip member")
    if source.peek(1) and not source.at_record_start() and found is not None:
        return at.failed(
            source,
            LENGTH_MISMATCH,
            f"Content-Length {length} does not match the record: the next record "
            f"starts {found - header_end} bytes into its block",
            found,
        )
    return None


def _header(pattern: re.Pattern, head: bytes) -> str:
    """The value of the first header matching ``pattern`` in a header block (``""``)."""
    found = pattern.search(head)
    return found.group(1).strip().decode("latin-1") if found else ""


# --------------------------------------------------------------------------- documents


class _WarcioLog(logging.Filter):
    """Diverts warcio's log records, on the threads that ask, into a list."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        sink = getattr(self._local, "sink", None)
        if sink is None:
            return True
        sink.append(record.getMessage())
        return False

    @contextmanager
    def captured(self) -> Iterator[list[str]]:
        sink: list[str] = []
        previous = getattr(self._local, "sink", None)
        self._local.sink = sink
        try:
            yield sink
        finally:
            self._local.sink = previous


_WARCIO_LOG = _WarcioLog()
logging.getLogger("warcio.recordloader").addFilter(_WARCIO_LOG)


def _wants_document(record: WarcRecord) -> bool:
    """Keep the block of records that can be documents: conversions, and responses
    unless their HTTP Content-Type is surely not text (decided again, by warcio, on the
    whole record: this only spares reading other blocks into memory)."""
    if record.kind == "conversion":
        return True
    if record.kind != "response":
        return False
    head = _HEAD_END.search(record.prefix)
    if head is None:
        return True  # HTTP headers longer than the prefix (or none): decide on the block
    found = _HTTP_CONTENT_TYPE.search(record.prefix, 0, head.end())
    if found is None:
        return False  # no Content-Type: not a text response
    if found.group(2):
        return True  # a folded header: let warcio read it
    mime, _ = _parse_content_type(found.group(1).decode("latin-1"))
    return mime == "text/plain" or mime in HTML_MIME_TYPES


def _warc_documents(reading: Reading) -> Iterator[Document]:
    part = reading.part
    gzipped = part.compression == "gzip"
    records = iter_warc_records(
        part.path, gzipped=gzipped, want=_wants_document, storage_options=part.storage_options
    )
    for item in records:
        reading.location = {"offset": item.offset}
        if isinstance(item, WarcDamage):
            where = {"offset": item.offset}
            if item.row is not None:
                where = {"row": item.row, "offset": item.offset}
            reading.stopped_early = True  # the damage, not emptiness, explains no documents
            reading.skip(item.reason, detail=item.detail, **where)
            continue
        if item.kind not in ("conversion", "response"):
            continue
        row = item.row
        try:
            record = item.parse()
            payload, problem = _warc_text(record, reading.html_text)
        except Exception as err:  # warcio raises many types for damaged input
            reading.stopped_early = True
            reading.skip(
                RECORD_ERROR, row=row, offset=item.offset, detail=f"{type(err).__name__}: {err}"
            )
            continue
        for message in [*item.warnings, *([problem] if problem else [])]:
            reading.report.add_problem(
                WARNING, reading.path, row=row, offset=item.offset, detail=message
            )
        if payload is None:
            continue
        if payload == _NON_TEXT:
            reading.skip(
                "non_text_record",
                row=row,
                detail=f"response Content-Type {_http_content_type(record)!r}",
                example_limit=NON_TEXT_EXAMPLES,
            )
            continue
        text, invalid, nbytes, warnings = payload
        if invalid:
            reading.invalid_utf8("undecodable bytes replaced by U+FFFD", row=row)
        for reason, detail in warnings:
            reading.warn(reason, row=row, detail=detail, example_limit=WARNING_EXAMPLES)
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


_NON_TEXT = "non_text"


def _http_content_type(record: ArcWarcRecord) -> str | None:
    return record.http_headers.get_header("Content-Type") if record.http_headers else None


def _warc_text(
    record: ArcWarcRecord, html_text: str
) -> tuple[tuple[str, bool, int, list[tuple[str, str]]] | str | None, str]:
    """The document text of a whole record and a content-decoding problem (or ``""``).

    The text is ``(text, had_invalid_bytes, payload bytes, warnings)``, ``warnings`` a
    list of ``(reason, detail)`` to count; ``_NON_TEXT`` for a response that is not
    text/plain or HTML, None for records that are not documents. ``html_text``:
    ``"main"`` or ``"full"`` (:func:`engine.io.html.html_to_text`).
    """
    kind = record.rec_type
    if kind == "conversion":
        payload = record.raw_stream.read()
        text, invalid = decode_utf8(payload)
        return (text, invalid, len(payload), []), ""
    if kind != "response":
        return None, ""
    mime, charset = _parse_content_type(_http_content_type(record) or "")
    if mime != "text/plain" and mime not in HTML_MIME_TYPES:
        return _NON_TEXT, ""
    # a bad Content-Encoding passes the raw bytes through (then counted as invalid
    # UTF-8); one that fails part way ends the body there, recorded as a problem
    payload, problem = _http_body(record)
    html = mime != "text/plain"
    decoded = decode_payload(payload, charset, html=html)
    warnings = [(CHARSET_DETECTED, decoded.detail)] if decoded.source == "detected" else []
    text = decoded.text
    if html:
        text = html_to_text(decoded.text, html_text)
        if not text and html_text == "main" and html_to_text(decoded.text, "full"):
            warnings.append((NO_MAIN_CONTENT, "main content empty: the document's text is ''"))
    return (text, decoded.invalid, len(payload), warnings), problem


class _QuietDecoding:
    """warcio's content decoding, with a failure part way recorded instead of printed
    on stderr (warcio writes it there and ends the body)."""

    error: Exception | None = None

    def _decompress(self, data):
        if self.decompressor and data:
            try:
                return self.decompressor.decompress(data)
            except Exception as err:
                if self.num_block_read == 0:  # not compressed after all: raw bytes
                    if self.decomp_type == "deflate":
                        self._init_decomp("deflate_alt")
                        return self._decompress(data)
                    self.decompressor = None
                    return data
                self.error = err
                return b""
        return data


class _QuietReader(_QuietDecoding, BufferedReader):
    pass


class _QuietChunkedReader(_QuietDecoding, ChunkedDataReader):
    pass


def _http_body(record: ArcWarcRecord) -> tuple[bytes, str]:
    """The HTTP payload, de-chunked and content-decoded as warcio's ``content_stream``."""
    headers = record.http_headers
    encoding = (headers.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    if headers.get_header("transfer-encoding") == "chunked":
        stream = _QuietChunkedReader(record.raw_stream, decomp_type=encoding)
    elif encoding:
        stream = _QuietReader(record.raw_stream, decomp_type=encoding)
    else:
        return record.raw_stream.read(), ""
    payload = stream.read()
    if stream.error is None:
        return payload, ""
    return payload, (
        f"HTTP body: Content-Encoding {encoding} failed after {len(payload)} bytes "
        f"({stream.error}); the text ends there"
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
