"""Band keys, verified candidate edges, connected components and keep rules (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.neardup.keep import choose_kept
from engine.neardup.params import DedupParams, optimal_bands_rows
from engine.neardup.signatures import has_shingles
from kernels.lsh import band_keys, candidate_edges
from kernels.union_find import connected_components


def cluster_documents(signatures, keys, n_bytes, params, backend):
    """The whole near-duplicate method in memory, as the file pipeline runs it in
    stages: verified LSH edges -> components -> one kept document per cluster.
    Documents without shingles take part in no bucket. Returns (cluster_id,
    cluster_size, keep, documents_without_shingles)."""
    n = signatures.shape[0]
    active = np.flatnonzero(has_shingles(signatures))
    src, dst, _ = candidate_edges(
        np.ascontiguousarray(keys[active]),
        np.ascontiguousarray(signatures[active]),
        threshold=float(params.threshold),
        max_anchors=params.max_anchors,
        backend=backend,
    )
    labels = connected_components(len(active), src, dst, backend=backend)
    cluster_id = np.arange(n, dtype=np.int64)
    cluster_id[active] = active[labels]
    cluster_size = np.bincount(cluster_id, minlength=n).astype(np.int64)[cluster_id]
    keep = choose_kept(cluster_id, n_bytes, params.keep)
    return cluster_id, cluster_size, keep, int(n - len(active))


def _components_reference(n, edges):
    adjacency = {i: set() for i in range(n)}
    for u, v in edges:
        adjacency[u].add(v)
        adjacency[v].add(u)
    labels = [-1] * n
    for start in range(n):
        if labels[start] >= 0:
            continue
        stack, seen = [start], {start}
        while stack:
            x = stack.pop()
            for y in adjacency[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        low = min(seen)
        for x in seen:
            labels[x] = low
    return labels


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 30), data=st.data())
def test_connected_components_match_bfs(n, data):
    edges = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40)
    )
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    labels = connected_components(n, src, dst, backend="cpu")
    assert labels.tolist() == _components_reference(n, edges)


def test_connected_components_rejects_bad_edges():
    with pytest.raises(ValueError, match="endpoints"):
        connected_components(2, np.array([0]), np.array([2]), backend="cpu")


def test_chance_collision_does_not_link_unrelated_documents():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(3, 32), dtype=np.uint32)
    sig[1, :4] = sig[0, :4]  # doc 1 shares one band (4 rows) with doc 0, nothing else
    sig[2] = sig[0]
    sig[2, 20:] = 1  # doc 2: 20/32 equal to doc 0
    keys = band_keys(sig, 8, 4, backend="cpu")
    src, dst, stats = candidate_edges(keys, sig, threshold=0.8, backend="cpu")
    assert list(zip(src.tolist(), dst.tolist())) == []
    assert stats["candidate_pairs"] >= 2
    src, dst, _ = candidate_edges(keys, sig, threshold=0.6, backend="cpu")
    assert list(zip(src.tolist(), dst.tolist())) == [(0, 2)]


def test_bucket_with_two_families_links_each_family():
    rng = np.random.default_rng(3)
    fam_a = rng.integers(0, 2**32, size=32, dtype=np.uint32)
    fam_b = rng.integers(0, 2**32, size=32, dtype=np.uint32)
    fam_b[:4] = fam_a[:4]  # both families share band 0
    sig = np.stack([fam_a, fam_b, fam_a, fam_b, fam_b])
    keys = band_keys(sig, 8, 4, backend="cpu")
    keys[:, 1:] = np.arange(5, dtype=np.uint64)[:, None] * np.uint64(7) + np.arange(
        7, dtype=np.uint64
    )  # only band 0 collides
    src, dst, _ = candidate_edges(keys, sig, threshold=0.9, backend="cpu")
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 2), (1, 3), (1, 4)]


def test_anchor_cap_is_counted():
    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2**32, size=(6, 16), dtype=np.uint32)
    keys = np.zeros((6, 1), dtype=np.uint64)  # everything in one bucket, all unrelated
    _, _, stats = candidate_edges(keys, sig, threshold=0.9, max_anchors=2, backend="cpu")
    assert stats["unverified"] == 4


def test_cluster_documents_ids_sizes_and_keep():
    rng = np.random.default_rng(7)
    params = DedupParams(num_perm=16, bands=4, rows=4, threshold=0.9)
    base = rng.integers(0, 2**32, size=(2, 16), dtype=np.uint32)
    sig = np.stack(
        [
            base[0],
            base[1],
            base[0],
            np.full(16, 0xFFFFFFFF, np.uint32),
            np.full(16, 0xFFFFFFFF, np.uint32),
            base[1],
        ]
    )
    keys = band_keys(sig, 4, 4, backend="cpu")
    n_bytes = np.array([10, 5, 20, 0, 0, 5])
    cluster_id, cluster_size, keep, without = cluster_documents(sig, keys, n_bytes, params, "cpu")
    assert cluster_id.tolist() == [0, 1, 0, 3, 4, 1]  # empty docs stay alone
    assert cluster_size.tolist() == [2, 2, 2, 1, 1, 2]
    assert keep.tolist() == [True, True, False, True, True, False]
    assert without == 2
    assert int(len(keep) - keep.sum()) == 2
    longest = choose_kept(cluster_id, n_bytes, "longest")
    assert longest.tolist() == [False, True, True, True, True, False]


def test_params_validation_and_band_choice():
    assert DedupParams().band_rows == optimal_bands_rows(0.8, 128) == (9, 13)
    assert DedupParams(bands=20, rows=6).band_rows == (20, 6)
    with pytest.raises(ValueError, match="both"):
        DedupParams(bands=4)
    with pytest.raises(ValueError, match="at most num_perm"):
        DedupParams(bands=20, rows=13)
    with pytest.raises(ValueError, match="threshold"):
        DedupParams(threshold=1.5)
    with pytest.raises(ValueError, match="keep"):
        DedupParams(keep="random")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), shuffle_seed=st.integers(0, 10_000))
def test_record_edges_equal_in_memory_edges(seed, shuffle_seed):
    from kernels.lsh import record_edges

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, size=(6, 16), dtype=np.uint32)
    sig = base[rng.integers(0, 6, size=40)]
    noise = rng.random(sig.shape) < 0.15
    sig[noise] = rng.integers(0, 2**32, size=int(noise.sum()), dtype=np.uint32)
    keys = band_keys(sig, 4, 4, backend="cpu")
    want = candidate_edges(keys, sig, threshold=0.7, backend="cpu")
    # one record per (document, band), in any order (as they arrive from a shuffle)
    docs = np.repeat(np.arange(40), 4)
    bands = np.tile(np.arange(4), 40)
    order = np.random.default_rng(shuffle_seed).permutation(len(docs))
    docs, bands = docs[order], bands[order]
    got = record_edges(bands, keys[docs, bands], docs, sig[docs], threshold=0.7, backend="cpu")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[2] == want[2]


def test_keys_differing_only_in_low_bits_stay_in_separate_exact_buckets():
    from kernels.lsh import record_edges

    rng = np.random.default_rng(11)
    sig = rng.integers(0, 2**32, size=(3, 8), dtype=np.uint32)
    sig[2] = sig[0]
    # equal as float64, different as uint64: a float sort would interleave the buckets
    keys = np.array([[2**63 + 1], [2**63 + 2], [2**63 + 1]], dtype=np.uint64)
    src, dst, _ = candidate_edges(keys, sig, threshold=0.9, backend="cpu")
    assert list(zip(src.tolist(), dst.tolist())) == [(0, 2)]
    src, dst, _ = record_edges(
        np.zeros(3, np.int16), keys[:, 0], np.arange(3), sig, threshold=0.9, backend="cpu"
    )
    assert list(zip(src.tolist(), dst.tolist())) == [(0, 2)]


def test_streamed_union_equals_one_call():
    from kernels.union_find import finish_labels_cpu, union_edges_cpu

    rng = np.random.default_rng(4)
    src = rng.integers(0, 500, size=400)
    dst = rng.integers(0, 500, size=400)
    want = connected_components(500, src, dst, backend="cpu")
    parent = np.arange(500, dtype=np.int64)
    for chunk in np.array_split(np.arange(400), 7):  # edges arrive range by range
        union_edges_cpu(parent, src[chunk], dst[chunk])
    np.testing.assert_array_equal(finish_labels_cpu(parent), want)
