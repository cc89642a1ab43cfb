"""Repeated windows of a packed byte text, merged into UTF-8-safe spans (CPU: ``@numba.njit``).

The host half of :func:`engine.substrings.spans.repeated_spans_arrays`, run after the
suffix array (:mod:`kernels.suffix_array`) and the LCP capped at ``min_span``
(:mod:`kernels.lcp`) of the packed text.

Packed text: ``data`` uint8 (total,), documents back to back, each followed by one
separator byte; ``doc_starts`` int64 (n_docs + 1,) byte offsets, document d is
``data[doc_starts[d] : doc_starts[d + 1] - 1]`` and ``doc_starts[n_docs] == total``.
Every position and length here is in bytes. A *window* at global position ``p`` is
``data[p : p + min_span]``; it is valid when it lies inside p's document.

1. :func:`window_starts`: which positions start a valid window.
2. :func:`mark_windows`: the source copy of each valid window, under a keep mode
   (``MODE_FIRST``, ``MODE_NONE``, ``MODE_ACROSS``), or ``UNMARKED``.
3. :func:`merge_and_snap`: marked windows of a document merged into ranges, each range
   snapped so it never cuts a UTF-8 character (:func:`is_continuation`).
"""

from __future__ import annotations

import numba
import numpy as np

MODE_FIRST = np.int64(0)  # every occurrence but the first is marked
MODE_NONE = np.int64(1)  # every occurrence is marked
MODE_ACROSS = np.int64(2)  # occurrences before reference_start found at or after it
UNMARKED = np.int64(-1)


@numba.njit(cache=True)
def is_continuation(byte):
    """True for a UTF-8 continuation byte 0b10xxxxxx."""
    return (np.uint8(byte) & np.uint8(0xC0)) == np.uint8(0x80)


@numba.njit(cache=True)
def window_starts(doc_starts, n_docs, min_span, total):
    """Positions whose window lies inside their document.

    Args:
        doc_starts: (n_docs + 1,) int64 byte offsets of the packed text.
        n_docs: int64 number of documents.
        min_span: int64 window length in bytes (>= 1).
        total: int64 length of the packed text in bytes.

    Returns:
        valid: (total,) bool, ``valid[p]`` when ``[p, p + min_span)`` ends at or before
        the separator of p's document.
    """
    valid = np.zeros(total, dtype=np.bool_)
    for d in range(n_docs):
        first = doc_starts[d]
        end = doc_starts[d + 1] - 1  # separator position
        for p in range(first, end - min_span + 1):
            valid[p] = True
    return valid


@numba.njit(cache=True)
def mark_windows(sa, lcp, valid, min_span, mode, reference_start):
    """The source copy of every repeated valid window.

    Suffixes whose first ``min_span`` bytes are equal are adjacent in the suffix array,
    linked by ``lcp >= min_span``; among such a run only valid windows count.

    Args:
        sa: (total,) int64 suffix array of the packed text.
        lcp: (total,) LCP array of ``sa`` (``lcp[i]``: common prefix of suffixes
            ``sa[i - 1]`` and ``sa[i]``, in bytes; a cap at ``min_span`` is enough).
        valid: (total,) bool from :func:`window_starts`.
        min_span: int64 window length in bytes.
        mode: ``MODE_FIRST``: every occurrence but the smallest position is marked,
            its source is the smallest position; ``MODE_NONE``: the smallest position
            is marked too, with the second smallest as source; ``MODE_ACROSS``: every
            occurrence before ``reference_start`` is marked when one occurs at or after
            it, with the smallest such position as source.
        reference_start: int64 global position of the first reference byte (only read
            in ``MODE_ACROSS``).

    Returns:
        sources: (total,) int64 global position of the source copy of window p, or
        ``UNMARKED`` (-1).
    """
    total = sa.shape[0]
    sources = np.full(total, UNMARKED, dtype=np.int64)
    big = np.int64(total)
    j = 0
    while j < total:
        k = j + 1
        while k < total and lcp[k] >= min_span:
            k += 1
        if k - j >= 2:
            first = big
            second = big
            first_reference = big
            count = 0
            for t in range(j, k):
                p = sa[t]
                if not valid[p]:
                    continue
                count += 1
                if p < first:
                    second = first
                    first = p
                elif p < second:
                    second = p
                if p >= reference_start and p < first_reference:
                    first_reference = p
            if mode == MODE_ACROSS:
                if first_reference < big:
                    for t in range(j, k):
                        p = sa[t]
                        if valid[p] and p < reference_start:
                            sources[p] = first_reference
            elif count >= 2:
                for t in range(j, k):
                    p = sa[t]
                    if not valid[p]:
                        continue
                    if p != first:
                        sources[p] = first
                    elif mode == MODE_NONE:
                        sources[p] = second
        j = k
    return sources


@numba.njit(cache=True)
def merge_and_snap(data, doc_starts, n_text_docs, sources, min_span):
    """Marked windows merged per document into ranges that never cut a UTF-8 character.

    Windows ``[p, p + min_span)`` of one document merge when they overlap or touch; a
    range takes the source of its leftmost window. Its start then moves forward past
    continuation bytes and its end back to the start of the character it would cut
    (the source start moves with the start); ranges left empty are dropped.

    Args:
        data: (total,) uint8 packed text.
        doc_starts: (n_docs + 1,) int64 byte offsets of the packed text.
        n_text_docs: int64 how many leading documents to scan (the rest is reference).
        sources: (total,) int64 from :func:`mark_windows`.
        min_span: int64 window length in bytes.

    Returns:
        doc, start, end, source: (m,) int64 each, ordered by (doc, start): the document
        index, byte offsets inside it (end exclusive) and the global byte position of
        the source copy of ``start``.
    """
    n_marked = 0
    for d in range(n_text_docs):
        for p in range(doc_starts[d], doc_starts[d + 1] - 1):
            if sources[p] >= 0:
                n_marked += 1
    out_doc = np.empty(n_marked, dtype=np.int64)
    out_start = np.empty(n_marked, dtype=np.int64)
    out_end = np.empty(n_marked, dtype=np.int64)
    out_source = np.empty(n_marked, dtype=np.int64)
    count = 0
    for d in range(n_text_docs):
        doc_first = doc_starts[d]
        doc_end = doc_starts[d + 1] - 1
        open_start = UNMARKED
        open_end = UNMARKED
        for p in range(doc_first, doc_end + 1):
            marked = p < doc_end and sources[p] >= 0
            if marked and open_start >= 0 and p <= open_end:
                open_end = p + min_span
                continue
            if open_start >= 0 and (marked or p == doc_end):
                start = open_start
                end = open_end
                while start < end and is_continuation(data[start]):
                    start += 1
                while end > start and end < doc_end and is_continuation(data[end]):
                    end -= 1
                if start < end:
                    # the leftmost marked window holding the (snapped) first byte
                    window = open_start
                    if start > open_start:
                        window = max(open_start, start - min_span + 1)
                        while sources[window] < 0:
                            window += 1
                    out_doc[count] = d
                    out_start[count] = start - doc_first
                    out_end[count] = end - doc_first
                    out_source[count] = sources[window] + (start - window)
                    count += 1
                open_start = UNMARKED
            if marked:
                open_start = p
                open_end = p + min_span
    return out_doc[:count], out_start[:count], out_end[:count], out_source[:count]
