"""Plain-Python definitions of normalization, shingles, hashes, MinHash and the exact
pieces of repeated spans.

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


# --------------------------------------------------------------------------- spans


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def exact_span_pieces(
    doc: bytes, windows: dict[int, tuple[int, int]], min_span: int, sources: Sequence[bytes]
) -> list[tuple[int, int, int, int]]:
    """The rows of one document from its marked windows (:mod:`kernels.spans`).

    Args:
        doc: the document's bytes.
        windows: ``{offset: (source_doc, source_offset)}``, one entry per marked window
            ``doc[offset : offset + min_span]`` (byte offsets), naming a copy of it.
        min_span: window length in bytes.
        sources: the documents ``source_doc`` indexes.

    Returns:
        Rows ``(start, end, source_doc, source_start)`` in byte offsets, end exclusive,
        ordered by start. Marked windows that overlap or touch make one range; each
        range is cut left to right: a piece starting at ``x`` follows the copy (source
        document, shift ``source_offset - offset``) whose windows cover the bytes from
        ``x`` on the farthest (ties: the smallest ``(source_doc, x + shift)``), runs on
        past that coverage while its bytes still equal the source's (inside the range and
        the source document), and ends there, moved back to the start of the character
        it would cut.
        A character no copy covers whole is skipped. Starts never sit on a continuation
        byte.
    """

    def copies_at(x: int) -> set[tuple[int, int]]:
        return {(sd, ss - p) for p, (sd, ss) in windows.items() if p <= x < p + min_span}

    def reach(x: int, copy: tuple[int, int]) -> int:
        end = x
        while copy in copies_at(end):
            end += 1
        return end

    ranges: list[list[int]] = []
    for p in sorted(windows):
        if ranges and p <= ranges[-1][1]:
            ranges[-1][1] = p + min_span
        else:
            ranges.append([p, p + min_span])
    rows = []
    for low, high in ranges:
        x = low
        while x < high and _is_continuation(doc[x]):
            x += 1
        while x < high:
            copy = max(copies_at(x), key=lambda c: (reach(x, c), -c[0], -c[1]))
            end = reach(x, copy)
            source = sources[copy[0]]
            while end < high and end + copy[1] < len(source) and doc[end] == source[end + copy[1]]:
                end += 1
            while end > x and end < len(doc) and _is_continuation(doc[end]):
                end -= 1
            if end > x:
                rows.append((x, end, copy[0], x + copy[1]))
                x = end
            else:
                x += 1
                while x < high and _is_continuation(doc[x]):
                    x += 1
    return rows
