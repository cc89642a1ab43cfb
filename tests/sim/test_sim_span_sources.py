"""Exact span sources on the CUDA backend (simulator or device) equal the cpu backend."""

from __future__ import annotations

import pytest

from engine.substrings.spans import repeated_spans_arrays

SOURCES = [
    "Return a new partial object which when called will behave like func — café ☕. ",
    "Split the string at the first occurrence of sep, and return a 3-tuple 日本語. ",
    "Make an iterator that aggregates elements from each of the iterables 🐍 ß. ",
]
FIELDS = ("doc_index", "start", "end", "source_doc_index", "source_start")


def _texts() -> list[bytes]:
    a, b, c = SOURCES
    copies = [
        "intro " + a[5:60] + b[10:70] + " outro",  # two sources side by side
        b[:40] + "é" + c[3:65],  # joined by one multi-byte character
        a[:50] + a[30:75] + c,  # overlapping copies of one source, then another
    ]
    return [text.encode("utf-8") for text in SOURCES + copies]


@pytest.mark.parametrize("keep", ["first", "none"])
def test_exact_sources_cuda_equals_cpu(keep):
    texts = _texts()
    cpu = repeated_spans_arrays(texts, min_span=12, keep=keep, backend="cpu")
    gpu = repeated_spans_arrays(texts, min_span=12, keep=keep, backend="cuda")
    for field in FIELDS:
        assert gpu[field].tolist() == cpu[field].tolist()
    rows = list(zip(*(cpu[f].tolist() for f in FIELDS), strict=True))
    assert len({r[3] for r in rows}) >= 3
    for d, start, end, source_doc, source_start in rows:
        piece = texts[d][start:end]
        assert texts[source_doc][source_start : source_start + len(piece)] == piece
        piece.decode("utf-8")
