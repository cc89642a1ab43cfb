"""Text columns in, packed bytes out.

``texts`` accepted by the API: a list/tuple of ``str`` (or ``bytes``, taken as UTF-8),
a ``pyarrow`` string/large_string array or chunked array, or a pandas Series of str.
Packed form: ``data`` uint8 (total_bytes,) and ``offsets`` int64 (n_docs + 1,), taken
zero-copy from an Arrow ``large_string`` array when it has no leading slice offset.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.io.accepted import check_texts


def as_large_string_array(texts) -> pa.LargeStringArray:
    """Convert supported text containers to one ``pa.large_string`` array.

    Raises:
        TypeError: for unsupported containers or non-text elements.
        ValueError: for null/None entries (say which index).
    """
    check_texts(texts)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if isinstance(texts, pa.Array):
        if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            raise TypeError(f"expected a string Arrow array, got type {texts.type}")
        array = texts.cast(pa.large_string())
    else:
        if hasattr(texts, "to_numpy") and hasattr(texts, "dtype"):  # pandas Series
            texts = texts.tolist()
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a sequence of documents, not a single string")
        values = []
        for i, text in enumerate(texts):
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            elif not isinstance(text, str):
                if text is None:
                    raise ValueError(f"texts[{i}] is None; drop or fill missing documents")
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
            values.append(text)
        array = pa.array(values, type=pa.large_string())
    if array.null_count:
        first = int(np.flatnonzero(~np.asarray(array.is_valid()))[0])
        raise ValueError(f"texts[{first}] is null; drop or fill missing documents")
    return array


def pack(array: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """Packed (data uint8 (total_bytes,), offsets int64 (n_docs + 1,)) of a text array."""
    if not pa.types.is_large_string(array.type):
        array = array.cast(pa.large_string())
    n = len(array)
    _, offset_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offset_buf, dtype=np.int64, count=n + 1, offset=array.offset * 8)
    if data_buf is None or n == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(n + 1, dtype=np.int64)
    base = int(offsets[0])
    data = np.frombuffer(data_buf, dtype=np.uint8, count=int(offsets[-1]) - base, offset=base)
    if base:
        offsets = offsets - base
    return data, offsets
