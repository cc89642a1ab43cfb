"""LCP arrays: longest common prefixes of neighbouring suffixes in a suffix array.

``lcp[i] = LCP(suffix sa[i - 1], suffix sa[i])`` in symbols (bytes for uint8 text),
``lcp[0] = 0``; optionally capped at ``max_lcp`` (``min(true LCP, max_lcp)``), which is
all that a threshold test such as ``lcp >= min_span`` needs and bounds the work.

- ``"cpu"``: Kasai et al. (2001) under ``@numba.njit``: O(n).
- ``"cuda"``: the Phi method (Karkkainen, Manzini, Puglisi 2009) made parallel:
  ``phi[sa[i]] = sa[i - 1]`` (``-1`` for ``sa[0]``); then the text positions are cut in
  chunks of ``chunk`` positions and one thread walks each chunk left to right,
  computing the permuted LCP ``plcp[p] = LCP(p, phi[p])`` with Kasai's bound
  ``plcp[p] >= plcp[p - 1] - 1`` (which also holds for the capped values), starting
  from 0 at the chunk's first position; finally ``lcp[i] = plcp[sa[i]]``. Exact. Work:
  O(n + (n / chunk) * L) symbol comparisons, L the largest (capped) LCP at a chunk
  start; pass ``max_lcp`` on highly repetitive text.

Every kernel has a CPU twin with bit-identical output (``lcp_array_phi_cpu`` runs the
chunked method on the CPU; ``tests/sim`` compares them).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda, prange

from kernels import traffic
from kernels.backend import array_module, launch_config, resolve_backend, to_device, to_host
from kernels.suffix_array import SUPPORTED_DTYPES

DEFAULT_CHUNK = 256  # text positions walked by one thread in the PLCP kernel
_NO_CAP = np.int64(2**62)


# ---------------------------------------------------------------------------
# Per-element math shared by the kernels and the CPU twins (scalars only).
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, inline="always")
def _previous_suffix(rank_in_sa, sa_previous):
    """phi value for the suffix at SA slot ``rank_in_sa``: sa[rank - 1], or -1 for slot 0."""
    if rank_in_sa == 0:
        return np.int64(-1)
    return np.int64(sa_previous)


@numba.njit(cache=True, nogil=True, inline="always")
def _next_lower_bound(lcp_value):
    """Kasai's bound for the next text position: max(lcp - 1, 0)."""
    if lcp_value > 0:
        return np.int64(lcp_value) - np.int64(1)
    return np.int64(0)


@numba.njit(cache=True, nogil=True, inline="always")
def _chunk_bounds(chunk_index, chunk, n):
    """[first, last) text positions of one chunk."""
    first = np.int64(chunk_index) * np.int64(chunk)
    last = first + np.int64(chunk)
    if last > np.int64(n):
        last = np.int64(n)
    return first, last


# ---------------------------------------------------------------------------
# CUDA kernels
# ---------------------------------------------------------------------------


@cuda.jit
def _phi_kernel(sa, phi):
    """phi[sa[j]] = sa[j - 1] (int64; -1 for j = 0)."""
    j = cuda.grid(1)
    if j < sa.shape[0]:
        previous = sa[j - 1] if j > 0 else sa[0]
        phi[sa[j]] = _previous_suffix(j, previous)


@cuda.jit
def _plcp_chunks_kernel(data, phi, chunk, max_lcp, plcp):
    """plcp[p] = min(LCP(p, phi[p]), max_lcp), one thread per chunk of text positions."""
    c = cuda.grid(1)
    n = data.shape[0]
    first, last = _chunk_bounds(c, chunk, n)
    if first < last:
        length = np.int64(0)
        for p in range(first, last):
            other = phi[p]
            if other < 0:
                length = np.int64(0)
            else:
                while (
                    length < max_lcp
                    and p + length < n
                    and other + length < n
                    and data[p + length] == data[other + length]
                ):
                    length += 1
            plcp[p] = length
            length = _next_lower_bound(length)


@cuda.jit
def _gather_lcp_kernel(sa, plcp, lcp):
    """lcp[j] = plcp[sa[j]]."""
    j = cuda.grid(1)
    if j < sa.shape[0]:
        lcp[j] = plcp[sa[j]]


# ---------------------------------------------------------------------------
# CPU twins and Kasai
# ---------------------------------------------------------------------------


@numba.njit(parallel=True, cache=True, nogil=True)
def _phi_cpu(sa):
    n = sa.shape[0]
    phi = np.empty(n, dtype=np.int64)
    for j in prange(n):
        previous = sa[j - 1] if j > 0 else sa[0]
        phi[sa[j]] = _previous_suffix(j, previous)
    return phi


@numba.njit(parallel=True, cache=True, nogil=True)
def _plcp_chunks_cpu(data, phi, chunk, max_lcp):
    n = data.shape[0]
    plcp = np.empty(n, dtype=np.int64)
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        first, last = _chunk_bounds(c, chunk, n)
        length = np.int64(0)
        for p in range(first, last):
            other = phi[p]
            if other < 0:
                length = np.int64(0)
            else:
                while (
                    length < max_lcp
                    and p + length < n
                    and other + length < n
                    and data[p + length] == data[other + length]
                ):
                    length += 1
            plcp[p] = length
            length = _next_lower_bound(length)
    return plcp


@numba.njit(parallel=True, cache=True, nogil=True)
def _gather_lcp_cpu(sa, plcp):
    n = sa.shape[0]
    lcp = np.empty(n, dtype=np.int64)
    for j in prange(n):
        lcp[j] = plcp[sa[j]]
    return lcp


@numba.njit(cache=True, nogil=True)
def _kasai(data, sa, max_lcp):
    n = data.shape[0]
    rank = np.empty(n, dtype=np.int64)
    for j in range(n):
        rank[sa[j]] = j
    lcp = np.zeros(n, dtype=np.int64)
    length = np.int64(0)
    for p in range(n):
        j = rank[p]
        if j == 0:
            length = np.int64(0)
            continue
        other = sa[j - 1]
        while (
            length < max_lcp
            and p + length < n
            and other + length < n
            and data[p + length] == data[other + length]
        ):
            length += 1
        lcp[j] = length
        length = _next_lower_bound(length)
    return lcp


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _check(data, sa, max_lcp, chunk) -> np.int64:
    for name, array in (("data", data), ("sa", sa)):
        if getattr(array, "ndim", None) != 1:
            raise ValueError(f"{name} must be a 1-D array, got {type(array)!r}")
    if np.dtype(data.dtype) not in SUPPORTED_DTYPES:
        raise ValueError(f"data must have dtype uint8 or uint16, got {data.dtype}")
    if np.dtype(sa.dtype) != np.dtype(np.int64):
        raise ValueError(f"sa must be int64 (from suffix_array), got {sa.dtype}")
    if sa.shape[0] != data.shape[0]:
        raise ValueError(
            f"sa has {sa.shape[0]} entries but data has {data.shape[0]} symbols; "
            "pass the suffix array of this very text"
        )
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    if max_lcp is None:
        return _NO_CAP
    if max_lcp < 0:
        raise ValueError(f"max_lcp must be >= 0 or None (no cap), got {max_lcp}")
    return np.int64(max_lcp)


def lcp_array(
    data, sa, *, backend: str = "auto", max_lcp: int | None = None, chunk: int = DEFAULT_CHUNK
):
    """LCP array of a text and its suffix array.

    Args:
        data: (n,) uint8 or uint16 text (NumPy; CuPy for "cuda").
        sa: (n,) int64 suffix array of ``data`` (from ``kernels.suffix_array``).
        backend: "cpu" (Kasai), "cuda" (chunked Phi kernels) or "auto".
        max_lcp: cap each value at this many symbols (None: exact values).
        chunk: text positions per thread for "cuda" (no effect on the values).

    Returns:
        (n,) int64 array, ``lcp[i] = min(LCP(sa[i-1], sa[i]), max_lcp)``, ``lcp[0] = 0``;
        NumPy for "cpu", the backend's array type for "cuda".

    Example:
        >>> import numpy as np
        >>> text = np.frombuffer(b"banana", dtype=np.uint8)
        >>> lcp_array(text, np.array([5, 3, 1, 0, 4, 2]), backend="cpu")
        array([0, 1, 3, 0, 0, 2])
    """
    cap = _check(data, sa, max_lcp, chunk)
    backend = resolve_backend(backend)
    n = int(data.shape[0])
    if backend == "cpu":
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return _kasai(np.ascontiguousarray(to_host(data)), np.ascontiguousarray(to_host(sa)), cap)
    return _lcp_phi_cuda(data, sa, cap, chunk)


def _lcp_phi_cuda(data, sa, cap, chunk):
    xp = array_module("cuda")
    n = int(data.shape[0])
    if n == 0:
        return xp.zeros(0, dtype=np.int64)
    if isinstance(data, np.ndarray):
        data = to_device(data, "cuda")
    if isinstance(sa, np.ndarray):
        sa = to_device(sa, "cuda")
    phi = xp.empty(n, dtype=np.int64)
    blocks, threads = launch_config(n)
    traffic.launch(_phi_kernel, (blocks, threads), sa, phi)
    plcp = xp.empty(n, dtype=np.int64)
    n_chunks = (n + chunk - 1) // chunk
    blocks, threads = launch_config(n_chunks)
    traffic.launch(_plcp_chunks_kernel, (blocks, threads), data, phi, np.int64(chunk), cap, plcp)
    lcp = xp.empty(n, dtype=np.int64)
    blocks, threads = launch_config(n)
    traffic.launch(_gather_lcp_kernel, (blocks, threads), sa, plcp, lcp)
    return lcp


def lcp_array_phi_cpu(data, sa, *, max_lcp: int | None = None, chunk: int = DEFAULT_CHUNK):
    """CPU twin of the "cuda" path (chunked Phi, ``numba.prange`` over chunks).

    Same arguments and result as ``lcp_array`` (NumPy arrays only).
    """
    cap = _check(data, sa, max_lcp, chunk)
    n = int(data.shape[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    data = np.ascontiguousarray(to_host(data))
    sa = np.ascontiguousarray(to_host(sa))
    phi = _phi_cpu(sa)
    plcp = _plcp_chunks_cpu(data, phi, np.int64(chunk), cap)
    return _gather_lcp_cpu(sa, plcp)
