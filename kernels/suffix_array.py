"""Suffix arrays over byte (uint8) and token (uint16) texts.

``suffix_array(data, backend=...)`` returns the int64 positions of all suffixes of
``data`` in plain lexicographic order (a suffix that is a prefix of another sorts
first), exactly what ``pydivsufsort.divsufsort`` returns.

Backends:

- ``"cpu"``: pydivsufsort (libdivsufsort), the fastest correct CPU library. It takes
  uint16 too (it sorts the big-endian byte view and keeps the even positions).
- ``"cuda"``: prefix doubling on the GPU, after libcubwt 1.0.0 (Ilya Grebnov), without
  its difference-cover reduction:

  1. initial keys: the first ``k`` symbols of each suffix packed into a uint64, each
     symbol stored as ``symbol + 1`` and ``0`` past the end of the text, so that a
     shorter suffix sorts first (uint8: 7 symbols x 9 bits; uint16: 3 symbols x 17
     bits); one radix sort of (key, position);
  2. group heads: ``heads[j] = 1`` where the sorted key differs from its left
     neighbour;
  3. ranks: ``rank[j]`` = the position in the suffix array of the head of ``j``'s
     group, i.e. an inclusive max-scan of head positions, computed as
     ``head_positions[cumsum(heads) - 1]``; scattered to the inverse suffix array
     ``isa[sa[j]] = rank[j]``;
  4. round ``h -> 2h``: only suffixes in groups of two or more ("unsorted") get a new
     key ``(rank of the group, isa[i + h] + 1 or 0 past the end)``; those keys are
     sorted (the group rank keeps each group in place, so this is a segmented sort),
     written back, new heads are set where the second half differs, ranks are
     recomputed; stop when no unsorted group is left.

  The sort and scans are CuPy calls on a device. Under the CUDA simulator the array
  module is NumPy, so the same glue runs there with NumPy's stable sort.

The CPU twin ``suffix_array_prefix_doubling_cpu`` runs the very same steps with
``@numba.njit`` functions in place of the kernels (each kernel has a twin giving
bit-identical output; ``tests/sim`` checks them pairwise).

Positions are int64 throughout (texts may exceed 2**32 bytes).
"""

from __future__ import annotations

from types import SimpleNamespace

import numba
import numpy as np
from numba import cuda, prange

from kernels import traffic
from kernels.backend import array_module, launch_config, resolve_backend, to_device, to_host

SUPPORTED_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))

# Symbols packed into the initial 64-bit key: (symbols per key, bits per symbol).
# Each symbol is stored as symbol + 1 so that 0 can mean "past the end".
_PACKING = {
    np.dtype(np.uint8): (7, 9),  # 63 bits
    np.dtype(np.uint16): (3, 17),  # 51 bits
}

# Pair keys (group rank, second rank) fit one uint64 while both are < 2**32.
_PAIR_SHIFT = np.uint64(32)
_NARROW_LIMIT = np.int64(2**32 - 2)


# ---------------------------------------------------------------------------
# Per-element math shared by the kernels and the CPU twins (scalars only).
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, inline="always")
def _symbol_code(symbol, present):
    """uint64 code of one symbol in an initial key: symbol + 1, or 0 past the end."""
    if present:
        return np.uint64(symbol) + np.uint64(1)
    return np.uint64(0)


@numba.njit(cache=True, nogil=True, inline="always")
def _shift_in(key, code, bits):
    """(key << bits) | code, in uint64."""
    return (np.uint64(key) << np.uint64(bits)) | np.uint64(code)


@numba.njit(cache=True, nogil=True, inline="always")
def _second_rank(position, h, n, isa_value):
    """Second half of a doubling key: isa[position + h] + 1, or 0 past the end.

    ``isa_value`` must be ``isa[position + h]`` when ``position + h < n`` (any value
    otherwise: it is ignored).
    """
    if np.int64(position) + np.int64(h) < np.int64(n):
        return np.int64(isa_value) + np.int64(1)
    return np.int64(0)


@numba.njit(cache=True, nogil=True, inline="always")
def _pack_pair(group_rank, second):
    """uint64 key (group_rank << 32) | second; both must be < 2**32."""
    return (np.uint64(group_rank) << _PAIR_SHIFT) | np.uint64(second)


@numba.njit(cache=True, nogil=True, inline="always")
def _clamped_index(position, h, n):
    """position + h when inside the text, else 0 (a safe index to read and ignore)."""
    target = np.int64(position) + np.int64(h)
    if target < np.int64(n):
        return target
    return np.int64(0)


# ---------------------------------------------------------------------------
# CUDA kernels
# ---------------------------------------------------------------------------


@cuda.jit
def _initial_keys_kernel(data, keys, symbols_per_key, bits):
    """keys[i] (uint64) = the first ``symbols_per_key`` symbols of suffix i, packed."""
    i = cuda.grid(1)
    n = data.shape[0]
    if i < n:
        key = np.uint64(0)
        for s in range(symbols_per_key):
            position = i + s
            present = position < n
            symbol = data[position] if present else data[i]
            key = _shift_in(key, _symbol_code(symbol, present), bits)
        keys[i] = key


@cuda.jit
def _heads_from_keys_kernel(sorted_keys, heads):
    """heads[j] (uint8) = 1 where sorted_keys[j] starts a new group of equal keys."""
    j = cuda.grid(1)
    if j < sorted_keys.shape[0]:
        if j == 0 or sorted_keys[j] != sorted_keys[j - 1]:
            heads[j] = 1
        else:
            heads[j] = 0


@cuda.jit
def _ranks_from_heads_kernel(head_positions, group_counts, ranks):
    """ranks[j] = head_positions[group_counts[j] - 1] (the max-scan of head positions)."""
    j = cuda.grid(1)
    if j < ranks.shape[0]:
        ranks[j] = head_positions[group_counts[j] - 1]


@cuda.jit
def _scatter_ranks_kernel(positions, sa, ranks, isa):
    """isa[sa[p]] = ranks[p] for every p in ``positions``."""
    t = cuda.grid(1)
    if t < positions.shape[0]:
        p = positions[t]
        isa[sa[p]] = ranks[p]


@cuda.jit
def _unsorted_mask_kernel(heads, unsorted):
    """unsorted[j] (uint8) = 1 when j belongs to a group of two or more suffixes."""
    j = cuda.grid(1)
    n = heads.shape[0]
    if j < n:
        singleton = heads[j] == 1 and (j + 1 == n or heads[j + 1] == 1)
        unsorted[j] = 0 if singleton else 1


@cuda.jit
def _pair_keys_kernel(positions, sa, ranks, isa, h, group_ranks, seconds):
    """For unsorted SA slots ``positions``: the group rank and the rank h symbols later."""
    t = cuda.grid(1)
    if t < positions.shape[0]:
        p = positions[t]
        suffix = sa[p]
        n = isa.shape[0]
        group_ranks[t] = ranks[p]
        seconds[t] = _second_rank(suffix, h, n, isa[_clamped_index(suffix, h, n)])


@cuda.jit
def _narrow_keys_kernel(group_ranks, seconds, keys):
    """keys[t] (uint64) = (group_ranks[t] << 32) | seconds[t]."""
    t = cuda.grid(1)
    if t < keys.shape[0]:
        keys[t] = _pack_pair(group_ranks[t], seconds[t])


@cuda.jit
def _apply_order_kernel(positions, order, sa_unsorted, seconds, sa, sorted_seconds):
    """Write the sorted unsorted suffixes back into their SA slots."""
    t = cuda.grid(1)
    if t < positions.shape[0]:
        source = order[t]
        sa[positions[t]] = sa_unsorted[source]
        sorted_seconds[t] = seconds[source]


@cuda.jit
def _refine_heads_kernel(positions, ranks, sorted_seconds, heads):
    """New group heads where the second half of the key changes inside a group."""
    t = cuda.grid(1)
    if 0 < t < positions.shape[0]:
        p = positions[t]
        q = positions[t - 1]
        if ranks[p] == ranks[q] and sorted_seconds[t] != sorted_seconds[t - 1]:
            heads[p] = 1


# ---------------------------------------------------------------------------
# CPU twins: same inputs, same outputs, bit for bit.
# ---------------------------------------------------------------------------


@numba.njit(parallel=True, cache=True, nogil=True)
def _initial_keys_cpu(data, symbols_per_key, bits):
    n = data.shape[0]
    keys = np.empty(n, dtype=np.uint64)
    for i in prange(n):
        key = np.uint64(0)
        for s in range(symbols_per_key):
            position = i + s
            present = position < n
            symbol = data[position] if present else data[i]
            key = _shift_in(key, _symbol_code(symbol, present), bits)
        keys[i] = key
    return keys


@numba.njit(parallel=True, cache=True, nogil=True)
def _heads_from_keys_cpu(sorted_keys):
    n = sorted_keys.shape[0]
    heads = np.empty(n, dtype=np.uint8)
    for j in prange(n):
        if j == 0 or sorted_keys[j] != sorted_keys[j - 1]:
            heads[j] = 1
        else:
            heads[j] = 0
    return heads


@numba.njit(cache=True, nogil=True)
def _ranks_from_heads_cpu(heads):
    n = heads.shape[0]
    ranks = np.empty(n, dtype=np.int64)
    current = np.int64(0)
    for j in range(n):
        if heads[j] == 1:
            current = np.int64(j)
        ranks[j] = current
    return ranks


@numba.njit(parallel=True, cache=True, nogil=True)
def _scatter_ranks_cpu(positions, sa, ranks, isa):
    for t in prange(positions.shape[0]):
        p = positions[t]
        isa[sa[p]] = ranks[p]


@numba.njit(parallel=True, cache=True, nogil=True)
def _unsorted_mask_cpu(heads):
    n = heads.shape[0]
    unsorted = np.empty(n, dtype=np.uint8)
    for j in prange(n):
        singleton = heads[j] == 1 and (j + 1 == n or heads[j + 1] == 1)
        unsorted[j] = 0 if singleton else 1
    return unsorted


@numba.njit(parallel=True, cache=True, nogil=True)
def _pair_keys_cpu(positions, sa, ranks, isa, h):
    m = positions.shape[0]
    n = isa.shape[0]
    group_ranks = np.empty(m, dtype=np.int64)
    seconds = np.empty(m, dtype=np.int64)
    for t in prange(m):
        p = positions[t]
        suffix = sa[p]
        group_ranks[t] = ranks[p]
        seconds[t] = _second_rank(suffix, h, n, isa[_clamped_index(suffix, h, n)])
    return group_ranks, seconds


@numba.njit(parallel=True, cache=True, nogil=True)
def _narrow_keys_cpu(group_ranks, seconds):
    m = group_ranks.shape[0]
    keys = np.empty(m, dtype=np.uint64)
    for t in prange(m):
        keys[t] = _pack_pair(group_ranks[t], seconds[t])
    return keys


@numba.njit(parallel=True, cache=True, nogil=True)
def _apply_order_cpu(positions, order, sa_unsorted, seconds, sa):
    m = positions.shape[0]
    sorted_seconds = np.empty(m, dtype=np.int64)
    for t in prange(m):
        source = order[t]
        sa[positions[t]] = sa_unsorted[source]
        sorted_seconds[t] = seconds[source]
    return sorted_seconds


@numba.njit(parallel=True, cache=True, nogil=True)
def _refine_heads_cpu(positions, ranks, sorted_seconds, heads):
    for t in prange(1, positions.shape[0]):
        p = positions[t]
        q = positions[t - 1]
        if ranks[p] == ranks[q] and sorted_seconds[t] != sorted_seconds[t - 1]:
            heads[p] = 1


# ---------------------------------------------------------------------------
# Step tables: the driver below runs either one.
# ---------------------------------------------------------------------------


def _launch(kernel, n_items, *args):
    traffic.launch(kernel, launch_config(n_items), *args)


def _cuda_steps():
    xp = array_module("cuda")

    def initial_keys(data, symbols_per_key, bits):
        keys = xp.empty(data.shape[0], dtype=np.uint64)
        _launch(_initial_keys_kernel, data.shape[0], data, keys, symbols_per_key, bits)
        return keys

    def heads_from_keys(sorted_keys):
        heads = xp.empty(sorted_keys.shape[0], dtype=np.uint8)
        _launch(_heads_from_keys_kernel, sorted_keys.shape[0], sorted_keys, heads)
        return heads

    def ranks_from_heads(heads):
        head_positions = traffic.nonzero(xp, heads).astype(np.int64)
        group_counts = xp.cumsum(heads, dtype=np.int64)
        ranks = xp.empty(heads.shape[0], dtype=np.int64)
        _launch(_ranks_from_heads_kernel, heads.shape[0], head_positions, group_counts, ranks)
        return ranks

    def scatter_ranks(positions, sa, ranks, isa):
        _launch(_scatter_ranks_kernel, positions.shape[0], positions, sa, ranks, isa)

    def unsorted_mask(heads):
        unsorted = xp.empty(heads.shape[0], dtype=np.uint8)
        _launch(_unsorted_mask_kernel, heads.shape[0], heads, unsorted)
        return unsorted

    def pair_keys(positions, sa, ranks, isa, h):
        m = positions.shape[0]
        group_ranks = xp.empty(m, dtype=np.int64)
        seconds = xp.empty(m, dtype=np.int64)
        _launch(_pair_keys_kernel, m, positions, sa, ranks, isa, h, group_ranks, seconds)
        return group_ranks, seconds

    def narrow_keys(group_ranks, seconds):
        keys = xp.empty(group_ranks.shape[0], dtype=np.uint64)
        _launch(_narrow_keys_kernel, keys.shape[0], group_ranks, seconds, keys)
        return keys

    def apply_order(positions, order, sa_unsorted, seconds, sa):
        sorted_seconds = xp.empty(positions.shape[0], dtype=np.int64)
        _launch(
            _apply_order_kernel,
            positions.shape[0],
            positions,
            order,
            sa_unsorted,
            seconds,
            sa,
            sorted_seconds,
        )
        return sorted_seconds

    def refine_heads(positions, ranks, sorted_seconds, heads):
        _launch(_refine_heads_kernel, positions.shape[0], positions, ranks, sorted_seconds, heads)

    return SimpleNamespace(
        xp=xp,
        nonzero=traffic.COUNTED.nonzero,
        initial_keys=initial_keys,
        heads_from_keys=heads_from_keys,
        ranks_from_heads=ranks_from_heads,
        scatter_ranks=scatter_ranks,
        unsorted_mask=unsorted_mask,
        pair_keys=pair_keys,
        narrow_keys=narrow_keys,
        apply_order=apply_order,
        refine_heads=refine_heads,
    )


_CPU_STEPS = SimpleNamespace(
    xp=np,
    nonzero=traffic.PLAIN.nonzero,
    initial_keys=_initial_keys_cpu,
    heads_from_keys=_heads_from_keys_cpu,
    ranks_from_heads=_ranks_from_heads_cpu,
    scatter_ranks=_scatter_ranks_cpu,
    unsorted_mask=_unsorted_mask_cpu,
    pair_keys=_pair_keys_cpu,
    narrow_keys=_narrow_keys_cpu,
    apply_order=_apply_order_cpu,
    refine_heads=_refine_heads_cpu,
)


def _stable_argsort(xp, keys):
    """Stable argsort as int64 (CuPy's argsort is always stable; NumPy needs kind=)."""
    if xp is np:
        return np.argsort(keys, kind="stable").astype(np.int64, copy=False)
    return xp.argsort(keys).astype(np.int64, copy=False)


def _prefix_doubling(data, steps, *, wide_keys: bool | None = None):
    """Prefix-doubling suffix array of a non-empty 1-D uint8/uint16 array.

    Args:
        data: (n,) uint8 or uint16 array in ``steps.xp``'s memory, n >= 1.
        steps: the step table (``_cuda_steps()`` or ``_CPU_STEPS``).
        wide_keys: sort pair keys with two stable sorts instead of one packed uint64
            key; default: only when n is too large for the packed key. (Tests force it.)

    Returns:
        (n,) int64 suffix array, in ``steps.xp``'s memory.
    """
    xp = steps.xp
    n = int(data.shape[0])
    if wide_keys is None:
        wide_keys = n > int(_NARROW_LIMIT)
    symbols_per_key, bits = _PACKING[np.dtype(data.dtype)]

    keys = steps.initial_keys(data, symbols_per_key, bits)
    sa = _stable_argsort(xp, keys)
    heads = steps.heads_from_keys(keys[sa])
    del keys
    ranks = steps.ranks_from_heads(heads)
    isa = xp.empty(n, dtype=np.int64)
    steps.scatter_ranks(xp.arange(n, dtype=np.int64), sa, ranks, isa)

    h = symbols_per_key
    while True:
        with traffic.stage("suffix_array.round"):
            # the termination check: the host learns how many suffixes are unsorted
            positions = steps.nonzero(xp, steps.unsorted_mask(heads)).astype(np.int64)
            if positions.shape[0] == 0:
                break
            group_ranks, seconds = steps.pair_keys(positions, sa, ranks, isa, np.int64(h))
            if wide_keys:
                by_second = _stable_argsort(xp, seconds)
                order = by_second[_stable_argsort(xp, group_ranks[by_second])]
            else:
                order = _stable_argsort(xp, steps.narrow_keys(group_ranks, seconds))
            sa_unsorted = sa[positions]
            sorted_seconds = steps.apply_order(positions, order, sa_unsorted, seconds, sa)
            steps.refine_heads(positions, ranks, sorted_seconds, heads)
            ranks = steps.ranks_from_heads(heads)
            steps.scatter_ranks(positions, sa, ranks, isa)
            h *= 2
    return sa


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def _check_text(data) -> None:
    ndim = getattr(data, "ndim", None)
    dtype = getattr(data, "dtype", None)
    if ndim is None or dtype is None:
        raise ValueError(
            f"data must be a 1-D NumPy or CuPy array of uint8 or uint16, got {type(data)!r}; "
            "wrap bytes with np.frombuffer(text, dtype=np.uint8)"
        )
    if ndim != 1:
        raise ValueError(f"data must be 1-D, got ndim={ndim}; flatten it with data.ravel()")
    if np.dtype(dtype) not in SUPPORTED_DTYPES:
        raise ValueError(
            f"data must have dtype uint8 or uint16, got {dtype}; "
            "encode text as UTF-8 bytes (uint8) or map tokens to uint16"
        )


def _divsufsort(data: np.ndarray) -> np.ndarray:
    from pydivsufsort import divsufsort

    if data.dtype == np.uint8 and not (data.flags.writeable and data.flags.c_contiguous):
        data = np.array(data, dtype=np.uint8, order="C")  # ctypes needs a writable buffer
    # force64: libdivsufsort64 writes int64 directly (faster than widening int32 after)
    return np.asarray(divsufsort(data, force64=True), dtype=np.int64)


def suffix_array(data, *, backend: str = "auto"):
    """Suffix array of a byte or token text.

    Args:
        data: (n,) uint8 (bytes) or uint16 (tokens) array; NumPy, or CuPy for "cuda".
        backend: "cpu" (pydivsufsort), "cuda" (GPU prefix doubling; NumPy arrays under
            the CUDA simulator) or "auto".

    Returns:
        (n,) int64 array of suffix start positions (in symbols) in lexicographic order;
        NumPy for "cpu", the backend's array type for "cuda".

    Raises:
        ValueError: ``data`` is not a 1-D uint8/uint16 array.

    Example:
        >>> import numpy as np
        >>> suffix_array(np.frombuffer(b"banana", dtype=np.uint8), backend="cpu")
        array([5, 3, 1, 0, 4, 2])
    """
    _check_text(data)
    backend = resolve_backend(backend)
    n = int(data.shape[0])
    if backend == "cpu":
        host = to_host(data)
        if n <= 1:
            return np.zeros(n, dtype=np.int64)
        return _divsufsort(host)
    xp = array_module("cuda")
    if n <= 1:
        return xp.zeros(n, dtype=np.int64)
    device_data = data if not isinstance(data, np.ndarray) else to_device(data, "cuda")
    return _prefix_doubling(device_data, _cuda_steps())


def suffix_array_prefix_doubling_cpu(data: np.ndarray, *, wide_keys: bool | None = None):
    """The CPU twin of the GPU prefix doubling (``@numba.njit`` steps, NumPy sorts).

    Args:
        data: (n,) uint8 or uint16 NumPy array.
        wide_keys: force (True) or forbid (False) the two-sort path used when n >= 2**32.

    Returns:
        (n,) int64 NumPy suffix array, equal to ``suffix_array(data, backend="cpu")``.
    """
    _check_text(data)
    data = np.ascontiguousarray(to_host(data))
    n = int(data.shape[0])
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    return _prefix_doubling(data, _CPU_STEPS, wide_keys=wide_keys)


def suffix_array_prefix_doubling_cuda(data, *, wide_keys: bool | None = None):
    """The GPU prefix doubling with its options exposed (for tests and benchmarks).

    Args:
        data: (n,) uint8 or uint16 array (CuPy on a device, NumPy under the simulator).
        wide_keys: as in ``suffix_array_prefix_doubling_cpu``.

    Returns:
        (n,) int64 suffix array in the backend's memory.
    """
    _check_text(data)
    resolve_backend("cuda")
    xp = array_module("cuda")
    n = int(data.shape[0])
    if n <= 1:
        return xp.zeros(n, dtype=np.int64)
    device_data = data if not isinstance(data, np.ndarray) else to_device(data, "cuda")
    return _prefix_doubling(device_data, _cuda_steps(), wide_keys=wide_keys)
