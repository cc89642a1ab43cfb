"""Near-duplicate CUDA kernels equal their CPU twins bit for bit (simulator or device).

Inputs are tiny: under the simulator every CUDA thread is a Python thread.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.io.texts import as_large_string_array, pack
from kernels import text_reference as ref
from kernels.backend import array_module, launch_config, to_device, to_host
from kernels.hashing import permutation_params
from kernels.lsh import (
    band_keys,
    band_keys_cpu,
    bucket_edges_cpu,
    bucket_edges_kernel,
    candidate_edges,
)
from kernels.minhash import minhash_cpu, minhash_kernel, signatures
from kernels.shingle import (
    SHINGLE_MODES,
    shingle_count_kernel,
    shingle_hashes_cpu,
    shingle_kernel,
    tokenize_cpu,
    tokenize_kernel,
)
from kernels.unicode_table import codepoint_table
from kernels.union_find import connected_components, connected_components_cpu

warnings.simplefilter("ignore", RuntimeWarning)  # numpy scalar overflow under the simulator

TEXTS = [
    "",
    "Hello, World! hello world again.",
    "日本語 English 混在 text",
    "İstanbul straße — café",
    "x",
    "😀 a\u00adb c",
    "one two three four five six",
]
xp = array_module("cuda")


def _packed(texts=TEXTS):
    return pack(as_large_string_array(texts))


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_tokenize_and_shingle_kernels_equal_twins(shingle):
    data, offsets = _packed()
    mode = SHINGLE_MODES[shingle]
    table = codepoint_table()
    want_tokens, want_counts = tokenize_cpu(data, offsets, table, mode)
    tokens = xp.zeros(len(data), dtype=np.uint64)
    counts = xp.zeros(len(TEXTS), dtype=np.int64)
    blocks, threads = launch_config(len(TEXTS), 4)  # several blocks, last one partial
    tokenize_kernel[blocks, threads](
        to_device(data, "cuda"),
        to_device(offsets, "cuda"),
        to_device(table, "cuda"),
        mode,
        tokens,
        counts,
    )
    np.testing.assert_array_equal(to_host(counts), want_counts)
    np.testing.assert_array_equal(to_host(tokens), want_tokens)

    want_sh, want_sh_counts = shingle_hashes_cpu(want_tokens, offsets, want_counts, 3)
    shingles = xp.zeros(len(data), dtype=np.uint64)
    shingle_kernel[3, 32](tokens, to_device(offsets, "cuda"), counts, 3, shingles)
    sh_counts = xp.zeros(len(TEXTS), dtype=np.int64)
    shingle_count_kernel[1, 32](counts, 3, sh_counts)
    np.testing.assert_array_equal(to_host(sh_counts), want_sh_counts)
    np.testing.assert_array_equal(to_host(shingles), want_sh)

    a, b = permutation_params(5, 9)
    want_sig = minhash_cpu(want_sh, offsets, want_sh_counts, a, b)
    out = xp.zeros((len(TEXTS), 5), dtype=np.uint32)
    minhash_kernel[3, 2](
        shingles,
        to_device(offsets, "cuda"),
        sh_counts,
        to_device(a, "cuda"),
        to_device(b, "cuda"),
        out,
    )
    np.testing.assert_array_equal(to_host(out), want_sig)


@pytest.mark.parametrize("shingle", ["word", "char"])
def test_signatures_cuda_equal_cpu_and_reference(shingle):
    data, offsets = _packed()
    got = to_host(signatures(data, offsets, num_perm=6, ngram=2, shingle=shingle, backend="cuda"))
    cpu = signatures(data, offsets, num_perm=6, ngram=2, shingle=shingle, backend="cpu")
    np.testing.assert_array_equal(got, cpu)
    a, b = permutation_params(6, 42)
    want = np.array([ref.minhash(t, a, b, 2, shingle) for t in TEXTS], dtype=np.uint32)
    np.testing.assert_array_equal(got, want)


def test_signatures_cuda_edge_inputs():
    empty_data = np.zeros(0, dtype=np.uint8)
    out = signatures(empty_data, np.zeros(1, np.int64), num_perm=4, backend="cuda")
    assert to_host(out).shape == (0, 4)
    data, offsets = _packed(["", ""])
    out = to_host(signatures(data, offsets, num_perm=4, backend="cuda"))
    assert (out == 0xFFFFFFFF).all()


def test_band_keys_kernel_equals_twin():
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, size=(7, 12), dtype=np.uint32)
    got = to_host(band_keys(sig, 3, 4, backend="cuda"))
    np.testing.assert_array_equal(got, band_keys_cpu(sig, 3, 4))


def _bucket_case():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2**32, size=(3, 16), dtype=np.uint32)
    sig = np.repeat(base, 3, axis=0)  # three families of three identical rows
    sig[1, :3] = 7  # a near copy (13/16 equal)
    members = np.array([0, 3, 1, 6, 4, 2, 5, 8, 7], dtype=np.int64)  # two buckets
    bucket_starts = np.array([0, 5, 9], dtype=np.int64)
    return sig, members, bucket_starts


@pytest.mark.parametrize("max_anchors", [1, 2, 32])
def test_bucket_edges_kernel_equals_twin(max_anchors):
    sig, members, bucket_starts = _bucket_case()
    want_src, want_unv = bucket_edges_cpu(members, bucket_starts, sig, 12, max_anchors)
    src = xp.full(len(members), -1, dtype=np.int64)
    unv = xp.zeros(len(members), dtype=np.bool_)
    bucket_edges_kernel[1, 32](
        to_device(members, "cuda"),
        to_device(bucket_starts, "cuda"),
        to_device(sig, "cuda"),
        12,
        max_anchors,
        src,
        unv,
    )
    np.testing.assert_array_equal(to_host(src), want_src)
    np.testing.assert_array_equal(to_host(unv), want_unv)


def test_candidate_edges_cuda_equal_cpu():
    sig, _, _ = _bucket_case()
    keys = band_keys_cpu(sig, 4, 4)
    cpu = candidate_edges(keys, sig, threshold=0.75, backend="cpu")
    gpu = candidate_edges(
        to_device(keys, "cuda"), to_device(sig, "cuda"), threshold=0.75, backend="cuda"
    )
    np.testing.assert_array_equal(to_host(gpu[0]), cpu[0])
    np.testing.assert_array_equal(to_host(gpu[1]), cpu[1])
    assert gpu[2] == cpu[2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_union_find_kernel_equals_twin(seed):
    rng = np.random.default_rng(seed)
    n = 40
    src = rng.integers(0, n, size=25)
    dst = rng.integers(0, n, size=25)
    want = connected_components_cpu(n, src.astype(np.int64), dst.astype(np.int64))
    got = to_host(connected_components(n, src, dst, backend="cuda"))
    np.testing.assert_array_equal(got, want)


def test_union_find_chain_and_empty():
    n = 33  # a path graph given in reverse: many hooking rounds
    src = np.arange(n - 1, 0, -1)
    dst = src - 1
    got = to_host(connected_components(n, src, dst, backend="cuda"))
    assert (got == 0).all()
    empty = to_host(
        connected_components(3, np.zeros(0, np.int64), np.zeros(0, np.int64), backend="cuda")
    )
    np.testing.assert_array_equal(empty, [0, 1, 2])


def test_record_edges_cuda_equal_cpu():
    from kernels.lsh import record_edges

    sig, _, _ = _bucket_case()
    keys = band_keys_cpu(sig, 4, 4)
    docs = np.repeat(np.arange(len(sig)), 4)[::-1].copy()
    bands = np.tile(np.arange(4), len(sig))[::-1].copy()
    cpu = record_edges(bands, keys[docs, bands], docs, sig[docs], threshold=0.75, backend="cpu")
    gpu = record_edges(bands, keys[docs, bands], docs, sig[docs], threshold=0.75, backend="cuda")
    np.testing.assert_array_equal(to_host(gpu[0]), cpu[0])
    np.testing.assert_array_equal(to_host(gpu[1]), cpu[1])
