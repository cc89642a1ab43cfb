"""Suffix-array and LCP kernels against their CPU twins (simulator lane: tiny inputs).

Run: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest -q tests/sim/test_sim_suffix_array.py``.
Under the simulator the array module is NumPy, so kernels take NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels import lcp as lcp_mod
from kernels import suffix_array as sa_mod
from kernels.backend import launch_config, to_host
from kernels.lcp import lcp_array, lcp_array_phi_cpu
from kernels.suffix_array import (
    suffix_array,
    suffix_array_prefix_doubling_cpu,
    suffix_array_prefix_doubling_cuda,
)

SIZES = [0, 1, 2, 31, 33, 70]  # empty, one, not multiples of the (32-thread) block


def launch(kernel, n_items, *args):
    blocks, threads = launch_config(n_items)
    kernel[blocks, threads](*args)


def random_text(n, alphabet, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed + n * 7 + alphabet)
    return rng.integers(0, alphabet, n).astype(dtype)


def kasai_reference(data, sa):
    return lcp_array(data, sa, backend="cpu")


# --- suffix-array kernels, one by one -------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_initial_keys_kernel(n, dtype):
    data = random_text(n, 3 if dtype == np.uint8 else 65535, dtype)
    symbols_per_key, bits = sa_mod._PACKING[np.dtype(dtype)]
    expected = sa_mod._initial_keys_cpu(data, symbols_per_key, bits)
    keys = np.zeros(n, dtype=np.uint64)
    if n:
        launch(sa_mod._initial_keys_kernel, n, data, keys, symbols_per_key, bits)
    np.testing.assert_array_equal(keys, expected)


@pytest.mark.parametrize("n", SIZES)
def test_heads_unsorted_and_ranks_kernels(n):
    sorted_keys = np.sort(random_text(n, 4).astype(np.uint64))
    expected_heads = sa_mod._heads_from_keys_cpu(sorted_keys)
    heads = np.zeros(n, dtype=np.uint8)
    if n:
        launch(sa_mod._heads_from_keys_kernel, n, sorted_keys, heads)
    np.testing.assert_array_equal(heads, expected_heads)

    expected_unsorted = sa_mod._unsorted_mask_cpu(heads)
    unsorted = np.zeros(n, dtype=np.uint8)
    if n:
        launch(sa_mod._unsorted_mask_kernel, n, heads, unsorted)
    np.testing.assert_array_equal(unsorted, expected_unsorted)

    expected_ranks = sa_mod._ranks_from_heads_cpu(heads)
    ranks = np.zeros(n, dtype=np.int64)
    if n:
        head_positions = np.flatnonzero(heads).astype(np.int64)
        group_counts = np.cumsum(heads, dtype=np.int64)
        launch(sa_mod._ranks_from_heads_kernel, n, head_positions, group_counts, ranks)
    np.testing.assert_array_equal(ranks, expected_ranks)


@pytest.mark.parametrize("n", [1, 2, 33, 70])
@pytest.mark.parametrize("h", [1, 7, 64])
def test_round_kernels(n, h):
    """One doubling round's kernels (pair keys, pack, apply order, refine, scatter)."""
    data = random_text(n, 2)
    sa = np.argsort(sa_mod._initial_keys_cpu(data, 1, 9), kind="stable").astype(np.int64)
    heads = sa_mod._heads_from_keys_cpu(data[sa].astype(np.uint64))
    ranks = sa_mod._ranks_from_heads_cpu(heads)
    isa = np.zeros(n, dtype=np.int64)
    sa_mod._scatter_ranks_cpu(np.arange(n, dtype=np.int64), sa, ranks, isa)
    positions = np.flatnonzero(sa_mod._unsorted_mask_cpu(heads)).astype(np.int64)
    m = positions.shape[0]

    isa_gpu = np.zeros(n, dtype=np.int64)
    launch(sa_mod._scatter_ranks_kernel, n, np.arange(n, dtype=np.int64), sa, ranks, isa_gpu)
    np.testing.assert_array_equal(isa_gpu, isa)

    expected_groups, expected_seconds = sa_mod._pair_keys_cpu(positions, sa, ranks, isa, h)
    groups = np.zeros(m, dtype=np.int64)
    seconds = np.zeros(m, dtype=np.int64)
    if m:
        launch(sa_mod._pair_keys_kernel, m, positions, sa, ranks, isa, np.int64(h), groups, seconds)
    np.testing.assert_array_equal(groups, expected_groups)
    np.testing.assert_array_equal(seconds, expected_seconds)

    expected_keys = sa_mod._narrow_keys_cpu(groups, seconds)
    keys = np.zeros(m, dtype=np.uint64)
    if m:
        launch(sa_mod._narrow_keys_kernel, m, groups, seconds, keys)
    np.testing.assert_array_equal(keys, expected_keys)

    order = np.argsort(keys, kind="stable").astype(np.int64)
    sa_unsorted = sa[positions]
    sa_cpu, sa_gpu = sa.copy(), sa.copy()
    expected_sorted_seconds = sa_mod._apply_order_cpu(
        positions, order, sa_unsorted, seconds, sa_cpu
    )
    sorted_seconds = np.zeros(m, dtype=np.int64)
    if m:
        launch(
            sa_mod._apply_order_kernel,
            m,
            positions,
            order,
            sa_unsorted,
            seconds,
            sa_gpu,
            sorted_seconds,
        )
    np.testing.assert_array_equal(sa_gpu, sa_cpu)
    np.testing.assert_array_equal(sorted_seconds, expected_sorted_seconds)

    heads_cpu, heads_gpu = heads.copy(), heads.copy()
    sa_mod._refine_heads_cpu(positions, ranks, sorted_seconds, heads_cpu)
    if m:
        launch(sa_mod._refine_heads_kernel, m, positions, ranks, sorted_seconds, heads_gpu)
    np.testing.assert_array_equal(heads_gpu, heads_cpu)


# --- LCP kernels ------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("chunk", [1, 5, 32])
@pytest.mark.parametrize("cap", [None, 3])
def test_lcp_kernels(n, chunk, cap):
    data = random_text(n, 2)
    sa = suffix_array(data, backend="cpu")
    expected_phi = lcp_mod._phi_cpu(sa)
    phi = np.zeros(n, dtype=np.int64)
    if n:
        launch(lcp_mod._phi_kernel, n, sa, phi)
    np.testing.assert_array_equal(phi, expected_phi)

    max_lcp = lcp_mod._NO_CAP if cap is None else np.int64(cap)
    expected_plcp = lcp_mod._plcp_chunks_cpu(data, phi, np.int64(chunk), max_lcp)
    plcp = np.zeros(n, dtype=np.int64)
    if n:
        n_chunks = (n + chunk - 1) // chunk
        launch(lcp_mod._plcp_chunks_kernel, n_chunks, data, phi, np.int64(chunk), max_lcp, plcp)
    np.testing.assert_array_equal(plcp, expected_plcp)

    expected_lcp = lcp_mod._gather_lcp_cpu(sa, plcp)
    lcp = np.zeros(n, dtype=np.int64)
    if n:
        launch(lcp_mod._gather_lcp_kernel, n, sa, plcp, lcp)
    np.testing.assert_array_equal(lcp, expected_lcp)
    np.testing.assert_array_equal(lcp, lcp_array(data, sa, backend="cpu", max_lcp=cap))


# --- the full GPU paths ------------------------------------------------------------------

EDGE_TEXTS = {
    "empty": b"",
    "one": b"x",
    "one_byte_run": b"a" * 40,
    "period3": b"abc" * 13,
    "fibonacci": b"abaababaabaababaababaabaababaabaab",
    "docs": b"\xff".join([b"same doc"] * 5),
    "zeros_and_ff": b"\x00\xff\x00\xff\x00\x00\xff",
}


@pytest.mark.parametrize("name", sorted(EDGE_TEXTS))
def test_gpu_path_edge_texts(name):
    data = np.frombuffer(EDGE_TEXTS[name], dtype=np.uint8)
    expected = suffix_array(data, backend="cpu")
    result = to_host(suffix_array(data, backend="cuda"))
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)
    lcp = to_host(lcp_array(data, expected, backend="cuda", chunk=4))
    np.testing.assert_array_equal(lcp, kasai_reference(data, expected))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alphabet", [2, 256])
def test_gpu_path_random(seed, alphabet):
    data = random_text(60 + seed * 17, alphabet, seed=seed)
    expected = suffix_array(data, backend="cpu")
    np.testing.assert_array_equal(to_host(suffix_array(data, backend="cuda")), expected)
    np.testing.assert_array_equal(
        to_host(suffix_array_prefix_doubling_cuda(data, wide_keys=True)), expected
    )
    lcp = to_host(lcp_array(data, expected, backend="cuda", chunk=8))
    np.testing.assert_array_equal(lcp, kasai_reference(data, expected))
    np.testing.assert_array_equal(lcp, lcp_array_phi_cpu(data, expected, chunk=8))


def test_gpu_path_uint16():
    data = random_text(50, 3, np.uint16) + np.uint16(255)
    data[::11] = 65535
    expected = suffix_array(data, backend="cpu")
    symbols = data.tolist()
    brute = np.array(sorted(range(len(symbols)), key=lambda i: symbols[i:]), dtype=np.int64)
    np.testing.assert_array_equal(expected, brute)
    np.testing.assert_array_equal(to_host(suffix_array(data, backend="cuda")), expected)
    lcp = to_host(lcp_array(data, expected, backend="cuda", chunk=3))
    np.testing.assert_array_equal(lcp, kasai_reference(data, expected))


# --- spans end to end: cuda (simulated) equals cpu ----------------------------------------


@pytest.mark.parametrize("keep", ["first", "none"])
def test_spans_cuda_equals_cpu(keep):
    from engine.substrings.spans import repeated_spans_arrays

    texts = [b"abcabcab", b"xxabcab", "重复重复".encode(), b"", b"bcab"]
    cpu = repeated_spans_arrays(texts, min_span=3, keep=keep, backend="cpu")
    gpu = repeated_spans_arrays(texts, min_span=3, keep=keep, backend="cuda")
    assert cpu["doc_index"].size > 0
    for field in cpu:
        np.testing.assert_array_equal(gpu[field], cpu[field])
    across_cpu = repeated_spans_arrays(texts[:2], min_span=3, reference=texts[2:], backend="cpu")
    across_gpu = repeated_spans_arrays(texts[:2], min_span=3, reference=texts[2:], backend="cuda")
    for field in across_cpu:
        np.testing.assert_array_equal(across_gpu[field], across_cpu[field])
