"""Winnowed k-gram fingerprints of byte documents (CPU only: ``@numba.njit``, no CUDA yet).

Winnowing (Schleimer, Wilkerson, Aiken 2003): hash every k-gram (k consecutive bytes)
of a document; in every window of ``w`` consecutive k-gram hashes select the minimal
hash, the *rightmost* one on ties. The selection depends only on the ``w`` hash values
of the window, so two documents that share a substring of ``w + k - 1`` bytes (exactly
one window of k-grams) select the same hash value in that window: **any shared
substring of length >= w + k - 1 shares at least one selected fingerprint.** Within
one document, a substring occurring at two offsets selects the same hash value at two
different positions.

Definitions (the plain-Python mirror used by the tests is :func:`kgram_hashes_reference`
and :func:`winnow_reference`):

- k-gram hash at byte ``i``: ``fmix64(P(i) ^ KGRAM_SEED)`` with the polynomial
  ``P(i) = sum_{j<k} data[i + j] * BASE**(k - 1 - j)`` modulo ``2**64`` (a rolling hash:
  one multiply-add per byte), ``fmix64`` the MurmurHash3 finalizer.
- selected positions: for each window start ``s`` in ``0 .. n_kgrams - w``, the largest
  ``i`` in ``[s, s + w)`` with minimal hash; each position is reported once.

This is the project's one winnowing. Its two users differ only in the seed and the
output: the substring stage takes distinct fingerprints per document
(:func:`winnow_documents`, ``KGRAM_SEED``); provenance anchors take every selection with
its position, and select once in documents shorter than a window
(:func:`winnow_selections`, ``ANCHOR_SEED``, the seed stored reference indexes use).

Hash collisions only ever add matches (callers treat fingerprints as candidates and
verify exactly), never remove them.
"""

from __future__ import annotations

import numba
import numpy as np

from kernels.hashing import fmix64

BASE = np.uint64(0x100000001B3)  # odd: multiplication by it is a bijection mod 2**64
KGRAM_SEED = np.uint64(0x8BB84B93962EACC9)
ANCHOR_SEED = np.uint64(0x9E3779B97F4A7C15)  # provenance anchors (reference indexes)
_S32 = np.uint64(32)


@numba.njit(inline="always")
def _power(base, exponent):
    """``base ** exponent`` modulo 2**64 (uint64)."""
    result = np.uint64(1)
    for _ in range(exponent):
        result = result * base
    return result


@numba.njit(cache=True, nogil=True)
def kgram_hashes(data, k):
    """Hash of every k-gram of one byte string.

    Args:
        data: (n,) uint8.
        k: k-gram length in bytes (>= 1).

    Returns:
        (max(n - k + 1, 0),) uint64; entry ``i`` hashes ``data[i : i + k]``.
    """
    return kgram_hashes_seeded(data, k, KGRAM_SEED)


@numba.njit(cache=True, nogil=True)
def kgram_hashes_seeded(data, k, seed):
    """:func:`kgram_hashes` with ``seed`` (uint64) in place of ``KGRAM_SEED``: entry
    ``i`` is ``fmix64(P(i) ^ seed)``."""
    n = data.shape[0]
    count = max(n - k + 1, 0)
    out = np.empty(count, dtype=np.uint64)
    if count == 0:
        return out
    top = _power(BASE, k - 1)
    h = np.uint64(0)
    for j in range(k):
        h = h * BASE + np.uint64(data[j])
    out[0] = fmix64(h ^ seed)
    for i in range(1, count):
        h = (h - np.uint64(data[i - 1]) * top) * BASE + np.uint64(data[i + k - 1])
        out[i] = fmix64(h ^ seed)
    return out


@numba.njit(cache=True, nogil=True)
def winnow_positions(hashes, w):
    """Positions selected by winnowing (rightmost minimum per window of ``w``).

    Args:
        hashes: (n_kgrams,) uint64 k-gram hashes of one document.
        w: window length in k-grams (>= 1).

    Returns:
        (m,) int64 increasing positions into ``hashes``; empty when ``n_kgrams < w``.
    """
    n = hashes.shape[0]
    out = np.empty(max(n - w + 1, 0), dtype=np.int64)
    if n < w:
        return out
    deque = np.empty(n, dtype=np.int64)  # indices, hashes strictly increasing front->back
    head = 0
    tail = 0
    count = 0
    last = -1
    for i in range(n):
        # pop back entries >= new hash: on ties the newer (rightmost) one wins
        while tail > head and hashes[deque[tail - 1]] >= hashes[i]:
            tail -= 1
        deque[tail] = i
        tail += 1
        if deque[head] <= i - w:
            head += 1
        if i >= w - 1:
            selected = deque[head]
            if selected != last:
                out[count] = selected
                count += 1
                last = selected
    return out[:count]


@numba.njit(cache=True, nogil=True)
def winnow_documents(data, offsets, k, w):
    """Distinct winnowed fingerprints of each document of a packed batch.

    Args:
        data: (total_bytes,) uint8, documents back to back.
        offsets: (n_docs + 1,) int64; document d is ``data[offsets[d]:offsets[d + 1]]``.
        k: k-gram length in bytes (>= 1).
        w: window length in k-grams (>= 1). Documents shorter than ``w + k - 1`` bytes
            have no fingerprints.

    Returns:
        fingerprints: (m,) uint64, per document sorted and distinct.
        doc: (m,) int64 document index (0-based in this batch), non-decreasing.
        self_repeat: (n_docs,) bool, True when some fingerprint value is selected at
            two different positions of the document (so every document with a repeated
            substring of >= ``w + k - 1`` bytes inside itself is True).
    """
    n_docs = offsets.shape[0] - 1
    total = offsets[n_docs] - offsets[0]
    capacity = max(16, np.int64(4 * total // (w + 1)) + n_docs)
    fingerprints = np.empty(capacity, dtype=np.uint64)
    doc = np.empty(capacity, dtype=np.int64)
    self_repeat = np.zeros(n_docs, dtype=np.bool_)
    count = 0
    for d in range(n_docs):
        lo = offsets[d]
        hi = offsets[d + 1]
        if hi - lo < w + k - 1:
            continue
        hashes = kgram_hashes(data[lo:hi], k)
        positions = winnow_positions(hashes, w)
        values = np.sort(hashes[positions])
        need = count + values.shape[0]
        if need > capacity:
            capacity = max(2 * capacity, need)
            grown = np.empty(capacity, dtype=np.uint64)
            grown[:count] = fingerprints[:count]
            fingerprints = grown
            grown_doc = np.empty(capacity, dtype=np.int64)
            grown_doc[:count] = doc[:count]
            doc = grown_doc
        for j in range(values.shape[0]):
            if j > 0 and values[j] == values[j - 1]:
                self_repeat[d] = True
                continue
            fingerprints[count] = values[j]
            doc[count] = d
            count += 1
    return fingerprints[:count], doc[:count], self_repeat


@numba.njit(cache=True, nogil=True)
def winnow_selections(data, offsets, k, w, seed):
    """Every winnowing selection, with its position, of each document of a packed batch.

    Unlike :func:`winnow_documents` (distinct fingerprints per document), this keeps
    each selected position, in order, and a document with at least ``k`` but fewer
    than ``w + k - 1`` bytes still selects once (its minimal hash, a window of all its
    k-grams). Provenance anchors are this with ``seed = ANCHOR_SEED``.

    Args:
        data: (total_bytes,) uint8, documents back to back.
        offsets: (n_docs + 1,) int64 document boundaries.
        k: k-gram length in bytes (>= 1); w: window length in k-grams (>= 1).
        seed: uint64 k-gram hash seed (:func:`kgram_hashes_seeded`).

    Returns:
        positions: (m,) int64 global byte offsets into ``data`` of the selected k-grams;
        hashes: (m,) uint64 their hashes; counts: (n_docs,) int64 selections per
        document (documents in order, so document d's selections are one run).
    """
    n_docs = offsets.shape[0] - 1
    positions = np.empty(data.shape[0] + 1, dtype=np.int64)
    hashes = np.empty(data.shape[0] + 1, dtype=np.uint64)
    counts = np.zeros(n_docs, dtype=np.int64)
    n_out = 0
    for d in range(n_docs):
        first = offsets[d]
        doc_hashes = kgram_hashes_seeded(data[first : offsets[d + 1]], k, seed)
        n_kgrams = doc_hashes.shape[0]
        if n_kgrams == 0:
            continue
        selected = winnow_positions(doc_hashes, min(w, n_kgrams))
        for j in range(selected.shape[0]):
            positions[n_out] = first + selected[j]
            hashes[n_out] = doc_hashes[selected[j]]
            n_out += 1
        counts[d] = selected.shape[0]
    return positions[:n_out].copy(), hashes[:n_out].copy(), counts


@numba.njit(cache=True, nogil=True)
def fingerprint_ranges(fingerprints, n_ranges):
    """Range of each fingerprint: ``((fp >> 32) * n_ranges) >> 32``, int64 (m,).

    Ranges are contiguous intervals of fingerprint values, range 0 the smallest, and
    about equally full for uniform hashes (``n_ranges`` <= 2**31).
    """
    out = np.empty(fingerprints.shape[0], dtype=np.int64)
    scale = np.uint64(n_ranges)
    for i in range(fingerprints.shape[0]):
        out[i] = np.int64(((fingerprints[i] >> _S32) * scale) >> _S32)
    return out


# --------------------------------------------------------------------------- reference


def kgram_hashes_reference(data: bytes, k: int) -> list[int]:
    """Plain-Python definition of :func:`kgram_hashes` (slow; tests only)."""
    mask = (1 << 64) - 1

    def mix(h: int) -> int:
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & mask
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & mask
        return h ^ (h >> 33)

    out = []
    for i in range(len(data) - k + 1):
        poly = 0
        for byte in data[i : i + k]:
            poly = (poly * int(BASE) + byte) & mask
        out.append(mix(poly ^ int(KGRAM_SEED)))
    return out


def winnow_reference(hashes, w: int) -> list[int]:
    """Plain-Python definition of :func:`winnow_positions` (slow; tests only)."""
    hashes = [int(h) for h in hashes]
    chosen: list[int] = []
    for s in range(len(hashes) - w + 1):
        window = hashes[s : s + w]
        low = min(window)
        position = s + max(i for i, h in enumerate(window) if h == low)
        if not chosen or chosen[-1] != position:
            chosen.append(position)
    return chosen
