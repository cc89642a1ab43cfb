"""Write the kept documents of one input part in the input's own format.

The deduplicated corpus (``--write-deduped``) mirrors the input: one output file per
:class:`~engine.io.InputPart`, in ``OUT/deduped/``, named
``f"{part.index:05d}-{basename}"`` so that its extension and compression match the input.

- JSONL: kept lines are copied byte for byte (not re-serialised), recompressed with the
  input's codec.
- Parquet: kept rows with the input's schema (and schema metadata) and codec; read row
  group by row group like :mod:`engine.io.parquet`, so a damaged group is passed over.
- Text: the file is copied when its row 0 is kept.
- WARC / WET: the kept records are re-written with warcio's ``WARCWriter`` (gzip when the
  input is gzipped); ``warcinfo`` records are carried along so that the file stays
  self-describing. Records are framed by :func:`engine.io.warc.iter_warc_records`, the
  reader's own framing, so row numbers match and damaged records are passed over.

Files are written to a hidden temporary name in the same folder (the engine's one
scheme, :func:`engine.run.atomic.temporary_path`) and renamed when complete, so an output
file is complete or absent; resuming a run removes such leftovers. Memory is bounded:
inputs are streamed.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from warcio.warcwriter import WARCWriter

from engine.io.compression import iter_jsonl_lines
from engine.io.parquet import row_group_error, row_group_starts
from engine.io.plan import InputPart
from engine.io.report import READ_ERRORS, InputError, ReadReport
from engine.io.warc import WarcRecord, iter_warc_records
from engine.run.atomic import temporary_path

__all__ = ["deduped_path", "write_kept"]

DEDUPED_DIR = "deduped"
PARQUET_BATCH_BYTES = 64 * 2**20
MAX_PARQUET_BATCH_ROWS = 2**16
ZSTD_LEVEL = 3
GZIP_LEVEL = 6
_PARQUET_CODECS = {
    "UNCOMPRESSED": "none",
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "ZSTD": "zstd",
    "LZ4": "lz4",
    "LZ4_RAW": "lz4",
}


def deduped_path(part: InputPart, out_dir: str | os.PathLike) -> Path:
    """Where the kept documents of ``part`` go: ``out_dir/deduped/{index:05d}-{basename}``.

    The basename keeps the input's extensions (``data.jsonl.gz`` -> ``00003-data.jsonl.gz``).
    """
    return Path(out_dir) / DEDUPED_DIR / f"{part.index:05d}-{os.path.basename(part.path)}"


def write_kept(
    part: InputPart,
    kept_rows: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    report: ReadReport | None = None,
) -> Path | None:
    """Write the documents of ``part`` whose ``row`` is in ``kept_rows``.

    Args:
        part: the part the rows were read from.
        kept_rows: int64 row numbers (as in ``read_part``'s ``row`` column) to keep;
            sorted is expected, duplicates are ignored.
        out_dir: the run's output folder; the file goes to :func:`deduped_path`.
        report: if given, kept rows that could not be found again in the input (the
            input changed since it was read) are recorded there as a problem with reason
            ``"deduped_rows_missing"``.

    Returns:
        The path written, or None when no row is kept: nothing is written then, and a
        file left at that path by an earlier run is removed.

    Read errors that ``read_part`` also met end the copy at the same place (a corrupt
    JSONL stream) or pass over the same damaged WARC record or Parquet row group, so the
    output holds what reading could read.
    """
    kept = _kept_array(kept_rows)
    target = deduped_path(part, out_dir)
    if kept.size == 0:
        target.unlink(missing_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(target)
    try:
        written = _WRITERS[part.fmt](part, kept, temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if written < kept.size and report is not None:
        report.add_problem(
            "deduped_rows_missing",
            part.path,
            detail=f"{kept.size - written} of {kept.size} kept rows not found in the input",
        )
    if written == 0:
        temporary.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        return None
    os.replace(temporary, target)
    return target


def _kept_array(kept_rows) -> np.ndarray:
    kept = np.asarray(kept_rows)
    if kept.ndim != 1:
        raise ValueError(f"kept_rows must be a 1-D array of row numbers, got shape {kept.shape}")
    if kept.size and not np.issubdtype(kept.dtype, np.integer):
        raise ValueError(f"kept_rows must hold integers (int64 rows), got dtype {kept.dtype}")
    return np.unique(kept.astype(np.int64, copy=False))


class _KeptRows:
    """Membership test for increasing row numbers against sorted kept rows, O(1) each."""

    def __init__(self, kept: np.ndarray) -> None:
        self._kept = kept.tolist()
        self._next = 0
        self.matched = 0
        self.last = self._kept[-1] if self._kept else -1

    def take(self, row: int) -> bool:
        """True if ``row`` is kept; rows must be asked in increasing order."""
        kept = self._kept
        while self._next < len(kept) and kept[self._next] < row:
            self._next += 1
        if self._next < len(kept) and kept[self._next] == row:
            self._next += 1
            self.matched += 1
            return True
        return False


@contextlib.contextmanager
def _open_output(path: Path, compression: str | None):
    """Binary output stream, compressed like the input (gzip without name or time)."""
    with open(path, "wb") as raw:
        if compression is None:
            yield raw
        elif compression == "gzip":
            with gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
            ) as out:
                yield out
        elif compression == "zstd":
            compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
            with compressor.stream_writer(raw, closefd=False) as out:
                yield out
        else:
            raise ValueError(f"unknown compression {compression!r}")


def _write_jsonl(part: InputPart, kept: np.ndarray, path: Path) -> int:
    rows = _KeptRows(kept)
    with _open_output(path, part.compression) as out:
        try:
            for row, line in iter_jsonl_lines(part):
                if row > rows.last:
                    break
                if rows.take(row):
                    out.write(line)
        except READ_ERRORS as err:
            _raise_if_unopenable(err, part)
    return rows.matched


def _write_text(part: InputPart, kept: np.ndarray, path: Path) -> int:
    if kept[0] != 0:
        return 0
    try:
        shutil.copyfile(part.path, path)
    except OSError as err:
        raise InputError(f"cannot copy {part.path} to {path}: {err}") from err
    return 1


def _write_parquet(part: InputPart, kept: np.ndarray, path: Path) -> int:
    try:
        parquet = pq.ParquetFile(part.path, page_checksum_verification=True)
    except (OSError, pa.ArrowException, UnicodeDecodeError) as err:
        raise InputError(f"cannot reopen {part.path} to write kept rows: {err}") from err
    all_groups = list(range(parquet.num_row_groups))
    row_groups = all_groups if part.row_groups is None else list(part.row_groups)
    if not row_groups:
        return 0
    schema = parquet.schema_arrow
    codec = _parquet_codec(parquet)
    batch_rows = _parquet_batch_rows(parquet.metadata, row_groups)
    starts = row_group_starts(parquet.metadata)
    matched = 0
    pending: list[pa.RecordBatch] = []
    pending_bytes = 0
    with pq.ParquetWriter(path, schema, compression=codec) as writer:
        for rg in row_groups:
            next_row, end_row = starts[rg], starts[rg + 1]
            if next_row > kept[-1]:
                break
            first_kept = np.searchsorted(kept, next_row)
            if first_kept == kept.size or kept[first_kept] >= end_row:
                continue  # no kept row in this group
            try:
                for batch in parquet.iter_batches(
                    batch_size=batch_rows, row_groups=[rg], use_threads=False
                ):
                    rows = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
                    next_row += batch.num_rows
                    mask = np.isin(rows, kept, assume_unique=True)
                    if mask.any():
                        chosen = batch.filter(pa.array(mask))
                        matched += chosen.num_rows
                        pending.append(chosen)
                        pending_bytes += chosen.nbytes
                    if pending_bytes >= PARQUET_BATCH_BYTES:
                        writer.write_table(pa.Table.from_batches(pending, schema=schema))
                        pending, pending_bytes = [], 0
                    if next_row > kept[-1]:
                        break
            except (OSError, pa.ArrowException) as err:
                if not row_group_error(err):
                    raise InputError(f"cannot read {part.path} to write kept rows: {err}") from err
                # a damaged row group: read_part counted its rows, and kept none of them
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=schema))
    return matched


def _parquet_codec(parquet: pq.ParquetFile) -> str:
    """The codec of the first row group that reads (its column-chunk metadata is then
    sound: pyarrow's accessor for it aborts the process on some damaged footers)."""
    metadata = parquet.metadata
    for rg in range(metadata.num_row_groups):
        if metadata.row_group(rg).num_columns == 0:
            break
        try:
            next(parquet.iter_batches(batch_size=1, row_groups=[rg], use_threads=False), None)
        except (OSError, pa.ArrowException):
            continue
        name = str(metadata.row_group(rg).column(0).compression).upper()
        return _PARQUET_CODECS.get(name, "snappy")
    return "snappy"


def _parquet_batch_rows(metadata: pq.FileMetaData, row_groups: list[int]) -> int:
    rows = sum(metadata.row_group(rg).num_rows for rg in row_groups)
    nbytes = sum(metadata.row_group(rg).total_byte_size for rg in row_groups)
    bytes_per_row = max(nbytes // max(rows, 1), 1)
    return int(min(max(PARQUET_BATCH_BYTES // bytes_per_row, 1), MAX_PARQUET_BATCH_ROWS))


def _write_warc(part: InputPart, kept: np.ndarray, path: Path) -> int:
    rows = _KeptRows(kept)

    def wanted(record: WarcRecord) -> bool:
        at = np.searchsorted(kept, record.row)
        return record.kind == "warcinfo" or (at < kept.size and kept[at] == record.row)

    gzipped = part.compression == "gzip" or part.path.lower().endswith(".gz")
    records = iter_warc_records(part.path, gzipped=gzipped, want=wanted)
    with contextlib.closing(records), open(path, "wb") as out:
        writer = WARCWriter(out, gzip=gzipped)
        while True:
            try:
                record = next(records, None)
            except OSError as err:
                raise InputError(f"cannot read {part.path} to write kept rows: {err}") from err
            if record is None or (record.row is not None and record.row > rows.last):
                break
            if not isinstance(record, WarcRecord):
                continue  # a damaged record: read_part counted it and kept nothing
            if rows.take(record.row) or record.kind == "warcinfo":
                try:
                    parsed = record.parse()
                except Exception:  # warcio raises many types; read_part counted it too
                    if record.kind != "warcinfo":
                        rows.matched -= 1
                    continue
                writer.write_record(parsed)
    return rows.matched


def _raise_if_unopenable(err: BaseException, part: InputPart) -> None:
    """Missing or unreadable input is an error here; damaged content ends the copy."""
    if isinstance(err, OSError) and not isinstance(err, (gzip.BadGzipFile, EOFError)):
        raise InputError(f"cannot read {part.path} to write kept rows: {err}") from err


_WRITERS: dict[str, Callable[[InputPart, np.ndarray, Path], int]] = {
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
    "text": _write_text,
    "warc": _write_warc,
}
