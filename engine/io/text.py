"""Plain text reader: any file of another format is one document (row 0).

``.gz`` / ``.zst`` / ``.zstd`` are decompressed. A file with a NUL byte in its first
8 KiB is counted as ``binary_file`` and skipped; invalid UTF-8 is replaced by U+FFFD and
counted. Text files have no columns, so ``id_column`` and ``columns`` cannot apply.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from engine.io.compression import open_decompressed
from engine.io.plan import BINARY_SNIFF_BYTES
from engine.io.reading import Document, Reading, batched, decode_utf8
from engine.io.report import InputError

__all__ = ["read_text"]


def read_text(reading: Reading) -> Iterator[pa.Table]:
    """One table of one row (row 0) holding the whole file; none for an empty or binary file."""
    if reading.id_column is not None or reading.columns:
        asked = [reading.id_column] if reading.id_column else []
        raise InputError(
            f"{reading.path} is read as a plain text file (one document, no columns), so "
            f"columns {asked + list(reading.columns)} cannot apply. Leave out --id-column/"
            "columns, or keep text files out of this input"
        )
    return batched(reading, _text_documents(reading))


def _text_documents(reading: Reading) -> Iterator[Document]:
    part = reading.part
    with open_decompressed(part.path, part.compression, part.storage_options) as stream:
        head = stream.read(BINARY_SNIFF_BYTES)
        if b"\0" in head:
            reading.stopped_early = True
            reading.skip("binary_file", detail="NUL byte in the first 8 KiB; not a text file")
            return
        data = head + stream.read()
    if not data:
        return
    text, invalid = decode_utf8(data)
    if invalid:
        reading.invalid_utf8("invalid UTF-8 replaced by U+FFFD", row=0)
    yield 0, text, f"{reading.path}:0", (), len(data)
