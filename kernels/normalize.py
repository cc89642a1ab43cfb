"""Normalization of packed UTF-8 documents for provenance matching, with offset maps.

Rules (:func:`normalize_packed`): every character is lowercased (Unicode simple
mapping, :mod:`kernels.unicode_table`); every run of whitespace (Python's
``str.isspace``: CR, LF, tabs, NBSP, ...) becomes one ASCII space, and leading and
trailing runs are dropped; curly quotes and guillemets become ``'``/``"``; Unicode
dashes and the minus sign become ``-``; ``…`` becomes ``...``; format characters (soft
hyphen, zero-width joiner, BOM) are dropped. Then, per document, a periodic run (a unit
of 1 to :data:`MAX_PERIOD` bytes repeated more than :data:`MAX_REPEATS` times) keeps
:data:`MAX_REPEATS` repetitions (:func:`cut_periodic`). Bytes are decoded with the
project's one UTF-8 decoder, :func:`kernels.hashing.utf8_decode` (invalid sequences
are U+FFFD, one byte each).

The optional offset map gives, for every normalized byte, the original byte range
``[source_start, source_end)`` (local to its document) of the character or whitespace
run it came from.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.hashing import utf8_decode
from kernels.unicode_table import CLASS_SHIFT, IGNORED, LOWER_MASK, codepoint_table

MAX_REPEATS = 3  # a periodic run keeps this many repetitions of its unit
MAX_PERIOD = 32  # longest unit (bytes of normalized text) whose runs are cut

_NO = np.int64(-1)
_LOW32 = np.int64(0xFFFFFFFF)
_SHIFT32 = np.int64(32)
_MAX_CHAR_OUT = 5  # bytes one character can add: a space and up to 4 bytes


@numba.njit(inline="always")
def _byte_at(data, pos, end):
    return np.int64(data[pos]) if pos < end else np.int64(0)


@numba.njit(cache=True, nogil=True)
def _grown(array, n):
    """``array[:n]`` in a new array of twice the size."""
    out = np.empty(2 * array.shape[0] + 8, dtype=array.dtype)
    out[:n] = array[:n]
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def decode_at(data, i, end):
    """(codepoint, n_bytes), both int64, of the UTF-8 character at ``data[i]`` of a
    document ending at ``end`` (:func:`kernels.hashing.utf8_decode`)."""
    b0 = np.int64(data[i])
    if b0 < 0x80:
        return b0, np.int64(1)
    packed = utf8_decode(
        b0,
        _byte_at(data, i + 1, end),
        _byte_at(data, i + 2, end),
        _byte_at(data, i + 3, end),
        end - i,
    )
    return packed & _LOW32, packed >> _SHIFT32


@numba.njit(cache=True, nogil=True, inline="always")
def is_space(cp):
    """Python's ``str.isspace`` (Unicode White_Space plus the ASCII separators 0x1C-0x1F)."""
    if cp <= 0x20:
        return cp == 0x20 or (cp >= 0x09 and cp <= 0x0D) or (cp >= 0x1C and cp <= 0x1F)
    if cp < 0x85:
        return False
    return (
        cp == 0x85
        or cp == 0xA0
        or cp == 0x1680
        or (cp >= 0x2000 and cp <= 0x200A)
        or cp == 0x2028
        or cp == 0x2029
        or cp == 0x202F
        or cp == 0x205F
        or cp == 0x3000
    )


@numba.njit(cache=True, nogil=True, inline="always")
def fold_quote_dash(cp):
    """Quote and dash unification: the ASCII replacement (int64) of ``cp``, or -1 to
    keep it."""
    if cp < 0x2010:
        if cp == 0xAB or cp == 0xBB:
            return np.int64(0x22)
        return np.int64(-1)
    if cp <= 0x2015 or cp == 0x2212:
        return np.int64(0x2D)
    if (cp >= 0x2018 and cp <= 0x201B) or cp == 0x2032:
        return np.int64(0x27)
    if (cp >= 0x201C and cp <= 0x201F) or cp == 0x2033:
        return np.int64(0x22)
    return np.int64(-1)


@numba.njit(cache=True, nogil=True, inline="always")
def put_utf8(out, n, cp):
    """Write ``cp`` as UTF-8 at ``out[n]`` (uint8 array); returns the new length."""
    if cp < 0x80:
        out[n] = cp
        return n + 1
    if cp < 0x800:
        out[n] = 0xC0 | (cp >> 6)
        out[n + 1] = 0x80 | (cp & 0x3F)
        return n + 2
    if cp < 0x10000:
        out[n] = 0xE0 | (cp >> 12)
        out[n + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[n + 2] = 0x80 | (cp & 0x3F)
        return n + 3
    out[n] = 0xF0 | (cp >> 18)
    out[n + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[n + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[n + 3] = 0x80 | (cp & 0x3F)
    return n + 4


@numba.njit(cache=True, nogil=True)
def normalize_documents(data, offsets, table, with_map):
    """The kernel of :func:`normalize_packed` (``table``: the codepoint table).

    Returns ``(norm, norm_offsets, source_start, source_end)``; the maps are empty
    without ``with_map``.
    """
    n_docs = offsets.shape[0] - 1
    # enough for valid UTF-8 (at most 3 output bytes per 2 input bytes); invalid bytes
    # become U+FFFD (3 bytes each), and the buffers then grow
    capacity = 2 * data.shape[0] + 4
    out = np.empty(capacity, dtype=np.uint8)
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    map_size = capacity if with_map else 0
    source_start = np.empty(map_size, dtype=np.int64)
    source_end = np.empty(map_size, dtype=np.int64)
    n = np.int64(0)
    for d in range(n_docs):
        first = offsets[d]
        end = offsets[d + 1]
        doc_out = n
        i = first
        space_start = _NO
        space_end = _NO
        while i < end:
            if n + _MAX_CHAR_OUT > out.shape[0]:
                out = _grown(out, n)
                if with_map:
                    source_start = _grown(source_start, n)
                    source_end = _grown(source_end, n)
            cp, width = decode_at(data, i, end)
            if is_space(cp):
                if space_start < 0:
                    space_start = i
                space_end = i + width
                i += width
                continue
            entry = table[cp]
            if (entry >> np.uint32(CLASS_SHIFT)) == np.uint32(IGNORED):
                i += width
                continue
            if space_start >= 0:
                if n > doc_out:
                    out[n] = 0x20
                    if with_map:
                        source_start[n] = space_start - first
                        source_end[n] = space_end - first
                    n += 1
                space_start = _NO
            folded = fold_quote_dash(cp)
            before = n
            if cp == 0x2026:
                out[n] = 0x2E
                out[n + 1] = 0x2E
                out[n + 2] = 0x2E
                n += 3
            elif folded >= 0:
                out[n] = folded
                n += 1
            else:
                n = put_utf8(out, n, np.int64(entry & np.uint32(LOWER_MASK)))
            if with_map:
                for k in range(before, n):
                    source_start[k] = i - first
                    source_end[k] = i + width - first
            i += width
        n = cut_periodic(out, source_start, source_end, doc_out, n, with_map)
        out_offsets[d + 1] = n
    return out[:n].copy(), out_offsets, source_start[:n].copy(), source_end[:n].copy()


@numba.njit(cache=True, nogil=True)
def cut_periodic(out, source_start, source_end, start, end, with_map):
    """Cut periodic runs in ``out[start:end]`` (one normalized document) in place.

    A run of a unit of 1 to ``MAX_PERIOD`` bytes repeated more than ``MAX_REPEATS``
    times keeps its first ``MAX_REPEATS`` repetitions ("=====" -> "===", "abababab" ->
    "ababab", "test test test test " -> "test test test "): low-complexity text that
    would only produce junk matches, and whose seeds are quadratic in the run's length.
    Cuts start at a character boundary, and a character the run's end falls inside is
    kept whole, so the text stays valid UTF-8. The offset maps (int64, same positions
    as ``out``) move with the bytes when ``with_map``. Returns the document's new end.
    """
    length = end - start
    if length <= 1:
        return end
    src = out[start:end].copy()
    src_s = source_start[start:end].copy() if with_map else source_start[:0]
    src_e = source_end[start:end].copy() if with_map else source_end[:0]
    run = np.zeros(MAX_PERIOD + 1, dtype=np.int64)
    w = start
    dropping = False
    for i in range(length):
        b = src[i]
        cut = False
        for p in range(1, MAX_PERIOD + 1):
            if i >= p and src[i - p] == b:
                run[p] += 1
                if run[p] > (MAX_REPEATS - 1) * p:
                    cut = True
            else:
                run[p] = 0
        continuation = (b & 0xC0) == 0x80
        if cut and (dropping or not continuation):
            dropping = True
            continue
        if dropping:
            dropping = False
            if continuation:  # keep the whole character the cut ended inside
                k = i - 1
                while k > 0 and (src[k] & 0xC0) == 0x80:
                    k -= 1
                for t in range(k, i):
                    out[w] = src[t]
                    if with_map:
                        source_start[w] = src_s[t]
                        source_end[w] = src_e[t]
                    w += 1
        out[w] = b
        if with_map:
            source_start[w] = src_s[i]
            source_end[w] = src_e[i]
        w += 1
    return w


def normalize_packed(
    data: np.ndarray, offsets: np.ndarray, *, with_map: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Normalize packed UTF-8 documents (rules: the module docstring).

    Args:
        data: uint8 (total_bytes,) original UTF-8 bytes of all documents.
        offsets: int64 (n_docs + 1,) document boundaries into ``data`` (bytes).
        with_map: also return the offset map.

    Returns:
        ``(norm, norm_offsets, source_start, source_end)``: ``norm`` uint8 (total,)
        normalized bytes (valid UTF-8, never 0xFF); ``norm_offsets`` int64
        (n_docs + 1,); with ``with_map``, ``source_start``/``source_end`` int64
        (total,): for normalized byte ``k`` of document ``d``, the original byte range
        (offsets local to document ``d``) of the character (or whitespace run) it came
        from; else None, None.

    Example:
        >>> raw = "Hello,\\r\\n  WORLD".encode()
        >>> norm, off, s, e = normalize_packed(
        ...     np.frombuffer(raw, np.uint8), np.array([0, len(raw)]), with_map=True)
        >>> bytes(norm), int(s[6]), int(e[6])
        (b'hello, world', 6, 10)
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    norm, norm_offsets, start, end = normalize_documents(data, offsets, codepoint_table(), with_map)
    if not with_map:
        return norm, norm_offsets, None, None
    return norm, norm_offsets, start, end
