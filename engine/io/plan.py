"""Planning: resolve files and directories into :class:`InputPart` units of reading work.

:func:`plan_parts` runs in the driver. It is cheap: it stats files, reads Parquet footers,
frames the messages of Arrow IPC files (their data is not read) and scans large plain
JSONL files once for line starts. The parts are then read by
:func:`engine.io.read_part` in workers.

Formats, from the file name (:func:`detect_format`):

- JSON Lines: ``.jsonl``, ``.json``, ``.ndjson``, optionally ``.gz`` / ``.zst`` / ``.zstd``.
- Parquet: ``.parquet``, ``.pq``.
- Arrow IPC: ``.arrow`` (stream or file format), ``.feather`` (V2), ``.ipc``; large files
  are split into ranges of record batches (:mod:`engine.io.ipc_messages`).
- WARC / WET: ``.warc``, ``.wet``, optionally ``.gz``.
- Anything else: a text file, one document (row 0); ``.gz`` / ``.zst`` are decompressed.
- Directories, walked recursively in sorted order; hidden files and folders are skipped.
  Linked folders are followed; a link to a folder above it (``symlink_loop``), a FIFO,
  socket or device (``special_file``, never opened), a broken link (``missing_file``) and
  a folder holding an Ouroboros output (``ouroboros_output``: a ``_work/run.json`` claim
  marker inside it, e.g. ``--out`` placed inside an input folder) are counted, not read.
- The same file (or folder) reached twice, under any spelling, is read once; each repeat
  is counted as ``duplicate_input``.
- A Hugging Face ``save_to_disk`` folder (``state.json``, or ``dataset_dict.json`` and
  one folder per split) is read as the dataset: its ``.arrow`` data files in the order
  its metadata lists them, never its JSON metadata (:mod:`engine.io.hf_folder`).

Paths: :attr:`InputPart.path` is absolute (resolved in the driver, so that workers
running in another directory open the same file) or a URL (:mod:`engine.io.remote`);
:attr:`InputPart.given_path` keeps the spelling built from the input as the user gave
it, which doc ids (``<path>:<row>``) and report entries use.

Sizes (``partition_size``) are in bytes; :func:`parse_size` reads ``"256MB"``-style text.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from engine.io.hf_folder import dataset_folder_names
from engine.io.ipc_messages import plan_batch_ranges
from engine.io.remote import RemoteInputs, is_remote, parquet_metadata
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
BINARY_SNIFF_BYTES = 8192  # a NUL byte in a file's first bytes marks it binary

FORMATS = ("arrow", "jsonl", "parquet", "text", "warc")
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
ARROW_SUFFIXES = (".arrow", ".feather", ".ipc")
WARC_SUFFIXES = (".warc", ".wet")
COMPRESSION_SUFFIXES = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
# A folder holding this file is an Ouroboros output folder (engine.run.output's claim).
OUTPUT_MARKER = os.path.join("_work", "run.json")


@dataclass(frozen=True)
class InputPart:
    """One unit of reading work: a whole file or a slice of one.

    Attributes:
        index: position in the global plan; parts are in input order.
        path: absolute path of the file (resolved in the driver): what is opened.
        fmt: ``"arrow"``, ``"jsonl"``, ``"parquet"``, ``"text"`` or ``"warc"``.
        compression: ``None``, ``"gzip"`` or ``"zstd"`` (JSONL and text); ``"gzip"`` for
            ``.warc.gz`` / ``.wet.gz`` (warcio decompresses those itself).
        byte_start: plain JSONL: first byte of the slice (a line start).
        byte_end: plain JSONL: end of the slice in bytes, exclusive; -1 = end of file.
        first_row: row number (0-based line / row index) of the slice's first row.
        row_groups: Parquet: the row groups this part reads; Arrow IPC: the record
            batches (consecutive); None = all of them.
        size_bytes: approximate input bytes in this part (progress and scheduling).
        given_path: the file's path built from the input as the user gave it (``""``:
            same as ``path``); see :attr:`id_path`.
        storage_options: a remote file's fsspec options (:mod:`engine.run.storage`);
            None for a local file. Left out of ``repr`` (fingerprints) and comparisons.
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
    given_path: str = ""
    storage_options: dict | None = field(default=None, repr=False, compare=False)

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
        if self.fmt in ("parquet", "arrow"):
            return not self.row_groups or self.row_groups[0] == 0
        return self.byte_start == 0

    @property
    def id_path(self) -> str:
        """The path in doc ids (``<id_path>:<row>``) and report entries: as given."""
        return self.given_path or self.path


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
    if stem.endswith(ARROW_SUFFIXES):
        if compression is not None:
            raise InputError(f"{path}: compressed Arrow IPC files are not supported; decompress it")
        return "arrow", None
    if stem.endswith(WARC_SUFFIXES):
        if compression == "zstd":
            raise InputError(f"{path}: zstd-compressed WARC is not supported; recompress with gzip")
        return "warc", compression
    return "text", compression


def plan_parts(
    inputs: Sequence[str | os.PathLike],
    partition_size: int = DEFAULT_PARTITION_BYTES,
    report: ReadReport | None = None,
    storage_options: dict | None = None,
) -> list[InputPart]:
    """Resolve inputs into parts of about ``partition_size`` bytes, in input order.

    Args:
        inputs: files and directories, as the user gave them (a single path is accepted).
        partition_size: target bytes per part. Plain JSONL files larger than this are
            split at line starts; Parquet files are split into groups of row groups by
            their uncompressed size; other files are one part each. A callable is
            given the total bytes of the files found and returns the size to use
            (:func:`engine.run.scheduling.partition_rule`).
        report: where planning problems are counted: inside a folder an unreadable
            entry, a broken link (``missing_file``), a link to a folder above it
            (``symlink_loop``), a FIFO / socket / device (``special_file``), an Ouroboros
            output folder (``ouroboros_output``); and anywhere a file or folder reached
            a second time (``duplicate_input``). Without a report such a problem raises
            ``InputError``. Problems with a file's content are counted by :func:`read_part`.
        storage_options: fsspec options for URL inputs (``s3://...``: listed and read
            as :mod:`engine.io.remote` says); None: from the environment.

    Returns:
        Parts with ``index`` 0, 1, ... in input order; ``path`` absolute, ``given_path``
        as spelled from the inputs.

    Raises:
        InputError: no inputs, a missing input, an input that is an Ouroboros output
            folder or not a regular file or folder, no files at all, a bad
            ``partition_size``.
    """
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise InputError("no inputs given: pass at least one file or directory")
    if not callable(partition_size):
        _check_partition_size(partition_size)
    planner = _Planner(report)
    remote = RemoteInputs(storage_options, report)
    for given in map(os.fsdecode, inputs):
        if is_remote(given):
            planner.files.extend(remote.add_input(given))
        else:
            planner.add_input(given)
    if not planner.files:
        shown = [os.fsdecode(given) for given in inputs]
        raise InputError(
            f"inputs contain no files to read: {shown}. Hidden files (names starting "
            "with '.') are skipped; pass files or folders that hold data"
        )
    if callable(partition_size):
        partition_size = partition_size(_total_bytes(planner.files, remote.sizes))
        _check_partition_size(partition_size)
    parts: list[InputPart] = []
    for given_path, path in planner.files:
        so = remote.options_for(path)  # storage options of a URL
        for part in _plan_file(path, given_path, int(partition_size), remote):
            parts.append(replace(part, index=len(parts), given_path=given_path, storage_options=so))
    return parts


def _check_partition_size(partition_size) -> None:
    if (
        isinstance(partition_size, bool)
        or not isinstance(partition_size, (int, np.integer))
        or partition_size <= 0
    ):
        raise InputError(
            f"partition_size must be a positive number of bytes, got {partition_size!r} "
            "(use parse_size('256MB') for a string)"
        )


def _total_bytes(files: list[tuple[str, str]], remote_sizes: dict[str, int]) -> int:
    """Sum of the sizes of the planned ``(given_path, path)`` files (0 where unknown)."""
    total = 0
    for _, path in files:
        try:
            total += remote_sizes[path] if path in remote_sizes else os.path.getsize(path)
        except OSError:
            pass
    return total


def _absolute_path(path: str) -> str:
    """``path`` made absolute against the current directory, without resolving links.

    ``.`` components and repeated separators are removed; a path with a ``..``
    component is only joined to the current directory (collapsing ``link/..`` by text
    could name another folder than the one the system would open).
    """
    joined = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    if os.pardir in joined.split(os.sep):
        return joined
    return os.path.normpath(joined)


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def _special_kind(mode: int) -> str:
    for test, kind in _SPECIAL_KINDS:
        if test(mode):
            return kind
    return "special file"


def _is_output_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, OUTPUT_MARKER))


def _identity(st: os.stat_result, path: str) -> tuple:
    """What makes two paths the same file or folder: device and inode (the real path
    where a file system reports no inode numbers)."""
    if st.st_ino:
        return (st.st_dev, st.st_ino)
    return ("path", os.path.realpath(path))


class _Planner:
    """Resolves inputs into files ``(given spelling, absolute path)``, each file once.

    Folders are walked depth first in sorted order (a folder's files at its name's
    place), following links to folders; every entry that is not read is counted.
    """

    def __init__(self, report: ReadReport | None) -> None:
        self.report = report
        self.files: list[tuple[str, str]] = []
        self._seen: dict[tuple, str] = {}  # file or folder identity -> first spelling

    def add_input(self, given: str) -> None:
        path = _absolute_path(given)
        try:
            st = os.stat(given)  # as given: '' is not the current folder
        except FileNotFoundError:
            raise InputError(
                f"input not found: {given!r}. Check the path (it is read as given)"
            ) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise InputError(f"input {given!r} is a symbolic link loop") from None
            raise InputError(f"cannot read input {given!r}: {err}") from None
        if stat.S_ISDIR(st.st_mode):
            if _is_output_folder(path):
                deduped = os.path.join(given, "deduped")
                hint = (
                    f"; to read the documents a run kept, pass {deduped!r}"
                    if os.path.isdir(os.path.join(path, "deduped"))
                    else ""
                )
                raise InputError(
                    f"{given!r} is an Ouroboros output folder (it holds {OUTPUT_MARKER}): its "
                    f"files are results, not documents. Pass the input files instead{hint}"
                )
            if self._repeat(st, path, given, "folder"):
                return
            self._walk(given, path, st)
        elif stat.S_ISREG(st.st_mode):
            self._add_file(given, path, st)
        else:
            raise InputError(
                f"input {given!r} is a {_special_kind(st.st_mode)}, not a regular file. Inputs "
                "are read more than once (planning, reading, writing kept rows), so pipes, "
                "sockets and devices cannot be inputs: write the data to a file first"
            )

    def _repeat(self, st: os.stat_result, path: str, given: str, kind: str) -> bool:
        """Count ``given`` as a repeat if this file or folder was seen; else remember it."""
        key = _identity(st, path)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = given
            return False
        _planning_problem(
            self.report,
            "duplicate_input",
            given,
            f"same {kind} as {first!r}; read once",
            "give each file once",
        )
        return True

    def _add_file(self, given: str, path: str, st: os.stat_result) -> None:
        if not self._repeat(st, path, given, "file"):
            self.files.append((given, path))

    def _walk(self, top: str, top_path: str, top_stat: os.stat_result) -> None:
        # a stack of folders being listed: (spelling, absolute path, identities of the
        # folders above and of itself, names left to visit)
        stack = [(top, top_path, (_identity(top_stat, top_path),), self._names(top, top_path))]
        while stack:
            folder, folder_path, ancestors, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            given = os.path.join(folder, name)
            path = os.path.join(folder_path, name)
            st = self._stat_entry(given, path)
            if st is None:
                continue
            if stat.S_ISREG(st.st_mode):
                self._add_file(given, path, st)
            elif stat.S_ISDIR(st.st_mode):
                identity = _identity(st, path)
                if identity in ancestors:
                    _planning_problem(
                        self.report,
                        "symlink_loop",
                        given,
                        f"links to {os.path.realpath(path)!r}, a folder above it; not followed",
                        "remove the link",
                    )
                elif _is_output_folder(path):
                    _planning_problem(
                        self.report,
                        "ouroboros_output",
                        given,
                        f"an Ouroboros output folder (holds {OUTPUT_MARKER}); not read",
                        "place --out outside the input folders",
                    )
                elif not self._repeat(st, path, given, "folder"):
                    stack.append((given, path, (*ancestors, identity), self._names(given, path)))
            else:
                _planning_problem(
                    self.report,
                    "special_file",
                    given,
                    f"a {_special_kind(st.st_mode)}, not a regular file; not opened",
                    "remove it from the input folder",
                )

    def _names(self, folder: str, folder_path: str) -> Iterator[str]:
        """Names in a folder, hidden ones left out, sorted; an unreadable folder is counted."""
        try:
            names = os.listdir(folder_path)
        except OSError as err:
            _planning_problem(self.report, "unreadable_file", folder, str(err))
            names = []
        names = sorted(name for name in names if not name.startswith("."))
        problem = functools.partial(_planning_problem, self.report)
        dataset = dataset_folder_names(folder, folder_path, names, problem)
        return iter(names if dataset is None else dataset)

    def _stat_entry(self, given: str, path: str) -> os.stat_result | None:
        """The entry's status, links followed; None (counted) when it cannot be had."""
        try:
            return os.stat(path)
        except OSError as err:
            if err.errno == errno.ELOOP:
                reason, detail, fix = "symlink_loop", "symbolic link loop", "remove the link"
            elif isinstance(err, FileNotFoundError) and os.path.islink(path):
                reason, detail, fix = "missing_file", "broken symbolic link", "remove the link"
            else:
                reason, detail = "unreadable_file", str(err)
                fix = "fix its permissions or remove it from the input"
            _planning_problem(self.report, reason, given, detail, fix)
            return None


def _planning_problem(
    report: ReadReport | None,
    reason: str,
    path: str,
    detail: str,
    fix: str = "fix its permissions or remove it from the input",
) -> None:
    if report is None:
        raise InputError(f"{path}: {detail}. {fix[:1].upper()}{fix[1:]}")
    report.count_skip(reason, path, detail=detail)


def _plan_file(path: str, given_path: str, partition_size: int, remote) -> list[InputPart]:
    fmt, compression = detect_format(given_path)  # its messages name the file as given
    try:
        size = remote.sizes[path] if remote.holds(path) else os.path.getsize(path)
    except OSError:
        size = 0
    if fmt == "jsonl" and compression is None and size > partition_size and not remote.holds(path):
        return _plan_jsonl_slices(path, size, partition_size)  # a remote file is one part
    if fmt == "parquet":
        return _plan_parquet(path, size, partition_size, remote.options_for(path))
    if fmt == "arrow" and not remote.holds(path):  # a remote IPC file is one part
        return [
            InputPart(0, path, fmt, None, first_row=row, row_groups=batches, size_bytes=nbytes)
            for batches, row, nbytes in plan_batch_ranges(path, size, partition_size)
        ]
    return [InputPart(0, path, fmt, compression, size_bytes=size)]


def _plan_jsonl_slices(path: str, size: int, partition_size: int) -> list[InputPart]:
    """Split a plain JSONL file at line starts, about every ``partition_size`` bytes.

    The file is scanned once in chunks, counting newlines so that each slice knows the
    line number of its first line. A file that cannot be scanned, or that looks binary
    (a NUL byte in its first :data:`BINARY_SNIFF_BYTES`), stays one part (reading it
    reports the problem, once).
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
                if offset == 0 and b"\0" in chunk[:BINARY_SNIFF_BYTES]:
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


def _plan_parquet(path: str, size: int, partition_size: int, options=None) -> list[InputPart]:
    """Group consecutive row groups until their uncompressed size reaches the target."""
    try:
        metadata = parquet_metadata(path, options)  # a remote file: its footer only
    except (OSError, pa.ArrowException, ValueError):
        # a damaged footer (ValueError: e.g. a column name that is not UTF-8): one part,
        # which the reader counts as an unreadable file
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
