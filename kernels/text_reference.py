"""Plain-Python definitions of normalization, shingles, hashes and MinHash.

Slow and obvious on purpose: the tests hold every kernel and CPU twin to these
functions, and benchmarks use :func:`word_shingles` / :func:`char_shingles` to give
other tools (datasketch) exactly the same shingle sets.

Normalization: each character is lowercased (simple mapping) and classed
(:mod:`kernels.unicode_table`): separators (whitespace, punctuation, symbols,
controls) split words, format characters are dropped, everything else is part of a
word. The normalized text is the words joined by single spaces.

Shingles: word mode, every run of ``n`` consecutive words; char mode, every run of
``n`` consecutive characters of the normalized text. A document with at least one
but fewer than ``n`` tokens has exactly one shingle (all its tokens); a document
with no tokens has none (its signature is all ``0xFFFFFFFF``).
"""

from __future__ import annotations

from collections.abc import Sequence

from kernels.unicode_table import IGNORED, SEPARATOR, codepoint_class, simple_lower

M64 = (1 << 64) - 1
P61 = (1 << 61) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
GOLDEN = 0x9E3779B97F4A7C15
SHINGLE_SEED = 0x2545F4914F6CDD1D
BAND_SEED = 0x94D049BB133111EB


def normalize_words(text: str) -> list[str]:
    """Words of ``text`` after lowercasing and stripping punctuation (list of str)."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        cls = codepoint_class(char)
        if cls == IGNORED:
            continue
        if cls == SEPARATOR:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(simple_lower(char))
    if current:
        words.append("".join(current))
    return words


def normalize(text: str) -> str:
    """The normalized text: words joined by single spaces."""
    return " ".join(normalize_words(text))


def _windows(tokens: Sequence, n: int) -> list[Sequence]:
    if not tokens:
        return []
    if len(tokens) < n:
        return [tokens]
    return [tokens[i : i + n] for i in range(len(tokens) - n + 1)]


def word_shingles(text: str, n: int) -> list[str]:
    """Word n-gram shingles as strings (words joined by a space), in document order."""
    return [" ".join(w) for w in _windows(normalize_words(text), n)]


def char_shingles(text: str, n: int) -> list[str]:
    """Character n-gram shingles of the normalized text, in document order."""
    return ["".join(w) for w in _windows(normalize(text), n)]


def fmix64(h: int) -> int:
    h &= M64
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & M64
    h ^= h >> 33
    return h


def combine(h: int, value: int) -> int:
    return fmix64(((h ^ value) * GOLDEN) & M64)


def word_token(word: str) -> int:
    """64-bit token of one normalized word: FNV-1a over codepoints, then fmix64."""
    h = FNV_OFFSET
    for char in word:
        h = ((h ^ ord(char)) * FNV_PRIME) & M64
    return fmix64(h)


def tokens(text: str, shingle: str) -> list[int]:
    """Token stream: word tokens (word mode) or codepoints with 32 for spaces (char mode)."""
    if shingle == "word":
        return [word_token(w) for w in normalize_words(text)]
    return [ord(c) for c in normalize(text)]


def shingle_hash(window: Sequence[int]) -> int:
    """64-bit hash of a window of tokens: fmix64 of a polynomial in GOLDEN mod 2**64."""
    p = 0
    for t in window:
        p = (p * GOLDEN + t) & M64
    return fmix64(p ^ ((SHINGLE_SEED + len(window)) & M64))


def shingle_hashes(text: str, n: int, shingle: str = "word") -> list[int]:
    """64-bit hashes of the document's shingles, in document order."""
    return [shingle_hash(w) for w in _windows(tokens(text, shingle), n)]


def minhash(text: str, a: Sequence[int], b: Sequence[int], n: int, shingle: str) -> list[int]:
    """MinHash signature (list of ``len(a)`` ints < 2**32) of one document."""
    sig = [0xFFFFFFFF] * len(a)
    for h in shingle_hashes(text, n, shingle):
        x = h % P61
        for k in range(len(a)):
            v = ((int(a[k]) * x + int(b[k])) % P61) & 0xFFFFFFFF
            if v < sig[k]:
                sig[k] = v
    return sig


def band_keys(signature: Sequence[int], bands: int, rows: int) -> list[int]:
    """LSH band keys (``bands`` ints < 2**64) of one signature."""
    keys = []
    for j in range(bands):
        h = fmix64(BAND_SEED ^ j)
        for v in signature[j * rows : (j + 1) * rows]:
            h = combine(h, int(v))
        keys.append(h)
    return keys
