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
   split into exact copies (pieces whose bytes equal their source's bytes) that never
   cut a UTF-8 character (:func:`is_continuation`).

Exact pieces. Window ``p`` marked with source ``s`` says ``data[p + i] == data[s + i]``
for ``0 <= i < min_span``; call ``s - p`` its *shift*. Windows of one shift that overlap
or touch form a *chain*: every byte of the chain's union ``[chain_start, chain_end)``
equals the byte ``shift`` further on, so any slice of it is a contiguous copy of the
text at ``slice start + shift`` (and that copy lies inside one document: a window never
crosses a separator). A merged range (the union of overlapping or touching marked
windows, whatever their shifts) is cut into pieces greedily, left to right: a piece
starting at byte ``x`` takes, among the chains holding ``x``, the one that reaches
farthest (ties: the smallest source position); the piece then runs on past the
chain's end while its bytes still equal the bytes at the same shift (inside the range
and inside the source's document: periodic text stays one piece), and ends there, moved
back to the start of the character it would cut; the next piece starts there. A
character that no single chain holds whole (its bytes are copies of bytes from
different places) and that no piece runs on through has no exact source: it is left out.
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
def snap_forward(data, start, limit):
    """The first character start at or after ``start`` (int64 byte position), at most
    ``limit``: ``start`` moved past continuation bytes."""
    while start < limit and is_continuation(data[start]):
        start += 1
    return start


@numba.njit(cache=True)
def snap_back(data, end, low, doc_end):
    """``end`` (int64 exclusive byte position) moved back to the start of the character
    it would cut, not below ``low``; ``doc_end`` (the separator position) is kept."""
    while end > low and end < doc_end and is_continuation(data[end]):
        end -= 1
    return end


@numba.njit(cache=True)
def range_chains(sources, range_start, range_end, min_span):
    """The chains of the marked windows of one merged range.

    Args:
        sources: (total,) int64 from :func:`mark_windows`.
        range_start, range_end: int64 global byte positions of the merged range (the
            union of its marked windows, end exclusive).
        min_span: int64 window length in bytes.

    Returns:
        chain_start, chain_end, chain_shift: (c,) int64 each, ordered by
        (chain_start, shift): the union of each chain's windows (global byte positions,
        end exclusive) and its shift (source position - window position, bytes).
    """
    last = range_end - min_span
    n_windows = 0
    for p in range(range_start, last + 1):
        if sources[p] >= 0:
            n_windows += 1
    position = np.empty(n_windows, dtype=np.int64)
    shift = np.empty(n_windows, dtype=np.int64)
    n_windows = 0
    for p in range(range_start, last + 1):
        if sources[p] >= 0:
            position[n_windows] = p
            shift[n_windows] = sources[p] - p
            n_windows += 1
    by_shift = np.argsort(shift, kind="mergesort")  # stable: positions stay ascending
    chain_start = np.empty(n_windows, dtype=np.int64)
    chain_end = np.empty(n_windows, dtype=np.int64)
    chain_shift = np.empty(n_windows, dtype=np.int64)
    n_chains = 0
    for w in by_shift:
        p = position[w]
        if n_chains > 0 and chain_shift[n_chains - 1] == shift[w] and p <= chain_end[n_chains - 1]:
            chain_end[n_chains - 1] = p + min_span
            continue
        chain_start[n_chains] = p
        chain_end[n_chains] = p + min_span
        chain_shift[n_chains] = shift[w]
        n_chains += 1
    order = np.argsort(chain_start[:n_chains], kind="mergesort")
    return chain_start[order], chain_end[order], chain_shift[order]


@numba.njit(cache=True)
def single_shift(sources, range_start, range_end, min_span):
    """True when every marked window of the range has the shift of its first one."""
    shift = sources[range_start] - range_start
    for p in range(range_start + 1, range_end - min_span + 1):
        if sources[p] >= 0 and sources[p] - p != shift:
            return False
    return True


@numba.njit(cache=True)
def range_pieces(data, doc_starts, sources, range_start, range_end, doc_end, min_span, out, count):
    """Write the exact pieces of one merged range (module docstring) into ``out``.

    Args:
        data: (total,) uint8 packed text.
        doc_starts: (n_docs + 1,) int64 byte offsets of the packed text.
        sources: (total,) int64 from :func:`mark_windows`.
        range_start, range_end: int64 global byte positions of the merged range.
        doc_end: int64 position of the range's document separator.
        min_span: int64 window length in bytes.
        out: (3, m) int64 rows ``start``, ``end`` (global byte positions, end exclusive)
            and ``source`` (global position of the copy of ``start``).
        count: int64 rows already in ``out``.

    Returns:
        int64 rows in ``out`` afterwards.
    """
    x = snap_forward(data, range_start, range_end)
    if single_shift(sources, range_start, range_end, min_span):
        end = snap_back(data, range_end, x, doc_end)
        if end > x:
            out[0, count] = x
            out[1, count] = end
            out[2, count] = x + sources[range_start] - range_start
            count += 1
        return count
    chain_start, chain_end, chain_shift = range_chains(sources, range_start, range_end, min_span)
    next_chain = 0
    best_end = UNMARKED
    best_shift = np.int64(0)
    while x < range_end:
        # chains holding x: their start <= x; the one reaching farthest holds x
        while next_chain < chain_start.shape[0] and chain_start[next_chain] <= x:
            c = next_chain
            if chain_end[c] > best_end or (
                chain_end[c] == best_end and chain_shift[c] < best_shift
            ):
                best_end = chain_end[c]
                best_shift = chain_shift[c]
            next_chain += 1
        # run on while the bytes still match at this shift, inside the source document
        source_doc = np.searchsorted(doc_starts, x + best_shift, side="right") - 1
        source_limit = doc_starts[source_doc + 1] - 1 - best_shift
        end = best_end
        while end < range_end and end < source_limit and data[end] == data[end + best_shift]:
            end += 1
        end = snap_back(data, end, x, doc_end)
        if end > x:
            out[0, count] = x
            out[1, count] = end
            out[2, count] = x + best_shift
            count += 1
            x = end
        else:  # no chain holds the whole character at x
            x = snap_forward(data, x + 1, range_end)
    return count


@numba.njit(cache=True)
def merge_and_snap(data, doc_starts, n_text_docs, sources, min_span):
    """Marked windows merged per document, cut into exact pieces that never cut a UTF-8
    character.

    Windows ``[p, p + min_span)`` of one document merge into a range when they overlap
    or touch; each range is cut into pieces whose bytes equal the bytes at their source
    (module docstring). A piece's start never sits on a continuation byte and its end
    never cuts a character (the source start moves with the start); ranges or
    characters that no piece can hold are dropped.

    Args:
        data: (total,) uint8 packed text.
        doc_starts: (n_docs + 1,) int64 byte offsets of the packed text.
        n_text_docs: int64 how many leading documents to scan (the rest is reference).
        sources: (total,) int64 from :func:`mark_windows`.
        min_span: int64 window length in bytes.

    Returns:
        doc, start, end, source: (m,) int64 each, ordered by (doc, start): the document
        index, byte offsets inside it (end exclusive) and the global byte position of
        the source copy of ``start``; ``data[source : source + end - start]`` equals the
        piece's bytes.
    """
    n_marked = 0
    for d in range(n_text_docs):
        for p in range(doc_starts[d], doc_starts[d + 1] - 1):
            if sources[p] >= 0:
                n_marked += 1
    out = np.empty((3, n_marked), dtype=np.int64)  # pieces <= chains <= windows
    out_doc = np.empty(n_marked, dtype=np.int64)
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
                before = count
                count = range_pieces(
                    data, doc_starts, sources, open_start, open_end, doc_end, min_span, out, count
                )
                out_doc[before:count] = d
                out[0, before:count] -= doc_first
                out[1, before:count] -= doc_first
                open_start = UNMARKED
            if marked:
                open_start = p
                open_end = p + min_span
    return out_doc[:count], out[0, :count].copy(), out[1, :count].copy(), out[2, :count].copy()
