"""Arrow IPC files read message by message: layout, batch row counts, batches by index.

Two layouts (:func:`ipc_layout`), both read here:

- ``"stream"``: the IPC stream format, what Hugging Face ``datasets`` writes
  (``data-00000-of-00001.arrow``): a schema message, dictionary batches, record batches,
  an end-of-stream marker.
- ``"file"``: the IPC file format (``pa.ipc.new_file``, Feather V2): the magic
  ``ARROW1`` and 2 padding bytes, the same stream of messages, then a footer.

The file is memory-mapped and its messages are framed one by one
(``pa.ipc.MessageReader``): a message's body is a slice of the map, so the data of a
batch that is not asked for is never read, compressed or not. The row count of a record
batch comes from its metadata (a flatbuffer, :func:`_batch_header`), so planning a file
(:func:`plan_batch_ranges`) decodes no data.

Schemas with dictionary-encoded fields are read through pyarrow's readers
(``open_file`` / ``open_stream``), which resolve the dictionaries; such a file is planned
as one part. Feather V1 files (magic ``FEA1``) are refused with a hint.

Damage: a record batch whose body cannot be decoded, or fails full validation (invalid
UTF-8 in a string column aside: the readers replace it, as for Parquet), is
yielded as an :class:`IpcBatch` with ``error`` set and its row count (from its metadata),
and the batches after it are still read. A message that cannot be framed (a truncated or
overwritten file) ends the file: the error propagates (``pa.ArrowInvalid`` / ``OSError``).
With dictionary-encoded fields a batch that cannot be decoded also ends the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.ipc as ipc

from engine.io.remote import is_remote, open_input

__all__ = [
    "FILE_MAGIC",
    "IpcBatch",
    "IpcFile",
    "batch_range",
    "ipc_layout",
    "plan_batch_ranges",
]

FILE_MAGIC = b"ARROW1"
FILE_HEADER_BYTES = 8  # the magic and its padding, before the first message
FEATHER_V1_MAGIC = b"FEA1"
_RECORD_BATCH = "record batch"
_CODECS = {0: "lz4", 1: "zstd"}  # BodyCompression.codec: LZ4_FRAME, ZSTD


def ipc_layout(head: bytes) -> str:
    """``"file"`` or ``"stream"``, from the first 8 bytes of a file.

    Raises:
        pa.ArrowInvalid: a Feather V1 file (with a hint on how to convert it).
    """
    if head.startswith(FILE_MAGIC):
        return "file"
    if head.startswith(FEATHER_V1_MAGIC):
        raise pa.ArrowInvalid(
            "a Feather V1 file, which is not read; rewrite it as Feather V2 / Arrow IPC "
            "(pyarrow.feather.write_feather(pyarrow.feather.read_table(path), path))"
        )
    return "stream"


@dataclass(frozen=True)
class IpcBatch:
    """One record batch of an IPC file.

    Attributes:
        index: 0-based record batch number in the file.
        first_row: 0-based row number of its first row in the file.
        num_rows: its row count (from its metadata when the batch is damaged).
        batch: the batch (memory-mapped buffers), or None when ``error`` is set.
        error: why the batch cannot be used (``""``: it can).
    """

    index: int
    first_row: int
    num_rows: int
    batch: pa.RecordBatch | None
    error: str = ""


class IpcFile:
    """An Arrow IPC file, memory-mapped (a URL: opened through fsspec); use as a
    context manager.

    Attributes:
        path: the file.
        layout: ``"file"`` or ``"stream"``.
        schema: the file's schema (metadata included).
        compression: the body codec of its first record batch (``"lz4"``, ``"zstd"``) or
            None; known once :meth:`batches` has framed a record batch.
    """

    def __init__(self, path: str, storage_options: dict | None = None) -> None:
        self.path = path
        self.compression: str | None = None
        if is_remote(path):  # read through fsspec: bodies are fetched as they are framed
            self._source = pa.PythonFile(open_input(path, storage_options), mode="r")
        else:
            self._source = pa.memory_map(path)
        try:
            self.layout = ipc_layout(self._source.read(FILE_HEADER_BYTES))
            self._messages = self._message_reader()
            try:
                first = self._messages.read_next_message()
            except StopIteration:
                message = "no Arrow IPC schema message: the file is empty or cut"
                raise pa.ArrowInvalid(message) from None
            if first.type != "schema":
                raise pa.ArrowInvalid(f"the first IPC message is a {first.type}, not a schema")
            self.schema = ipc.read_schema(first)
        except BaseException:
            self._source.close()
            raise

    def __enter__(self) -> IpcFile:
        return self

    def __exit__(self, *exc) -> None:
        self._source.close()

    @property
    def has_dictionaries(self) -> bool:
        """True when a field is dictionary-encoded (read through pyarrow's readers)."""
        return any(pa.types.is_dictionary(f.type) for f in self.schema)

    def _message_reader(self) -> ipc.MessageReader:
        self._source.seek(FILE_HEADER_BYTES if self.layout == "file" else 0)
        return ipc.MessageReader.open_stream(self._source)

    def batch_sizes(self) -> list[tuple[int, int]]:
        """``(rows, body bytes)`` of every record batch, in order, from the metadata.

        Reads from the message after the schema; call before :meth:`batches`.
        """
        sizes = []
        for message in self._messages:
            if message.type == _RECORD_BATCH:
                body = message.body.size if message.body is not None else 0
                sizes.append((_batch_header(message.metadata)[0], body))
        return sizes

    def batches(self, first: int = 0, end: int | None = None) -> Iterator[IpcBatch]:
        """Record batches ``first .. end - 1`` (None: to the last), in order.

        Raises:
            pa.ArrowInvalid, OSError: a message cannot be framed (the file is cut or
                overwritten there); the batches before it were yielded.
        """
        if self.has_dictionaries:
            yield from self._dictionary_batches(first, end)
            return
        self._messages = self._message_reader()
        self._messages.read_next_message()  # the schema
        index = next_row = 0
        for message in self._messages:
            if message.type != _RECORD_BATCH:
                continue
            rows, codec = _batch_header(message.metadata)
            if index == 0:
                self.compression = codec
            if end is not None and index >= end:
                return
            if index >= first:
                try:
                    batch = ipc.read_record_batch(message, self.schema)
                    yield _checked(index, next_row, batch)
                except (pa.ArrowException, OSError) as err:
                    yield IpcBatch(index, next_row, rows, None, f"{type(err).__name__}: {err}")
            index += 1
            next_row += rows

    def _dictionary_batches(self, first: int, end: int | None) -> Iterator[IpcBatch]:
        """Batches through pyarrow's readers, which resolve dictionaries. A batch that
        cannot be decoded ends the file here (its row count is not known)."""
        self._source.seek(0)
        if self.layout == "file":
            reader = ipc.open_file(self._source)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(ipc.open_stream(self._source))
        next_row = 0
        for index, batch in enumerate(batches):
            if end is not None and index >= end:
                return
            if index >= first:
                yield _checked(index, next_row, batch)
            next_row += batch.num_rows


def batch_range(batches: tuple[int, ...] | None) -> tuple[int, int | None]:
    """``(first, end)`` of a part's consecutive record batch numbers (its ``row_groups``);
    ``(0, None)`` for a part that reads every batch."""
    if batches is None:
        return 0, None
    return (batches[0], batches[-1] + 1) if batches else (0, 0)


def _checked(index: int, first_row: int, batch: pa.RecordBatch) -> IpcBatch:
    """The batch, or its damage when full validation fails (offsets out of bounds, ...).

    Invalid UTF-8 in a string column is no damage: its bytes are sound, and the reader
    replaces them as for Parquet (counted as ``invalid_utf8``)."""
    try:
        batch.validate(full=True)
    except pa.ArrowInvalid as err:
        try:
            _as_binary(batch).validate(full=True)
        except pa.ArrowInvalid:
            return IpcBatch(index, first_row, batch.num_rows, None, f"ArrowInvalid: {err}")
    return IpcBatch(index, first_row, batch.num_rows, batch)


def _as_binary(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its string columns viewed as binary (no copy)."""
    arrays = []
    for column in batch.columns:
        if pa.types.is_string(column.type):
            column = column.view(pa.binary())
        elif pa.types.is_large_string(column.type):
            column = column.view(pa.large_binary())
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def plan_batch_ranges(
    path: str, size: int, partition_size: int
) -> list[tuple[tuple[int, ...] | None, int, int]]:
    """Consecutive record batches grouped until their body bytes reach ``partition_size``.

    Args:
        path: a local IPC file; size: its size in bytes.

    Returns:
        ``(batch numbers, first row, body bytes)`` per group, in order; one
        ``(None, 0, size)`` (the whole file) when the file fits one part, has
        dictionary-encoded fields, or cannot be scanned (the reader then reports the
        problem, once).
    """
    whole = [(None, 0, size)]
    try:
        with IpcFile(path) as source:
            if source.has_dictionaries:
                return whole
            sizes = source.batch_sizes()
    except (pa.ArrowException, OSError, struct.error):
        return whole
    if sum(nbytes for _, nbytes in sizes) <= partition_size:
        return whole
    ranges = []
    first = first_row = group_bytes = next_row = 0
    for index, (rows, nbytes) in enumerate(sizes):
        if index > first and group_bytes + nbytes > partition_size:
            ranges.append((tuple(range(first, index)), first_row, group_bytes))
            first, first_row, group_bytes = index, next_row, 0
        group_bytes += nbytes
        next_row += rows
    ranges.append((tuple(range(first, len(sizes))), first_row, group_bytes))
    return ranges


# ------------------------------------------------------------ flatbuffer metadata


def _batch_header(metadata: pa.Buffer) -> tuple[int, str | None]:
    """``(rows, body codec)`` of a record batch message, from its flatbuffer metadata.

    ``Message { version: short; header_type: ubyte; header: RecordBatch; ... }`` and
    ``RecordBatch { length: long; nodes; buffers; compression: BodyCompression }``,
    ``BodyCompression { codec: byte; ... }`` (Arrow's ``Message.fbs``).

    Raises:
        pa.ArrowInvalid: the metadata is not a record batch message.
    """
    buf = metadata.to_pybytes()
    try:
        message = struct.unpack_from("<I", buf, 0)[0]
        header = _table_field(buf, message, 2)
        if header is None:
            raise pa.ArrowInvalid("IPC record batch message without a header")
        batch = header + struct.unpack_from("<I", buf, header)[0]
        length = _table_field(buf, batch, 0)
        rows = struct.unpack_from("<q", buf, length)[0] if length is not None else 0
        compression = _table_field(buf, batch, 3)
        codec = None
        if compression is not None:
            body = compression + struct.unpack_from("<I", buf, compression)[0]
            codec_at = _table_field(buf, body, 0)
            code = struct.unpack_from("<b", buf, codec_at)[0] if codec_at is not None else 0
            codec = _CODECS.get(code)
    except struct.error as err:
        raise pa.ArrowInvalid(f"damaged IPC record batch metadata: {err}") from err
    if rows < 0:
        raise pa.ArrowInvalid(f"IPC record batch with {rows} rows")
    return rows, codec


def _table_field(buf: bytes, table: int, field: int) -> int | None:
    """Byte position of field ``field`` of the flatbuffer table at ``table``; None when
    the field is absent (its default applies)."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vtable_bytes = struct.unpack_from("<H", buf, vtable)[0]
    slot = 4 + 2 * field
    if slot + 2 > vtable_bytes:
        return None
    offset = struct.unpack_from("<H", buf, vtable + slot)[0]
    return table + offset if offset else None
