"""Benchmark corpora with planted near-duplicates, built from real documents.

A corpus from :func:`make_corpus` holds, in a seeded random order:

- **families**: a real base document plus ``copies_per_family`` near-duplicate copies
  made by light edits: word substitutions, typos, insertions and deletions at a small
  per-word rate; re-wrapped lines; case, punctuation and whitespace changes (these
  leave the normalized words unchanged); short boilerplate lines prepended or
  appended. Most copies are light (most pairs land at true Jaccard >= 0.9), some
  are heavier on purpose so that the ambiguous band is populated;
- **negatives**: unrelated real documents, one per family of their own;
- **hard negatives**: groups of documents that share a long boilerplate header and
  footer (real text from another document) around different real bodies, sized so
  that each pair's true Jaccard stays <= 0.5 (checked; typically 0.2-0.45).

"True Jaccard" is the Jaccard index of the sets of word 5-gram shingles,
``set(kernels.text_reference.word_shingles(text, 5))``. Pairs are labelled:

- **positive**: same family and true Jaccard >= 0.9;
- **ambiguous**: same family and true Jaccard < 0.9 (excluded from scoring; every
  copy is re-drawn until its Jaccard with each family member is > 0.5);
- **negative**: every other pair. Base documents are chosen so that their pairwise
  true Jaccard is <= 0.3, and the finished corpus is checked exhaustively (an exact
  all-pairs similarity join with prefix filtering) so that no pair from different
  families exceeds 0.5; a document that would is dropped and counted.

``truth`` (a JSON-ready dict) has:

- ``ids``: record ids in file order (row ``i`` of the JSONL is ``ids[i]``);
- ``family``: ``{id: family number}`` for every document;
- ``positive_pairs`` / ``ambiguous_pairs``: lists of ``[id_a, id_b]`` (``id_a < id_b``);
- ``pair_jaccard``: ``[id_a, id_b, jaccard]`` for every same-family pair and every
  hard-negative pair;
- ``hard_negative_groups``: lists of ids sharing a boilerplate;
- ``roles``: ``{id: "original"|"copy"|"negative"|"hard_negative"}``;
- ``params`` and ``stats``.

Scoring (:func:`score_pairs`, :func:`giant_cluster_check`) takes predicted clusters
(a ``clusters.parquet`` table, ``{doc_id: cluster_id}``, or lists of ids) or pairs.

:func:`make_scaled_corpus` writes a throughput corpus of any size (e.g. 1 GB) by
cycling real documents with mutations, streaming to the file.

Usage::

    python -m bench.corpus --sample sample/                  # the bundled sample
    python -m bench.corpus --out bench/.cache/c.jsonl --docs 10000
    python -m bench.corpus --scaled 1GB --out bench/.cache/scaled_1GB.jsonl.zst

Example::

    >>> docs = [{"id": "a", "text": "..."}]                      # doctest: +SKIP
    >>> records, truth = make_corpus(docs, n_families=10, seed=1)  # doctest: +SKIP
    >>> score_pairs([[r["id"] for r in records]], truth)["precision"]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import os
import random
import re
import sys
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kernels.text_reference import word_shingles

PROG = "python -m bench.corpus"
SHINGLE_N = 5
POSITIVE_MIN = 0.9
NEGATIVE_MAX = 0.5
BASE_MAX = 0.3
MIN_WORDS = 150

# ---------------------------------------------------------------------------------
# shingles and Jaccard


@lru_cache(maxsize=1)
def _unicode_patterns() -> tuple[re.Pattern, re.Pattern, dict[int, str]]:
    """Regexes and a lowercase table equivalent to :mod:`kernels.unicode_table` classes."""
    from kernels.unicode_table import IGNORED, SEPARATOR, codepoint_class, simple_lower

    sep: list[int] = []
    ign: list[int] = []
    lower: dict[int, str] = {}
    for cp in range(0x110000):
        char = chr(cp)
        cls = codepoint_class(char)
        if cls == SEPARATOR:
            sep.append(cp)
        elif cls == IGNORED:
            ign.append(cp)
        low = simple_lower(char)
        if low != char:
            lower[cp] = low

    def char_class(cps: list[int]) -> str:
        parts = []
        start = prev = cps[0]
        for cp in [*cps[1:], -2]:
            if cp == prev + 1:
                prev = cp
                continue
            parts.append(f"\\U{start:08x}" if start == prev else f"\\U{start:08x}-\\U{prev:08x}")
            start = prev = cp
        return "".join(parts)

    word_re = re.compile(f"[^{char_class(sep)}]+")
    ignored_re = re.compile(f"[{char_class(ign)}]")
    return word_re, ignored_re, lower


_ASCII_WORD = re.compile(r"[0-9a-z]+")


def fast_normalize_words(text: str) -> list[str]:
    """Same list as :func:`kernels.text_reference.normalize_words`, about 5x faster.

    ASCII text takes a one-regex path; other text uses regexes built from the same
    Unicode classes and the simple lowercase mapping (built once, about 1 s).
    """
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    word_re, ignored_re, lower = _unicode_patterns()
    if ignored_re.search(text):
        text = ignored_re.sub("", text)
    joined = " ".join(word_re.findall(text)).translate(lower)
    return joined.split(" ") if joined else []


def fast_word_shingles(text: str, n: int = SHINGLE_N) -> list[str]:
    """Same list as :func:`kernels.text_reference.word_shingles` (fast regex shingler)."""
    words = fast_normalize_words(text)
    if not words:
        return []
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def shingle_set(text: str, n: int = SHINGLE_N, *, reference: bool = True) -> set[str]:
    """Set of word ``n``-gram shingles (reference shingler, or the fast equivalent)."""
    return set(word_shingles(text, n) if reference else fast_word_shingles(text, n))


def jaccard(a: set, b: set) -> float:
    """Jaccard index of two sets (0.0 when both are empty)."""
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def true_jaccard(text_a: str, text_b: str, n: int = SHINGLE_N) -> float:
    """True word ``n``-gram Jaccard of two texts (reference shingler)."""
    return jaccard(shingle_set(text_a, n), shingle_set(text_b, n))


def hashed_shingles(text: str, n: int = SHINGLE_N) -> np.ndarray:
    """Sorted unique int64 hashes (Python ``hash``) of the fast shingles of ``text``."""
    shingles = fast_word_shingles(text, n)
    return np.unique(np.fromiter(map(hash, shingles), dtype=np.int64, count=len(shingles)))


def similar_pairs(
    shingle_arrays: Sequence[np.ndarray], threshold: float
) -> list[tuple[int, int, float]]:
    """All pairs ``(i, j, jaccard)`` with ``i < j`` and Jaccard >= ``threshold``.

    Exact all-pairs join with prefix filtering: tokens are ordered by global
    frequency (rarest first); a pair with Jaccard >= t must share a token among the
    first ``len - ceil(t * len) + 1`` tokens of each set, so only pairs sharing such
    a prefix token are verified. ``shingle_arrays``: sorted unique int64 arrays.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    nonempty = [a for a in shingle_arrays if len(a)]
    if not nonempty:
        return []
    vocab, counts = np.unique(np.concatenate(nonempty), return_counts=True)
    prefix_tokens = []
    prefix_docs = []
    for i, arr in enumerate(shingle_arrays):
        if not len(arr):
            continue
        freq = counts[np.searchsorted(vocab, arr)]
        order = np.lexsort((arr, freq))
        p = len(arr) - math.ceil(threshold * len(arr)) + 1
        prefix_tokens.append(arr[order[:p]])
        prefix_docs.append(np.full(p, i, dtype=np.int64))
    tokens = np.concatenate(prefix_tokens)
    doc_ids = np.concatenate(prefix_docs)
    order = np.lexsort((doc_ids, tokens))
    tokens = tokens[order]
    doc_ids = doc_ids[order]
    bounds = np.flatnonzero(np.diff(tokens)) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(tokens)]
    candidates: set[tuple[int, int]] = set()
    for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
        group = doc_ids[s:e].tolist()
        for x in range(len(group)):
            for y in range(x + 1, len(group)):
                candidates.add((group[x], group[y]))
    out = []
    for i, j in sorted(candidates):
        a, b = shingle_arrays[i], shingle_arrays[j]
        inter = len(np.intersect1d(a, b, assume_unique=True))
        sim = inter / (len(a) + len(b) - inter)
        if sim >= threshold:
            out.append((i, j, sim))
    return out


# ---------------------------------------------------------------------------------
# mutations

_WS_SPLIT = re.compile(r"(\s+)")
_PUNCT_BEFORE_SPACE = re.compile(r"([,;:.!?])(?=[ \t\n])")
_BLANK = re.compile(r"\n[ \t]*\n")

SHORT_BOILERPLATE = (
    "Back to top",
    "Share this page:",
    "Printer-friendly version",
    "[Advertisement]",
    "Skip to main content",
    "Previous topic | Next topic",
    "Last updated: {date}",
    "Posted on {date} by admin",
    "Copyright (c) {year} All rights reserved.",
    "Mirrored from {host} on {date}",
    "Page {num} of {num2}",
    "This page was last edited on {date}.",
    "Report a bug | Show source",
)
_HOSTS = ("docs.example.org", "mirror.example.net", "wiki.example.com", "kb.example.io")


def _short_boilerplate(rng: random.Random) -> str:
    template = rng.choice(SHORT_BOILERPLATE)
    year = rng.randint(2005, 2024)
    return template.format(
        date=f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        year=year,
        host=rng.choice(_HOSTS),
        num=rng.randint(1, 9),
        num2=rng.randint(10, 40),
    )


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 2:
        return word + word[-1:]
    i = rng.randrange(len(letters) - 1)
    a, b = letters[i], letters[i + 1]
    chars = list(word)
    if chars[a] == chars[b]:
        del chars[a]
    else:
        chars[a], chars[b] = chars[b], chars[a]
    return "".join(chars)


def edit_words(text: str, rng: random.Random, rate: float, vocab: Sequence[str]) -> str:
    """Edit about ``rate`` of the whitespace-separated tokens of ``text``.

    Each edited token is substituted by a vocabulary word (40%), gets a typo (20%),
    is followed by an inserted vocabulary word (20%), or is deleted (20%). Whitespace
    around untouched tokens is kept.
    """
    if rate <= 0.0:
        return text
    parts = _WS_SPLIT.split(text)
    for i in range(0, len(parts), 2):
        part = parts[i]
        if not part or rng.random() >= rate:
            continue
        op = rng.random()
        if op < 0.4:
            parts[i] = rng.choice(vocab)
        elif op < 0.6:
            parts[i] = _typo(part, rng)
        elif op < 0.8:
            parts[i] = part + " " + rng.choice(vocab)
        else:
            parts[i] = ""
    return "".join(parts)


def rewrap(text: str, rng: random.Random) -> str:
    """Re-wrap prose paragraphs (lines not indented) to another width; words unchanged."""
    width = rng.choice((60, 66, 72, 90, 120, 100_000))
    out = []
    for para in _BLANK.split(text):
        lines = para.split("\n")
        if len(lines) > 1 and all(line[:1] not in (" ", "\t", "") for line in lines):
            para = textwrap.fill(
                " ".join(line.strip() for line in lines),
                width=width,
                break_long_words=False,
                break_on_hyphens=False,
            )
        out.append(para)
    return "\n\n".join(out)


def change_case(text: str, rng: random.Random) -> str:
    """Upper/title/lower-case some ASCII lines, or the whole text; words unchanged."""
    if rng.random() < 0.2 and text.isascii():
        return text.lower()
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.isascii() and line.strip() and rng.random() < 0.08:
            lines[i] = rng.choice((str.upper, str.title, str.lower))(line)
    return "\n".join(lines)


def change_punctuation(text: str, rng: random.Random, rate: float = 0.15) -> str:
    """Swap or drop punctuation that sits before whitespace; words unchanged."""

    def repl(match: re.Match) -> str:
        if rng.random() >= rate:
            return match.group(1)
        return rng.choice(("", ",", ";", ".", "!", " -", "...", ":"))

    return _PUNCT_BEFORE_SPACE.sub(repl, text)


def change_whitespace(text: str, rng: random.Random) -> str:
    """Double some spaces, add trailing spaces or CRLF line ends; words unchanged."""
    choice = rng.random()
    if choice < 0.3:
        return text.replace("\n", "\r\n")
    if choice < 0.6:
        return "\n".join(line + " " * rng.randint(0, 2) for line in text.split("\n"))
    return re.sub(" ", lambda m: "  " if rng.random() < 0.05 else " ", text)


def mutate(
    text: str,
    rng: random.Random,
    vocab: Sequence[str],
    *,
    word_rate: float,
    boilerplate_prob: float = 0.3,
) -> str:
    """A near-duplicate of ``text``: word edits at ``word_rate`` plus format edits."""
    out = edit_words(text, rng, word_rate, vocab)
    if rng.random() < 0.4:
        out = rewrap(out, rng)
    if rng.random() < 0.4:
        out = change_case(out, rng)
    if rng.random() < 0.5:
        out = change_punctuation(out, rng)
    if rng.random() < 0.3:
        out = change_whitespace(out, rng)
    if rng.random() < boilerplate_prob:
        if rng.random() < 0.5:
            out = _short_boilerplate(rng) + "\n\n" + out
        else:
            out = out.rstrip("\n") + "\n\n" + _short_boilerplate(rng) + "\n"
    return out


def _draw_word_rate(rng: random.Random) -> float:
    """Per-copy word edit rate: 15% format-only, 65% light, 20% heavier (ambiguous)."""
    u = rng.random()
    if u < 0.15:
        return 0.0
    if u < 0.80:
        return rng.uniform(0.0005, 0.005)
    return rng.uniform(0.008, 0.035)


# ---------------------------------------------------------------------------------
# corpus


def _as_docs(docs: Iterable[Mapping[str, Any] | str]) -> list[dict]:
    out = []
    for i, doc in enumerate(docs):
        if isinstance(doc, str):
            out.append({"id": f"input:{i}", "text": doc, "source": f"input:{i}"})
        else:
            out.append(
                {
                    "id": str(doc.get("id", f"input:{i}")),
                    "text": doc["text"],
                    "source": str(doc.get("source", doc.get("id", f"input:{i}"))),
                }
            )
    return out


def _vocabulary(texts: Iterable[str], size: int = 5000) -> list[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(w for w in text.split() if w.isalpha() and 2 <= len(w) <= 14)
    return [w for w, _ in counts.most_common(size)] or ["the", "and", "of"]


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def select_base_documents(
    docs: Sequence[dict],
    count: int,
    rng: random.Random,
    *,
    min_words: int = MIN_WORDS,
    min_bytes: int = 0,
    max_bytes: int | None = None,
    max_jaccard: float = BASE_MAX,
) -> list[dict]:
    """``count`` documents, in random order, whose pairwise true Jaccard is <= ``max_jaccard``.

    Documents with fewer than ``min_words`` normalized words or outside
    ``[min_bytes, max_bytes]`` are skipped. Natural near-duplicates among the inputs
    (translations that keep code blocks, repeated sections) are resolved by keeping
    the first of each similar pair in the shuffled order.
    """
    eligible = []
    for doc in docs:
        size = len(doc["text"].encode())
        if size < min_bytes or (max_bytes is not None and size > max_bytes):
            continue
        eligible.append(doc)
    rng.shuffle(eligible)
    chosen: list[dict] = []
    arrays: list[np.ndarray] = []
    kept: list[dict] = []
    position = 0
    while len(kept) < count and position < len(eligible):
        # take candidates in shuffled order, join, and top up if too many were dropped
        want = int((count - len(kept)) * 1.15) + 20
        while want > 0 and position < len(eligible):
            doc = eligible[position]
            position += 1
            arr = hashed_shingles(doc["text"])
            if len(arr) + SHINGLE_N - 1 < min_words:
                continue
            chosen.append(doc)
            arrays.append(arr)
            want -= 1
        dropped: set[int] = set()
        for i, j, _ in similar_pairs(arrays, max_jaccard + 1e-12):
            if i not in dropped and j not in dropped:
                dropped.add(j)
        kept = [doc for k, doc in enumerate(chosen) if k not in dropped]
    if len(kept) < count:
        raise ValueError(
            f"only {len(kept)} eligible base documents (need {count}); lower the "
            "number of families/negatives, relax min_words/max_bytes, or supply more documents"
        )
    return kept[:count]


def make_corpus(
    docs: Iterable[Mapping[str, Any] | str],
    *,
    n_families: int = 40,
    copies_per_family: int | tuple[int, int] = (1, 6),
    n_negatives: int = 200,
    n_hard_negative_groups: int = 8,
    hard_negative_group_size: int | tuple[int, int] = (3, 5),
    seed: int = 0,
    min_words: int = MIN_WORDS,
    min_bytes: int = 0,
    max_bytes: int | None = None,
    id_prefix: str = "doc",
) -> tuple[list[dict], dict]:
    """A corpus with planted near-duplicate families, negatives and hard negatives.

    Args:
        docs: real documents (dicts with ``text`` and optionally ``id``/``source``, or
            plain strings). Each is used at most once as a base, a body or a boilerplate.
        n_families: number of base documents that get near-duplicate copies.
        copies_per_family: copies per family (an int, or an inclusive ``(lo, hi)`` range).
        n_negatives: unrelated documents (singleton families).
        n_hard_negative_groups / hard_negative_group_size: groups of documents sharing a
            long boilerplate header and footer around different bodies.
        seed: everything is drawn from ``random.Random(seed)``; same inputs and seed give
            the same corpus.
        min_words / min_bytes / max_bytes: which input documents may be used.

    Returns:
        ``(records, truth)``: records ``{"id", "text", "source"}`` in corpus order
        (``source`` is the input document's id, for provenance and licence), and the
        truth dict described in the module docstring.
    """
    rng = random.Random(seed)
    pool = _as_docs(docs)
    lo_c, hi_c = (
        (copies_per_family, copies_per_family)
        if isinstance(copies_per_family, int)
        else copies_per_family
    )
    lo_g, hi_g = (
        (hard_negative_group_size, hard_negative_group_size)
        if isinstance(hard_negative_group_size, int)
        else hard_negative_group_size
    )
    if n_families < 0 or n_negatives < 0 or n_hard_negative_groups < 0 or lo_c < 1 or lo_g < 2:
        raise ValueError(
            "need n_families, n_negatives, n_hard_negative_groups >= 0, "
            "copies_per_family >= 1 and hard_negative_group_size >= 2"
        )
    group_sizes = [rng.randint(lo_g, hi_g) for _ in range(n_hard_negative_groups)]
    need = n_families + n_negatives + sum(group_sizes) + 2 * n_hard_negative_groups
    bases = select_base_documents(
        pool, need, rng, min_words=min_words, min_bytes=min_bytes, max_bytes=max_bytes
    )
    vocab = _vocabulary(doc["text"] for doc in bases[: min(len(bases), 2000)])
    family_docs = bases[:n_families]
    negative_docs = bases[n_families : n_families + n_negatives]
    rest = bases[n_families + n_negatives :]

    # (text, source, family, role)
    items: list[tuple[str, str, int, str]] = []
    family_sets: dict[int, list[set[str]]] = {}
    stats: Counter[str] = Counter()
    for fam, base in enumerate(family_docs):
        base_set = shingle_set(base["text"])
        members = [base_set]
        items.append((base["text"], base["id"], fam, "original"))
        for _ in range(rng.randint(lo_c, hi_c)):
            rate = _draw_word_rate(rng)
            for _attempt in range(6):
                text = mutate(base["text"], rng, vocab, word_rate=rate)
                sset = shingle_set(text)
                if min(jaccard(sset, m) for m in members) > NEGATIVE_MAX + 0.05:
                    break
                rate /= 2
                stats["copies_redrawn"] += 1
            else:
                stats["copies_dropped"] += 1
                continue
            members.append(sset)
            items.append((text, base["id"], fam, "copy"))
        family_sets[fam] = members

    next_family = n_families
    for doc in negative_docs:
        items.append((doc["text"], doc["id"], next_family, "negative"))
        next_family += 1

    hard_groups_idx: list[list[int]] = []
    for size in group_sizes:
        bodies, rest = rest[:size], rest[size:]
        boiler_docs, rest = rest[:2], rest[2:]
        boiler_id = "+".join(d["id"] for d in boiler_docs)
        boiler_text = "\n\n".join(d["text"] for d in boiler_docs)
        texts = _hard_negative_group(bodies, boiler_text, rng)
        if texts is None:
            stats["hard_groups_failed"] += 1
            continue
        idx = []
        for body, text in zip(bodies, texts, strict=True):
            idx.append(len(items))
            items.append(
                (
                    text,
                    body["id"] + "+boilerplate:" + boiler_id,
                    next_family,
                    "hard_negative",
                )
            )
            next_family += 1
        hard_groups_idx.append(idx)

    # Exhaustive check: no pair from different families above NEGATIVE_MAX.
    arrays = [hashed_shingles(text) for text, *_ in items]
    dropped: set[int] = set()
    priority = {"negative": 0, "hard_negative": 1, "copy": 2, "original": 3}
    for i, j, _ in similar_pairs(arrays, NEGATIVE_MAX + 1e-9):
        if items[i][2] == items[j][2] or i in dropped or j in dropped:
            continue
        if true_jaccard(items[i][0], items[j][0]) <= NEGATIVE_MAX:
            continue
        victim = min((i, j), key=lambda k: (priority[items[k][3]], -k))
        dropped.add(victim)
        stats["dropped_cross_family_" + items[victim][3]] += 1
    # dropping an original leaves its copies as the family; dropping is rare (see stats)

    order = [k for k in range(len(items)) if k not in dropped]
    rng.shuffle(order)
    width = max(6, len(str(len(order))))
    new_id = {k: f"{id_prefix}{pos:0{width}d}" for pos, k in enumerate(order)}
    records = [{"id": new_id[k], "text": items[k][0], "source": items[k][1]} for k in order]
    family = {new_id[k]: items[k][2] for k in order}
    roles = {new_id[k]: items[k][3] for k in order}

    by_family: dict[int, list[int]] = defaultdict(list)
    for k in order:
        by_family[items[k][2]].append(k)
    set_cache: dict[int, set[str]] = {}

    def sset_of(k: int) -> set[str]:
        if k not in set_cache:
            set_cache[k] = shingle_set(items[k][0])
        return set_cache[k]

    positive, ambiguous, pair_jaccard = [], [], []
    for fam in sorted(by_family):
        members = by_family[fam]
        if len(members) < 2:
            continue
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                sim = jaccard(sset_of(a), sset_of(b))
                pair = _pair(new_id[a], new_id[b])
                pair_jaccard.append([*pair, round(sim, 6)])
                (positive if sim >= POSITIVE_MIN else ambiguous).append(list(pair))
    hard_groups = []
    hard_max = 0.0
    for idx in hard_groups_idx:
        idx = [k for k in idx if k not in dropped]
        if len(idx) < 2:
            continue
        hard_groups.append(sorted(new_id[k] for k in idx))
        for x in range(len(idx)):
            for y in range(x + 1, len(idx)):
                sim = jaccard(sset_of(idx[x]), sset_of(idx[y]))
                hard_max = max(hard_max, sim)
                pair_jaccard.append([*_pair(new_id[idx[x]], new_id[idx[y]]), round(sim, 6)])
    positive.sort()
    ambiguous.sort()
    pair_jaccard.sort()
    n = len(records)
    total_bytes = sum(len(r["text"].encode()) for r in records)
    copy_pairs_to_original = [
        pj
        for pj in pair_jaccard
        if family.get(pj[0], -1) < n_families
        and family[pj[0]] == family[pj[1]]
        and "original" in (roles[pj[0]], roles[pj[1]])
    ]
    truth = {
        "version": 1,
        "ids": [r["id"] for r in records],
        "family": family,
        "roles": roles,
        "positive_pairs": positive,
        "ambiguous_pairs": ambiguous,
        "pair_jaccard": pair_jaccard,
        "hard_negative_groups": hard_groups,
        "params": {
            "n_families": n_families,
            "copies_per_family": [lo_c, hi_c],
            "n_negatives": n_negatives,
            "n_hard_negative_groups": n_hard_negative_groups,
            "hard_negative_group_size": [lo_g, hi_g],
            "seed": seed,
            "min_words": min_words,
            "min_bytes": min_bytes,
            "max_bytes": max_bytes,
            "shingle": "word",
            "ngram": SHINGLE_N,
            "positive_min": POSITIVE_MIN,
            "negative_max": NEGATIVE_MAX,
        },
        "stats": {
            "documents": n,
            "bytes": total_bytes,
            "families_with_copies": sum(1 for f in by_family if f < n_families),
            "copies": sum(1 for r in roles.values() if r == "copy"),
            "positive_pairs": len(positive),
            "ambiguous_pairs": len(ambiguous),
            "negative_pairs": n * (n - 1) // 2 - len(positive) - len(ambiguous),
            "copy_original_pairs": len(copy_pairs_to_original),
            "copy_original_positive": sum(
                1 for pj in copy_pairs_to_original if pj[2] >= POSITIVE_MIN
            ),
            "hard_negative_docs": sum(len(g) for g in hard_groups),
            "hard_negative_max_jaccard": round(hard_max, 6),
            **dict(sorted(stats.items())),
        },
    }
    return records, truth


def _hard_negative_group(
    bodies: Sequence[dict], boilerplate_text: str, rng: random.Random
) -> list[str] | None:
    """Texts ``header + body + footer`` sharing one boilerplate, every pair <= 0.45 Jaccard.

    The boilerplate (real text, cut at whitespace) is sized for a target Jaccard drawn
    in [0.25, 0.45] between the two smallest bodies, then shrunk until the measured
    maximum pairwise Jaccard is at most ``NEGATIVE_MAX - 0.05``.
    """
    body_sets = [shingle_set(b["text"]) for b in bodies]
    smallest = sorted(len(s) for s in body_sets)[:2]
    target = rng.uniform(0.25, 0.45)
    boiler_tokens = boilerplate_text.split()
    n_words = int(target * sum(smallest) / (1 - target))
    split_at = rng.uniform(0.4, 0.8)
    for _ in range(12):
        words = boiler_tokens[:n_words]
        if len(words) < 20:
            return None
        cut = int(len(words) * split_at)
        header = textwrap.fill(" ".join(words[:cut]), width=78)
        footer = textwrap.fill(" ".join(words[cut:]), width=78)
        texts = [f"{header}\n\n{b['text'].strip()}\n\n{footer}\n" for b in bodies]
        sets = [shingle_set(t) for t in texts]
        worst = max(
            jaccard(sets[x], sets[y]) for x in range(len(sets)) for y in range(x + 1, len(sets))
        )
        if worst <= NEGATIVE_MAX - 0.05:
            return texts
        n_words = int(n_words * 0.85)
    return None


# ---------------------------------------------------------------------------------
# scoring


def _resolve_id(doc_id: str, truth: Mapping[str, Any]) -> str:
    family = truth["family"]
    if doc_id in family:
        return doc_id
    head, sep, row = str(doc_id).rpartition(":")
    if sep and row.isdigit() and int(row) < len(truth["ids"]):
        return truth["ids"][int(row)]
    raise ValueError(
        f"predicted doc_id {doc_id!r} is neither a truth id nor '<path>:<row>'; "
        "pass the id column (e.g. --id-column id) or map ids first"
    )


def _groups(predicted: Any, truth: Mapping[str, Any]) -> list[list[str]]:
    """Predicted groups of truth ids from a table, a mapping, or an iterable of groups."""
    if hasattr(predicted, "column_names") and "cluster_id" in predicted.column_names:
        doc_ids = predicted.column("doc_id").to_pylist()
        cluster_ids = predicted.column("cluster_id").to_pylist()
        predicted = dict(zip(doc_ids, cluster_ids, strict=True))
    elif hasattr(predicted, "columns") and "cluster_id" in getattr(predicted, "columns", ()):
        predicted = dict(zip(predicted["doc_id"], predicted["cluster_id"], strict=True))
    if isinstance(predicted, Mapping):
        by_cluster: dict[Any, list[str]] = defaultdict(list)
        for doc_id, cluster in predicted.items():
            by_cluster[cluster].append(_resolve_id(doc_id, truth))
        return [g for g in by_cluster.values()]
    return [[_resolve_id(d, truth) for d in group] for group in predicted]


def score_pairs(predicted: Any, truth: Mapping[str, Any]) -> dict[str, float | int]:
    """Pair-level precision, recall and F1 of predicted clusters or pairs.

    ``predicted``: a table with ``doc_id`` and ``cluster_id`` columns (pyarrow or
    pandas), a mapping ``{doc_id: cluster_id}``, or an iterable of groups of ids
    (clusters, or pairs as 2-element groups). ``doc_id`` may be a truth id or
    ``<path>:<row>``. Predicted positive pairs are all pairs inside each group.

    Pairs listed in ``truth["ambiguous_pairs"]`` are ignored. Counting is per family
    inside each cluster, so a cluster of size m costs O(m + family pairs), not O(m^2).

    Returns ``dict(precision, recall, f1, tp, fp, fn, predicted_pairs)``; precision is
    1.0 when nothing is predicted and recall is 1.0 when there are no positives.
    """
    family = truth["family"]
    positive = {tuple(p) for p in truth["positive_pairs"]}
    ambiguous = {tuple(p) for p in truth["ambiguous_pairs"]}
    groups = [list(dict.fromkeys(g)) for g in _groups(predicted, truth)]
    seen: Counter[str] = Counter(d for g in groups for d in g)
    tp = fp = n_pred = 0
    if any(c > 1 for c in seen.values()):
        # overlapping groups (pairs): count each distinct pair once
        pairs = {
            _pair(g[x], g[y]) for g in groups for x in range(len(g)) for y in range(x + 1, len(g))
        }
        for pair in pairs:
            if pair in ambiguous:
                continue
            n_pred += 1
            if pair in positive:
                tp += 1
            else:
                fp += 1
    else:
        for group in groups:
            m = len(group)
            if m < 2:
                continue
            by_family: dict[int, list[str]] = defaultdict(list)
            for doc in group:
                by_family[family[doc]].append(doc)
            within = sum(len(v) * (len(v) - 1) // 2 for v in by_family.values())
            fp += m * (m - 1) // 2 - within
            n_pred += m * (m - 1) // 2 - within
            for members in by_family.values():
                for x in range(len(members)):
                    for y in range(x + 1, len(members)):
                        pair = _pair(members[x], members[y])
                        if pair in ambiguous:
                            continue
                        n_pred += 1
                        if pair in positive:
                            tp += 1
                        else:
                            fp += 1
    fn = len(positive) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "predicted_pairs": n_pred,
    }


def giant_cluster_check(predicted: Any, truth: Mapping[str, Any]) -> dict[str, int]:
    """Largest predicted cluster and clusters that merge unrelated documents.

    Documents of different truth families are negatives of each other, so a predicted
    cluster holding more than one family is an "unrelated merge". Returns
    ``dict(largest_cluster, clusters, multi_doc_clusters, unrelated_merges,
    docs_in_unrelated_merges, largest_unrelated_merge)``.
    """
    family = truth["family"]
    groups = [list(dict.fromkeys(g)) for g in _groups(predicted, truth)]
    merges = [g for g in groups if len({family[d] for d in g}) > 1]
    return {
        "largest_cluster": max((len(g) for g in groups), default=0),
        "clusters": len(groups),
        "multi_doc_clusters": sum(1 for g in groups if len(g) > 1),
        "unrelated_merges": len(merges),
        "docs_in_unrelated_merges": sum(len(g) for g in merges),
        "largest_unrelated_merge": max((len(g) for g in merges), default=0),
    }


# ---------------------------------------------------------------------------------
# files


def _compression_for(path: Path, compression: str | None) -> str | None:
    if compression is not None:
        if compression not in ("gzip", "zstd", "none"):
            raise ValueError(f"compression must be None, 'gzip' or 'zstd', got {compression!r}")
        return None if compression == "none" else compression
    if path.suffix == ".gz":
        return "gzip"
    if path.suffix in (".zst", ".zstd"):
        return "zstd"
    return None


class _JsonlWriter:
    """Text writer to a temporary file, renamed to ``path`` on a clean close."""

    def __init__(self, path: Path | str, compression: str | None = None, level: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        kind = _compression_for(self.path, compression)
        self._raw = open(self.tmp, "wb")
        if kind == "gzip":
            # mtime=0 and no file name: byte-identical output for identical input
            self._comp = gzip.GzipFile(
                filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=level or 9
            )
        elif kind == "zstd":
            import zstandard

            self._comp = zstandard.ZstdCompressor(level=level or 3).stream_writer(self._raw)
        else:
            self._comp = None
        self.text = io.TextIOWrapper(self._comp or self._raw, encoding="utf-8", newline="\n")
        self.bytes_text = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self.bytes_text += len(record["text"].encode())
        self.text.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self, ok: bool = True) -> None:
        self.text.flush()
        self.text.close()  # closes the compressor (and, through it, the raw file)
        if not self._raw.closed:
            self._raw.close()
        if ok:
            os.replace(self.tmp, self.path)
        elif self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self) -> _JsonlWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(ok=exc_type is None)


def write_jsonl(
    records: Iterable[Mapping[str, Any]],
    path: Path | str,
    compression: str | None = None,
) -> Path:
    """Write records as JSON lines to ``path`` atomically (temporary name, then rename).

    ``compression``: ``None`` (inferred from the suffix: ``.gz`` gzip, ``.zst`` zstd,
    else plain), ``"gzip"`` (deterministic: mtime 0), ``"zstd"`` or ``"none"``.
    """
    with _JsonlWriter(path, compression) as writer:
        for record in records:
            writer.write(record)
    return Path(path)


def read_jsonl(path: Path | str) -> list[dict]:
    """Read JSON lines from a plain, ``.gz`` or ``.zst`` file."""
    path = Path(path)
    kind = _compression_for(path, None)
    if kind == "gzip":
        f = gzip.open(path, "rt", encoding="utf-8")
    elif kind == "zstd":
        import zstandard

        f = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(open(path, "rb")))
    else:
        f = open(path, encoding="utf-8")
    with f:
        return [json.loads(line) for line in f if line.strip()]


def parse_size(size: str | int) -> int:
    """Bytes from ``"1GB"``, ``"256MB"``, ``"500k"`` or an int (decimal units)."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)([iI]?)[bB]?\s*", size)
    if not match:
        raise ValueError(f"cannot parse size {size!r}; write e.g. 500MB or 1GB")
    base = 1024 if match.group(3) else 1000
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * base**power)


def make_scaled_corpus(
    target_bytes: int | str,
    path: Path | str,
    docs: Iterable[Mapping[str, Any] | str] | None = None,
    *,
    seed: int = 0,
    dup_fraction: float = 0.1,
    cycle_word_rate: float = 0.2,
    compression: str | None = None,
) -> dict[str, Any]:
    """Stream a corpus of about ``target_bytes`` of text to ``path`` (for throughput runs).

    Real documents are cycled in a seeded order. The first pass writes them as they
    are; later passes apply word edits at ``cycle_word_rate`` (substitutions from the
    corpus vocabulary) plus format edits, so that passes are not near-duplicates of
    each other (5-gram Jaccard ~0.1 between passes). In addition a ``dup_fraction``
    of the output documents are light near-duplicate copies of a recent document, so
    dedup has real work. Returns counts; no truth is kept (use :func:`make_corpus`
    for scoring). ``docs`` defaults to ``bench/.cache/human_docs.jsonl``.
    """
    from bench.prepare_text import load_human_docs

    target = parse_size(target_bytes)
    rng = random.Random(seed)
    pool = _as_docs(docs if docs is not None else load_human_docs())
    if not pool:
        raise ValueError("make_scaled_corpus needs at least one document")
    vocab = _vocabulary(d["text"] for d in pool[:3000])
    recent: list[tuple[str, str]] = []
    counts: Counter[str] = Counter()
    with _JsonlWriter(path, compression) as writer:
        n = 0
        cycle = 0
        while writer.bytes_text < target:
            order = list(range(len(pool)))
            rng.shuffle(order)
            for k in order:
                if writer.bytes_text >= target:
                    break
                if recent and rng.random() < dup_fraction:
                    src_text, src_id = rng.choice(recent)
                    text = mutate(src_text, rng, vocab, word_rate=rng.uniform(0.0, 0.005))
                    source = src_id
                    counts["near_duplicate_copies"] += 1
                else:
                    doc = pool[k]
                    text = doc["text"]
                    if cycle:
                        text = mutate(text, rng, vocab, word_rate=cycle_word_rate)
                    source = doc["id"]
                    recent.append((text, f"scaled{n:09d}"))
                    if len(recent) > 1000:
                        recent.pop(rng.randrange(len(recent)))
                writer.write({"id": f"scaled{n:09d}", "text": text, "source": source})
                n += 1
            cycle += 1
        bytes_text = writer.bytes_text
    return {
        "path": str(path),
        "documents": n,
        "text_bytes": bytes_text,
        "file_bytes": Path(path).stat().st_size,
        "passes": cycle,
        **counts,
    }


# ---------------------------------------------------------------------------------
# the bundled sample

SAMPLE_PARAMS = {
    "n_families": 40,
    "copies_per_family": (2, 7),
    "n_negatives": 150,
    "n_hard_negative_groups": 8,
    "hard_negative_group_size": (3, 5),
    "seed": 20240601,
    "min_bytes": 1200,
    "max_bytes": 4500,
}


def write_sample(out_dir: Path | str, human_docs: Path | str | None = None) -> dict[str, Any]:
    """Write ``docs.jsonl.gz`` and ``truth.json`` of the bundled sample into ``out_dir``."""
    from bench.prepare_text import CACHE_DIR, HUMAN_DOCS, MANIFEST, load_human_docs, prepare

    if human_docs is None:
        prepare()
        human_docs = CACHE_DIR / HUMAN_DOCS
        manifest = json.loads((CACHE_DIR / MANIFEST).read_text())
    else:
        manifest = {}
    docs = load_human_docs(human_docs)
    records, truth = make_corpus(docs, **SAMPLE_PARAMS, id_prefix="s")
    out_dir = Path(out_dir)
    write_jsonl(records, out_dir / "docs.jsonl.gz", "gzip")
    truth["source_packages"] = manifest.get("packages", {})
    tmp = out_dir / ".truth.json.tmp"
    tmp.write_text(json.dumps(truth, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, out_dir / "truth.json")
    return truth["stats"]


def load_sample(sample_dir: Path | str | None = None) -> tuple[list[dict], dict]:
    """``(records, truth)`` of the bundled sample (default: ``sample/`` of the repo)."""
    sample_dir = Path(sample_dir) if sample_dir else Path(__file__).resolve().parents[1] / "sample"
    records = read_jsonl(sample_dir / "docs.jsonl.gz")
    truth = json.loads((sample_dir / "truth.json").read_text())
    return records, truth


def bench_corpus_params(n_docs: int, seed: int = 0) -> dict[str, Any]:
    """make_corpus parameters giving about ``n_docs`` documents (benchmark mix).

    Roughly: 8% of documents are family originals with 1-5 copies each (~25% copies),
    4% are hard negatives in groups of 3-5, the rest plain negatives.
    """
    n_families = max(1, n_docs // 12)
    n_groups = max(1, n_docs // 100)
    copies = n_families * 3
    n_negatives = max(0, n_docs - n_families - copies - n_groups * 4)
    return {
        "n_families": n_families,
        "copies_per_family": (1, 5),
        "n_negatives": n_negatives,
        "n_hard_negative_groups": n_groups,
        "hard_negative_group_size": (3, 5),
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--sample", type=Path, metavar="DIR", help="write the bundled sample")
    mode.add_argument("--docs", type=int, help="write a scored corpus of about N documents")
    mode.add_argument("--scaled", metavar="SIZE", help="write a throughput corpus (e.g. 1GB)")
    parser.add_argument("--out", type=Path, help="output JSONL path (--docs / --scaled)")
    parser.add_argument("--compression", choices=("gzip", "zstd", "none"), default=None)
    parser.add_argument("--human-docs", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.sample:
        stats = write_sample(args.sample, args.human_docs)
        print(json.dumps(stats, indent=1))
        return 0
    if args.out is None:
        parser.error("--out is required with --docs and --scaled")
    from bench.prepare_text import load_human_docs, prepare

    if args.human_docs is None:
        prepare()
    docs = load_human_docs(args.human_docs)
    if args.scaled:
        stats = make_scaled_corpus(
            args.scaled, args.out, docs, seed=args.seed, compression=args.compression
        )
        print(json.dumps(stats, indent=1))
        return 0
    records, truth = make_corpus(docs, **bench_corpus_params(args.docs, args.seed))
    write_jsonl(records, args.out, args.compression)
    truth_path = args.out.with_name(args.out.name.split(".")[0] + ".truth.json")
    truth_path.write_text(json.dumps(truth, ensure_ascii=False) + "\n")
    print(json.dumps(truth["stats"], indent=1))
    print(f"wrote {args.out} and {truth_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
