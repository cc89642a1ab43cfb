"""What the reference index keeps of a text besides the text: winnowed anchors of its
normalized bytes, MinHash signatures and LSH band keys; and the anchor lookup table."""

from __future__ import annotations

import math

import numpy as np

from engine.provenance.params import IndexParams
from kernels.backend import to_host
from kernels.lsh import band_keys as compute_band_keys
from kernels.minhash import signatures as compute_signatures
from kernels.postings import key_ranges
from kernels.winnow import ANCHOR_SEED, winnow_selections

_BUCKET_BITS_MAX = 24


def winnow_anchors(
    norm: np.ndarray, norm_offsets: np.ndarray, anchor_bytes: int, anchor_window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winnowed anchors of packed normalized documents.

    64-bit keys of ``anchor_bytes``-byte windows chosen by winnowing with a window of
    ``anchor_window`` keys (:func:`kernels.winnow.winnow_selections`, ``ANCHOR_SEED``):
    any common substring of at least ``anchor_bytes + anchor_window - 1`` bytes shares
    at least one anchor.

    Args:
        norm: uint8 (total,) normalized documents back to back.
        norm_offsets: int64 (n_docs + 1,) their boundaries.

    Returns:
        positions int64 (m,) global byte offsets into ``norm`` of each anchor window
        (``anchor_bytes`` long); keys uint64 (m,); counts int64 (n_docs,) anchors per
        document (documents are in order, so anchors of document d are a contiguous run).
    """
    return winnow_selections(
        np.ascontiguousarray(norm, dtype=np.uint8),
        np.ascontiguousarray(norm_offsets, dtype=np.int64),
        np.int64(anchor_bytes),
        np.int64(anchor_window),
        ANCHOR_SEED,
    )


def anchor_buckets(sorted_keys: np.ndarray) -> tuple[np.ndarray, int]:
    """A direct-address table over sorted 64-bit anchor keys (for :func:`anchor_ranges`).

    Returns ``(bucket_starts, shift)``: ``bucket_starts`` (2**bits + 1,), int32 when the
    keys fit, the first position of each top-``bits`` prefix of the keys; ``bits`` is
    ``floor(log2(n))`` (one or two keys per bucket), at most 24 (64 MiB of table).
    """
    n = int(sorted_keys.shape[0])
    bits = max(1, min(_BUCKET_BITS_MAX, int(math.floor(math.log2(max(n, 2))))))
    shift = 64 - bits
    prefixes = np.arange(2**bits, dtype=np.uint64) << np.uint64(shift)
    dtype = np.int32 if n < 2**31 else np.int64
    starts = np.searchsorted(sorted_keys, prefixes, side="left").astype(dtype)
    return np.append(starts, np.asarray(n, dtype=dtype)), shift


def anchor_ranges(
    sorted_keys: np.ndarray, buckets: tuple[np.ndarray, int], keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``searchsorted(sorted_keys, keys, "left")`` and ``"right"`` (int64 (n,) each)
    via the bucket table of :func:`anchor_buckets`.

    Example:
        >>> keys = np.array([3, 5, 5, 9], dtype=np.uint64)
        >>> left, right = anchor_ranges(keys, anchor_buckets(keys), np.array([5], np.uint64))
        >>> int(left[0]), int(right[0])
        (1, 3)
    """
    bucket_starts, shift = buckets
    return key_ranges(
        sorted_keys,
        bucket_starts,
        np.int64(shift),
        np.ascontiguousarray(keys, dtype=np.uint64),
    )


def minhash_sketch(
    data: np.ndarray, offsets: np.ndarray, params: IndexParams, backend: str
) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures uint32 (n, num_perm) and LSH band keys uint64 (n, bands) of
    packed texts (``data`` uint8, ``offsets`` int64 (n + 1,)), as host arrays."""
    sig = to_host(
        compute_signatures(
            data,
            offsets,
            num_perm=params.num_perm,
            ngram=params.ngram,
            shingle=params.shingle,
            seed=params.seed,
            backend=backend,
        )
    )
    return sig, to_host(compute_band_keys(sig, params.bands, params.rows, backend=backend))
