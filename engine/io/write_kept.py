"""Write the kept documents of one input part in the input's own format.

The deduplicated corpus (``--write-deduped``) mirrors the input: one output file per
:class:`~engine.io.InputPart`, in ``OUT/deduped/``, named
``f"{part.index:05d}-{basename}"`` so that its extension and compression match the input.

- JSONL: kept lines are copied byte for byte (not re-serialised), recompressed with the
  input's codec.
- Parquet: kept rows with the input's schema (and schema metadata) and codec; read row
  group by row group like :mod:`engine.io.parquet`, so a damaged group is passed over.
- Arrow IPC: kept rows with the input's layout (stream or file format), schema (and
  schema metadata) and buffer compression; record batch by record batch like
  :mod:`engine.io.arrow_ipc`, so a damaged batch is passed over. A Hugging Face
  ``save_to_disk`` folder gives one ``.arrow`` file per data file (each loads with
  ``datasets.Dataset.from_file``).
- Text: the file is copied when its row 0 is kept.
- WARC / WET: the kept records are re-written with warcio's ``WARCWriter`` (gzip when the
  input is gzipped); ``warcinfo`` records are carried along so that the file stays
  self-describing. Records are framed by :func:`engine.io.warc.iter_warc_records`, the
  reader's own framing, so row numbers match and damaged records are passed over.

With ``texts`` (one new text per kept row, e.g. the text with repeated spans cut out) the
text column of each kept row is replaced and every other column is kept as it was
(:mod:`engine.io.write_cut`); WARC / WET input then gives JSON Lines instead
(``url``, ``warc_record_id``, ``warc_date``, ``text``; gzipped like the input).

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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from warcio.warcwriter import WARCWriter

from engine.io.compression import iter_jsonl_lines
from engine.io.ipc_messages import IpcFile, batch_range
from engine.io.parquet import row_group_error, row_group_starts
from engine.io.plan import InputPart
from engine.io.remote import open_input, open_parquet
from engine.io.report import READ_ERRORS, InputError, ReadReport
from engine.io.warc import WarcRecord, iter_warc_records
from engine.io.write_cut import CutTexts, warc_cut_lines
from engine.run.atomic import temporary_path

__all__ = ["deduped_path", "write_kept"]

DEDUPED_DIR = "deduped"
PARQUET_BATCH_BYTES = 64 * 2**20
MAX_PARQUET_BATCH_ROWS = 2**16
ZSTD_LEVEL = 3
COPY_BUFFER_BYTES = 2**20  # text files: bytes copied at a time
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


def deduped_path(part: InputPart, out_dir: str | os.PathLike, *, cut: bool = False) -> Path:
    """Where the kept documents of ``part`` go: ``out_dir/deduped/{index:05d}-{basename}``.

    The basename keeps the input's extensions (``data.jsonl.gz`` -> ``00003-data.jsonl.gz``).
    ``cut``: the texts are replaced, so WARC / WET input is written as JSON Lines
    (``crawl.warc.gz`` -> ``00003-crawl.jsonl.gz``).
    """
    name = os.path.basename(part.path)
    if cut and part.fmt == "warc":
        gzip_suffix = name[-3:] if name.lower().endswith(".gz") else ""
        stem = name[: len(name) - len(gzip_suffix)]
        name = f"{os.path.splitext(stem)[0]}.jsonl{gzip_suffix}"
    return Path(out_dir) / DEDUPED_DIR / f"{part.index:05d}-{name}"


def write_kept(
    part: InputPart,
    kept_rows: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    texts: Sequence[str] | None = None,
    text_column: str = "text",
    report: ReadReport | None = None,
) -> Path | None:
    """Write the documents of ``part`` whose ``row`` is in ``kept_rows``.

    Args:
        part: the part the rows were read from.
        kept_rows: int64 row numbers (as in ``read_part``'s ``row`` column) to keep;
            sorted is expected, duplicates are ignored (not allowed with ``texts``).
        out_dir: the run's output folder; the file goes to :func:`deduped_path`.
        texts: None keeps each row as it is; else the new text of each kept row,
            aligned with ``kept_rows`` (see the module docstring).
        text_column: the JSONL key / column that ``texts`` replace.
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
    cut = None if texts is None else CutTexts(np.asarray(kept_rows), texts, text_column)
    target = deduped_path(part, out_dir, cut=cut is not None)
    if kept.size == 0:
        target.unlink(missing_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(target)
    try:
        written = _WRITERS[part.fmt](part, kept, temporary, cut)
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


def _write_jsonl(part: InputPart, kept: np.ndarray, path: Path, cut: CutTexts | None) -> int:
    rows = _KeptRows(kept)
    with _open_output(path, part.compression) as out:
        try:
            for row, line in iter_jsonl_lines(part):
                if row > rows.last:
                    break
                if rows.take(row):
                    out.write(line if cut is None else cut.json_line(row, line))
        except READ_ERRORS as err:
            _raise_if_unopenable(err, part)
    return rows.matched


def _write_text(part: InputPart, kept: np.ndarray, path: Path, cut: CutTexts | None) -> int:
    if kept[0] != 0:
        return 0
    if cut is not None:
        with _open_output(path, part.compression) as out:
            out.write(cut.text(0).encode("utf-8"))
        return 1
    try:
        with open_input(part.path, part.storage_options) as source, open(path, "wb") as copy:
            shutil.copyfileobj(source, copy, COPY_BUFFER_BYTES)
    except OSError as err:
        raise InputError(f"cannot copy {part.path} to {path}: {err}") from err
    return 1


def _write_parquet(part: InputPart, kept: np.ndarray, path: Path, cut: CutTexts | None) -> int:
    try:
        # a remote file (engine.io.remote) is closed with the ParquetFile that holds it
        source = open_parquet(part.path, part.storage_options, page_checksum_verification=True)
        parquet = source.file
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
                        if cut is not None:
                            chosen = cut.replace_column(chosen, rows[mask])
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


def _write_warc(part: InputPart, kept: np.ndarray, path: Path, cut: CutTexts | None) -> int:
    if cut is not None:  # a new text cannot go back into a record: JSON Lines instead
        written = 0
        with _open_output(path, part.compression) as out:
            for line in warc_cut_lines(part, kept, cut):
                out.write(line)
                written += 1
        return written
    rows = _KeptRows(kept)

    def wanted(record: WarcRecord) -> bool:
        at = np.searchsorted(kept, record.row)
        return record.kind == "warcinfo" or (at < kept.size and kept[at] == record.row)

    gzipped = part.compression == "gzip" or part.path.lower().endswith(".gz")
    records = iter_warc_records(
        part.path, gzipped=gzipped, want=wanted, storage_options=part.storage_options
    )
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


def _write_arrow(part: InputPart, kept: np.ndarray, path: Path, cut: CutTexts | None) -> int:
    """Kept rows of an Arrow IPC part, in the input's layout, schema and compression.

    The file format cannot replace a dictionary between batches: with dictionary-encoded
    fields its kept rows are written as one table with unified dictionaries."""
    try:
        source = IpcFile(part.path, part.storage_options)
    except (OSError, pa.ArrowException) as err:
        raise InputError(f"cannot reopen {part.path} to write kept rows: {err}") from err
    matched = 0
    with source, open(path, "wb") as out:
        batches = _kept_ipc_batches(part, source, kept, cut)
        if source.has_dictionaries and source.layout == "file":
            batches = [pa.Table.from_batches(list(batches), schema=source.schema)]
        writer = None
        try:
            for batch in batches:
                if writer is None:
                    writer = _ipc_writer(out, source)
                if isinstance(batch, pa.Table):
                    writer.write_table(batch)
                else:
                    writer.write_batch(batch)
                matched += batch.num_rows
        finally:
            if writer is not None:
                writer.close()
    return matched


def _kept_ipc_batches(
    part: InputPart, source: IpcFile, kept: np.ndarray, cut: CutTexts | None
) -> Iterator[pa.RecordBatch]:
    """The kept rows of each record batch of the part (texts replaced with ``cut``);
    damaged batches are passed over and a file that cannot be framed further ends,
    as in ``read_part``."""
    first, end = batch_range(part.row_groups)
    try:
        for item in source.batches(first, end):
            if item.first_row > kept[-1]:
                return
            if item.batch is None:
                continue  # a damaged batch: read_part counted its rows, and kept none
            rows = np.arange(item.first_row, item.first_row + item.num_rows, dtype=np.int64)
            mask = np.isin(rows, kept, assume_unique=True)
            if mask.any():
                chosen = item.batch.filter(pa.array(mask))
                yield chosen if cut is None else cut.replace_column(chosen, rows[mask])
    except (OSError, pa.ArrowException) as err:
        if not row_group_error(err):  # gone or not allowed, not damaged
            raise InputError(f"cannot read {part.path} to write kept rows: {err}") from err
        # the file cannot be framed further: read_part stopped there too


def _ipc_writer(out, source: IpcFile) -> pa.ipc.RecordBatchWriter:
    """A writer of ``source``'s layout, schema and buffer compression."""
    options = pa.ipc.IpcWriteOptions(
        compression=source.compression, unify_dictionaries=source.has_dictionaries
    )
    if source.layout == "file":
        return pa.ipc.new_file(out, source.schema, options=options)
    return pa.ipc.new_stream(out, source.schema, options=options)


_WRITERS: dict[str, Callable[[InputPart, np.ndarray, Path, CutTexts | None], int]] = {
    "arrow": _write_arrow,
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
    "text": _write_text,
    "warc": _write_warc,
}
