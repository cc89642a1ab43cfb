"""Rejected candidate pairs of one shuffle range (engine.neardup.similarity), on
hand-made records: the first member of a bucket, the threshold, the cap, repeats."""

from __future__ import annotations

import numpy as np
import pytest

from engine.neardup.similarity import rejected_candidates

K = 16


def records(buckets: list[tuple[int, int, list[int]]], signatures: dict[int, np.ndarray]):
    """Shuffle records (band int16, key uint64, doc int64, signature uint32 (m, K)) from
    (band, key, docs) buckets, in reversed order (the function must sort them)."""
    rows = [(band, key, doc) for band, key, docs in buckets for doc in docs][::-1]
    bands = np.array([r[0] for r in rows], dtype=np.int16)
    keys = np.array([r[1] for r in rows], dtype=np.uint64)
    docs = np.array([r[2] for r in rows], dtype=np.int64)
    return bands, keys, docs, np.stack([signatures[d] for d in docs])


def signature_with(base: np.ndarray, equal: int, shift: int = 1) -> np.ndarray:
    """A copy of ``base`` (uint32 (K,)) whose first ``equal`` slots are left equal and
    the others are moved by ``shift``."""
    out = base.copy()
    out[equal:] += np.uint32(shift)
    return out


def test_pairs_with_the_first_member_below_the_threshold():
    base = np.arange(K, dtype=np.uint32)
    # equal slots with doc 3: doc 5 -> 12/16 = 0.75, doc 9 -> 11/16, doc 7 -> 4/16;
    # doc 5 with doc 9: 11/16
    sigs = {3: base, 5: signature_with(base, 12), 9: signature_with(base, 11, shift=2)}
    sigs[7] = signature_with(base, 4)
    bands, keys, docs, matrix = records(
        [(0, 10, [3, 5, 9, 7]), (1, 10, [5, 9]), (2, 99, [3, 9])], sigs
    )
    pairs, similarity, capped = rejected_candidates(bands, keys, docs, matrix, threshold=0.75)
    # band 0: 3 is first; (3, 5) is an edge (0.75), 5 and 9 are not compared there.
    # band 1: 5 is first. band 2 repeats (3, 9): written once
    assert pairs.tolist() == [[3, 7], [3, 9], [5, 9]]
    assert pairs.dtype == np.int64 and similarity.dtype == np.float32
    np.testing.assert_array_equal(similarity, np.float32([4 / 16, 11 / 16, 11 / 16]))
    assert capped == 0


def test_threshold_counts_slots_like_verification():
    # 0.7 * 10 is 7.000000000000001 in floating point: 7 equal slots of 10 pass
    base = np.arange(10, dtype=np.uint32)
    sigs = {0: base, 1: signature_with(base, 7), 2: signature_with(base, 6)}
    bands, keys, docs, matrix = records([(0, 1, [0, 1, 2])], sigs)
    pairs, similarity, _ = rejected_candidates(bands, keys, docs, matrix, threshold=0.7)
    assert pairs.tolist() == [[0, 2]] and similarity.tolist() == [np.float32(0.6)]


def test_cap_per_bucket_is_counted():
    rng = np.random.default_rng(1)
    sigs = {d: rng.integers(0, 2**32, K, dtype=np.uint32) for d in range(70)}
    bands, keys, docs, matrix = records([(4, 7, list(range(70)))], sigs)
    pairs, _, capped = rejected_candidates(bands, keys, docs, matrix, threshold=0.5, max_members=64)
    assert pairs.tolist() == [[0, d] for d in range(1, 64)]
    assert capped == 6
    with pytest.raises(ValueError, match="max_members"):
        rejected_candidates(bands, keys, docs, matrix, threshold=0.5, max_members=1)


def test_empty_and_single_records():
    for m in (0, 1):
        bands = np.zeros(m, dtype=np.int16)
        keys = np.zeros(m, dtype=np.uint64)
        docs = np.arange(m, dtype=np.int64)
        matrix = np.zeros((m, K), dtype=np.uint32)
        pairs, similarity, capped = rejected_candidates(bands, keys, docs, matrix, threshold=0.8)
        assert pairs.shape == (0, 2) and similarity.shape == (0,) and capped == 0
