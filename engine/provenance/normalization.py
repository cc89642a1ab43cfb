"""Normalized text and its way back to the original bytes.

The normalization itself is :func:`kernels.normalize.normalize_packed` (rules in
:mod:`kernels.normalize`); here: one document at a time with its offset map, mapping
normalized ranges back to original byte ranges, and which normalized bytes never count
as matched.
"""

from __future__ import annotations

import numpy as np

from kernels.normalize import normalize_packed


def normalize_text(text: str | bytes) -> tuple[bytes, np.ndarray, np.ndarray]:
    """One document: ``(normalized bytes, source_start, source_end)``.

    ``source_start``/``source_end`` are int64 (len(normalized),): the original UTF-8
    byte range of the character (or whitespace run) each normalized byte came from.

    Example:
        >>> normalize_text("Hello,\\r\\n  WORLD")[0]
        b'hello, world'
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    norm, _, start, end = normalize_packed(
        np.frombuffer(raw, dtype=np.uint8), np.array([0, len(raw)], dtype=np.int64), with_map=True
    )
    return norm.tobytes(), start, end


def to_original(
    norm: np.ndarray, source_start: np.ndarray, source_end: np.ndarray, start: int, end: int
) -> tuple[int, int]:
    """Original byte range of the normalized range ``[start, end)`` of one document.

    ``norm`` uint8 (n,) normalized bytes with their maps (int64 (n,), as
    :func:`normalize_text` returns them). The range is first snapped to whole UTF-8
    characters of the normalized text (start forward, end back) and stripped of a
    leading/trailing space; an empty result gives ``(s, s)``.
    """
    while start < end and (norm[start] & 0xC0) == 0x80:
        start += 1
    while end > start and end < norm.shape[0] and (norm[end] & 0xC0) == 0x80:
        end -= 1
    while start < end and norm[start] == 0x20:
        start += 1
    while end > start and norm[end - 1] == 0x20:
        end -= 1
    if start >= end:
        position = int(source_start[start]) if start < norm.shape[0] else 0
        return position, position
    return int(source_start[start]), int(source_end[end - 1])


def uninformative_bytes(norm: np.ndarray) -> np.ndarray:
    """bool (n,): bytes of normalized text (uint8 (n,)) that never count toward
    ``min_span``.

    Spaces, ASCII punctuation and symbols, and box-drawing characters (U+2500-U+257F):
    ASCII art, table rules and tree drawings would otherwise chain into long
    "matches" between unrelated texts. Letters, digits and other non-ASCII characters
    count.
    """
    b = np.asarray(norm, dtype=np.uint8)
    informative = ((b >= 0x30) & (b <= 0x39)) | ((b >= 0x61) & (b <= 0x7A)) | (b >= 0x80)
    box = np.flatnonzero((b[:-1] == 0xE2) & ((b[1:] == 0x94) | (b[1:] == 0x95)))
    for shift in range(3):
        informative[np.minimum(box + shift, len(b) - 1)] = False
    return ~informative
