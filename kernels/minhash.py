"""MinHash signatures from shingle hashes, and the fused text-to-signature CPU path.

Signature of a document: ``sig[k] = min over its shingles h of
((a[k] * (h mod P) + b[k]) mod P) & 0xFFFFFFFF`` with ``P = 2**61 - 1`` (see
:mod:`kernels.hashing`). A document with no shingle has ``sig[k] = 0xFFFFFFFF``.

Arrays: ``shingles`` uint64 (total_bytes,) and ``shingle_counts`` int64 (n_docs,) as
produced by :mod:`kernels.shingle`; ``offsets`` int64 (n_docs + 1,); ``a``, ``b``
uint64 (num_perm,); signatures uint32 (n_docs, num_perm).
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np
from numba import cuda

from kernels import traffic
from kernels.backend import array_module, cuda_simulated, launch_config, to_device
from kernels.hashing import (
    MASK32,
    MAX_HASH32,
    minhash_permute_x,
    mod_mersenne61,
    permutation_params,
)
from kernels.shingle import (
    SHINGLE_MODES,
    shingle_count_kernel,
    shingle_doc,
    shingle_kernel,
    tokenize_doc,
    tokenize_kernel,
)
from kernels.unicode_table import codepoint_table

_S32 = np.uint64(32)


@numba.njit(cache=True, nogil=True)
def _minhash_doc(shingles, start, count, a, b, signature):
    """Fold ``count`` shingle hashes starting at ``start`` into ``signature`` (uint32 (K,)).

    Four shingles share each pass over the permutations, so the running minima are
    loaded and stored a quarter as often; the minimum does not depend on the order.
    """
    num_perm = a.shape[0]
    best = np.full(num_perm, MAX_HASH32, dtype=np.uint32)  # private: lets LLVM vectorize
    i = 0
    while i + 4 <= count:
        x0 = mod_mersenne61(shingles[start + i])
        x1 = mod_mersenne61(shingles[start + i + 1])
        x2 = mod_mersenne61(shingles[start + i + 2])
        x3 = mod_mersenne61(shingles[start + i + 3])
        l0, h0 = x0 & MASK32, x0 >> _S32
        l1, h1 = x1 & MASK32, x1 >> _S32
        l2, h2 = x2 & MASK32, x2 >> _S32
        l3, h3 = x3 & MASK32, x3 >> _S32
        for k in range(num_perm):
            v0 = minhash_permute_x(a[k], b[k], l0, h0)
            v1 = minhash_permute_x(a[k], b[k], l1, h1)
            v2 = minhash_permute_x(a[k], b[k], l2, h2)
            v3 = minhash_permute_x(a[k], b[k], l3, h3)
            best[k] = min(min(best[k], min(v0, v1)), min(v2, v3))
        i += 4
    while i < count:
        x = mod_mersenne61(shingles[start + i])
        x_lo, x_hi = x & MASK32, x >> _S32
        for k in range(num_perm):
            best[k] = min(best[k], minhash_permute_x(a[k], b[k], x_lo, x_hi))
        i += 1
    signature[:] = best


@numba.njit(parallel=True, cache=True, nogil=True)
def minhash_cpu(shingles, offsets, shingle_counts, a, b):
    """CPU twin of :func:`minhash_kernel`: uint32 signatures (n_docs, num_perm)."""
    n_docs = shingle_counts.shape[0]
    out = np.empty((n_docs, a.shape[0]), dtype=np.uint32)
    for d in numba.prange(n_docs):
        _minhash_doc(shingles, offsets[d], shingle_counts[d], a, b, out[d])
    return out


@cuda.jit
def minhash_kernel(shingles, offsets, shingle_counts, a, b, out):
    """Block per document (grid-stride over documents), thread per permutation.

    All threads of a block read the same shingle hash at once (a broadcast), then each
    applies its own permutation; no shared memory or synchronisation is needed.
    """
    n_docs = shingle_counts.shape[0]
    num_perm = a.shape[0]
    d = cuda.blockIdx.x
    while d < n_docs:
        start = offsets[d]
        count = shingle_counts[d]
        k = cuda.threadIdx.x
        while k < num_perm:
            ak = a[k]
            bk = b[k]
            best = MAX_HASH32
            for i in range(count):
                x = np.uint64(mod_mersenne61(shingles[start + i]))
                v = minhash_permute_x(ak, bk, x & MASK32, x >> np.uint64(32))
                if v < best:
                    best = v
            out[d, k] = best
            k += cuda.blockDim.x
        d += cuda.gridDim.x


@numba.njit(parallel=True, cache=True, nogil=True)
def signatures_cpu(data, offsets, table, mode, ngram, a, b):
    """Text to signatures in one pass per document (the CPU backend's fast path).

    Documents are split into up to 256 chunks of about equal bytes; each chunk
    tokenizes, shingles and MinHashes its documents in one private buffer sized for
    its longest document (8 bytes per byte), reused across documents: no page faults
    from a fresh allocation per document. Bit-identical to
    ``tokenize -> shingle -> minhash`` (same scalar functions).

    Args:
        data: uint8 (total_bytes,) UTF-8 bytes. offsets: int64 (n_docs + 1,).
        table: uint32 (0x110000,) codepoint table. mode: 0 word, 1 char.
        ngram: shingle width in tokens. a, b: uint64 (num_perm,).

    Returns:
        uint32 (n_docs, num_perm).
    """
    n_docs = offsets.shape[0] - 1
    out = np.empty((n_docs, a.shape[0]), dtype=np.uint32)
    if n_docs == 0:
        return out
    n_chunks = min(n_docs, 256)
    targets = np.linspace(0.0, float(offsets[n_docs]), n_chunks + 1)
    bounds = np.searchsorted(offsets, targets.astype(np.int64))
    bounds[0] = 0
    bounds[n_chunks] = n_docs
    for c in numba.prange(n_chunks):
        first = bounds[c]
        last = max(bounds[c + 1], first)
        longest = 0
        for d in range(first, last):
            longest = max(longest, offsets[d + 1] - offsets[d])
        buffer = np.empty(longest, dtype=np.uint64)
        for d in range(first, last):
            n_tokens = tokenize_doc(data, offsets[d], offsets[d + 1], table, mode, buffer, 0)
            count = shingle_doc(buffer, 0, n_tokens, ngram, buffer)
            _minhash_doc(buffer, 0, count, a, b, out[d])
    return out


def signatures(
    data,
    offsets,
    *,
    num_perm: int = 128,
    ngram: int = 5,
    shingle: str = "word",
    seed: int = 42,
    backend: str = "cpu",
):
    """MinHash signatures of packed documents on a resolved backend.

    Args:
        data: uint8 (total_bytes,) UTF-8 bytes of all documents, host or device array.
        offsets: int64 (n_docs + 1,) document boundaries into ``data`` (bytes).
        num_perm: signature length K. ngram: shingle width (words or characters).
        shingle: ``"word"`` or ``"char"``. seed: permutation seed.
        backend: ``"cpu"`` or ``"cuda"`` (already resolved, see kernels.backend).

    Returns:
        uint32 (n_docs, num_perm): NumPy on cpu and under the simulator, CuPy on a device.
    """
    mode = _check_inputs(data, offsets, num_perm, ngram, shingle)
    a, b = permutation_params(num_perm, seed)
    table = codepoint_table()
    n_docs = offsets.shape[0] - 1
    if backend == "cpu":
        return signatures_cpu(
            np.ascontiguousarray(data), np.ascontiguousarray(offsets), table, mode, ngram, a, b
        )
    if backend != "cuda":
        raise ValueError(f"backend must be 'cpu' or 'cuda' here, got {backend!r}")
    xp = array_module("cuda")
    d_data = to_device(data, "cuda")
    d_offsets = to_device(offsets, "cuda")
    d_table = _device_table()
    out = xp.full((n_docs, num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    if n_docs == 0:
        return out
    total = int(data.shape[0])
    tokens = xp.zeros(max(total, 1), dtype=np.uint64)
    token_counts = xp.zeros(n_docs, dtype=np.int64)
    blocks, threads = launch_config(n_docs)
    traffic.launch(
        tokenize_kernel, (blocks, threads), d_data, d_offsets, d_table, mode, tokens, token_counts
    )
    shingles = xp.zeros(max(total, 1), dtype=np.uint64)
    if total > 0:
        blocks, threads = launch_config(total, 256)
        traffic.launch(
            shingle_kernel,
            (min(blocks, 65535 * 16), threads),
            tokens,
            d_offsets,
            token_counts,
            ngram,
            shingles,
        )
    del tokens
    shingle_counts = xp.zeros(n_docs, dtype=np.int64)
    blocks, threads = launch_config(n_docs)
    traffic.launch(shingle_count_kernel, (blocks, threads), token_counts, ngram, shingle_counts)
    perm_threads = min(128, num_perm) if not cuda_simulated() else min(8, num_perm)
    doc_blocks = min(n_docs, 65535 * 4)
    traffic.launch(
        minhash_kernel,
        (doc_blocks, perm_threads),
        shingles,
        d_offsets,
        shingle_counts,
        to_device(a, "cuda"),
        to_device(b, "cuda"),
        out,
    )
    return out


@lru_cache(maxsize=1)
def _device_table():
    """The codepoint table on the device, copied once per process (4.25 MiB)."""
    return to_device(codepoint_table(), "cuda")


def _check_inputs(data, offsets, num_perm: int, ngram: int, shingle: str) -> int:
    if shingle not in SHINGLE_MODES:
        raise ValueError(f"shingle must be 'word' or 'char', got {shingle!r}")
    if int(ngram) < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    if int(num_perm) < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    if data.ndim != 1 or data.dtype != np.uint8:
        raise ValueError(f"data must be 1-d uint8, got {data.ndim}-d {data.dtype}")
    if offsets.ndim != 1 or offsets.dtype != np.int64 or offsets.shape[0] < 1:
        raise ValueError("offsets must be 1-d int64 with n_docs + 1 entries")
    return SHINGLE_MODES[shingle]
