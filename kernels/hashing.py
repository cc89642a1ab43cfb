"""Per-element integer math shared by the CUDA kernels and their CPU twins.

Every function here takes and returns scalars only, is compiled with ``@numba.njit``
and is called unchanged from ``@cuda.jit`` kernels (on a device and under the
simulator) and from the ``@numba.njit(parallel=True)`` CPU twins, so both give
bit-identical results. Constants are typed (``np.uint64``) on purpose: a bare Python
int changes the arithmetic under compiled numba while the simulator hides it.

Definitions (the plain-Python mirror is :mod:`kernels.text_reference`):

- ``fmix64``: MurmurHash3's 64-bit finalizer.
- word token: FNV-1a over the word's lowercased codepoints, then ``fmix64``.
- shingle hash of tokens ``t_0 .. t_{w-1}``: the polynomial
  ``p = sum t_j * GOLDEN**(w-1-j) mod 2**64`` (Horner: ``p = p * GOLDEN + t``), then
  ``fmix64(p ^ (SHINGLE_SEED + w))``. The CPU twin rolls ``p`` from one window to the
  next (``p = (p - t_i * GOLDEN**(w-1)) * GOLDEN + t_{i+w}``); the CUDA kernel
  evaluates it directly per window; both are exact modulo 2**64, so they agree.
- MinHash permutation ``k``: ``((a_k * (x mod P) + b_k) mod P) & 0xFFFFFFFF`` with
  ``P = 2**61 - 1``, ``x`` the 64-bit shingle hash, ``a_k < 2**32`` and ``b_k < P``
  (exact 93-bit product, no wrap-around).
- band key of band ``j``: ``h = fmix64(BAND_SEED ^ j)``; for each of the ``r`` values:
  ``h = fmix64((h ^ v) * GOLDEN)``.
"""

from __future__ import annotations

import numba
import numpy as np

MASK32 = np.uint64(0xFFFFFFFF)
MERSENNE61 = np.uint64((1 << 61) - 1)
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
SHINGLE_SEED = np.uint64(0x2545F4914F6CDD1D)
BAND_SEED = np.uint64(0x94D049BB133111EB)
MAX_HASH32 = np.uint32(0xFFFFFFFF)
REPLACEMENT_CHAR = np.int64(0xFFFD)

_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S32 = np.uint64(32)
_S29 = np.uint64(29)
_S61 = np.uint64(61)
_THREE = np.uint64(3)
_MASK29 = np.uint64((1 << 29) - 1)


@numba.njit(inline="always")
def fmix64(h):
    """MurmurHash3 finalizer: uint64 -> uint64 with full avalanche."""
    h = np.uint64(h)
    h ^= h >> _S33
    h *= _C1
    h ^= h >> _S33
    h *= _C2
    h ^= h >> _S33
    return h


@numba.njit(inline="always")
def fnv1a_step(h, codepoint):
    """One FNV-1a step over a codepoint: uint64, int -> uint64."""
    return (np.uint64(h) ^ np.uint64(codepoint)) * FNV_PRIME


@numba.njit(inline="always")
def combine(h, value):
    """Order-dependent combination used by shingle hashes and band keys: uint64."""
    return fmix64((np.uint64(h) ^ np.uint64(value)) * GOLDEN)


@numba.njit(inline="always")
def poly_step(p, token):
    """One Horner step of the shingle polynomial: ``p * GOLDEN + token`` mod 2**64."""
    return np.uint64(p) * GOLDEN + np.uint64(token)


@numba.njit(inline="always")
def poly_roll(p, leaving, entering, top_power):
    """Slide the window polynomial by one token (``top_power = GOLDEN**(w-1)``)."""
    return (np.uint64(p) - np.uint64(leaving) * np.uint64(top_power)) * GOLDEN + np.uint64(entering)


@numba.njit(inline="always")
def finish_shingle(p, n_tokens):
    """Shingle hash from the window polynomial of ``n_tokens`` tokens: uint64."""
    return fmix64(np.uint64(p) ^ (SHINGLE_SEED + np.uint64(n_tokens)))


@numba.njit(inline="always")
def band_seed(band):
    """Start value of the key of band ``band`` (int): uint64."""
    return fmix64(BAND_SEED ^ np.uint64(band))


@numba.njit(inline="always")
def mod_mersenne61(x):
    """``x mod (2**61 - 1)`` for any uint64 ``x``."""
    x = np.uint64(x)
    x = (x & MERSENNE61) + (x >> _S61)
    if x >= MERSENNE61:
        x -= MERSENNE61
    return x


@numba.njit(inline="always")
def mulmod_mersenne61(a, b):
    """``(a * b) mod (2**61 - 1)`` for ``a, b < 2**61``, exact (no 128-bit type needed).

    Splits both operands into 32-bit halves; uses ``2**61 = 1`` and ``2**64 = 8``
    modulo P so every partial sum fits in 64 bits.
    """
    a = np.uint64(a)
    b = np.uint64(b)
    a_lo = a & MASK32
    a_hi = a >> _S32
    b_lo = b & MASK32
    b_hi = b >> _S32
    lo = a_lo * b_lo  # < 2**64
    mid = a_hi * b_lo + a_lo * b_hi  # < 2**62
    hi = a_hi * b_hi  # < 2**58
    # mid * 2**32 = (mid >> 29) * 2**61 + (mid & (2**29 - 1)) * 2**32
    total = (hi << _THREE) + (mid >> _S29) + ((mid & _MASK29) << _S32)
    total += (lo & MERSENNE61) + (lo >> _S61)
    return mod_mersenne61(total)


@numba.njit(inline="always")
def minhash_permute_x(a, b, x_lo, x_hi):
    """One MinHash permutation of a reduced shingle hash, kept to 32 bits: uint32.

    ``a < 2**32`` (see :func:`permutation_params`), ``b < 2**61``, and
    ``x = x_hi * 2**32 + x_lo < 2**61`` the shingle hash reduced mod P (its halves
    hoisted out of the permutation loop by the callers). Returns
    ``((a * x + b) mod P) & 0xFFFFFFFF`` exactly, with two 32x32-bit products.
    """
    lo = np.uint64(a) * np.uint64(x_lo)  # < 2**64
    hi = np.uint64(a) * np.uint64(x_hi)  # < 2**61: a * x = hi * 2**32 + lo
    # hi * 2**32 = (hi >> 29) * 2**61 + (hi & (2**29 - 1)) * 2**32, and 2**61 = 1 mod P
    total = (hi >> _S29) + ((hi & _MASK29) << _S32) + (lo & MERSENNE61) + (lo >> _S61)
    total += np.uint64(b)  # < 3 * 2**61 + 2**33
    v = (total & MERSENNE61) + (total >> _S61)  # <= P + 3
    if v >= MERSENNE61:
        v -= MERSENNE61
    return np.uint32(v & MASK32)


@numba.njit(inline="always")
def minhash_permute(a, b, hashed):
    """One MinHash permutation of a 64-bit shingle hash, kept to 32 bits: uint32."""
    x = mod_mersenne61(hashed)
    return minhash_permute_x(a, b, x & MASK32, x >> _S32)


@numba.njit(inline="always")
def utf8_decode(b0, b1, b2, b3, available):
    """Decode one UTF-8 character from up to four bytes.

    Args:
        b0..b3: the next bytes (ints 0-255; pass 0 past the end).
        available: how many of them are inside the document (>= 1).

    Returns:
        int64 ``codepoint | (n_bytes << 32)``. An invalid or truncated sequence
        decodes as U+FFFD consuming one byte, so decoding always advances.
    """
    b0 = np.int64(b0)
    b1 = np.int64(b1)
    b2 = np.int64(b2)
    b3 = np.int64(b3)
    available = np.int64(available)
    bad = REPLACEMENT_CHAR | (np.int64(1) << np.int64(32))
    if b0 < 0x80:
        return b0 | (np.int64(1) << np.int64(32))
    if b0 < 0xC2:
        return bad
    if b0 < 0xE0:
        if available < 2 or (b1 & 0xC0) != 0x80:
            return bad
        cp = ((b0 & 0x1F) << 6) | (b1 & 0x3F)
        return cp | (np.int64(2) << np.int64(32))
    if b0 < 0xF0:
        if available < 3 or (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80:
            return bad
        cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
        if cp < 0x800 or (cp >= 0xD800 and cp < 0xE000):
            return bad
        return cp | (np.int64(3) << np.int64(32))
    if b0 < 0xF5:
        if available < 4 or (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80 or (b3 & 0xC0) != 0x80:
            return bad
        cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
        if cp < 0x10000 or cp > 0x10FFFF:
            return bad
        return cp | (np.int64(4) << np.int64(32))
    return bad


def permutation_params(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash permutation parameters ``(a, b)``, each (num_perm,) uint64.

    ``a`` in [1, 2**32), ``b`` in [0, P). Every map ``x -> (a * x + b) mod P`` is a
    permutation of the integers mod P for any ``a`` not divisible by P; taking ``a``
    below 2**32 (datasketch draws it below P) halves the multiplications per
    permutation, and the Jaccard estimates are as accurate (``bench/RESULTS.md``).
    Drawn from ``numpy.random.RandomState(seed)``, interleaved (a, b) as datasketch
    does; that stream is frozen across NumPy versions, so signatures are reproducible.
    """
    gen = np.random.RandomState(seed)
    pairs = np.array(
        [
            (
                gen.randint(1, 2**32, dtype=np.uint64),
                gen.randint(0, int(MERSENNE61), dtype=np.uint64),
            )
            for _ in range(num_perm)
        ],
        dtype=np.uint64,
    ).reshape(num_perm, 2)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


@numba.njit(cache=True, nogil=True)
def string_hashes(data, offsets):
    """uint64 (n,): a 64-bit hash (FNV-1a over the bytes, then fmix64 with the length)
    of each packed string (``data`` uint8, ``offsets`` int64 (n + 1,))."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = np.uint64(0xCBF29CE484222325)
        for k in range(offsets[i], offsets[i + 1]):
            h = (h ^ np.uint64(data[k])) * np.uint64(0x100000001B3)
        out[i] = fmix64(h ^ np.uint64(offsets[i + 1] - offsets[i]))
    return out
