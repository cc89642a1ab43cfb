"""Raw access to input bytes: open a file decompressing gzip or zstd, walk the physical
lines of a JSONL part, and read a file of records past damaged gzip members.

Decompression errors are not caught by :func:`open_decompressed`: they surface as
``EOFError`` / ``gzip.BadGzipFile`` / ``zlib.error`` / ``zstandard.ZstdError`` and are
counted by the reader as ``corrupt_compression`` (see
:data:`engine.io.report.READ_ERRORS`). A truncated zstd stream raises too, instead of
ending early without a word.

:class:`RecordStream` (:func:`open_record_stream`) is for WARC files: plain, or gzip
members one after another (one per record, or any split); a damaged member is a break in
the data, after which reading resynchronises at the next member that decodes, and the
reader can seek back within the record it frames (see :mod:`engine.io.warc`).
"""

from __future__ import annotations

import bisect
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from engine.io.plan import InputPart
from engine.io.remote import open_input

__all__ = [
    "READ_BUFFER_BYTES",
    "RecordStream",
    "StreamBreak",
    "iter_jsonl_lines",
    "open_decompressed",
    "open_record_stream",
]

READ_BUFFER_BYTES = 2**20  # buffer of a plain or zstd input stream, bytes
ZSTD_INPUT_CHUNK_BYTES = 64 * 2**10  # bounds the output of one decompress call
GZIP_MAGIC = b"\x1f\x8b\x08"  # a gzip member header: magic, then deflate
STREAM_CHUNK_BYTES = 2**18  # RecordStream: bytes read or decompressed at a time
CHECKPOINT_BYTES = 2**22  # RecordStream: data bytes between seek points inside a member
RESYNC_PROBE_BYTES = 2**16  # RecordStream: compressed bytes tried on a resync candidate
_LOOKBEHIND = 16  # bytes kept before the read position (a pattern may straddle chunks)
_BLANK = b"\r\n \t"  # whitespace between records


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


class _GzipReader(gzip.GzipFile):
    """A gzip stream over an open binary file that it closes with itself."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def open_decompressed(
    path: str, compression: str | None, storage_options: dict | None = None
) -> BinaryIO:
    """Open ``path`` (a local path, or a URL opened with ``storage_options``:
    :func:`engine.io.remote.open_input`) for binary reading, decompressing ``"gzip"`` or
    ``"zstd"``.

    Read errors surface as ``OSError`` (unreadable), ``EOFError`` / ``gzip.BadGzipFile``
    / ``zlib.error`` / ``zstandard.ZstdError`` (corrupt or truncated compression).
    """
    if compression is None:
        return open_input(path, storage_options, buffering=READ_BUFFER_BYTES)
    if compression == "gzip":
        return _GzipReader(open_input(path, storage_options, buffering=READ_BUFFER_BYTES))
    if compression == "zstd":
        raw = open_input(path, storage_options, buffering=0)
        return io.BufferedReader(_ZstdReader(raw), READ_BUFFER_BYTES)
    raise ValueError(f"unknown compression {compression!r}; expected None, 'gzip' or 'zstd'")


def iter_jsonl_lines(part: InputPart) -> Iterator[tuple[int, bytes]]:
    """Yield ``(row, raw_line)`` for every physical line of a JSONL part, blank ones too.

    ``raw_line`` keeps its line ending (``b"\\n"``; the last line may have none); ``row``
    is the 0-based line number in the file. Decompression errors propagate.
    """
    with open_decompressed(part.path, part.compression, part.storage_options) as stream:
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


# --------------------------------------------------------------------------- records


@dataclass
class StreamBreak:
    """Where decompression stopped: a damaged gzip member, or bytes that are none.

    ``pos``: the logical position where the data stops; ``member_pos``: the logical
    position where the damaged member's bytes begin (``pos`` for bytes that are no
    member); ``offset``: file offset of the member (or of those bytes).
    """

    kind: str  # "corrupt", "checksum" (CRC or length), "truncated" or "garbage"
    pos: int
    member_pos: int
    offset: int
    detail: str


class RecordStream:
    """The (decompressed) bytes of a file of records (WARC), read forward through a
    buffer, that goes on past damage; open one with :func:`open_record_stream`.

    Logical positions count the bytes delivered. Gzip members follow one another; a
    damaged member (bad deflate data, CRC or length), a member cut by the end of the file
    or bytes that are no member are a *break* (:attr:`brk`): the data stops at
    ``brk.pos`` until :meth:`resume`, then goes on with the next member header (``1f 8b
    08``) whose data decodes to a record start (``record_start``) or to its own end; the
    damaged bytes take no logical room. :meth:`seek` may go back to any position at or
    after the last :meth:`forget_before` mark (a plain file seeks; a gzip stream starts
    again from a member start or a checkpoint, kept every 4 MiB of data), so memory stays
    bounded by the buffer, never by a record or the file.
    """

    def __init__(self, raw: BinaryIO, record_start: re.Pattern) -> None:
        self._raw = raw
        self._record_start = record_start
        self._buf = bytearray()
        self._start = 0  # logical position of _buf[0]
        self._i = 0  # read index in _buf
        self.brk: StreamBreak | None = None
        self.eof = False

    # -- provided by a subclass
    def _produce(self) -> bytes | None:
        """The next (decompressed) bytes, maybe empty; None once ``eof`` or ``brk`` is set."""
        raise NotImplementedError

    def _restart(self, pos: int) -> None:
        """Set production back to a position at most ``pos``; sets ``_start`` to it."""
        raise NotImplementedError

    def offset_of(self, pos: int) -> tuple[int, int]:
        """``(file offset, bytes into the gzip member)`` of logical position ``pos``."""
        return pos, 0

    def forget_before(self, pos: int) -> None:
        """No :meth:`seek` will go before ``pos``."""

    def member_damage(self, pos: int) -> StreamBreak | None:
        """The break of the gzip member that holds ``pos`` if that member is damaged,
        found by decoding on to its end (the stream then stands at the break; else it
        comes back to where it was). None for plain files."""
        return None

    # -- reading
    @property
    def pos(self) -> int:
        return self._start + self._i

    @property
    def stopped(self) -> bool:
        return self.eof or self.brk is not None

    def _avail(self) -> int:
        return len(self._buf) - self._i

    def _fill(self, n: int) -> None:
        while self._avail() < n and not self.stopped:
            out = self._produce()
            if out is None:
                break
            if self._i > STREAM_CHUNK_BYTES:  # compact, keeping a little look-behind
                cut = self._i - _LOOKBEHIND
                del self._buf[:cut]
                self._start += cut
                self._i -= cut
            self._buf += out

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end of the data or at a break."""
        self._fill(n)
        n = min(n, self._avail())
        data = bytes(self._buf[self._i : self._i + n])
        self._i += n
        return data

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self._buf[self._i : self._i + n])

    def read_through(self, pattern: re.Pattern, limit: int) -> bytes:
        """Up to the end of the first match of ``pattern`` (e.g. the blank line after a
        header block), at most ``limit`` bytes; fewer, without a match, where the data
        stops."""
        searched = 0
        while True:
            begin = self._i + max(searched - _LOOKBEHIND, 0)
            end = pattern.search(self._buf, begin, self._i + limit)
            if end is not None:
                return self.read(end.end() - self._i)
            searched = self._avail()
            if searched >= limit or self.stopped:
                return self.read(min(searched, limit))
            self._fill(searched + STREAM_CHUNK_BYTES)

    def skip_blank(self) -> None:
        """Skip the whitespace between records."""
        while True:
            self._fill(1)
            end = len(self._buf)
            j = self._i
            while j < end and self._buf[j] in _BLANK:
                j += 1
            self._i = j
            if j < end or self.stopped:
                return

    def at_record_start(self) -> bool:
        """Does a record start here (``record_start`` matches)?"""
        return self._record_start.match(self.peek(64)) is not None

    def skip_to_record_start(self) -> int:
        """Skip to the next match of ``record_start`` (anywhere, not only at a line
        start), or to the end of the data or a break; returns the number of bytes skipped."""
        if self.at_record_start():
            return 0
        skipped = 0
        while True:
            self._fill(STREAM_CHUNK_BYTES)
            found = self._record_start.search(self._buf, self._i)
            if found:
                n = found.start() - self._i
                self._i += n
                return skipped + n
            n = self._avail() - (0 if self.stopped else min(self._avail(), _LOOKBEHIND))
            self._i += n
            skipped += n
            if self.stopped:
                return skipped

    def recent(self, start: int, n: int) -> bytes:
        """Up to ``n`` bytes from logical position ``start``, if still buffered."""
        begin = start - self._start
        return b"" if begin < 0 else bytes(self._buf[begin : min(begin + n, self._i)])

    def seek(self, pos: int) -> None:
        """Go back (or forward) to logical position ``pos``."""
        if self._start <= pos <= self._start + len(self._buf):
            self._i = pos - self._start
            return
        self._buf = bytearray()
        self._i = 0
        self.brk = None
        self.eof = False
        self._restart(pos)
        while self._start + len(self._buf) < pos and not self.stopped:
            self._fill(min(pos - self._start, STREAM_CHUNK_BYTES))
            if self._start + len(self._buf) < pos:  # drop what lies before pos
                self._start += len(self._buf)
                self._buf = bytearray()
        self._i = min(pos - self._start, len(self._buf))

    def resume(self) -> None:
        """Go on after a break (with the next gzip member, or the end of the file)."""
        self.brk = None


class _PlainRecords(RecordStream):
    def _produce(self) -> bytes | None:
        data = self._raw.read(STREAM_CHUNK_BYTES)
        if not data:
            self.eof = True
            return None
        return data

    def _restart(self, pos: int) -> None:
        self._raw.seek(pos)
        self._start = pos


@dataclass
class _Checkpoint:
    """A state of :class:`_GzipRecords` to restart from (see :meth:`RecordStream.seek`)."""

    pos: int  # logical position of the next byte produced
    in_offset: int  # file offset of pending
    pending: bytes  # compressed bytes read but not yet fed
    decompressor: object | None  # copy of the member's decompressor; None: between members
    member_seq: int  # members started before this point
    member_offset: int
    member_pos: int


class _GzipRecords(RecordStream):
    """Gzip members one after another. A damaged member is a break; then reading goes
    on at the next member header (``1f 8b 08``) whose data decodes."""

    def __init__(self, raw: BinaryIO, record_start: re.Pattern) -> None:
        super().__init__(raw, record_start)
        self._end = 0  # logical position after the last byte produced
        self._pending = b""
        self._in_offset = 0  # file offset of _pending[0]
        self._d = None  # decompressor of the current member; None between members
        self._member_offset = 0
        self._member_pos = 0
        self._since_checkpoint = 0
        # the members started (pruned by forget_before): logical start, file offset
        self._member_starts: list[int] = []
        self._member_offsets: list[int] = []
        self._member_seq = 0  # members started so far
        self._checkpoints: list[_Checkpoint] = []

    def _checkpoint(self) -> None:
        self._checkpoints.append(
            _Checkpoint(
                self._end,
                self._in_offset,
                self._pending,
                None if self._d is None else self._d.copy(),
                self._member_seq,
                self._member_offset,
                self._member_pos,
            )
        )
        self._since_checkpoint = 0

    def forget_before(self, pos: int) -> None:
        keep = 0
        for i, checkpoint in enumerate(self._checkpoints):
            if checkpoint.pos <= pos:
                keep = i
        del self._checkpoints[:keep]
        first = max(bisect.bisect_right(self._member_starts, pos) - 1, 0)
        del self._member_starts[:first]
        del self._member_offsets[:first]

    def member_damage(self, pos: int) -> StreamBreak | None:
        offset, _ = self.offset_of(pos)
        here = self.pos
        while self.brk is None and not self.eof and self._member_offset == offset:
            if self._d is None:  # the member ended whole
                break
            self._i = len(self._buf)  # read through (memory stays bounded), then back
            self._fill(1)
        brk = self.brk
        if brk is not None and brk.kind != "garbage" and brk.offset == offset:
            return brk
        self.seek(here)
        return None

    def offset_of(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._member_starts, pos) - 1
        if i < 0:
            return self._member_offset, 0
        return self._member_offsets[i], pos - self._member_starts[i]

    def _read_input(self) -> bool:
        data = self._raw.read(STREAM_CHUNK_BYTES // 4)
        self._pending += data
        return bool(data)

    def _produce(self) -> bytes | None:
        while True:
            if self._d is None and not self._start_member():
                return None
            if not self._pending:
                self._read_input()
            fed = self._pending
            try:
                out = self._d.decompress(fed, STREAM_CHUNK_BYTES)
            except zlib.error as err:
                checksum = "data check" in str(err) or "length check" in str(err)  # CRC, size
                self._stop("checksum" if checksum else "corrupt", f"gzip member damaged ({err})")
                self._goto(self._find_member(self._member_offset + 1))
                return None
            if self._d.eof:
                rest = self._d.unused_data
                self._d = None
            else:
                rest = self._d.unconsumed_tail
                if not fed and not out:
                    self._stop("truncated", "file ends inside a gzip member")
                    self._goto(None)
                    return None
            self._in_offset += len(fed) - len(rest)
            self._pending = rest
            self._end += len(out)
            self._since_checkpoint += len(out)
            if self._d is not None and self._since_checkpoint >= CHECKPOINT_BYTES:
                self._checkpoint()
            if out:
                return out

    def _start_member(self) -> bool:
        """Begin the member at ``_in_offset``; False at the end of the file or a break."""
        if len(self._pending) < len(GZIP_MAGIC):
            self._read_input()
        if not self._pending:
            self.eof = True
            return False
        head = self._pending[: len(GZIP_MAGIC)]
        if head != GZIP_MAGIC:
            start = self._in_offset
            next_member = self._find_member(start + 1)
            end = next_member if next_member is not None else self._file_size()
            self._member_offset, self._member_pos = start, self._end
            # one damaged byte of the magic: a damaged member (a record), not garbage
            if len(head) == 3 and sum(a == b for a, b in zip(head, GZIP_MAGIC)) == 2:
                self._stop("corrupt", "gzip member header damaged")
            else:
                self._stop("garbage", f"{end - start} bytes that are not a gzip member")
            self._goto(next_member)
            return False
        if not (
            self._checkpoints
            and self._checkpoints[-1].pos == self._end
            and self._checkpoints[-1].member_seq == self._member_seq
        ):
            self._checkpoint()
        self._d = zlib.decompressobj(31)
        self._member_offset, self._member_pos = self._in_offset, self._end
        self._member_starts.append(self._end)
        self._member_offsets.append(self._in_offset)
        self._member_seq += 1
        return True

    def _stop(self, kind: str, detail: str) -> None:
        self.brk = StreamBreak(kind, self._end, self._member_pos, self._member_offset, detail)

    def _goto(self, offset: int | None) -> None:
        """Continue at the member at file ``offset`` (None: at the end of the file)."""
        self._d = None
        if offset is None:
            offset = self._file_size()
            if self.brk is not None and self.brk.kind != "truncated":
                self.brk.detail += "; no intact gzip member follows"
        elif self.brk is not None and self.brk.kind != "garbage":
            self.brk.detail += f"; reading goes on at the next gzip member (offset {offset})"
        self._raw.seek(offset)
        self._in_offset = offset
        self._pending = b""

    def _file_size(self) -> int:
        return self._raw.seek(0, io.SEEK_END)

    def _find_member(self, start: int) -> int | None:
        """File offset of the first gzip member header at or after ``start`` whose data
        decodes (to a WARC record start, or to its own end)."""
        position = start
        while True:
            self._raw.seek(position)
            chunk = self._raw.read(STREAM_CHUNK_BYTES + len(GZIP_MAGIC) - 1)
            at = chunk.find(GZIP_MAGIC)
            while at >= 0:
                if self._member_decodes(position + at):
                    return position + at
                at = chunk.find(GZIP_MAGIC, at + 1)
            if len(chunk) < STREAM_CHUNK_BYTES + len(GZIP_MAGIC) - 1:
                return None
            position += STREAM_CHUNK_BYTES

    def _member_decodes(self, offset: int) -> bool:
        self._raw.seek(offset)
        data = self._raw.read(RESYNC_PROBE_BYTES)
        d = zlib.decompressobj(31)
        try:
            head = d.decompress(data, 256)
            if self._record_start.match(head.lstrip(_BLANK)):
                return True
            rest = d.unconsumed_tail
            while rest and not d.eof:
                d.decompress(rest, STREAM_CHUNK_BYTES)
                rest = d.unconsumed_tail
        except zlib.error:
            return False
        return d.eof

    def _restart(self, pos: int) -> None:
        index = 0
        for i, candidate in enumerate(self._checkpoints):
            if candidate.pos <= pos:
                index = i
        checkpoint = self._checkpoints[index]
        # later checkpoints are made again as production passes them; a checkpoint
        # between members is made again when its member starts
        del self._checkpoints[index + (checkpoint.decompressor is not None) :]
        self._start = self._end = checkpoint.pos
        self._pending = checkpoint.pending
        self._in_offset = checkpoint.in_offset
        self._d = None if checkpoint.decompressor is None else checkpoint.decompressor.copy()
        self._member_offset = checkpoint.member_offset
        self._member_pos = checkpoint.member_pos
        dropped = self._member_seq - checkpoint.member_seq
        if dropped:
            del self._member_starts[len(self._member_starts) - dropped :]
            del self._member_offsets[len(self._member_offsets) - dropped :]
        self._member_seq = checkpoint.member_seq
        self._since_checkpoint = 0
        self._raw.seek(checkpoint.in_offset + len(checkpoint.pending))


def open_record_stream(raw: BinaryIO, gzipped: bool, record_start: re.Pattern) -> RecordStream:
    """The records of an open binary file: gzip when it starts with a gzip header, plain
    when it starts with ``record_start``, else as ``gzipped`` (the name) says (damage at
    the start is then met, and counted, by the reader)."""
    head = raw.read(64)
    raw.seek(0)
    if head.startswith(GZIP_MAGIC[:2]):
        gzipped = True
    elif record_start.match(head.lstrip(_BLANK)):
        gzipped = False
    return _GzipRecords(raw, record_start) if gzipped else _PlainRecords(raw, record_start)
