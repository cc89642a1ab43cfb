"""Raw access to input bytes: open a file decompressing gzip or zstd, and walk the
physical lines of a JSONL part.

Decompression errors are not caught here: they surface as ``EOFError`` /
``gzip.BadGzipFile`` / ``zlib.error`` / ``zstandard.ZstdError`` and are counted by the
reader as ``corrupt_compression`` (see :data:`engine.io.report.READ_ERRORS`). A truncated
zstd stream raises too, instead of ending early without a word.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from engine.io.plan import InputPart

__all__ = ["READ_BUFFER_BYTES", "iter_jsonl_lines", "open_decompressed"]

READ_BUFFER_BYTES = 2**20  # buffer of a plain or zstd input stream, bytes
ZSTD_INPUT_CHUNK_BYTES = 64 * 2**10  # bounds the output of one decompress call


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
