"""Input layer: plan partitions over corpus files, then read one partition as Arrow tables.

Reading is split in two so that a scheduler can spread it over workers:

- :func:`plan_parts` runs in the driver. It resolves files and directories into a list of
  :class:`InputPart` (cheap: it stats files, reads Parquet footers and scans large plain
  JSONL files once for line starts).
- :func:`read_part` runs in a worker. It yields Arrow tables of about ``batch_bytes`` of
  text each, so memory is bounded by the batch size, never by the file size.

Every table has the columns ``doc_id`` (string), ``text`` (large_string), ``row`` (int64:
0-based line / row / record number in its file), then the extra ``columns`` asked for.
Rows that cannot be used are counted in a :class:`ReadReport` (reason -> count) with
up to 1000 located examples; nothing is dropped silently.

Supported inputs:

- JSON Lines: ``.jsonl``, ``.json``, ``.ndjson``, optionally ``.gz`` / ``.zst`` / ``.zstd``.
- Parquet: ``.parquet``, ``.pq``.
- WARC / WET: ``.warc``, ``.wet``, optionally ``.gz``.
- Anything else: a text file, one document (row 0); ``.gz`` / ``.zst`` are decompressed.
- Directories, walked recursively in sorted order; hidden files and folders are skipped.

Example::

    >>> report = ReadReport()
    >>> parts = plan_parts(["corpus/"], partition_size=parse_size("256MB"))
    >>> for part in parts:
    ...     for table in read_part(part, text_column="text", report=report):
    ...         ...
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader

__all__ = [
    "InputError",
    "InputPart",
    "READ_ERRORS",
    "ReadReport",
    "WARC_COLUMNS",
    "detect_format",
    "html_to_text",
    "iter_jsonl_lines",
    "open_decompressed",
    "parse_size",
    "plan_parts",
    "read_part",
]

DEFAULT_PARTITION_BYTES = 256 * 2**20
DEFAULT_BATCH_BYTES = 64 * 2**20
MAX_PROBLEMS = 1000
DETAIL_CHARS = 200
BINARY_SNIFF_BYTES = 8192
SCAN_CHUNK_BYTES = 4 * 2**20
READ_BUFFER_BYTES = 2**20
ZSTD_INPUT_CHUNK_BYTES = 64 * 2**10  # bounds the output of one decompress call
MAX_PARQUET_BATCH_ROWS = 2**16
NON_TEXT_EXAMPLES = 3

FORMATS = ("jsonl", "parquet", "text", "warc")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
WARC_SUFFIXES = (".warc", ".wet")
COMPRESSION_SUFFIXES = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
WARC_COLUMNS = ("url", "warc_record_id", "warc_date")
WARC_COLUMN_HEADERS = {
    "url": "WARC-Target-URI",
    "warc_record_id": "WARC-Record-ID",
    "warc_date": "WARC-Date",
}
RESERVED_COLUMNS = ("doc_id", "text", "row")
HTML_MIME_TYPES = ("text/html", "application/xhtml+xml")

# Skip reasons that abort a strict read: the data is damaged, not merely of another kind.
STRICT_REASONS = frozenset(
    {
        "malformed_json",
        "missing_text",
        "non_string_text",
        "missing_id",
        "warc_record_error",
        "unreadable_file",
        "corrupt_compression",
        "missing_file",
    }
)

_SURROGATES = re.compile("[\ud800-\udfff]")
_META_CHARSET = re.compile(
    rb"<meta[^>]{0,200}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.I
)


class InputError(ValueError):
    """Bad input that the user must fix (the message names the fix)."""


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class InputPart:
    """One unit of reading work: a whole file or a slice of one.

    Attributes:
        index: position in the global plan; parts are in input order.
        path: file path built from the input as the user gave it (used in doc ids).
        fmt: ``"jsonl"``, ``"parquet"``, ``"text"`` or ``"warc"``.
        compression: ``None``, ``"gzip"`` or ``"zstd"`` (JSONL and text); ``"gzip"`` for
            ``.warc.gz`` / ``.wet.gz`` (warcio decompresses those itself).
        byte_start: plain JSONL: first byte of the slice (a line start).
        byte_end: plain JSONL: end of the slice in bytes, exclusive; -1 = end of file.
        first_row: row number (0-based line / row index) of the slice's first row.
        row_groups: Parquet: the row groups this part reads; None = all of them.
        size_bytes: approximate input bytes in this part (progress and scheduling).
    """

    index: int
    path: str
    fmt: str
    compression: str | None
    byte_start: int = 0
    byte_end: int = -1
    first_row: int = 0
    row_groups: tuple[int, ...] | None = None
    size_bytes: int = 0

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"InputPart.fmt must be one of {FORMATS}, got {self.fmt!r}")
        if self.compression not in (None, "gzip", "zstd"):
            raise ValueError(
                f"InputPart.compression must be None, 'gzip' or 'zstd', got {self.compression!r}"
            )

    @property
    def is_first_part(self) -> bool:
        """True for the part that starts at the beginning of its file."""
        if self.fmt == "parquet":
            return not self.row_groups or self.row_groups[0] == 0
        return self.byte_start == 0


# --------------------------------------------------------------------------- report


@dataclass
class ReadReport:
    """Counters of what reading saw; one per partition task, merged with :meth:`merge`.

    Attributes:
        files: files opened (a file split into several parts counts once).
        documents: rows yielded as documents (empty text included).
        skipped: reason -> number of rows or files skipped for that reason.
        invalid_utf8_documents: documents whose bytes had invalid UTF-8 (replaced by U+FFFD).
        problems: located examples, ``{"file", "line"|"offset"|"row", "reason",
            "detail"}``; at most 1000 are kept (all are counted).
        fallback_ids: documents whose ``id_column`` value was missing or null, given the
            default ``path:row`` id instead.
        problems_omitted: examples not kept because of the cap.
    """

    files: int = 0
    documents: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    invalid_utf8_documents: int = 0
    problems: list[dict] = field(default_factory=list)
    fallback_ids: int = 0
    problems_omitted: int = 0

    def add_problem(
        self,
        reason: str,
        file: str | os.PathLike,
        *,
        line: int | None = None,
        offset: int | None = None,
        row: int | None = None,
        detail: str = "",
    ) -> None:
        """Record one located example (does not touch the counters in ``skipped``)."""
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems_omitted += 1
            return
        problem: dict[str, Any] = {"file": os.fsdecode(file)}
        for key, value in (("line", line), ("offset", offset), ("row", row)):
            if value is not None:
                problem[key] = int(value)
        problem["reason"] = reason
        problem["detail"] = _truncate(detail)
        self.problems.append(problem)

    def count_skip(
        self,
        reason: str,
        file: str | os.PathLike,
        *,
        line: int | None = None,
        offset: int | None = None,
        row: int | None = None,
        detail: str = "",
        example_limit: int | None = None,
    ) -> None:
        """Count one skipped row or file under ``reason`` and record an example.

        ``example_limit``: record an example only for the first that many of this reason.
        """
        count = self.skipped.get(reason, 0) + 1
        self.skipped[reason] = count
        if example_limit is None or count <= example_limit:
            self.add_problem(reason, file, line=line, offset=offset, row=row, detail=detail)

    @property
    def total_skipped(self) -> int:
        """Sum of all ``skipped`` counts."""
        return sum(self.skipped.values())

    def merge(self, other: ReadReport) -> ReadReport:
        """Add ``other``'s counts and examples to this report; returns ``self``."""
        self.files += other.files
        self.documents += other.documents
        self.invalid_utf8_documents += other.invalid_utf8_documents
        self.fallback_ids += other.fallback_ids
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count
        room = max(MAX_PROBLEMS - len(self.problems), 0)
        self.problems.extend(dict(problem) for problem in other.problems[:room])
        self.problems_omitted += other.problems_omitted + max(len(other.problems) - room, 0)
        return self

    @classmethod
    def from_dict(cls, data: dict) -> ReadReport:
        """Inverse of :meth:`to_dict` (e.g. for reports returned by worker tasks)."""
        return cls(
            files=int(data.get("files", 0)),
            documents=int(data.get("documents", 0)),
            skipped={str(k): int(v) for k, v in data.get("skipped", {}).items()},
            invalid_utf8_documents=int(data.get("invalid_utf8_documents", 0)),
            problems=[dict(problem) for problem in data.get("problems", [])],
            fallback_ids=int(data.get("fallback_ids", 0)),
            problems_omitted=int(data.get("problems_omitted", 0)),
        )

    def to_dict(self) -> dict:
        """JSON-serialisable form, for ``summary.json``."""
        return {
            "files": self.files,
            "documents": self.documents,
            "skipped": dict(sorted(self.skipped.items())),
            "invalid_utf8_documents": self.invalid_utf8_documents,
            "fallback_ids": self.fallback_ids,
            "problems": [dict(problem) for problem in self.problems],
            "problems_omitted": self.problems_omitted,
        }


def _truncate(text: str, limit: int = DETAIL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- sizes


_SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def parse_size(text: str | int) -> int:
    """Parse a size in bytes: ``1000``, ``"64KiB"``, ``"256MB"``, ``"1.5GB"``.

    Units follow Dask: ``KB``/``MB``/``GB``/``TB`` are powers of 1000, ``KiB``/``MiB``/
    ``GiB``/``TiB`` powers of 1024; case is ignored. Returns an int number of bytes.

    Raises:
        ValueError: the text is not a non-negative number with a known unit.
    """
    if isinstance(text, bool):
        raise ValueError(f"size must be a number of bytes or a string like '256MB', got {text!r}")
    if isinstance(text, (int, np.integer)):
        if text < 0:
            raise ValueError(f"size must not be negative, got {text}")
        return int(text)
    if not isinstance(text, str):
        raise ValueError(f"size must be a number of bytes or a string like '256MB', got {text!r}")
    match = _SIZE_PATTERN.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(
            f"cannot parse size {text!r}: write a number of bytes with an optional unit, "
            "e.g. '1000', '64KiB', '256MB', '2GB' (KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n)"
        )
    number = match.group(1)
    if "." in number:
        return int(float(number) * _SIZE_UNITS[unit])
    return int(number) * _SIZE_UNITS[unit]


# --------------------------------------------------------------------------- planning


def detect_format(path: str) -> tuple[str, str | None]:
    """Return ``(fmt, compression)`` for a file name (see the module docstring).

    Raises:
        InputError: a combination that cannot be read (compressed Parquet, zstd WARC).
    """
    name = os.path.basename(path).lower()
    stem, compression = name, None
    for suffix, codec in COMPRESSION_SUFFIXES.items():
        if name.endswith(suffix):
            stem, compression = name[: -len(suffix)], codec
            break
    if stem.endswith(JSONL_SUFFIXES):
        return "jsonl", compression
    if stem.endswith(PARQUET_SUFFIXES):
        if compression is not None:
            raise InputError(
                f"{path}: compressed Parquet files are not supported; decompress it "
                "(Parquet compresses its pages itself)"
            )
        return "parquet", None
    if stem.endswith(WARC_SUFFIXES):
        if compression == "zstd":
            raise InputError(f"{path}: zstd-compressed WARC is not supported; recompress with gzip")
        return "warc", compression
    return "text", compression


def plan_parts(
    inputs: Sequence[str | os.PathLike],
    partition_size: int = DEFAULT_PARTITION_BYTES,
    report: ReadReport | None = None,
) -> list[InputPart]:
    """Resolve inputs into parts of about ``partition_size`` bytes, in input order.

    Args:
        inputs: files and directories, as the user gave them (a single path is accepted).
        partition_size: target bytes per part. Plain JSONL files larger than this are
            split at line starts; Parquet files are split into groups of row groups by
            their uncompressed size; other files are one part each.
        report: where planning problems are counted (an unreadable or broken-link entry
            inside a directory). Without a report such a problem raises ``InputError``.
            Problems with a file's content are found and counted by :func:`read_part`.

    Returns:
        Parts with ``index`` 0, 1, ... in input order.

    Raises:
        InputError: no inputs, a missing input, no files at all, a bad ``partition_size``.
    """
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise InputError("no inputs given: pass at least one file or directory")
    if (
        isinstance(partition_size, bool)
        or not isinstance(partition_size, (int, np.integer))
        or partition_size <= 0
    ):
        raise InputError(
            f"partition_size must be a positive number of bytes, got {partition_size!r} "
            "(use parse_size('256MB') for a string)"
        )
    paths: list[str] = []
    for given in inputs:
        paths.extend(_resolve_input(os.fsdecode(given), report))
    if not paths:
        shown = [os.fsdecode(given) for given in inputs]
        raise InputError(
            f"inputs contain no files to read: {shown}. Hidden files (names starting "
            "with '.') are skipped; pass files or folders that hold data"
        )
    parts: list[InputPart] = []
    for path in paths:
        for part in _plan_file(path, int(partition_size)):
            parts.append(_with_index(part, len(parts)))
    return parts


def _with_index(part: InputPart, index: int) -> InputPart:
    return InputPart(
        index=index,
        path=part.path,
        fmt=part.fmt,
        compression=part.compression,
        byte_start=part.byte_start,
        byte_end=part.byte_end,
        first_row=part.first_row,
        row_groups=part.row_groups,
        size_bytes=part.size_bytes,
    )


def _resolve_input(given: str, report: ReadReport | None) -> list[str]:
    if not os.path.exists(given):
        raise InputError(f"input not found: {given!r}. Check the path (it is read as given)")
    if os.path.isdir(given):
        return _walk_directory(given, report)
    return [given]


def _walk_directory(top: str, report: ReadReport | None) -> list[str]:
    """Files under ``top`` (recursive, hidden entries skipped), sorted by relative path."""

    def on_error(err: OSError) -> None:
        _planning_problem(report, "unreadable_file", err.filename or top, str(err))

    found: list[str] = []
    for root, dirnames, filenames in os.walk(top, onerror=on_error):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            if os.path.isfile(path):
                found.append(path)
            elif os.path.islink(path) and not os.path.exists(path):
                _planning_problem(report, "missing_file", path, "broken symbolic link")
    found.sort(key=lambda path: os.path.relpath(path, top).split(os.sep))
    return found


def _planning_problem(report: ReadReport | None, reason: str, path: str, detail: str) -> None:
    if report is None:
        raise InputError(f"{path}: {detail}. Fix its permissions or remove it from the input")
    report.count_skip(reason, path, detail=detail)


def _plan_file(path: str, partition_size: int) -> list[InputPart]:
    fmt, compression = detect_format(path)
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if fmt == "jsonl" and compression is None and size > partition_size:
        return _plan_jsonl_slices(path, size, partition_size)
    if fmt == "parquet":
        return _plan_parquet(path, size, partition_size)
    return [InputPart(0, path, fmt, compression, size_bytes=size)]


def _plan_jsonl_slices(path: str, size: int, partition_size: int) -> list[InputPart]:
    """Split a plain JSONL file at line starts, about every ``partition_size`` bytes.

    The file is scanned once in chunks, counting newlines so that each slice knows the
    line number of its first line. A file that cannot be scanned stays one part (reading
    it reports the problem).
    """
    starts = [(0, 0)]  # (byte offset of a line start, its 0-based line number)
    target = partition_size  # next split: the first line start at or after this byte
    try:
        with open(path, "rb", buffering=0) as stream:
            offset = 0
            lines_before = 0
            while target < size:
                chunk = stream.read(SCAN_CHUNK_BYTES)
                if not chunk:
                    break
                counted_to, counted = 0, lines_before
                while True:
                    newline = chunk.find(b"\n", max(target - 1 - offset, 0))
                    if newline < 0 or offset + newline + 1 >= size:
                        break
                    counted += chunk.count(b"\n", counted_to, newline) + 1
                    counted_to = newline + 1
                    starts.append((offset + newline + 1, counted))
                    target = offset + newline + 1 + partition_size
                    if target >= size:
                        break
                lines_before = counted + chunk.count(b"\n", counted_to)
                offset += len(chunk)
    except OSError:
        return [InputPart(0, path, "jsonl", None, size_bytes=size)]
    parts = []
    for i, (start, first_row) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else -1
        part_bytes = (end if end >= 0 else size) - start
        parts.append(
            InputPart(
                0,
                path,
                "jsonl",
                None,
                byte_start=start,
                byte_end=end,
                first_row=first_row,
                size_bytes=part_bytes,
            )
        )
    return parts


def _plan_parquet(path: str, size: int, partition_size: int) -> list[InputPart]:
    """Group consecutive row groups until their uncompressed size reaches the target."""
    try:
        metadata = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return [InputPart(0, path, "parquet", None, size_bytes=size)]
    if metadata.num_row_groups == 0:
        return [InputPart(0, path, "parquet", None, row_groups=(), size_bytes=size)]
    parts = []
    group: list[int] = []
    group_bytes = group_first_row = next_row = 0
    for rg in range(metadata.num_row_groups):
        rg_meta = metadata.row_group(rg)
        if group and group_bytes + rg_meta.total_byte_size > partition_size:
            parts.append(_parquet_part(path, group, group_first_row, group_bytes))
            group, group_bytes, group_first_row = [], 0, next_row
        group.append(rg)
        group_bytes += rg_meta.total_byte_size
        next_row += rg_meta.num_rows
    parts.append(_parquet_part(path, group, group_first_row, group_bytes))
    return parts


def _parquet_part(path: str, row_groups: list[int], first_row: int, nbytes: int) -> InputPart:
    return InputPart(
        0,
        path,
        "parquet",
        None,
        first_row=first_row,
        row_groups=tuple(row_groups),
        size_bytes=nbytes,
    )


# --------------------------------------------------------------------------- raw access


class _ZstdReader(io.RawIOBase):
    """Decompress a (possibly multi-frame) zstd stream; raise if it ends mid-frame.

    ``zstandard``'s own stream reader returns a short stream without error when the
    file is truncated, which would drop documents silently.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = None
        self._frame_fed = False
        self._pending = memoryview(b"")
        self._input_done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._input_done:
            self._fill()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _fill(self) -> None:
        chunk = self._raw.read(ZSTD_INPUT_CHUNK_BYTES)
        if not chunk:
            self._input_done = True
            if self._frame is not None and self._frame_fed:
                raise zstandard.ZstdError("zstd stream is truncated (ends inside a frame)")
            return
        output = []
        while chunk:
            if self._frame is None:
                self._frame = self._dctx.decompressobj()
                self._frame_fed = False
            output.append(self._frame.decompress(chunk))
            self._frame_fed = True
            if self._frame.eof:
                chunk = self._frame.unused_data
                self._frame = None
            else:
                chunk = b""
        self._pending = memoryview(b"".join(output))

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_decompressed(path: str, compression: str | None) -> BinaryIO:
    """Open ``path`` for binary reading, decompressing ``"gzip"`` or ``"zstd"``.

    Read errors surface as ``OSError`` (unreadable), ``EOFError`` / ``gzip.BadGzipFile``
    / ``zlib.error`` / ``zstandard.ZstdError`` (corrupt or truncated compression).
    """
    if compression is None:
        return open(path, "rb", buffering=READ_BUFFER_BYTES)
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zstd":
        raw = open(path, "rb", buffering=0)
        return io.BufferedReader(_ZstdReader(raw), READ_BUFFER_BYTES)
    raise ValueError(f"unknown compression {compression!r}; expected None, 'gzip' or 'zstd'")


def iter_jsonl_lines(part: InputPart) -> Iterator[tuple[int, bytes]]:
    """Yield ``(row, raw_line)`` for every physical line of a JSONL part, blank ones too.

    ``raw_line`` keeps its line ending (``b"\\n"``; the last line may have none); ``row``
    is the 0-based line number in the file. Decompression errors propagate.
    """
    with open_decompressed(part.path, part.compression) as stream:
        if part.byte_start:
            stream.seek(part.byte_start)
        position = part.byte_start
        row = part.first_row
        for line in stream:
            if 0 <= part.byte_end <= position:
                break
            yield row, line
            position += len(line)
            row += 1


# Exceptions that mean "this file cannot be read (further)": see _read_error_reason.
READ_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError, pa.ArrowException)
_COMPRESSION_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, zstandard.ZstdError)


def _read_error_reason(err: BaseException) -> str:
    if isinstance(err, FileNotFoundError):
        return "missing_file"
    if isinstance(err, _COMPRESSION_ERRORS):
        return "corrupt_compression"
    return "unreadable_file"


# --------------------------------------------------------------------------- reading


@dataclass
class _Reading:
    """Options and state of one ``read_part`` call."""

    part: InputPart
    text_column: str
    id_column: str | None
    columns: tuple[str, ...]
    batch_bytes: int
    strict: bool
    report: ReadReport
    location: dict = field(default_factory=dict)  # where reading is, for error examples
    whole_file: bool = True  # this part covers its whole file
    stopped_early: bool = False  # a counted problem ended reading this file

    @property
    def path(self) -> str:
        return self.part.path

    def skip(self, reason: str, *, detail: str = "", example_limit: int | None = None, **where):
        """Count a skipped row or file, or raise ``InputError`` in strict mode."""
        if self.strict and reason in STRICT_REASONS:
            raise InputError(_strict_message(self.path, reason, where, detail))
        self.report.count_skip(
            reason, self.path, detail=detail, example_limit=example_limit, **where
        )

    def invalid_utf8(self, detail: str, **where) -> None:
        self.report.invalid_utf8_documents += 1
        self.report.add_problem("invalid_utf8", self.path, detail=detail, **where)

    def fallback_id(self, doc_row: int, detail: str, **where) -> str:
        """Default id (``path:doc_row``) for a document whose ``id_column`` value is missing."""
        if self.strict:
            raise InputError(_strict_message(self.path, "missing_id", where, detail))
        self.report.fallback_ids += 1
        self.report.add_problem("missing_id", self.path, detail=detail, **where)
        return f"{self.path}:{doc_row}"


def _strict_message(path: str, reason: str, where: dict, detail: str) -> str:
    place = "".join(f" {key} {value}" for key, value in where.items())
    return (
        f"{path}{place}: {reason}: {_truncate(detail)}. Fix the input, or read without "
        "strict mode to skip such rows and count them in the report"
    )


def read_part(
    part: InputPart,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    columns: Sequence[str] = (),
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    strict: bool = False,
    report: ReadReport,
) -> Iterator[pa.Table]:
    """Read one part as Arrow tables of about ``batch_bytes`` bytes of text each.

    Args:
        part: from :func:`plan_parts`.
        text_column: JSONL key / Parquet column holding the text (ignored for text and
            WARC input, whose text is the file / the record payload).
        id_column: column whose value (cast to string) is ``doc_id``; for WARC one of
            ``url``, ``warc_record_id``, ``warc_date``. None: ``f"{part.path}:{row}"``.
            A missing or null value falls back to the default id (``report.fallback_ids``).
        columns: extra columns to carry. Parquet: as stored. JSONL: strings (non-string
            values as compact JSON). WARC: any of ``WARC_COLUMNS``.
        batch_bytes: target text bytes per table.
        strict: raise ``InputError`` at the first damaged row or file instead of
            skipping and counting it.
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
    reading = _Reading(part, text_column, id_column, columns, int(batch_bytes), strict, report)
    if part.fmt == "jsonl":
        reading.whole_file = part.byte_start == 0 and part.byte_end < 0
    documents = 0
    failed = False
    try:
        size = os.path.getsize(part.path)  # FileNotFoundError: deleted since planning
        if part.is_first_part:
            report.files += 1
        if reading.whole_file and size == 0:
            reading.skip("empty_file", detail="file is 0 bytes")
            return
        for table in _FORMAT_READERS[part.fmt](reading):
            documents += table.num_rows
            report.documents += table.num_rows
            yield table
    except READ_ERRORS as err:
        failed = True
        reason = _read_error_reason(err)
        detail = f"{type(err).__name__}: {err}; rest of the file skipped"
        if reading.strict:
            raise InputError(_strict_message(part.path, reason, reading.location, detail)) from err
        reading.skip(reason, detail=detail, **reading.location)
    if not failed and not reading.stopped_early and reading.whole_file and documents == 0:
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


class _Batcher:
    """Collect documents; emit a table whenever about ``batch_bytes`` of text is held."""

    def __init__(self, reading: _Reading) -> None:
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


Document = tuple[int, str, str, Sequence[Any], int]  # row, text, doc_id, extras, text bytes


def _batched(reading: _Reading, documents: Iterator[Document]) -> Iterator[pa.Table]:
    """Batch documents into tables; on a read error, yield what was read, then re-raise."""
    batcher = _Batcher(reading)
    error: BaseException | None = None
    try:
        for document in documents:
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


def _decode_utf8(data: bytes) -> tuple[str, bool]:
    """Decode UTF-8; invalid bytes become U+FFFD. Returns ``(text, had_invalid_bytes)``."""
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True


def _scrub(text: str) -> str:
    """Replace lone surrogates (from ``\\ud800``-style JSON escapes) with U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def _missing_column_error(
    kind: str, name: str, path: str, present: Sequence[str], hint: str
) -> InputError:
    return InputError(
        f"{kind} {name!r} not found in {path}; columns present: {list(present)}. {hint}"
    )


def _check_columns_present(
    reading: _Reading, present: Sequence[str], string_columns: Sequence[str]
) -> None:
    """Raise ``InputError`` if the text, id or extra columns asked for are absent."""
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


# ---- JSONL


def _read_jsonl(reading: _Reading) -> Iterator[pa.Table]:
    return _batched(reading, _jsonl_documents(reading))


def _jsonl_documents(reading: _Reading) -> Iterator[Document]:
    part = reading.part
    check_columns = part.byte_start == 0
    first_content_line = True
    reading.location = {"line": part.first_row}
    for row, raw in iter_jsonl_lines(part):
        reading.location = {"line": row + 1}  # a read error would hit the next line
        if raw.isspace():  # blank line: not a document, not a problem
            continue
        line, invalid = _decode_utf8(raw)
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
            _check_columns_present(reading, list(obj), strings)
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
        if (b"\\ud" in raw or b"\\uD" in raw) and _SURROGATES.search(text):
            text = _scrub(text)
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
        return _scrub(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return _scrub(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _json_doc_id(reading: _Reading, obj: dict, row: int) -> str:
    if reading.id_column is None:
        return f"{reading.path}:{row}"
    value = obj.get(reading.id_column)
    if value is None:
        state = "is null" if reading.id_column in obj else "is missing"
        return reading.fallback_id(row, f"id key {reading.id_column!r} {state}", line=row)
    return _json_scalar_str(value)


def _json_extra(value: Any) -> str | None:
    return None if value is None else _json_scalar_str(value)


# ---- text files


def _read_text(reading: _Reading) -> Iterator[pa.Table]:
    if reading.id_column is not None or reading.columns:
        asked = [reading.id_column] if reading.id_column else []
        raise InputError(
            f"{reading.path} is read as a plain text file (one document, no columns), so "
            f"columns {asked + list(reading.columns)} cannot apply. Leave out --id-column/"
            "columns, or keep text files out of this input"
        )
    return _batched(reading, _text_documents(reading))


def _text_documents(reading: _Reading) -> Iterator[Document]:
    with open_decompressed(reading.path, reading.part.compression) as stream:
        head = stream.read(BINARY_SNIFF_BYTES)
        if b"\0" in head:
            reading.stopped_early = True
            reading.skip("binary_file", detail="NUL byte in the first 8 KiB; not a text file")
            return
        data = head + stream.read()
    if not data:
        return
    text, invalid = _decode_utf8(data)
    if invalid:
        reading.invalid_utf8("invalid UTF-8 replaced by U+FFFD", row=0)
    yield 0, text, f"{reading.path}:0", (), len(data)


# ---- Parquet


def _read_parquet(reading: _Reading) -> Iterator[pa.Table]:
    part = reading.part
    parquet = pq.ParquetFile(part.path)
    schema = parquet.schema_arrow
    strings = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    _check_columns_present(reading, schema.names, strings)
    text_type = schema.field(reading.text_column).type
    if pa.types.is_dictionary(text_type):
        text_type = text_type.value_type
    if not _is_text_type(text_type):
        hint = f"Pass --text-column {strings[0]}" if strings else "Pass a string column"
        raise InputError(
            f"text column {reading.text_column!r} in {part.path} has type {text_type}, "
            f"not string; string columns: {strings}. {hint}"
        )
    all_groups = list(range(parquet.num_row_groups))
    row_groups = all_groups if part.row_groups is None else list(part.row_groups)
    reading.whole_file = row_groups == all_groups
    if not row_groups:
        return
    read_columns = list(dict.fromkeys([reading.text_column, *_id_list(reading), *reading.columns]))
    batch_rows = _parquet_batch_rows(
        parquet.metadata, row_groups, reading.text_column, reading.batch_bytes
    )
    next_row = part.first_row
    reading.location = {"row": next_row}
    for batch in parquet.iter_batches(
        batch_size=batch_rows, row_groups=row_groups, columns=read_columns, use_threads=False
    ):
        table = _parquet_batch_table(reading, batch, next_row)
        next_row += batch.num_rows
        reading.location = {"row": next_row}
        if table.num_rows:
            yield table


def _id_list(reading: _Reading) -> list[str]:
    return [] if reading.id_column is None else [reading.id_column]


def _is_text_type(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
    )


def _parquet_batch_rows(
    metadata: pq.FileMetaData, row_groups: list[int], text_column: str, batch_bytes: int
) -> int:
    """Rows per batch so that a batch holds about ``batch_bytes`` of text."""
    rows = text_bytes = 0
    for rg in row_groups:
        rg_meta = metadata.row_group(rg)
        rows += rg_meta.num_rows
        for i in range(rg_meta.num_columns):
            column = rg_meta.column(i)
            if column.path_in_schema == text_column:
                text_bytes += column.total_uncompressed_size
    bytes_per_row = max(text_bytes // max(rows, 1), 1)
    return int(min(max(batch_bytes // bytes_per_row, 1), MAX_PARQUET_BATCH_ROWS))


def _parquet_batch_table(reading: _Reading, batch: pa.RecordBatch, first_row: int) -> pa.Table:
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


def _arrow_text(reading: _Reading, column: pa.Array, first_row: int) -> pa.Array:
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
        text, invalid = _decode_utf8(value)
        if invalid:
            reading.invalid_utf8("invalid UTF-8 replaced by U+FFFD", row=first_row + i)
        texts.append(text)
    return pa.array(texts, type=pa.large_string())


def _arrow_ids(
    reading: _Reading, column: pa.Array, has_text: pa.Array, default_ids: pa.Array, first_row: int
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


# ---- WARC / WET


def _read_warc(reading: _Reading) -> Iterator[pa.Table]:
    unknown = [name for name in [*_id_list(reading), *reading.columns] if name not in WARC_COLUMNS]
    if unknown:
        raise InputError(
            f"column {unknown[0]!r} not found in {reading.path}; WARC input has the columns "
            f"{list(WARC_COLUMNS)}. Ask only for those (e.g. --id-column url)"
        )
    return _batched(reading, _warc_documents(reading))


def _warc_documents(reading: _Reading) -> Iterator[Document]:
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
        text, invalid = _decode_utf8(payload)
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
    return _decode_utf8(payload)


_HTML_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
_HTML_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
        "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "td", "th", "title", "tr", "ul",
    }
)  # fmt: skip


class _HTMLTextExtractor(HTMLParser):
    """Collect visible text: drop script/style/noscript, block tags become newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HTML_SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HTML_SKIPPED_TAGS:
            self._skip_depth = max(self._skip_depth - 1, 0)
        elif tag in _HTML_BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.pieces.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML page: one line per block, whitespace collapsed."""
    parser = _HTMLTextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).split("\n"))
    return "\n".join(line for line in lines if line)


_FORMAT_READERS = {
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "text": _read_text,
    "warc": _read_warc,
}
