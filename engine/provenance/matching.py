"""Provenance against known model outputs: normalization, matching, labels, roll-ups.

Pure functions over arrays and Arrow tables (no files, no Dask); the index that holds
the references lives in :mod:`engine.provenance.reference`, the file pipeline in
:mod:`engine.provenance.pipeline`.

Matching, for one batch of documents against a :class:`engine.provenance.reference.ReferenceIndex`:

1. **Normalization** (:func:`normalize_packed`): every character is lowercased
   (Unicode simple mapping), every run of Unicode whitespace (CR, LF, tabs, NBSP, ...)
   becomes one ASCII space (leading and trailing runs are dropped), curly quotes become
   ``'``/``"``, Unicode dashes and the minus sign become ``-``, ``…`` becomes ``...``,
   format characters (soft hyphen, zero-width joiner, BOM) are dropped, and then a
   periodic run (a unit of 1-32 bytes repeated more than 3 times) keeps 3 repetitions
   (``=====`` rule lines, ``|---|---|`` table rules, markdown-escaped ``\\_\\_\\_``
   blanks, ``abababab``, a word repeated over and over: low-complexity text that would
   only produce junk "matches", and whose seeds are quadratic in the run's length,
   :func:`_cut_periodic`). Re-wrapped
   lines, CRLF line ends, case and spacing changes therefore disappear. Optionally an
   offset map gives, for every normalized byte, the original byte range
   ``[source_start, source_end)`` of the character it came from, so that normalized
   ranges map back to whole characters of the original text.
2. **Anchors** (:func:`winnow_anchors`): 64-bit keys of ``anchor_bytes``-byte windows
   of the normalized text, chosen by winnowing (Schleimer et al. 2003) with a window of
   ``anchor_window`` keys: any common substring of at least
   ``anchor_bytes + anchor_window - 1`` bytes shares at least one anchor. The index
   stores ``(key, reference)`` pairs; a key's *reference document frequency* (distinct
   reference texts holding it) is the number of its pairs.
3. **Boilerplate and shared phrasing**: document frequencies count reference
   *families* (outputs that copy or extend one another count once:
   :func:`reference_families`), plus one when known human-written text holds the
   anchor (``ReferenceIndex.add_human``). An anchor whose family document frequency is
   at least ``max(boilerplate_min_df, ceil(boilerplate_df_fraction * n_references))``
   is boilerplate ("As an AI language model, I ..."): it never makes a document a
   candidate. An anchor held by at least ``shared_min_families`` (2) families is
   shared phrasing: two independent outputs (or an output and human text) both say
   it, so it is the model's (or everyone's) stock text, not a trace of one output.
   The document bytes that boilerplate and shared anchors cover do not count toward
   the ``min_span`` test below (they still count toward coverage once a chain is
   evidence).
4. **Candidates**: (document, reference) pairs that share at least
   ``min_shared_anchors`` (default 2) distinct non-boilerplate anchor keys (so a
   common substring of at least ``anchor_bytes + 2 * anchor_window - 1`` = 95 bytes
   outside boilerplate always makes its pair a candidate; one shared 32-byte window,
   typically a stock sentence, does not), plus pairs found by **MinHash
   co-clustering**: the document's signature is looked up in the references' LSH band
   keys and every hit is verified by the Jaccard similarity estimated from the full
   signatures (``>= minhash_threshold``). At most ``max_candidates`` references per
   document (MinHash-verified first, then most shared anchors).
5. **Exact seeds**: every left-maximal (document, reference) position pair of a
   candidate pair whose next ``seed_bytes`` bytes are equal is extended to a maximal
   exact match (MEM). On the cpu backend the pairs come from a hash join per candidate
   pair (:func:`_pair_seeds`: the reference's ``seed_bytes``-grams in a hash table,
   the document's probing it, equality checked byte by byte), whose work is
   proportional to the candidate pairs' text, not to all candidate references of a
   batch; on a GPU backend the normalized candidate documents and references are packed
   with ``0xFF`` separators and a suffix array and an LCP array (capped at
   ``seed_bytes``) are built with :mod:`kernels.suffix_array` / :mod:`kernels.lcp`,
   and every group of suffixes sharing ``seed_bytes`` bytes yields the same position
   pairs (:func:`_seeds`). Both give the same MEMs.
6. **Chaining**: MEMs of one (document, reference) pair, sorted by document offset,
   are joined into chains when they advance in both texts with gaps of at most
   ``max_gap`` bytes (``verified_max_gap`` for MinHash-verified pairs) and a diagonal
   drift of at most the gap: a lightly edited copy (a few words changed per sentence)
   is one chain of shorter exact spans. A chain is *evidence* when its matched bytes
   outside boilerplate that are informative (letters, digits, non-ASCII characters
   other than box drawing: see :func:`uninformative_bytes`) reach ``min_span``.
7. **Measures** per document (original UTF-8 bytes): ``cov_doc`` = bytes of the
   document inside the union of its evidence ranges / document bytes; ``cov_ref`` =
   the largest, over references, of the share of that reference's bytes inside its
   evidence ranges; ``longest_match`` = the longest evidence range in the document.
8. **Labels**: ``verbatim_copy`` (cov_ref >= cover_threshold and cov_doc >=
   cover_threshold), ``contains_output`` (cov_ref >= cover_threshold, cov_doc lower),
   ``partial_derivative`` (some evidence, i.e. a match or chain of at least
   ``min_span`` bytes, and cov_doc or cov_ref >= partial_threshold; a MinHash-verified
   pair also gives at least this label), ``none`` otherwise.

Everything is deterministic, and a document's result depends only on the document and
the index, never on the other documents of its batch (candidate pairs are per
document and seeds are only taken between a document and its own candidates).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kernels.hashing import fmix64
from kernels.unicode_table import CLASS_SHIFT, IGNORED, LOWER_MASK, codepoint_table

LABELS = ("verbatim_copy", "contains_output", "partial_derivative", "none")
LABEL_RANK = {label: rank for rank, label in enumerate(LABELS)}  # 0 = strongest

EVIDENCE_STRUCT = pa.struct(
    [
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("ref_id", pa.string()),
        ("ref_start", pa.int64()),
        ("ref_end", pa.int64()),
    ]
)
FLAGS_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("label", pa.string()),
        ("cov_doc", pa.float64()),
        ("cov_ref", pa.float64()),
        ("longest_match", pa.int64()),
        ("ref_ids", pa.list_(pa.string())),
        ("evidence", pa.list_(EVIDENCE_STRUCT)),
    ]
)
CLUSTER_FLAGS_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.int64()),
        ("label", pa.string()),
        ("provenance_score", pa.float64()),
        ("frac_members_flagged", pa.float64()),
        ("ref_ids", pa.list_(pa.string())),
        ("origin_doc_id", pa.string()),
    ]
)

SEPARATOR = np.uint8(0xFF)
_SPACE = np.uint8(0x20)
_NO = np.int64(-1)
_MAX_OPEN_CHAINS = 8
_SMALL_GROUP = 8  # suffix-array groups with at most this many reference positions
_MAX_REPEATS = 3  # a periodic run keeps this many repetitions of its unit
_MAX_PERIOD = 32  # longest unit (bytes of normalized text) whose runs are cut


@dataclass(frozen=True)
class ProvenanceParams:
    """Matching and labelling parameters (the index's own parameters are fixed at build).

    Attributes:
        min_span: informative bytes (letters, digits, non-ASCII; of normalized text)
            a match or chain needs outside boilerplate and shared phrasing to count as
            evidence. 100 by default, the span length the substring stage uses
            (``engine.repeated_spans``); ``bench/RESULTS.md`` has the recall / false
            positive trade-off of other values. Candidate pairs always include those
            with a common substring of at least
            ``anchor_bytes + min_shared_anchors * anchor_window - 1`` bytes (95 by
            default) outside boilerplate (unless it repeats the same ``anchor_bytes``
            bytes, so that its anchors share one key).
        seed_bytes: shortest exact span (bytes) that can join a chain.
        max_gap: largest gap (bytes, in the document and in the reference) between two
            spans of one chain; edits of a word or two fit.
        verified_max_gap: the gap allowed for MinHash-verified (document, reference)
            pairs, whose copies may be edited more densely.
        cover_threshold: cov_ref (and cov_doc) at or above which a document is
            ``verbatim_copy`` / ``contains_output``.
        partial_threshold: cov_doc or cov_ref at or above which evidence makes a
            ``partial_derivative``.
        boilerplate_min_df, boilerplate_df_fraction: an anchor held by at least
            ``max(boilerplate_min_df, ceil(boilerplate_df_fraction * n_references))``
            distinct reference texts is boilerplate.
        max_candidates: references examined per document (most shared anchors first).
        min_shared_anchors: distinct non-boilerplate anchor keys a document must share
            with a reference for the pair to be a candidate (MinHash-verified pairs are
            candidates regardless). 2 by default: one shared 32-byte window is too
            little to examine a reference for; with 1, any match of at least
            ``anchor_bytes + anchor_window - 1`` bytes (63) is found.
        shared_min_families: reference families (known human text counting as one)
            holding an anchor at and above which it is shared phrasing: its bytes do not
            count toward ``min_span``. 2: text that two independent outputs share is
            stock phrasing; a large value turns the rule off.
        minhash: use MinHash co-clustering with the references.
        minhash_threshold: estimated Jaccard a band-key hit needs to be verified.
        minhash_max_bucket: references examined per band-key hit (bounds work on
            degenerate buckets).
    """

    min_span: int = 100
    seed_bytes: int = 16
    max_gap: int = 64
    verified_max_gap: int = 256
    cover_threshold: float = 0.8
    partial_threshold: float = 0.2
    boilerplate_min_df: int = 10
    boilerplate_df_fraction: float = 0.001
    max_candidates: int = 32
    min_shared_anchors: int = 2
    shared_min_families: int = 2
    minhash: bool = True
    minhash_threshold: float = 0.5
    minhash_max_bucket: int = 64

    def __post_init__(self) -> None:
        for name in (
            "min_span",
            "seed_bytes",
            "max_gap",
            "verified_max_gap",
            "boilerplate_min_df",
            "max_candidates",
            "min_shared_anchors",
            "minhash_max_bucket",
            "shared_min_families",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.seed_bytes > self.min_span:
            raise ValueError(
                f"seed_bytes ({self.seed_bytes}) must be <= min_span ({self.min_span}); "
                "lower seed_bytes or raise min_span"
            )
        if self.verified_max_gap < self.max_gap:
            raise ValueError(
                f"verified_max_gap ({self.verified_max_gap}) must be >= max_gap "
                f"({self.max_gap}); raise verified_max_gap"
            )
        for name in ("cover_threshold", "partial_threshold", "minhash_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value!r}")
        if self.partial_threshold > self.cover_threshold:
            raise ValueError(
                f"partial_threshold ({self.partial_threshold}) must be <= cover_threshold "
                f"({self.cover_threshold}); e.g. partial_threshold=0.2, cover_threshold=0.8"
            )
        fraction = self.boilerplate_df_fraction
        if not isinstance(fraction, (int, float)) or not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"boilerplate_df_fraction must be in [0, 1], got {fraction!r}")

    def boilerplate_df(self, n_references: int) -> int:
        """Anchor document frequency at and above which an anchor is boilerplate."""
        relative = math.ceil(float(self.boilerplate_df_fraction) * n_references)
        return max(int(self.boilerplate_min_df), relative)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------
# Normalization with offset maps
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, inline="always")
def _decode(data, i, end):
    """(codepoint, n_bytes) of the UTF-8 character at ``data[i]``; invalid -> (0xFFFD, 1)."""
    b0 = np.int64(data[i])
    if b0 < 0x80:
        return b0, np.int64(1)
    avail = end - i
    if b0 >= 0xC2 and b0 < 0xE0 and avail >= 2:
        b1 = np.int64(data[i + 1])
        if (b1 & 0xC0) == 0x80:
            return ((b0 & 0x1F) << 6) | (b1 & 0x3F), np.int64(2)
    elif b0 >= 0xE0 and b0 < 0xF0 and avail >= 3:
        b1 = np.int64(data[i + 1])
        b2 = np.int64(data[i + 2])
        if (b1 & 0xC0) == 0x80 and (b2 & 0xC0) == 0x80:
            cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
            if cp >= 0x800 and not (cp >= 0xD800 and cp < 0xE000):
                return cp, np.int64(3)
    elif b0 >= 0xF0 and b0 < 0xF5 and avail >= 4:
        b1 = np.int64(data[i + 1])
        b2 = np.int64(data[i + 2])
        b3 = np.int64(data[i + 3])
        if (b1 & 0xC0) == 0x80 and (b2 & 0xC0) == 0x80 and (b3 & 0xC0) == 0x80:
            cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            if cp >= 0x10000 and cp <= 0x10FFFF:
                return cp, np.int64(4)
    return np.int64(0xFFFD), np.int64(1)


@numba.njit(cache=True, nogil=True, inline="always")
def _is_space(cp):
    """Python's ``str.isspace`` (Unicode White_Space plus the ASCII separators 0x1C-0x1F)."""
    if cp <= 0x20:
        return cp == 0x20 or (cp >= 0x09 and cp <= 0x0D) or (cp >= 0x1C and cp <= 0x1F)
    if cp < 0x85:
        return False
    return (
        cp == 0x85
        or cp == 0xA0
        or cp == 0x1680
        or (cp >= 0x2000 and cp <= 0x200A)
        or cp == 0x2028
        or cp == 0x2029
        or cp == 0x202F
        or cp == 0x205F
        or cp == 0x3000
    )


@numba.njit(cache=True, nogil=True, inline="always")
def _fold(cp):
    """Quote/dash unification: the ASCII replacement of ``cp``, or -1 to keep it."""
    if cp < 0x2010:
        if cp == 0xAB or cp == 0xBB:
            return np.int64(0x22)
        return np.int64(-1)
    if cp <= 0x2015 or cp == 0x2212:
        return np.int64(0x2D)
    if (cp >= 0x2018 and cp <= 0x201B) or cp == 0x2032:
        return np.int64(0x27)
    if (cp >= 0x201C and cp <= 0x201F) or cp == 0x2033:
        return np.int64(0x22)
    return np.int64(-1)


@numba.njit(cache=True, nogil=True, inline="always")
def _put(out, n, cp):
    """Write ``cp`` as UTF-8 at ``out[n]``; returns the new length."""
    if cp < 0x80:
        out[n] = cp
        return n + 1
    if cp < 0x800:
        out[n] = 0xC0 | (cp >> 6)
        out[n + 1] = 0x80 | (cp & 0x3F)
        return n + 2
    if cp < 0x10000:
        out[n] = 0xE0 | (cp >> 12)
        out[n + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[n + 2] = 0x80 | (cp & 0x3F)
        return n + 3
    out[n] = 0xF0 | (cp >> 18)
    out[n + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[n + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[n + 3] = 0x80 | (cp & 0x3F)
    return n + 4


@numba.njit(cache=True, nogil=True)
def _normalize(data, offsets, table, with_map):
    n_docs = offsets.shape[0] - 1
    capacity = 2 * data.shape[0] + 4
    out = np.empty(capacity, dtype=np.uint8)
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    map_size = capacity if with_map else 0
    source_start = np.empty(map_size, dtype=np.int64)
    source_end = np.empty(map_size, dtype=np.int64)
    n = np.int64(0)
    for d in range(n_docs):
        first = offsets[d]
        end = offsets[d + 1]
        doc_out = n
        i = first
        space_start = _NO
        space_end = _NO
        while i < end:
            cp, width = _decode(data, i, end)
            if _is_space(cp):
                if space_start < 0:
                    space_start = i
                space_end = i + width
                i += width
                continue
            entry = table[cp]
            if (entry >> np.uint32(CLASS_SHIFT)) == np.uint32(IGNORED):
                i += width
                continue
            if space_start >= 0:
                if n > doc_out:
                    out[n] = 0x20
                    if with_map:
                        source_start[n] = space_start - first
                        source_end[n] = space_end - first
                    n += 1
                space_start = _NO
            folded = _fold(cp)
            before = n
            if cp == 0x2026:
                out[n] = 0x2E
                out[n + 1] = 0x2E
                out[n + 2] = 0x2E
                n += 3
            elif folded >= 0:
                out[n] = folded
                n += 1
            else:
                n = _put(out, n, np.int64(entry & np.uint32(LOWER_MASK)))
            if with_map:
                for k in range(before, n):
                    source_start[k] = i - first
                    source_end[k] = i + width - first
            i += width
        n = _cut_periodic(out, source_start, source_end, doc_out, n, with_map)
        out_offsets[d + 1] = n
    return out[:n].copy(), out_offsets, source_start[:n].copy(), source_end[:n].copy()


@numba.njit(cache=True, nogil=True)
def _cut_periodic(out, source_start, source_end, start, end, with_map):
    """Cut periodic runs in ``out[start:end]`` (one normalized document) in place.

    A run of a unit of 1 to ``_MAX_PERIOD`` bytes repeated more than
    ``_MAX_REPEATS`` times keeps its first ``_MAX_REPEATS`` repetitions ("=====" ->
    "===", "abababab" -> "ababab", "test test test test " -> "test test test "). Cuts
    start at a character boundary, and a character the run's end falls inside is kept
    whole, so the text stays valid UTF-8. Returns the document's new end.
    """
    length = end - start
    if length <= 1:
        return end
    src = out[start:end].copy()
    src_s = source_start[start:end].copy() if with_map else source_start[:0]
    src_e = source_end[start:end].copy() if with_map else source_end[:0]
    run = np.zeros(_MAX_PERIOD + 1, dtype=np.int64)
    w = start
    dropping = False
    for i in range(length):
        b = src[i]
        cut = False
        for p in range(1, _MAX_PERIOD + 1):
            if i >= p and src[i - p] == b:
                run[p] += 1
                if run[p] > (_MAX_REPEATS - 1) * p:
                    cut = True
            else:
                run[p] = 0
        continuation = (b & 0xC0) == 0x80
        if cut and (dropping or not continuation):
            dropping = True
            continue
        if dropping:
            dropping = False
            if continuation:  # keep the whole character the cut ended inside
                k = i - 1
                while k > 0 and (src[k] & 0xC0) == 0x80:
                    k -= 1
                for t in range(k, i):
                    out[w] = src[t]
                    if with_map:
                        source_start[w] = src_s[t]
                        source_end[w] = src_e[t]
                    w += 1
        out[w] = b
        if with_map:
            source_start[w] = src_s[i]
            source_end[w] = src_e[i]
        w += 1
    return w


def normalize_packed(
    data: np.ndarray, offsets: np.ndarray, *, with_map: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Normalize packed UTF-8 documents (see the module docstring, step 1).

    Args:
        data: uint8 (total_bytes,) original UTF-8 bytes of all documents.
        offsets: int64 (n_docs + 1,) document boundaries into ``data`` (bytes).
        with_map: also return the offset map.

    Returns:
        ``(norm, norm_offsets, source_start, source_end)``: ``norm`` uint8 (total,)
        normalized bytes (valid UTF-8, never 0xFF); ``norm_offsets`` int64
        (n_docs + 1,); with ``with_map``, ``source_start``/``source_end`` int64
        (total,): for normalized byte ``k`` of document ``d``, the original byte range
        (offsets local to document ``d``) of the character (or whitespace run) it came
        from; else None, None.

    Example:
        >>> raw = "Hello,\\r\\n  WORLD".encode()
        >>> norm, off, s, e = normalize_packed(
        ...     np.frombuffer(raw, np.uint8), np.array([0, len(raw)]), with_map=True)
        >>> bytes(norm), int(s[6]), int(e[6])
        (b'hello, world', 6, 10)
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    norm, norm_offsets, start, end = _normalize(data, offsets, codepoint_table(), with_map)
    if not with_map:
        return norm, norm_offsets, None, None
    return norm, norm_offsets, start, end


def normalize_text(text: str | bytes) -> tuple[bytes, np.ndarray, np.ndarray]:
    """One document: ``(normalized bytes, source_start, source_end)`` (see normalize_packed)."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    norm, _, start, end = normalize_packed(
        np.frombuffer(raw, dtype=np.uint8), np.array([0, len(raw)], dtype=np.int64), with_map=True
    )
    return norm.tobytes(), start, end


def to_original(
    norm: np.ndarray, source_start: np.ndarray, source_end: np.ndarray, start: int, end: int
) -> tuple[int, int]:
    """Original byte range of the normalized range ``[start, end)`` of one document.

    The range is first snapped to whole UTF-8 characters of the normalized text
    (start forward, end back) and stripped of a leading/trailing space; an empty
    result gives ``(s, s)``.
    """
    while start < end and (norm[start] & 0xC0) == 0x80:
        start += 1
    while end > start and end < norm.shape[0] and (norm[end] & 0xC0) == 0x80:
        end -= 1
    while start < end and norm[start] == 0x20:
        start += 1
    while end > start and norm[end - 1] == 0x20:
        end -= 1
    if start >= end:
        position = int(source_start[start]) if start < norm.shape[0] else 0
        return position, position
    return int(source_start[start]), int(source_end[end - 1])


def uninformative_bytes(norm: np.ndarray) -> np.ndarray:
    """bool (n,): bytes of normalized text that never count toward ``min_span``.

    Spaces, ASCII punctuation and symbols, and box-drawing characters (U+2500-U+257F):
    ASCII art, table rules and tree drawings would otherwise chain into long
    "matches" between unrelated texts. Letters, digits and other non-ASCII characters
    count.
    """
    b = np.asarray(norm, dtype=np.uint8)
    informative = ((b >= 0x30) & (b <= 0x39)) | ((b >= 0x61) & (b <= 0x7A)) | (b >= 0x80)
    box = np.flatnonzero((b[:-1] == 0xE2) & ((b[1:] == 0x94) | (b[1:] == 0x95)))
    for shift in range(3):
        informative[np.minimum(box + shift, len(b) - 1)] = False
    return ~informative


# ---------------------------------------------------------------------------
# Anchors (winnowing over rolling hashes of normalized bytes)
# ---------------------------------------------------------------------------

_HASH_BASE = np.uint64(0x100000001B3)
_ANCHOR_SEED = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(cache=True, nogil=True)
def _winnow(data, offsets, k, window):
    """Selected (position, key) per document: the rightmost minimal key of each window."""
    total = data.shape[0]
    positions = np.empty(total + 1, dtype=np.int64)
    keys = np.empty(total + 1, dtype=np.uint64)
    counts = np.zeros(offsets.shape[0] - 1, dtype=np.int64)
    n_out = 0
    top = np.uint64(1)
    for _ in range(k - 1):
        top = top * _HASH_BASE
    hashes = np.empty(0, dtype=np.uint64)
    for d in range(offsets.shape[0] - 1):
        first = offsets[d]
        n_windows = offsets[d + 1] - first - k + 1
        if n_windows <= 0:
            continue
        if hashes.shape[0] < n_windows:
            hashes = np.empty(max(n_windows, 2 * hashes.shape[0]), dtype=np.uint64)
        h = np.uint64(0)
        for i in range(k):
            h = h * _HASH_BASE + np.uint64(data[first + i])
        hashes[0] = fmix64(h ^ _ANCHOR_SEED)
        for i in range(1, n_windows):
            h = (h - np.uint64(data[first + i - 1]) * top) * _HASH_BASE + np.uint64(
                data[first + i + k - 1]
            )
            hashes[i] = fmix64(h ^ _ANCHOR_SEED)
        w = min(window, n_windows)
        best = _NO
        last = _NO
        for right in range(w - 1, n_windows):
            left = right - w + 1
            if best < left:
                best = left
                for j in range(left + 1, right + 1):
                    if hashes[j] <= hashes[best]:
                        best = j
            elif hashes[right] <= hashes[best]:
                best = right
            if best != last:
                positions[n_out] = first + best
                keys[n_out] = hashes[best]
                n_out += 1
                counts[d] += 1
                last = best
    return positions[:n_out].copy(), keys[:n_out].copy(), counts


def winnow_anchors(
    norm: np.ndarray, norm_offsets: np.ndarray, anchor_bytes: int, anchor_window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Winnowed anchors of packed normalized documents.

    Returns:
        positions int64 (m,) global byte offsets into ``norm`` of each anchor window
        (``anchor_bytes`` long); keys uint64 (m,); counts int64 (n_docs,) anchors per
        document (documents are in order, so anchors of document d are a contiguous run).
    """
    return _winnow(
        np.ascontiguousarray(norm, dtype=np.uint8),
        np.ascontiguousarray(norm_offsets, dtype=np.int64),
        np.int64(anchor_bytes),
        np.int64(anchor_window),
    )


_BUCKET_BITS_MAX = 24


def anchor_buckets(sorted_keys: np.ndarray) -> tuple[np.ndarray, int]:
    """A direct-address table over sorted 64-bit anchor keys (for :func:`anchor_ranges`).

    Returns ``(bucket_starts, shift)``: ``bucket_starts`` (2**bits + 1,), int32 when the
    keys fit, the first position of each top-``bits`` prefix of the keys; ``bits`` is
    ``floor(log2(n))`` (one or two keys per bucket), at most 24 (64 MiB of table).
    """
    n = int(sorted_keys.shape[0])
    bits = max(1, min(_BUCKET_BITS_MAX, int(math.floor(math.log2(max(n, 2))))))
    shift = 64 - bits
    prefixes = np.arange(2**bits, dtype=np.uint64) << np.uint64(shift)
    dtype = np.int32 if n < 2**31 else np.int64
    starts = np.searchsorted(sorted_keys, prefixes, side="left").astype(dtype)
    return np.append(starts, np.asarray(n, dtype=dtype)), shift


@numba.njit(cache=True, nogil=True)
def _anchor_ranges(sorted_keys, bucket_starts, shift, keys):
    n = keys.shape[0]
    left = np.empty(n, dtype=np.int64)
    right = np.empty(n, dtype=np.int64)
    sh = np.uint64(shift)
    for i in range(n):
        key = keys[i]
        b = np.int64(key >> sh)
        lo = np.int64(bucket_starts[b])
        hi = np.int64(bucket_starts[b + 1])
        while lo < hi:  # first position >= key
            mid = (lo + hi) >> 1
            if sorted_keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        r = lo
        end = np.int64(bucket_starts[b + 1])
        while r < end and sorted_keys[r] == key:
            r += 1
        left[i] = lo
        right[i] = r
    return left, right


def anchor_ranges(
    sorted_keys: np.ndarray, buckets: tuple[np.ndarray, int], keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``searchsorted(sorted_keys, keys, "left")`` and ``"right"`` via the bucket table."""
    bucket_starts, shift = buckets
    return _anchor_ranges(
        sorted_keys,
        bucket_starts,
        np.int64(shift),
        np.ascontiguousarray(keys, dtype=np.uint64),
    )


# ---------------------------------------------------------------------------
# Reference families and family document frequencies
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _shared_key_pairs(refs, key_starts, max_df):
    """(a, b) with a < b for every key held by 2..max_df references (one row per key)."""
    total = 0
    for g in range(key_starts.shape[0] - 1):
        d = key_starts[g + 1] - key_starts[g]
        if 2 <= d <= max_df:
            total += d * (d - 1) // 2
    a = np.empty(total, dtype=np.int64)
    b = np.empty(total, dtype=np.int64)
    n = 0
    for g in range(key_starts.shape[0] - 1):
        lo = key_starts[g]
        hi = key_starts[g + 1]
        if not 2 <= hi - lo <= max_df:
            continue
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                a[n] = refs[i]
                b[n] = refs[j]
                n += 1
    return a, b


@numba.njit(cache=True, nogil=True)
def _family_df(families, key_starts, out):
    """Distinct families among each key's postings, written to every posting of the key."""
    for g in range(key_starts.shape[0] - 1):
        lo = key_starts[g]
        hi = key_starts[g + 1]
        if hi - lo == 1:
            out[lo] = 1
            continue
        fam = np.sort(families[lo:hi])
        count = 1
        for i in range(1, fam.shape[0]):
            if fam[i] != fam[i - 1]:
                count += 1
        for i in range(lo, hi):
            out[i] = count


def reference_families(
    anchor_keys: np.ndarray,
    anchor_refs: np.ndarray,
    n_refs: int,
    containment: float,
    max_df: int = 64,
    groups: np.ndarray | None = None,
    min_shared: int | None = None,
) -> np.ndarray:
    """Families of references: groups of outputs that copy or extend one another.

    Two references are related when the distinct anchor keys they share reach
    ``containment`` times the distinct keys of the smaller one (a regeneration, a
    later turn repeating an earlier answer, a near-duplicate conversation); families
    are the connected components of that relation. Keys held by more than ``max_df``
    references (stock phrasing, far above any family) are not counted, which bounds
    the work to ``max_df**2 / 2`` pairs per key.

    Args:
        anchor_keys: uint64 (m,) sorted; anchor_refs: int64 (m,) reference of each
            posting ((key, ref) unique, sorted by key then ref).
        n_refs: number of references (family labels index them).
        containment: share of the smaller reference's keys, in (0, 1].
        groups: optional int64 (n_refs,) conversation codes (-1: unknown); references
            of one conversation are one family whatever they share.
        min_shared: optional; two references sharing at least this many distinct keys
            are related whatever their sizes (a passage in common that would count
            as evidence of copying, as turns of one conversation revising the same
            code have).

    Returns:
        int64 (n_refs,): each reference's family, the smallest reference index in it.
    """
    from kernels.union_find import connected_components_cpu

    keys = np.asarray(anchor_keys, dtype=np.uint64)
    refs = np.ascontiguousarray(anchor_refs, dtype=np.int64)
    src = [np.zeros(0, np.int64)]
    dst = [np.zeros(0, np.int64)]
    if len(keys):
        key_starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True]).astype(np.int64)
        a, b = _shared_key_pairs(refs, key_starts, np.int64(max_df))
        if len(a):
            pair, shared = np.unique(a * np.int64(n_refs) + b, return_counts=True)
            a, b = pair // n_refs, pair % n_refs
            n_keys = np.bincount(refs, minlength=n_refs)
            related = shared >= containment * np.minimum(n_keys[a], n_keys[b])
            if min_shared is not None:
                related |= shared >= min_shared
            src.append(a[related])
            dst.append(b[related])
    if groups is not None and len(groups):
        codes = np.asarray(groups, dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        same = (codes[order][1:] == codes[order][:-1]) & (codes[order][1:] >= 0)
        src.append(order[:-1][same])
        dst.append(order[1:][same])
    return connected_components_cpu(
        np.int64(n_refs),
        np.ascontiguousarray(np.concatenate(src)),
        np.ascontiguousarray(np.concatenate(dst)),
    )


def family_document_frequency(
    anchor_keys: np.ndarray, anchor_refs: np.ndarray, families: np.ndarray
) -> np.ndarray:
    """uint32 (m,): for every posting, the number of distinct families holding its key."""
    keys = np.asarray(anchor_keys, dtype=np.uint64)
    out = np.zeros(len(keys), dtype=np.uint32)
    if len(keys) == 0:
        return out
    key_starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True]).astype(np.int64)
    fam = np.ascontiguousarray(np.asarray(families, dtype=np.int64)[np.asarray(anchor_refs)])
    _family_df(fam, key_starts, out)
    return out


# ---------------------------------------------------------------------------
# Seeds from a suffix array over candidate documents + candidate references
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _grow(array, size):
    out = np.empty(max(2 * array.shape[0], size, 16), dtype=array.dtype)
    out[: array.shape[0]] = array
    return out


@numba.njit(cache=True, nogil=True)
def _emit(data, starts, n_docs, p, d, q, r, seed_bytes, count, out):
    """Extend the pair (p, q) to a MEM and append it when it is left-maximal."""
    q_first = starts[n_docs + r]
    if p > starts[d] and q > q_first and data[p - 1] == data[q - 1]:
        return count
    p_end = starts[d + 1] - 1
    q_end = starts[n_docs + r + 1] - 1
    length = seed_bytes
    while p + length < p_end and q + length < q_end and data[p + length] == data[q + length]:
        length += 1
    if count == out[0].shape[0]:
        for f in range(5):
            out[f] = _grow(out[f], count + 1)
    out[0][count] = d
    out[1][count] = r
    out[2][count] = p - starts[d]
    out[3][count] = q - q_first
    out[4][count] = length
    return count + 1


@numba.njit(cache=True, nogil=True)
def _seeds(data, sa, lcp, owner, starts, n_docs, n_refs, seed_bytes, pair_keys):
    """Maximal exact matches (>= seed_bytes) of candidate (document, reference) pairs.

    ``owner[p]`` is the packed slot of position p (documents 0..n_docs-1, then
    references), -1 on separators; ``starts`` (n_slots + 1,) slot starts, each slot
    followed by one separator. ``pair_keys`` sorted int64 ``doc * n_refs + ref``.
    Within a suffix-array group, a document position is only paired with positions of
    its own candidate references (work and result independent of the batch).
    Returns doc, ref, p, q (slot-local offsets) and length, all int64.
    """
    total = sa.shape[0]
    pair_first = np.searchsorted(pair_keys, np.arange(n_docs + 1) * n_refs)
    out = [np.empty(1024, dtype=np.int64) for _ in range(5)]
    count = 0
    doc_pos = np.empty(64, dtype=np.int64)
    ref_pos = np.empty(64, dtype=np.int64)
    ref_slot = np.empty(64, dtype=np.int64)
    j = 0
    while j < total:
        k = j + 1
        while k < total and lcp[k] >= seed_bytes:
            k += 1
        if k - j >= 2:
            n_d = 0
            n_r = 0
            for t in range(j, k):
                p = sa[t]
                slot = owner[p]
                if slot < 0 or p + seed_bytes > starts[slot + 1] - 1:
                    continue
                if slot < n_docs:
                    if n_d == doc_pos.shape[0]:
                        doc_pos = _grow(doc_pos, n_d + 1)
                    doc_pos[n_d] = p
                    n_d += 1
                else:
                    if n_r == ref_pos.shape[0]:
                        ref_pos = _grow(ref_pos, n_r + 1)
                        ref_slot = _grow(ref_slot, n_r + 1)
                    ref_pos[n_r] = p
                    ref_slot[n_r] = slot - n_docs
                    n_r += 1
            if n_d > 0 and n_r > 0:
                small = n_r <= _SMALL_GROUP
                if not small:
                    order = np.argsort(ref_slot[:n_r], kind="mergesort")
                    sorted_slots = ref_slot[:n_r][order]
                    sorted_pos = ref_pos[:n_r][order]
                for a in range(n_d):
                    p = doc_pos[a]
                    d = owner[p]
                    first = pair_first[d]
                    last = pair_first[d + 1]
                    if small:
                        for b in range(n_r):
                            r = ref_slot[b]
                            c = first + np.searchsorted(pair_keys[first:last], d * n_refs + r)
                            if c < last and pair_keys[c] == d * n_refs + r:
                                count = _emit(
                                    data,
                                    starts,
                                    n_docs,
                                    p,
                                    d,
                                    ref_pos[b],
                                    r,
                                    seed_bytes,
                                    count,
                                    out,
                                )
                    else:
                        for c in range(first, last):
                            r = pair_keys[c] - d * n_refs
                            lo = np.searchsorted(sorted_slots, r)
                            while lo < n_r and sorted_slots[lo] == r:
                                count = _emit(
                                    data,
                                    starts,
                                    n_docs,
                                    p,
                                    d,
                                    sorted_pos[lo],
                                    r,
                                    seed_bytes,
                                    count,
                                    out,
                                )
                                lo += 1
        j = k
    return (
        out[0][:count].copy(),
        out[1][:count].copy(),
        out[2][:count].copy(),
        out[3][:count].copy(),
        out[4][:count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def _pair_seeds(data, starts, n_docs, pair_doc, pair_ref, seed_bytes):
    """The seeds of :func:`_seeds` by a hash join per candidate pair (no suffix array).

    For every pair (d, r), every reference position q with at least ``seed_bytes`` bytes
    left is hashed (polynomial hash of its ``seed_bytes`` bytes) into an open-addressing
    table; every document position p probes it, and each (p, q) whose ``seed_bytes``
    bytes are equal gives a MEM when it is left-maximal. The set of (p, q) pairs is the
    one the suffix array's groups give, so the result is the same.
    """
    out = [np.empty(1024, dtype=np.int64) for _ in range(5)]
    count = 0
    top = np.uint64(1)
    for _ in range(seed_bytes - 1):
        top = top * _HASH_BASE
    hashes = np.empty(64, dtype=np.uint64)
    chain_next = np.empty(64, dtype=np.int64)
    heads = np.full(128, -1, dtype=np.int64)
    for c in range(pair_doc.shape[0]):
        d = pair_doc[c]
        r = pair_ref[c]
        p_first = starts[d]
        p_last = starts[d + 1] - 1 - seed_bytes  # last position with seed_bytes left
        q_first = starts[n_docs + r]
        q_last = starts[n_docs + r + 1] - 1 - seed_bytes
        if p_last < p_first or q_last < q_first:
            continue
        n_q = q_last - q_first + 1
        if hashes.shape[0] < n_q:
            hashes = np.empty(2 * n_q, dtype=np.uint64)
            chain_next = np.empty(2 * n_q, dtype=np.int64)
        size = 128
        while size < 2 * n_q:
            size *= 2
        if heads.shape[0] < size:
            heads = np.full(size, -1, dtype=np.int64)
        else:
            heads[:size] = -1
        mask = np.uint64(size - 1)
        h = np.uint64(0)
        for i in range(seed_bytes):
            h = h * _HASH_BASE + np.uint64(data[q_first + i])
        for i in range(n_q):
            if i > 0:
                h = (h - np.uint64(data[q_first + i - 1]) * top) * _HASH_BASE + np.uint64(
                    data[q_first + i + seed_bytes - 1]
                )
            f = fmix64(h)
            hashes[i] = f
            b = np.int64(f & mask)
            chain_next[i] = heads[b]
            heads[b] = i
        h = np.uint64(0)
        for i in range(seed_bytes):
            h = h * _HASH_BASE + np.uint64(data[p_first + i])
        for p in range(p_first, p_last + 1):
            if p > p_first:
                h = (h - np.uint64(data[p - 1]) * top) * _HASH_BASE + np.uint64(
                    data[p + seed_bytes - 1]
                )
            f = fmix64(h)
            i = heads[np.int64(f & mask)]
            while i >= 0:
                if hashes[i] == f:
                    q = q_first + i
                    same = True
                    for t in range(seed_bytes):
                        if data[p + t] != data[q + t]:
                            same = False
                            break
                    if same:
                        count = _emit(data, starts, n_docs, p, d, q, r, seed_bytes, count, out)
                i = chain_next[i]
    return (
        out[0][:count].copy(),
        out[1][:count].copy(),
        out[2][:count].copy(),
        out[3][:count].copy(),
        out[4][:count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def _chains(doc, ref, p, q, length, gaps, boiler_prefix, doc_norm_starts, min_span):
    """Colinear chains of MEMs per (doc, ref); seeds sorted by (doc, ref, p, q).

    ``gaps`` int64 per seed (the pair's allowed gap). ``boiler_prefix`` int64: prefix
    counts of boilerplate bytes over the packed normalized documents, indexed by
    ``doc_norm_starts[doc] + offset``. Returns chains whose matched bytes outside
    boilerplate reach ``min_span``: doc, ref, p_start, p_end, q_start, q_end, matched.
    """
    n = doc.shape[0]
    res_doc = np.empty(n, dtype=np.int64)
    res_ref = np.empty(n, dtype=np.int64)
    res_ps = np.empty(n, dtype=np.int64)
    res_pe = np.empty(n, dtype=np.int64)
    res_qs = np.empty(n, dtype=np.int64)
    res_qe = np.empty(n, dtype=np.int64)
    res_matched = np.empty(n, dtype=np.int64)
    count = 0
    open_ps = np.empty(_MAX_OPEN_CHAINS, dtype=np.int64)
    open_pe = np.empty(_MAX_OPEN_CHAINS, dtype=np.int64)
    open_qs = np.empty(_MAX_OPEN_CHAINS, dtype=np.int64)
    open_qe = np.empty(_MAX_OPEN_CHAINS, dtype=np.int64)
    open_matched = np.empty(_MAX_OPEN_CHAINS, dtype=np.int64)
    i = 0
    while i < n:
        g = i
        while g < n and doc[g] == doc[i] and ref[g] == ref[i]:
            g += 1
        base = doc_norm_starts[doc[i]]
        gap = gaps[i]
        n_open = 0
        sp = np.int64(0)
        sq = np.int64(0)
        se = np.int64(0)
        for s in range(i, g + 1):
            if s < g:
                sp = p[s]
                sq = q[s]
                se = sp + length[s]
            # close chains that can no longer grow (or everything at the group's end)
            c = 0
            while c < n_open:
                if s == g or open_pe[c] + gap < sp:
                    if open_matched[c] >= min_span:
                        res_doc[count] = doc[i]
                        res_ref[count] = ref[i]
                        res_ps[count] = open_ps[c]
                        res_pe[count] = open_pe[c]
                        res_qs[count] = open_qs[c]
                        res_qe[count] = open_qe[c]
                        res_matched[count] = open_matched[c]
                        count += 1
                    n_open -= 1
                    open_ps[c] = open_ps[n_open]
                    open_pe[c] = open_pe[n_open]
                    open_qs[c] = open_qs[n_open]
                    open_qe[c] = open_qe[n_open]
                    open_matched[c] = open_matched[n_open]
                else:
                    c += 1
            if s == g:
                break
            best = -1
            inside = False
            for c in range(n_open):
                dp = sp - open_pe[c]
                dq = sq - open_qe[c]
                if se <= open_pe[c]:
                    if sp >= open_ps[c]:
                        inside = True
                    continue
                if sq + length[s] <= open_qe[c] or dq > gap or dp > gap:
                    continue
                if dp < -length[s] or dq < -length[s] or abs(dp - dq) > gap:
                    continue
                if best < 0 or open_matched[c] > open_matched[best]:
                    best = c
            if best >= 0:
                new_start = max(sp, open_pe[best])
                added = se - new_start
                boiler = boiler_prefix[base + se] - boiler_prefix[base + new_start]
                open_matched[best] += added - boiler
                open_pe[best] = se
                open_qe[best] = max(open_qe[best], sq + length[s])
                continue
            if inside:
                continue
            if n_open == _MAX_OPEN_CHAINS:  # drop the weakest open chain
                weakest = 0
                for c in range(1, n_open):
                    if open_matched[c] < open_matched[weakest]:
                        weakest = c
                n_open -= 1
                open_ps[weakest] = open_ps[n_open]
                open_pe[weakest] = open_pe[n_open]
                open_qs[weakest] = open_qs[n_open]
                open_qe[weakest] = open_qe[n_open]
                open_matched[weakest] = open_matched[n_open]
            boiler = boiler_prefix[base + se] - boiler_prefix[base + sp]
            open_ps[n_open] = sp
            open_pe[n_open] = se
            open_qs[n_open] = sq
            open_qe[n_open] = sq + length[s]
            open_matched[n_open] = length[s] - boiler
            n_open += 1
        i = g
    return (
        res_doc[:count].copy(),
        res_ref[:count].copy(),
        res_ps[:count].copy(),
        res_pe[:count].copy(),
        res_qs[:count].copy(),
        res_qe[:count].copy(),
        res_matched[:count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def _multi_family_cover(doc, fam, start, end, norm_starts, min_families, out):
    """Mark ``out[norm_starts[doc] + x] = 1`` where chains of ``min_families`` or more
    families cover byte x.

    Chains sorted by (doc, fam, start); each family's chains are merged first, so that
    overlapping chains of one family count once.
    """
    n = doc.shape[0]
    total = out.shape[0]
    depth = np.zeros(total + 1, dtype=np.int32)
    i = 0
    while i < n:
        cur_s = start[i]
        cur_e = end[i]
        j = i + 1
        while j < n and doc[j] == doc[i] and fam[j] == fam[i] and start[j] <= cur_e:
            cur_e = max(cur_e, end[j])
            j += 1
        base = norm_starts[doc[i]]
        depth[base + cur_s] += 1
        depth[base + cur_e] -= 1
        i = j
    running = 0
    for x in range(total):
        running += depth[x]
        if running >= min_families:
            out[x] = 1


def find_chains(
    doc_norm: list[bytes] | list[np.ndarray],
    ref_norm: list[np.ndarray],
    pair_doc: np.ndarray,
    pair_ref: np.ndarray,
    pair_gap: np.ndarray,
    boiler_masks: list[np.ndarray],
    params: ProvenanceParams,
    backend: str = "cpu",
    ref_family: np.ndarray | None = None,
    shared_span: int = 32,
) -> dict[str, np.ndarray]:
    """Evidence chains between documents and references (steps 5 and 6).

    Args:
        doc_norm: n_d normalized documents (bytes or uint8 arrays).
        ref_norm: n_r normalized references (uint8 arrays).
        pair_doc, pair_ref: int64 (m,) candidate pairs (indices into the lists).
        pair_gap: int64 (m,) allowed gap (bytes) of each pair.
        boiler_masks: n_d bool arrays, one per document (normalized bytes): boilerplate.
        params: ``seed_bytes``, ``min_span`` and ``shared_min_families`` are used.
        backend: "cpu" (hash join per pair, :func:`_pair_seeds`) or a GPU backend
            such as "cuda" (suffix array and LCP on the device, :func:`_seeds`).
        ref_family: optional int64 (n_r,) family of each reference. With it, document
            bytes that chains (of at least ``shared_span`` bytes) with references of
            ``shared_min_families`` or more families cover are shared phrasing, like
            bytes under shared anchors: this catches stock passages that independent
            outputs hold with small variations, which exact anchors miss.

    Returns:
        dict of int64 arrays ``doc, ref, start, end, ref_start, ref_end, matched``
        (normalized byte offsets, end exclusive), ordered by (doc, start, ref).
    """
    from kernels.backend import to_device, to_host
    from kernels.lcp import lcp_array
    from kernels.suffix_array import suffix_array

    names = ("doc", "ref", "start", "end", "ref_start", "ref_end", "matched")
    empty = {name: np.zeros(0, dtype=np.int64) for name in names}
    n_d = len(doc_norm)
    n_r = len(ref_norm)
    if n_d == 0 or n_r == 0 or len(pair_doc) == 0:
        return empty
    pieces = []
    for text in doc_norm:
        pieces.append(np.frombuffer(text, np.uint8) if isinstance(text, bytes) else text)
    pieces.extend(ref_norm)
    lengths = np.array([len(x) + 1 for x in pieces], dtype=np.int64)
    starts = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.full(int(starts[-1]), SEPARATOR, dtype=np.uint8)
    for slot, piece in enumerate(pieces):
        data[starts[slot] : starts[slot] + len(piece)] = piece
    seed = int(params.seed_bytes)
    order = np.argsort(pair_doc * n_r + pair_ref, kind="stable")
    pair_keys = np.ascontiguousarray((pair_doc * n_r + pair_ref)[order], dtype=np.int64)
    gap_sorted = np.asarray(pair_gap, dtype=np.int64)[order]
    if backend == "cpu":
        doc, ref, p, q, length = _pair_seeds(
            data,
            starts,
            np.int64(n_d),
            np.ascontiguousarray(pair_keys // n_r),
            np.ascontiguousarray(pair_keys % n_r),
            np.int64(seed),
        )
    else:
        owner = np.full(int(starts[-1]), -1, dtype=np.int32)
        for slot, piece in enumerate(pieces):
            owner[starts[slot] : starts[slot] + len(piece)] = slot
        device_data = to_device(data, backend)
        device_sa = suffix_array(device_data, backend=backend)
        lcp = to_host(lcp_array(device_data, device_sa, backend=backend, max_lcp=seed))
        sa = to_host(device_sa)
        doc, ref, p, q, length = _seeds(
            data, sa, lcp, owner, starts, np.int64(n_d), np.int64(n_r), np.int64(seed), pair_keys
        )
        del sa, lcp, owner
    if len(doc) == 0:
        return empty
    order = np.lexsort((q, p, ref, doc))
    doc, ref, p, q, length = doc[order], ref[order], p[order], q[order], length[order]
    gaps = gap_sorted[np.searchsorted(pair_keys, doc * n_r + ref)]
    doc_lengths = np.array([len(x) for x in pieces[:n_d]], dtype=np.int64)
    norm_starts = np.zeros(n_d + 1, dtype=np.int64)
    np.cumsum(doc_lengths + 1, out=norm_starts[1:])
    boiler = np.zeros(int(norm_starts[-1]) + 1, dtype=np.int64)
    for d, mask in enumerate(boiler_masks):
        boiler[norm_starts[d] + 1 : norm_starts[d] + 1 + len(mask)] = mask
    boiler_prefix = np.cumsum(boiler)
    # boiler_prefix[base + x] = boilerplate bytes of the document before offset x
    min_families = int(params.shared_min_families)
    if ref_family is not None and min_families <= len(np.unique(ref_family)):
        # first pass: every chain, to see which document bytes several families match
        every = _chains(doc, ref, p, q, length, gaps, boiler_prefix, norm_starts, np.int64(0))
        c_doc, c_ref, c_start, c_end = every[0], every[1], every[2], every[3]
        long_enough = (c_end - c_start) >= shared_span
        c_doc, c_start, c_end = c_doc[long_enough], c_start[long_enough], c_end[long_enough]
        c_fam = np.asarray(ref_family, dtype=np.int64)[c_ref[long_enough]]
        if len(c_doc):
            order = np.lexsort((c_start, c_fam, c_doc))
            shared = np.zeros(int(norm_starts[-1]) + 1, dtype=np.int64)
            _multi_family_cover(
                c_doc[order],
                c_fam[order],
                c_start[order],
                c_end[order],
                norm_starts,
                np.int64(min_families),
                shared,
            )
            # shared[norm_starts[d] + x] marks byte x; boiler is shifted by one
            boiler[1:] = np.maximum(boiler[1:], shared[:-1])
            boiler_prefix = np.cumsum(boiler)
    out = _chains(
        doc, ref, p, q, length, gaps, boiler_prefix, norm_starts, np.int64(params.min_span)
    )
    result = dict(zip(names, out))
    order = np.lexsort((result["ref"], result["start"], result["doc"]))
    return {name: values[order] for name, values in result.items()}


# ---------------------------------------------------------------------------
# Measures and labels
# ---------------------------------------------------------------------------


def covered_bytes(starts, ends) -> int:
    """Bytes in the union of the ranges ``[starts[i], ends[i])``."""
    if len(starts) == 0:
        return 0
    order = np.argsort(starts, kind="stable")
    total = 0
    current_start, current_end = int(starts[order[0]]), int(ends[order[0]])
    for i in order[1:]:
        s, e = int(starts[i]), int(ends[i])
        if s > current_end:
            total += current_end - current_start
            current_start, current_end = s, e
        else:
            current_end = max(current_end, e)
    return total + current_end - current_start


def label_for(
    cov_doc: float,
    cov_ref: float,
    has_evidence: bool,
    params: ProvenanceParams,
    verified: bool = False,
) -> str:
    """The label rule of the module docstring (step 8)."""
    if cov_ref >= params.cover_threshold:
        return "verbatim_copy" if cov_doc >= params.cover_threshold else "contains_output"
    if has_evidence and (
        cov_doc >= params.partial_threshold or cov_ref >= params.partial_threshold
    ):
        return "partial_derivative"
    if verified:
        return "partial_derivative"
    return "none"


def empty_flags() -> pa.Table:
    return FLAGS_SCHEMA.empty_table()


def flags_table(rows: list[dict]) -> pa.Table:
    """The flags table from row dicts (keys = FLAGS_SCHEMA names)."""
    return pa.Table.from_pylist(rows, schema=FLAGS_SCHEMA)


# ---------------------------------------------------------------------------
# Cluster roll-ups
# ---------------------------------------------------------------------------


def _check_aligned(clusters: pa.Table, flags: pa.Table) -> None:
    for name in ("doc_id", "cluster_id", "keep"):
        if name not in clusters.column_names:
            raise ValueError(
                f"clusters lacks column {name!r} (columns: {clusters.column_names}); "
                "pass the clusters.parquet table"
            )
    for name in ("doc_id", "label", "cov_doc", "cov_ref", "ref_ids"):
        if name not in flags.column_names:
            raise ValueError(
                f"flags lacks column {name!r} (columns: {flags.column_names}); "
                "pass the flags.parquet table"
            )
    if clusters.num_rows != flags.num_rows:
        raise ValueError(
            f"clusters has {clusters.num_rows} rows but flags has {flags.num_rows}; "
            "both must hold the same documents in the same (input) order"
        )
    if not clusters.column("doc_id").equals(flags.column("doc_id")):
        raise ValueError(
            "clusters and flags list different doc_id values row by row; run `flag` on "
            "the same inputs as `dedup` (same order, same --id-column)"
        )


def label_ranks(labels) -> np.ndarray:
    """int8 (n,): :data:`LABEL_RANK` of each label (0 strongest); unknown labels raise."""
    array = labels if isinstance(labels, (pa.Array, pa.ChunkedArray)) else pa.array(labels)
    ranks = np.full(len(array), -1, dtype=np.int8)
    values = pc.cast(array, pa.string())
    for label, rank in LABEL_RANK.items():
        ranks[
            np.asarray(pc.equal(values, label).fill_null(False).to_numpy(zero_copy_only=False))
        ] = rank
    bad = np.flatnonzero(ranks < 0)
    if len(bad):
        raise ValueError(
            f"flags row {int(bad[0])} has label {values[int(bad[0])].as_py()!r}; "
            f"expected one of {LABELS}"
        )
    return ranks


class ClusterFlagStats:
    """Per-cluster aggregates of flagged members, fed in any number of row batches.

    Memory grows with the flagged documents only (unflagged rows are skipped), so a
    crawl's clusters can be rolled up without holding its flags table.
    """

    def __init__(self) -> None:
        self.best: dict[int, int] = {}
        self.score: dict[int, float] = {}
        self.flagged: dict[int, int] = {}
        self.refs: dict[int, set[str]] = {}
        self.origins: dict[int, set[str]] = {}

    def add(self, cluster_id: np.ndarray, flags: pa.Table) -> np.ndarray:
        """Add rows (``cluster_id`` int64 per row); returns their ranks (int8)."""
        ranks = label_ranks(flags.column("label"))
        rows = np.flatnonzero(ranks != LABEL_RANK["none"])
        if len(rows):
            taken = flags.take(pa.array(rows, type=pa.int64()))
            cov_doc = np.nan_to_num(taken.column("cov_doc").to_numpy(zero_copy_only=False))
            cov_ref = np.nan_to_num(taken.column("cov_ref").to_numpy(zero_copy_only=False))
            ref_ids = taken.column("ref_ids").to_pylist()
            for k, i in enumerate(rows.tolist()):
                c = int(cluster_id[i])
                self.best[c] = min(self.best.get(c, LABEL_RANK["none"]), int(ranks[i]))
                value = float(min(1.0, max(cov_doc[k], cov_ref[k])))
                self.score[c] = max(self.score.get(c, 0.0), value)
                self.flagged[c] = self.flagged.get(c, 0) + 1
                ids = ref_ids[k] or []
                self.refs.setdefault(c, set()).update(ids)
                self.origins.setdefault(c, set()).add(ids[0] if ids else "")
        return ranks

    def table(self, cluster_ids: np.ndarray, members: np.ndarray) -> pa.Table:
        """Rows (CLUSTER_FLAGS_SCHEMA) for ``cluster_ids`` (int64, in the order given)
        with ``members`` (int64) documents each."""
        n = len(cluster_ids)
        best = np.full(n, LABEL_RANK["none"], dtype=np.int64)
        score = np.zeros(n, dtype=np.float64)
        flagged = np.zeros(n, dtype=np.int64)
        refs: list[list[str]] = [[] for _ in range(n)]
        origin: list[str | None] = [None] * n
        ids = np.asarray(cluster_ids, dtype=np.int64)
        for j in np.flatnonzero(np.isin(ids, np.fromiter(self.best, np.int64, len(self.best)))):
            c = int(ids[j])
            best[j] = self.best[c]
            score[j] = self.score[c]
            flagged[j] = self.flagged[c]
            refs[j] = sorted(self.refs[c])
            o = self.origins[c]
            origin[j] = next(iter(o)) if len(o) == 1 and next(iter(o)) != "" else None
        return pa.Table.from_arrays(
            [
                pa.array(ids, type=pa.int64()),
                pa.array([LABELS[r] for r in best], type=pa.string()),
                pa.array(score, type=pa.float64()),
                pa.array(flagged / np.maximum(np.asarray(members), 1), type=pa.float64()),
                pa.array(refs, type=pa.list_(pa.string())),
                pa.array(origin, type=pa.string()),
            ],
            schema=CLUSTER_FLAGS_SCHEMA,
        )


def keep_unflagged(cluster_id: np.ndarray, keep: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """bool (n,): ``keep`` moved to the lowest-positioned unflagged member of each
    cluster whose kept member is flagged (clusters without an unflagged member keep
    their choice). Arrays are per document, in input order."""
    cluster_id = np.asarray(cluster_id, dtype=np.int64)
    new_keep = np.asarray(keep, dtype=bool).copy()
    flagged = np.asarray(flagged, dtype=bool)
    bad = np.flatnonzero(new_keep & flagged)
    if len(bad) == 0:
        return new_keep
    targets = np.unique(cluster_id[bad])
    candidates = np.flatnonzero(~flagged & np.isin(cluster_id, targets))
    uniq, first = np.unique(cluster_id[candidates], return_index=True)
    if len(uniq) == 0:
        return new_keep
    pos = np.minimum(np.searchsorted(uniq, cluster_id[bad]), len(uniq) - 1)
    found = uniq[pos] == cluster_id[bad]
    new_keep[bad[found]] = False
    new_keep[candidates[first[pos[found]]]] = True
    return new_keep


def cluster_flags(clusters: pa.Table, flags: pa.Table) -> pa.Table:
    """Provenance per near-duplicate cluster.

    Args:
        clusters: the ``clusters.parquet`` table (doc_id, cluster_id, cluster_size,
            keep), one row per document.
        flags: the ``flags.parquet`` table, rows aligned with ``clusters``.

    Returns:
        One row per cluster, ordered by ``cluster_id``:

        - ``cluster_id`` int64;
        - ``label`` string: the strongest member label (verbatim_copy >
          contains_output > partial_derivative > none);
        - ``provenance_score`` float64 in [0, 1]: the largest, over flagged members,
          of ``max(cov_doc, cov_ref)`` (how much of a member is explained by a
          reference, or of a reference by a member); 0 when no member is flagged;
        - ``frac_members_flagged`` float64: flagged members / members;
        - ``ref_ids`` list<string>: the union of the flagged members' ``ref_ids``,
          sorted;
        - ``origin_doc_id`` string, nullable: the reference id when every flagged
          member's best reference (first of its ``ref_ids``) is that same reference.

    Only the members' own flags are read: no member is marked flagged here. (The
    ``dedup --reference`` pipeline streams the same computation part by part:
    :class:`ClusterFlagStats`.)
    """
    _check_aligned(clusters, flags)
    cluster_id = np.asarray(clusters.column("cluster_id").to_numpy(), dtype=np.int64)
    stats = ClusterFlagStats()
    stats.add(cluster_id, flags)
    unique_ids, members = np.unique(cluster_id, return_counts=True)
    return stats.table(unique_ids, members)


def prefer_unflagged_keep(clusters: pa.Table, flags: pa.Table) -> pa.Table:
    """``clusters`` with ``keep`` moved to an unflagged member where one exists.

    In each cluster whose kept member is flagged (label != none) and which has an
    unflagged member, the unflagged member with the lowest input position (row) is
    kept instead; clusters whose members are all flagged keep their original choice,
    and clusters whose kept member is unflagged are unchanged. Exactly one ``keep``
    per cluster is preserved. Other columns are returned as they are.
    """
    _check_aligned(clusters, flags)
    cluster_id = np.asarray(clusters.column("cluster_id").to_numpy(), dtype=np.int64)
    keep = np.asarray(clusters.column("keep").to_numpy(zero_copy_only=False), dtype=bool)
    flagged = label_ranks(flags.column("label")) != LABEL_RANK["none"]
    new_keep = keep_unflagged(cluster_id, keep, flagged)
    index = clusters.column_names.index("keep")
    return clusters.set_column(index, "keep", pa.array(new_keep, type=pa.bool_()))
