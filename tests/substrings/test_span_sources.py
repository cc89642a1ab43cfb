"""Every spans row names an exact copy: its bytes equal the bytes at its source (CPU lane).

The real-text case stitches documents out of standard-library docstrings: passages copied
from several sources, side by side, overlapping, at shifted offsets, copied again from a
copy, with multi-byte characters at and near the edges of every copy.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import csv
import difflib
import functools
import heapq
import inspect
import itertools
import json
import os.path
import pathlib
import random
import re
import shutil
import statistics
import string
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.io import ReadOptions, plan_parts
from engine.substrings.cross_shard import substr_across_shards
from engine.substrings.options import SubstrOptions
from engine.substrings.spans import repeated_spans_arrays

FIELDS = ("doc_index", "start", "end", "source_doc_index", "source_start")
DOC_MODULES = (json, re, textwrap, itertools, functools, collections, os.path, string)
DOC_MODULES += (difflib, shutil, argparse, csv, pathlib, heapq, bisect, statistics)
WIDE = "éü—☕日本🐍ß"  # 2, 3 and 4 bytes in UTF-8
BENCH_TEXT = Path(__file__).resolve().parents[2] / "bench" / ".cache" / "human_docs.jsonl"


# --------------------------------------------------------------------------- corpus


def _docstrings() -> list[str]:
    """Docstrings (>= 300 characters) of the public callables of some stdlib modules."""
    found = set()
    for module in DOC_MODULES:
        for name, obj in sorted(vars(module).items()):
            if not name.startswith("_") and callable(obj):
                doc = inspect.getdoc(obj)
                if doc and len(doc) >= 300:
                    found.add(doc)
    return sorted(found)


def _sprinkle(text: str, rng: random.Random) -> str:
    """``text`` with about one character in 25 replaced by a multi-byte one."""
    chars = list(text)
    for i in range(0, len(chars), 25):
        chars[rng.randrange(i, min(i + 25, len(chars)))] = rng.choice(WIDE)
    return "".join(chars)


def _stitched_corpus(
    seed: int = 0, n_sources: int = 6, n_copies: int = 14, passages: list[str] | None = None
) -> list[str]:
    """Source documents (docstrings with multi-byte characters), then documents built
    from copies of them: single copies, copies of two sources side by side or joined by
    one multi-byte character, overlapping copies of one source, copies of earlier
    stitched documents, all between fresh text. ``passages``: the docstrings to use
    (default: all of :func:`_docstrings`)."""
    rng = random.Random(seed)
    passages = list(_docstrings() if passages is None else passages)
    rng.shuffle(passages)
    assert len(passages) >= 3 * n_sources, "too few standard-library docstrings"
    sources = [_sprinkle("\n\n".join(passages[3 * i : 3 * i + 3]), rng) for i in range(n_sources)]
    fresh = passages[3 * n_sources :]
    docs = list(sources)

    def piece(text: str, low: int = 60, high: int = 320) -> str:
        length = rng.randrange(low, high)
        start = rng.randrange(0, max(1, len(text) - length))
        return text[start : start + length]

    for _ in range(n_copies):
        parts = [piece(rng.choice(fresh), 10, 80)]
        for _ in range(rng.randrange(2, 5)):
            kind = rng.randrange(5)
            first, second = rng.sample(sources, 2)
            if kind == 0:  # two sources side by side
                parts.append(piece(first) + piece(second))
            elif kind == 1:  # two sources joined by one multi-byte character
                parts.append(piece(first) + rng.choice(WIDE) + piece(second))
            elif kind == 2:  # overlapping copies of one source
                start = rng.randrange(0, len(first) - 400)
                back = rng.randrange(20, 120)
                parts.append(first[start : start + 200] + first[start + 200 - back : start + 380])
            elif kind == 3:  # a copy of a copy
                parts.append(piece(rng.choice(docs[n_sources:] or sources), 80, 400))
            else:
                parts.append(piece(first))
            parts.append(rng.choice(["", " ", rng.choice(WIDE), piece(rng.choice(fresh), 5, 60)]))
        docs.append("".join(parts))
    return docs


@pytest.fixture(scope="module")
def stitched() -> list[bytes]:
    return [doc.encode("utf-8") for doc in _stitched_corpus()]


# --------------------------------------------------------------------------- checks


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def _rows(spans: dict) -> list[tuple[int, int, int, int, int]]:
    return list(zip(*(spans[f].tolist() for f in FIELDS), strict=True))


def check_exact(texts, rows, sources=None, keep="first") -> None:
    """Every row: bytes equal its source's, whole characters, ordered, no overlap;
    under keep="first" the source is an earlier corpus position."""
    sources = texts if sources is None else sources
    last = (-1, 0)
    for d, start, end, source_doc, source_start in rows:
        doc = texts[d]
        assert (d, start) >= last, "rows ordered by (doc, start), never overlapping"
        assert 0 <= start < end <= len(doc)
        assert doc[start:end] == sources[source_doc][source_start : source_start + end - start]
        assert not _is_continuation(doc[start])
        assert end == len(doc) or not _is_continuation(doc[end])
        if keep == "first" and sources is texts:
            assert (source_doc, source_start) < (d, start)
        last = (d, end)


def marked_windows(texts, min_span, keep="first", reference=None):
    """Per document ``{offset: (source_doc, source_offset)}`` of its marked windows, from
    the definition (every window compared with every other, in plain Python)."""
    corpus = list(texts) + list(reference or [])
    occurrences: dict[bytes, list[tuple[int, int]]] = {}
    for d, doc in enumerate(corpus):
        for p in range(len(doc) - min_span + 1):
            occurrences.setdefault(doc[p : p + min_span], []).append((d, p))
    marked = []
    for d, doc in enumerate(texts):
        windows = {}
        for p in range(len(doc) - min_span + 1):
            occ = occurrences[doc[p : p + min_span]]
            if reference is not None:
                refs = [(sd - len(texts), ss) for sd, ss in occ if sd >= len(texts)]
                if refs:
                    windows[p] = refs[0]
            elif keep == "first" and occ[0] != (d, p):
                windows[p] = occ[0]
            elif keep == "none" and len(occ) >= 2:
                windows[p] = next(o for o in occ if o != (d, p))
        marked.append(windows)
    return marked


def check_union(texts, rows, windows_by_doc, min_span) -> None:
    """The rows mark only bytes of marked windows, and every character that some marked
    window holds whole. (A character of a merged range that no window holds whole has
    no exact source unless the bytes run on; only such characters may be left out.)"""
    for d, doc in enumerate(texts):
        marked = bytearray(len(doc))
        for row in rows:
            if row[0] == d:
                marked[row[1] : row[2]] = b"\x01" * (row[2] - row[1])
        in_window = bytearray(len(doc))
        held = bytearray(len(doc))
        for p in windows_by_doc[d]:
            in_window[p : p + min_span] = b"\x01" * min_span
            start, end = p, p + min_span
            while start < end and _is_continuation(doc[start]):
                start += 1
            while end > start and end < len(doc) and _is_continuation(doc[end]):
                end -= 1
            held[start:end] = b"\x01" * (end - start)
        for x in range(len(doc)):
            assert in_window[x] or not marked[x], f"doc {d}: byte {x} marked outside windows"
            assert marked[x] or not held[x], f"doc {d}: byte {x} held by a window, not marked"


def check_all(texts, min_span, keep="first", reference=None) -> list[tuple]:
    spans = repeated_spans_arrays(texts, min_span=min_span, keep=keep, reference=reference)
    rows = _rows(spans)
    check_exact(texts, rows, reference, keep)
    check_union(texts, rows, marked_windows(texts, min_span, keep, reference), min_span)
    return rows


# --------------------------------------------------------------------------- real text


@pytest.mark.parametrize("keep", ["first", "none"])
def test_stitched_docstrings_every_row_exact(stitched, keep):
    rows = check_all(stitched, 50, keep)
    n_sources = 6
    copied = [r for r in rows if r[0] >= n_sources]
    assert len({r[3] for r in copied}) >= 5, "copies from several sources"
    # a merged range was split where its source changes: touching rows, other sources
    seams = [
        (a, b)
        for a, b in itertools.pairwise(rows)
        if a[0] == b[0] and a[2] == b[1] and (a[3], a[4] + a[2] - a[1]) != (b[3], b[4])
    ]
    assert len(seams) >= 3
    wide_edges = [
        r for r in rows if stitched[r[0]][r[1]] >= 0xC0 or stitched[r[0]][r[2] - 1] >= 0x80
    ]
    assert wide_edges, "multi-byte characters at the edges of some rows"


def test_stitched_docstrings_against_sources_as_reference(stitched):
    n_sources = 6
    sources, copies = stitched[:n_sources], stitched[n_sources:]
    rows = check_all(copies, 50, reference=sources)
    assert len({r[3] for r in rows}) == n_sources
    table = engine.repeated_spans(
        copies,
        doc_ids=[f"copy{i}" for i in range(len(copies))],
        reference=sources,
        reference_ids=[f"src{i}" for i in range(n_sources)],
        min_span=50,
        backend="cpu",
    )
    by_id = {f"src{i}": doc for i, doc in enumerate(sources)}
    by_id.update({f"copy{i}": doc for i, doc in enumerate(copies)})
    for row in table.to_pylist():
        piece = by_id[row["doc_id"]][row["start"] : row["end"]]
        start = row["source_start"]
        assert by_id[row["source_doc_id"]][start : start + len(piece)] == piece


@pytest.mark.skipif(not BENCH_TEXT.exists(), reason="bench text cache absent")
def test_bench_human_docs_every_row_exact():
    texts, total = [], 0
    with BENCH_TEXT.open(encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"].encode("utf-8"))
            total += len(texts[-1])
            if total > 1_500_000:
                break
    for keep in ("first", "none"):
        rows = _rows(repeated_spans_arrays(texts, min_span=100, keep=keep))
        assert len(rows) > 100
        check_exact(texts, rows, keep=keep)


# --------------------------------------------------------------------------- properties


def _stitch(data, pieces, joins):
    """Documents made of slices of ``pieces`` (a few random strings) and join text."""
    docs = []
    for doc_parts in data:
        text = ""
        for which, start, length, join in doc_parts:
            source = pieces[which % len(pieces)]
            start %= max(1, len(source))
            text += source[start : start + length] + joins[join % len(joins)]
        docs.append(text.encode("utf-8"))
    return docs


alphabet = st.sampled_from("abcé☕🐍")
stitch_plan = st.lists(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 60), st.integers(0, 40), st.integers(0, 9)),
        max_size=4,
    ),
    min_size=1,
    max_size=6,
)
random_pieces = st.lists(st.text(alphabet, min_size=1, max_size=60), min_size=1, max_size=3)
joins = st.lists(st.text(alphabet, max_size=3), min_size=1, max_size=3)


@settings(max_examples=120, deadline=None)
@given(stitch_plan, random_pieces, joins, st.integers(1, 9), st.sampled_from(["first", "none"]))
def test_stitched_random_text_every_row_exact(plan, pieces, join_texts, min_span, keep):
    check_all(_stitch(plan, pieces, join_texts), min_span, keep)


@settings(max_examples=80, deadline=None)
@given(stitch_plan, stitch_plan, random_pieces, joins, st.integers(1, 9))
def test_reference_mode_every_row_exact(plan, reference_plan, pieces, join_texts, min_span):
    texts = _stitch(plan, pieces, join_texts)
    reference = _stitch(reference_plan, pieces, join_texts)
    check_all(texts, min_span, reference=reference)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.binary(max_size=40).map(lambda b: bytes(x % 3 + 97 for x in b)), max_size=6),
    st.integers(1, 6),
    st.sampled_from(["first", "none"]),
)
def test_periodic_small_alphabet_every_row_exact(texts, min_span, keep):
    check_all(texts, min_span, keep)


def test_periodic_text_stays_one_row():
    # keep="first" marks every window but the first with shifts -2, -4, ...: one row
    assert check_all([b"ab" * 200], 10) == [(0, 2, 400, 0, 0)]
    assert check_all([b"a" * 300], 10) == [(0, 1, 300, 0, 0)]
    text = b"xyz" * 50 + b"Q" + b"xyz" * 50
    assert check_all([text], 10) == [(0, 3, 150, 0, 0), (0, 151, 301, 0, 0)]


# --------------------------------------------------------------------------- cross-shard


@pytest.mark.parametrize("keep", ["first", "none"])
def test_cross_shard_equals_one_call(tmp_path, keep):
    # three corpora on disjoint docstrings: separate groups, interleaved over the files
    passages = _docstrings()
    third = len(passages) // 3
    corpora = [
        _stitched_corpus(seed, 3, 5, passages[seed * third : (seed + 1) * third])
        for seed in range(3)
    ]
    texts = [doc for docs in itertools.zip_longest(*corpora) for doc in docs if doc is not None]
    ids = [f"doc{i}" for i in range(len(texts))]
    paths = []
    for f in range(3):
        path = tmp_path / f"part{f}.jsonl"
        lines = [
            json.dumps({"id": ids[i], "text": texts[i]}, ensure_ascii=False)
            for i in range(f * len(texts) // 3, (f + 1) * len(texts) // 3)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    want = engine.repeated_spans(texts, doc_ids=ids, min_span=50, keep=keep, backend="cpu")
    got, counts = substr_across_shards(
        plan_parts(paths, 6000),
        options=SubstrOptions(
            min_span=50, keep=keep, shard_size=4000, read=ReadOptions(id_column="id")
        ),
        backend="cpu",
        work=tmp_path / "work",
        scheduler="threads",
        workers=2,
        k=16,
    )
    assert counts["groups"] >= 2 and counts["batches"] >= 2
    assert got.equals(want)
    by_id = dict(zip(ids, (t.encode("utf-8") for t in texts), strict=True))
    rows = got.to_pylist()
    for row in rows:
        piece = by_id[row["doc_id"]][row["start"] : row["end"]]
        start = row["source_start"]
        assert by_id[row["source_doc_id"]][start : start + len(piece)] == piece
    touching = [
        (a, b)
        for a, b in itertools.pairwise(rows)
        if (a["doc_id"], a["end"]) == (b["doc_id"], b["start"])
    ]
    assert touching, "some ranges were split where their source changes"
