"""Posting lists of 64-bit keys: ``(key, owner)`` pairs sorted by key, then owner.

A reference index stores its anchors this way (owner: the reference). ``key_starts``
(int64 (n_keys + 1,)) gives the run of each distinct key: postings
``key_starts[g]:key_starts[g + 1]`` share one key.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def key_ranges(sorted_keys, bucket_starts, shift, keys):
    """``searchsorted(sorted_keys, keys, "left")`` and ``"right"`` via a bucket table.

    Args:
        sorted_keys: uint64 (m,) sorted.
        bucket_starts: int32 or int64 (2**bits + 1,): the first position in
            ``sorted_keys`` of each top-``bits`` key prefix, then ``m``.
        shift: int64 ``64 - bits``.
        keys: uint64 (n,) keys to look up.

    Returns:
        left, right: int64 (n,); ``sorted_keys[left[i]:right[i]]`` equal ``keys[i]``.
    """
    n = keys.shape[0]
    left = np.empty(n, dtype=np.int64)
    right = np.empty(n, dtype=np.int64)
    sh = np.uint64(shift)
    for i in range(n):
        key = keys[i]
        b = np.int64(key >> sh)
        lo = np.int64(bucket_starts[b])
        hi = np.int64(bucket_starts[b + 1])
        while lo < hi:  # first position >= key
            mid = (lo + hi) >> 1
            if sorted_keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        r = lo
        end = np.int64(bucket_starts[b + 1])
        while r < end and sorted_keys[r] == key:
            r += 1
        left[i] = lo
        right[i] = r
    return left, right


@numba.njit(cache=True, nogil=True)
def shared_key_pairs(owners, key_starts, max_df):
    """Owner pairs that share a key, one row per key held by 2 to ``max_df`` owners.

    Args:
        owners: int64 (m,) owner of each posting.
        key_starts: int64 (n_keys + 1,) runs of equal keys.
        max_df: int64; keys with more owners are skipped (bounds the work to
            ``max_df**2 / 2`` pairs per key).

    Returns:
        a, b: int64 (p,) with ``a < b`` for every pair of owners of one key.
    """
    total = 0
    for g in range(key_starts.shape[0] - 1):
        d = key_starts[g + 1] - key_starts[g]
        if 2 <= d <= max_df:
            total += d * (d - 1) // 2
    a = np.empty(total, dtype=np.int64)
    b = np.empty(total, dtype=np.int64)
    n = 0
    for g in range(key_starts.shape[0] - 1):
        lo = key_starts[g]
        hi = key_starts[g + 1]
        if not 2 <= hi - lo <= max_df:
            continue
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                a[n] = owners[i]
                b[n] = owners[j]
                n += 1
    return a, b


@numba.njit(cache=True, nogil=True)
def distinct_groups_per_key(groups, key_starts, out):
    """Distinct values of ``groups`` (int64 (m,), per posting) among each key's
    postings, written to ``out`` (uint32 (m,)) at every posting of the key."""
    for g in range(key_starts.shape[0] - 1):
        lo = key_starts[g]
        hi = key_starts[g + 1]
        if hi - lo == 1:
            out[lo] = 1
            continue
        fam = np.sort(groups[lo:hi])
        count = 1
        for i in range(1, fam.shape[0]):
            if fam[i] != fam[i - 1]:
                count += 1
        for i in range(lo, hi):
            out[i] = count
