"""Exact seeds between packed documents and references: maximal exact matches (MEMs).

Layout (every function here): the candidate documents (slots ``0 .. n_docs - 1``) and
then the candidate references (slots ``n_docs ..``) are packed into one uint8 array
``data``, each slot followed by one :data:`SEPARATOR` byte; ``starts`` int64
(n_slots + 1,) gives the slot starts (slot ``s`` is ``data[starts[s]:starts[s + 1] - 1]``).
A seed of a (document d, reference r) pair is a position pair (p, q) whose next
``seed_bytes`` bytes are equal and that is left-maximal (the bytes before differ, or a
text starts there); it is extended to the right into a MEM.

Two ways give the same MEMs: :func:`hash_join_seeds` (a hash join per candidate pair,
work proportional to the pairs' text: the cpu backend) and :func:`suffix_array_seeds`
(groups of a suffix array whose LCP reaches ``seed_bytes``: the GPU backends build the
suffix array and LCP on the device). Results are five int64 arrays ``doc, ref, p, q,
length`` (slot-local offsets), in no particular order.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.hashing import fmix64
from kernels.winnow import BASE

SEPARATOR = np.uint8(0xFF)  # after every slot; never in normalized UTF-8 text
SMALL_GROUP = 8  # suffix-array groups with at most this many reference positions


@numba.njit(cache=True, nogil=True)
def _grow(array, size):
    """``array`` copied into a larger array (at least ``size``, double the old size)."""
    out = np.empty(max(2 * array.shape[0], size, 16), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


@numba.njit(cache=True, nogil=True)
def _emit(data, starts, n_docs, p, d, q, r, seed_bytes, count, out):
    """Extend the seed (p, q) (global positions in ``data``) of pair (d, r) to a MEM
    and append it to ``out`` (five int64 arrays, grown as needed) when it is
    left-maximal; returns the new count."""
    q_first = starts[n_docs + r]
    if p > starts[d] and q > q_first and data[p - 1] == data[q - 1]:
        return count
    p_end = starts[d + 1] - 1
    q_end = starts[n_docs + r + 1] - 1
    length = seed_bytes
    while p + length < p_end and q + length < q_end and data[p + length] == data[q + length]:
        length += 1
    if count == out[0].shape[0]:
        for f in range(5):
            out[f] = _grow(out[f], count + 1)
    out[0][count] = d
    out[1][count] = r
    out[2][count] = p - starts[d]
    out[3][count] = q - q_first
    out[4][count] = length
    return count + 1


@numba.njit(cache=True, nogil=True)
def suffix_array_seeds(data, sa, lcp, owner, starts, n_docs, n_refs, seed_bytes, pair_keys):
    """Maximal exact matches (>= seed_bytes) of candidate (document, reference) pairs.

    ``owner[p]`` is the packed slot of position p (documents 0..n_docs-1, then
    references), -1 on separators; ``starts`` (n_slots + 1,) slot starts, each slot
    followed by one separator. ``pair_keys`` sorted int64 ``doc * n_refs + ref``.
    Within a suffix-array group, a document position is only paired with positions of
    its own candidate references (work and result independent of the batch).
    Returns doc, ref, p, q (slot-local offsets) and length, all int64.
    """
    total = sa.shape[0]
    pair_first = np.searchsorted(pair_keys, np.arange(n_docs + 1) * n_refs)
    out = [np.empty(1024, dtype=np.int64) for _ in range(5)]
    count = 0
    doc_pos = np.empty(64, dtype=np.int64)
    ref_pos = np.empty(64, dtype=np.int64)
    ref_slot = np.empty(64, dtype=np.int64)
    j = 0
    while j < total:
        k = j + 1
        while k < total and lcp[k] >= seed_bytes:
            k += 1
        if k - j >= 2:
            n_d = 0
            n_r = 0
            for t in range(j, k):
                p = sa[t]
                slot = owner[p]
                if slot < 0 or p + seed_bytes > starts[slot + 1] - 1:
                    continue
                if slot < n_docs:
                    if n_d == doc_pos.shape[0]:
                        doc_pos = _grow(doc_pos, n_d + 1)
                    doc_pos[n_d] = p
                    n_d += 1
                else:
                    if n_r == ref_pos.shape[0]:
                        ref_pos = _grow(ref_pos, n_r + 1)
                        ref_slot = _grow(ref_slot, n_r + 1)
                    ref_pos[n_r] = p
                    ref_slot[n_r] = slot - n_docs
                    n_r += 1
            if n_d > 0 and n_r > 0:
                small = n_r <= SMALL_GROUP
                if not small:
                    order = np.argsort(ref_slot[:n_r], kind="mergesort")
                    sorted_slots = ref_slot[:n_r][order]
                    sorted_pos = ref_pos[:n_r][order]
                for a in range(n_d):
                    p = doc_pos[a]
                    d = owner[p]
                    first = pair_first[d]
                    last = pair_first[d + 1]
                    if small:
                        for b in range(n_r):
                            r = ref_slot[b]
                            c = first + np.searchsorted(pair_keys[first:last], d * n_refs + r)
                            if c < last and pair_keys[c] == d * n_refs + r:
                                count = _emit(
                                    data,
                                    starts,
                                    n_docs,
                                    p,
                                    d,
                                    ref_pos[b],
                                    r,
                                    seed_bytes,
                                    count,
                                    out,
                                )
                    else:
                        for c in range(first, last):
                            r = pair_keys[c] - d * n_refs
                            lo = np.searchsorted(sorted_slots, r)
                            while lo < n_r and sorted_slots[lo] == r:
                                count = _emit(
                                    data,
                                    starts,
                                    n_docs,
                                    p,
                                    d,
                                    sorted_pos[lo],
                                    r,
                                    seed_bytes,
                                    count,
                                    out,
                                )
                                lo += 1
        j = k
    return (
        out[0][:count].copy(),
        out[1][:count].copy(),
        out[2][:count].copy(),
        out[3][:count].copy(),
        out[4][:count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def hash_join_seeds(data, starts, n_docs, pair_doc, pair_ref, seed_bytes):
    """The seeds of :func:`suffix_array_seeds` by a hash join per candidate pair (no
    suffix array).

    For every pair (d, r), every reference position q with at least ``seed_bytes`` bytes
    left is hashed (polynomial hash of its ``seed_bytes`` bytes) into an open-addressing
    table; every document position p probes it, and each (p, q) whose ``seed_bytes``
    bytes are equal gives a MEM when it is left-maximal. The set of (p, q) pairs is the
    one the suffix array's groups give, so the result is the same.
    """
    out = [np.empty(1024, dtype=np.int64) for _ in range(5)]
    count = 0
    top = np.uint64(1)
    for _ in range(seed_bytes - 1):
        top = top * BASE
    hashes = np.empty(64, dtype=np.uint64)
    chain_next = np.empty(64, dtype=np.int64)
    heads = np.full(128, -1, dtype=np.int64)
    for c in range(pair_doc.shape[0]):
        d = pair_doc[c]
        r = pair_ref[c]
        p_first = starts[d]
        p_last = starts[d + 1] - 1 - seed_bytes  # last position with seed_bytes left
        q_first = starts[n_docs + r]
        q_last = starts[n_docs + r + 1] - 1 - seed_bytes
        if p_last < p_first or q_last < q_first:
            continue
        n_q = q_last - q_first + 1
        if hashes.shape[0] < n_q:
            hashes = np.empty(2 * n_q, dtype=np.uint64)
            chain_next = np.empty(2 * n_q, dtype=np.int64)
        size = 128
        while size < 2 * n_q:
            size *= 2
        if heads.shape[0] < size:
            heads = np.full(size, -1, dtype=np.int64)
        else:
            heads[:size] = -1
        mask = np.uint64(size - 1)
        h = np.uint64(0)
        for i in range(seed_bytes):
            h = h * BASE + np.uint64(data[q_first + i])
        for i in range(n_q):
            if i > 0:
                h = (h - np.uint64(data[q_first + i - 1]) * top) * BASE + np.uint64(
                    data[q_first + i + seed_bytes - 1]
                )
            f = fmix64(h)
            hashes[i] = f
            b = np.int64(f & mask)
            chain_next[i] = heads[b]
            heads[b] = i
        h = np.uint64(0)
        for i in range(seed_bytes):
            h = h * BASE + np.uint64(data[p_first + i])
        for p in range(p_first, p_last + 1):
            if p > p_first:
                h = (h - np.uint64(data[p - 1]) * top) * BASE + np.uint64(data[p + seed_bytes - 1])
            f = fmix64(h)
            i = heads[np.int64(f & mask)]
            while i >= 0:
                if hashes[i] == f:
                    q = q_first + i
                    same = True
                    for t in range(seed_bytes):
                        if data[p + t] != data[q + t]:
                            same = False
                            break
                    if same:
                        count = _emit(data, starts, n_docs, p, d, q, r, seed_bytes, count, out)
                i = chain_next[i]
    return (
        out[0][:count].copy(),
        out[1][:count].copy(),
        out[2][:count].copy(),
        out[3][:count].copy(),
        out[4][:count].copy(),
    )
