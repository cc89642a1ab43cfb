"""Tokenizing and shingle hashing of packed UTF-8 documents.

Input layout (every function here): ``data`` uint8 (total_bytes,) holds the UTF-8
bytes of all documents back to back; ``offsets`` int64 (n_docs + 1,) gives document
``d`` as ``data[offsets[d]:offsets[d + 1]]``.

Token and shingle buffers reuse ``offsets``: a document of ``L`` bytes has at most
``L`` tokens and at most ``L`` shingles, so document ``d``'s tokens live in
``tokens[offsets[d]:offsets[d] + token_counts[d]]`` (uint64) and likewise for
shingle hashes. No counting pass is needed.

Modes: ``WORD_MODE`` (tokens are 64-bit word hashes) and ``CHAR_MODE`` (tokens are
lowercased codepoints with 32 for the single space between words). Definitions:
:mod:`kernels.hashing`; plain-Python mirror: :mod:`kernels.text_reference`.

Each step has a CUDA kernel (``*_kernel``) and a CPU twin (``*_cpu``); both call the
same scalar functions and give bit-identical results. Kernel bodies wrap chained
uint64 results in ``np.uint64(...)``: a no-op on the device, but under the simulator
an njit function returns a Python int, which must not be re-typed as int64.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import cuda

from kernels.hashing import (
    FNV_OFFSET,
    GOLDEN,
    finish_shingle,
    fmix64,
    fnv1a_step,
    poly_roll,
    poly_step,
    utf8_decode,
)
from kernels.unicode_table import CLASS_SHIFT, LOWER_MASK, SEPARATOR, WORD

WORD_MODE = 0
CHAR_MODE = 1
SHINGLE_MODES = {"word": WORD_MODE, "char": CHAR_MODE}

_CLASS_SHIFT = np.uint32(CLASS_SHIFT)
_LOWER_MASK = np.uint32(LOWER_MASK)
_SPACE = np.uint64(32)


@numba.njit(inline="always")
def shingle_count(n_tokens, ngram):
    """Number of shingles of a document with ``n_tokens`` tokens (int64)."""
    if n_tokens <= 0:
        return np.int64(0)
    if n_tokens < ngram:
        return np.int64(1)
    return np.int64(n_tokens - ngram + 1)


@numba.njit(inline="always")
def _byte_at(data, pos, end):
    return np.int64(data[pos]) if pos < end else np.int64(0)


# --------------------------------------------------------------------------- tokenize


@numba.njit(cache=True, nogil=True)
def tokenize_doc(data, start, end, table, mode, tokens, out_start):
    """Tokenize ``data[start:end]`` into ``tokens[out_start:]``; returns the token count."""
    n_tok = np.int64(0)
    in_word = False
    pending_space = False
    h = FNV_OFFSET
    pos = start
    while pos < end:
        b0 = data[pos]
        if b0 < 0x80:  # ASCII fast path
            cp = np.int64(b0)
            pos += 1
        else:
            packed = utf8_decode(
                b0,
                _byte_at(data, pos + 1, end),
                _byte_at(data, pos + 2, end),
                _byte_at(data, pos + 3, end),
                end - pos,
            )
            cp = packed & np.int64(0xFFFFFFFF)
            pos += packed >> np.int64(32)
        info = table[cp]
        cls = info >> _CLASS_SHIFT
        lower = info & _LOWER_MASK
        if cls == WORD:
            if mode == WORD_MODE:
                if not in_word:
                    h = FNV_OFFSET
                    in_word = True
                h = fnv1a_step(h, lower)
            else:
                if pending_space and n_tok > 0:
                    tokens[out_start + n_tok] = _SPACE
                    n_tok += 1
                pending_space = False
                tokens[out_start + n_tok] = np.uint64(lower)
                n_tok += 1
        elif cls == SEPARATOR:
            if mode == WORD_MODE:
                if in_word:
                    tokens[out_start + n_tok] = fmix64(h)
                    n_tok += 1
                    in_word = False
            else:
                pending_space = True
    if mode == WORD_MODE and in_word:
        tokens[out_start + n_tok] = fmix64(h)
        n_tok += 1
    return n_tok


@numba.njit(parallel=True, cache=True, nogil=True)
def tokenize_cpu(data, offsets, table, mode):
    """CPU twin of :func:`tokenize_kernel`.

    Returns:
        tokens uint64 (total_bytes,) and token_counts int64 (n_docs,).
    """
    n_docs = offsets.shape[0] - 1
    tokens = np.zeros(data.shape[0], dtype=np.uint64)
    token_counts = np.zeros(n_docs, dtype=np.int64)
    for d in numba.prange(n_docs):
        token_counts[d] = tokenize_doc(
            data, offsets[d], offsets[d + 1], table, mode, tokens, offsets[d]
        )
    return tokens, token_counts


@cuda.jit
def tokenize_kernel(data, offsets, table, mode, tokens, token_counts):
    """One thread per document; same loop as ``tokenize_doc`` (see module docstring)."""
    d = cuda.grid(1)
    if d >= token_counts.shape[0]:
        return
    start = offsets[d]
    end = offsets[d + 1]
    n_tok = 0
    in_word = False
    pending_space = False
    h = FNV_OFFSET
    pos = start
    while pos < end:
        b0 = data[pos]
        if b0 < 0x80:  # ASCII fast path
            cp = np.int64(b0)
            pos += 1
        else:
            b1 = data[pos + 1] if pos + 1 < end else 0
            b2 = data[pos + 2] if pos + 2 < end else 0
            b3 = data[pos + 3] if pos + 3 < end else 0
            packed = utf8_decode(b0, b1, b2, b3, end - pos)
            cp = packed & 0xFFFFFFFF
            pos += packed >> 32
        info = table[cp]
        cls = info >> _CLASS_SHIFT
        lower = info & _LOWER_MASK
        if cls == WORD:
            if mode == WORD_MODE:
                if not in_word:
                    h = FNV_OFFSET
                    in_word = True
                h = np.uint64(fnv1a_step(h, lower))  # np.uint64: see module docstring
            else:
                if pending_space and n_tok > 0:
                    tokens[start + n_tok] = _SPACE
                    n_tok += 1
                pending_space = False
                tokens[start + n_tok] = lower
                n_tok += 1
        elif cls == SEPARATOR:
            if mode == WORD_MODE:
                if in_word:
                    tokens[start + n_tok] = fmix64(h)
                    n_tok += 1
                    in_word = False
            else:
                pending_space = True
    if mode == WORD_MODE and in_word:
        tokens[start + n_tok] = fmix64(h)
        n_tok += 1
    token_counts[d] = n_tok


# --------------------------------------------------------------------------- shingles


@numba.njit(cache=True, nogil=True)
def shingle_doc(tokens, start, n_tokens, ngram, shingles):
    """Hash the windows of ``tokens[start:start+n_tokens]`` into ``shingles[start:]``.

    Rolls the window polynomial (two multiplies per shingle). Safe in place
    (``shingles is tokens``): the token leaving window ``i`` is read before position
    ``i`` is overwritten, and entering tokens lie ahead of every written position.
    """
    count = shingle_count(n_tokens, ngram)
    if count == 0:
        return count
    width = ngram if n_tokens >= ngram else n_tokens
    top_power = np.uint64(1)
    p = np.uint64(0)
    for j in range(width):
        p = poly_step(p, tokens[start + j])
        if j > 0:
            top_power = top_power * GOLDEN
    for i in range(count):
        leaving = tokens[start + i]
        shingles[start + i] = finish_shingle(p, width)
        if i + 1 < count:
            p = poly_roll(p, leaving, tokens[start + i + width], top_power)
    return count


@numba.njit(parallel=True, cache=True, nogil=True)
def shingle_hashes_cpu(tokens, offsets, token_counts, ngram):
    """CPU twin of :func:`shingle_kernel`.

    Returns:
        shingles uint64 (total_bytes,) and shingle_counts int64 (n_docs,).
    """
    n_docs = offsets.shape[0] - 1
    shingles = np.zeros(tokens.shape[0], dtype=np.uint64)
    shingle_counts = np.zeros(n_docs, dtype=np.int64)
    for d in numba.prange(n_docs):
        shingle_counts[d] = shingle_doc(tokens, offsets[d], token_counts[d], ngram, shingles)
    return shingles, shingle_counts


@cuda.jit
def shingle_kernel(tokens, offsets, token_counts, ngram, shingles):
    """One thread per byte position ``p`` (grid-stride): the shingle starting at ``p``.

    The document of ``p`` is found by binary search in ``offsets``. Positions past a
    document's last shingle write nothing.
    """
    n_docs = token_counts.shape[0]
    total = tokens.shape[0]
    p = cuda.grid(1)
    stride = cuda.gridsize(1)
    while p < total:
        lo = 0
        hi = n_docs
        while hi - lo > 1:  # largest d with offsets[d] <= p
            mid = (lo + hi) // 2
            if offsets[mid] <= p:
                lo = mid
            else:
                hi = mid
        start = offsets[lo]
        n_tokens = token_counts[lo]
        i = p - start
        if i < shingle_count(n_tokens, ngram):
            width = ngram if n_tokens >= ngram else n_tokens
            poly = np.uint64(0)
            for j in range(width):
                poly = np.uint64(poly_step(poly, tokens[p + j]))
            shingles[p] = finish_shingle(poly, width)
        p += stride


@cuda.jit
def shingle_count_kernel(token_counts, ngram, shingle_counts):
    """shingle_counts[d] = shingle_count(token_counts[d], ngram), one thread per document."""
    d = cuda.grid(1)
    if d < token_counts.shape[0]:
        shingle_counts[d] = shingle_count(token_counts[d], ngram)
