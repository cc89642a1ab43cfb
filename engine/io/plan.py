"""Planning: resolve files and directories into :class:`InputPart` units of reading work.

:func:`plan_parts` runs in the driver. It is cheap: it stats files, reads Parquet footers
and scans large plain JSONL files once for line starts. The parts are then read by
:func:`engine.io.read_part` in workers.

Formats, from the file name (:func:`detect_format`):

- JSON Lines: ``.jsonl``, ``.json``, ``.ndjson``, optionally ``.gz`` / ``.zst`` / ``.zstd``.
- Parquet: ``.parquet``, ``.pq``.
- WARC / WET: ``.warc``, ``.wet``, optionally ``.gz``.
- Anything else: a text file, one document (row 0); ``.gz`` / ``.zst`` are decompressed.
- Directories, walked recursively in sorted order; hidden files and folders are skipped.

Sizes (``partition_size``) are in bytes; :func:`parse_size` reads ``"256MB"``-style text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine.io.report import InputError, ReadReport

__all__ = [
    "DEFAULT_PARTITION_BYTES",
    "FORMATS",
    "InputPart",
    "detect_format",
    "parse_size",
    "plan_parts",
]

DEFAULT_PARTITION_BYTES = 256 * 2**20
SCAN_CHUNK_BYTES = 4 * 2**20  # bytes read at a time when scanning JSONL for line starts

FORMATS = ("jsonl", "parquet", "text", "warc")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
WARC_SUFFIXES = (".warc", ".wet")
COMPRESSION_SUFFIXES = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


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
