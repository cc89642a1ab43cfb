"""Repeated-substring spans against a brute-force reference (CPU lane)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.substrings.spans import (
    SPANS_SCHEMA,
    pack_with_separators,
    remove_spans,
    repeated_spans,
    repeated_spans_arrays,
)
from kernels.text_reference import exact_span_pieces

FIELDS = ("doc_index", "start", "end", "source_doc_index", "source_start")


def is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def brute_force_spans(texts, min_span, keep="first", reference=None):
    """Every window of every document, compared with every other window, in plain Python;
    the marked windows of each document cut into pieces by the plain-Python definition
    (:func:`kernels.text_reference.exact_span_pieces`).

    Returns rows (doc_index, start, end, source_doc_index, source_start).
    """
    corpus = list(texts) + list(reference or [])
    n_text = len(texts)
    occurrences: dict[bytes, list[tuple[int, int]]] = {}
    for d, doc in enumerate(corpus):
        for p in range(len(doc) - min_span + 1):
            occurrences.setdefault(doc[p : p + min_span], []).append((d, p))
    rows = []
    for d, doc in enumerate(texts):
        windows = {}  # offset -> (source_doc, source_offset)
        for p in range(len(doc) - min_span + 1):
            occ = occurrences[doc[p : p + min_span]]  # in (doc, offset) order
            if reference is not None:
                refs = [o for o in occ if o[0] >= n_text]
                if refs:
                    windows[p] = (refs[0][0] - n_text, refs[0][1])
            elif keep == "first":
                if occ[0] != (d, p):
                    windows[p] = occ[0]
            else:
                others = [o for o in occ if o != (d, p)]
                if others:
                    windows[p] = others[0]
        rows.extend(
            (d, *row) for row in exact_span_pieces(doc, windows, min_span, list(reference or texts))
        )
    return rows


def as_rows(spans):
    return list(zip(*(spans[f].tolist() for f in FIELDS), strict=True))


def check_against_brute_force(texts, min_span, keep="first", reference=None):
    spans = repeated_spans_arrays(texts, min_span=min_span, keep=keep, reference=reference)
    for field in FIELDS:
        assert spans[field].dtype == np.int64
    assert as_rows(spans) == brute_force_spans(texts, min_span, keep, reference)
    return spans


small_docs = st.lists(
    st.binary(max_size=40).map(lambda b: bytes(x % 3 + 97 for x in b)), max_size=6
)


@settings(max_examples=150, deadline=None)
@given(small_docs, st.integers(1, 6), st.sampled_from(["first", "none"]))
def test_against_brute_force_small_alphabet(texts, min_span, keep):
    check_against_brute_force(texts, min_span, keep)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.binary(max_size=30).map(lambda b: bytes(x % 4 for x in b)), max_size=5),
    st.lists(st.binary(max_size=30).map(lambda b: bytes(x % 4 for x in b)), max_size=4),
    st.integers(1, 5),
)
def test_across_against_brute_force(texts, reference, min_span):
    spans = check_against_brute_force(texts, min_span, reference=reference)
    assert spans["source_is_reference"].all()
    assert spans["source_is_reference"].dtype == np.bool_


# Bytes that include 0xFF (the separator) and UTF-8 lead/continuation bytes.
tricky_bytes = st.lists(
    st.lists(st.sampled_from([0x61, 0xFF, 0xC3, 0xA9, 0xE4, 0xB8, 0x80]), max_size=30).map(bytes),
    max_size=5,
)


@settings(max_examples=120, deadline=None)
@given(tricky_bytes, st.integers(1, 5), st.sampled_from(["first", "none"]))
def test_separator_and_continuation_bytes(texts, min_span, keep):
    check_against_brute_force(texts, min_span, keep)


utf8_docs = st.lists(
    st.text(alphabet="ab重复🐍سلامé", max_size=15).map(lambda s: s.encode()), max_size=5
)


@settings(max_examples=120, deadline=None)
@given(utf8_docs, st.integers(1, 9), st.sampled_from(["first", "none"]))
def test_utf8_never_cut(texts, min_span, keep):
    spans = check_against_brute_force(texts, min_span, keep)
    for d, start, end in zip(spans["doc_index"], spans["start"], spans["end"], strict=True):
        doc = texts[d]
        doc[start:end].decode("utf-8")  # both ends on character boundaries
        remove_spans(doc, [start], [end]).decode("utf-8")


# --- hand-written cases ----------------------------------------------------------------


def test_copy_in_later_document_keep_first():
    shared = b"The quick brown fox jumps over the lazy dog. " * 3
    texts = [b"intro:" + shared + b" outro", b"other-" + shared, b"unrelated text here"]
    rows = as_rows(repeated_spans_arrays(texts, min_span=20))
    # doc 0 repeats itself (the shared part is periodic), doc 1 repeats doc 0
    assert [r for r in rows if r[0] == 0] == [(0, 51, 6 + len(shared), 0, 6)]
    assert [r for r in rows if r[0] == 1] == [(1, 6, 6 + len(shared), 0, 6)]
    assert remove_spans(texts[1], [6], [6 + len(shared)]) == b"other-"
    assert not [r for r in rows if r[0] == 2]


def test_keep_none_marks_every_copy():
    shared = b"0123456789abcdefghij"
    texts = [b"x" + shared, b"yy" + shared + b"z"]
    rows = as_rows(repeated_spans_arrays(texts, min_span=10, keep="none"))
    assert rows == [(0, 1, 21, 1, 2), (1, 2, 22, 0, 1)]
    rows_first = as_rows(repeated_spans_arrays(texts, min_span=10, keep="first"))
    assert rows_first == [(1, 2, 22, 0, 1)]


def test_identical_documents():
    doc = b"identical document body, long enough to repeat."
    rows = as_rows(repeated_spans_arrays([doc] * 4, min_span=10))
    assert rows == [(d, 0, len(doc), 0, 0) for d in (1, 2, 3)]


def test_no_match_across_document_boundary():
    # "abcdef" only exists across the boundary of docs 0 and 1.
    texts = [b"xxabc", b"defyy", b"abcdef"]
    assert as_rows(repeated_spans_arrays(texts, min_span=4)) == []
    assert as_rows(repeated_spans_arrays(texts, min_span=4, keep="none")) == []


def test_separator_byte_inside_documents_does_not_join_them():
    texts = [b"ab\xffcd", b"ab", b"cd", b"ab\xffcd"]
    rows = as_rows(repeated_spans_arrays(texts, min_span=5))
    assert rows == [(3, 0, 5, 0, 0)]


@pytest.mark.parametrize(
    "text, char",
    [
        ("重复的子字符串在这里重复的子字符串", "重"),
        ("🐍🐍 snake 🐍🐍 snake", "🐍"),
        ("سلام دنیا، سلام دنیا", "س"),
        ("naïve café, naïve café", "é"),
    ],
)
def test_match_boundary_inside_multibyte_character(text, char):
    raw = text.encode()
    for min_span in range(1, 12):
        for keep in ("first", "none"):
            spans = check_against_brute_force([raw, raw[3:]], min_span, keep)
            for d, start, end in zip(spans["doc_index"], spans["start"], spans["end"], strict=True):
                doc = [raw, raw[3:]][d]
                assert not is_continuation(doc[start])
                assert end == len(doc) or not is_continuation(doc[end])


def test_snapping_moves_source_start_with_start():
    # doc 1 starts with the last two bytes of "é" (C3 A9): the window starting at A9
    # is snapped forward one byte, and source_start moves with it.
    texts = [b"\xc3\xa9abcdef", b"\xa9abcdef"]
    rows = as_rows(repeated_spans_arrays(texts, min_span=3))
    assert rows == [(1, 1, 7, 0, 2)]


def test_snapping_can_drop_a_range():
    # doc 1's window [0, 2) is two continuation bytes: snapping leaves nothing
    texts = [b"x\xa9\xa9", b"\xa9\xa9y"]
    assert brute_force_spans(texts, 2) == []
    assert as_rows(repeated_spans_arrays(texts, min_span=2)) == []
    assert as_rows(check_against_brute_force(texts, 1)) == []


def test_periodic_keep_first_caveat():
    rows = as_rows(repeated_spans_arrays([b"a" * 300], min_span=100))
    assert rows == [(0, 1, 300, 0, 0)]


def test_across_mode_ignores_repeats_inside_texts():
    ref = [b"reference text that was generated by a model"]
    texts = [b"copy: text that was generated by", b"own repeat own repeat own repeat"]
    spans = repeated_spans_arrays(texts, min_span=10, reference=ref)
    assert as_rows(spans) == [(0, 5, 32, 0, 9)]
    assert spans["source_is_reference"].tolist() == [True]


def test_across_mode_empty_reference():
    spans = repeated_spans_arrays([b"aaaaaaaaaaaa"], min_span=3, reference=[])
    assert as_rows(spans) == []
    assert "source_is_reference" in spans


def test_empty_corpus_and_empty_docs():
    for texts in ([], [b""], [b"", b"", b""], [b"short", b""]):
        spans = repeated_spans_arrays(texts, min_span=3)
        assert set(spans) == set(FIELDS)
        assert all(spans[f].size == 0 for f in FIELDS)
    rows = as_rows(repeated_spans_arrays([b"", b"abcabc", b"", b"abc"], min_span=3))
    assert rows == [(1, 3, 6, 1, 0), (3, 0, 3, 1, 0)]
    table = repeated_spans([], min_span=5)
    assert table.schema == SPANS_SCHEMA and table.num_rows == 0


def test_min_span_longer_than_every_document():
    assert as_rows(repeated_spans_arrays([b"abc", b"abc"], min_span=4)) == []


# --- the table API ---------------------------------------------------------------------


TEXTS = ["one two three four five six", "zero one two three four five", "nothing here"]


def expected_table_rows(ids):
    return [{"doc_id": ids[1], "start": 5, "end": 28, "source_doc_id": ids[0], "source_start": 0}]


@pytest.mark.parametrize(
    "container",
    [
        list,
        lambda t: [s.encode() for s in t],
        pa.array,
        lambda t: pa.array(t, type=pa.large_string()),
        lambda t: pa.chunked_array([t[:1], t[1:]]),
        lambda t: pa.array([s.encode() for s in t], type=pa.binary()),
        pd.Series,
    ],
)
def test_table_from_containers(container):
    table = repeated_spans(container(TEXTS), min_span=8, backend="cpu")
    assert table.schema == SPANS_SCHEMA
    assert table.to_pylist() == expected_table_rows(["0", "1", "2"])


def test_table_doc_ids_and_reference_ids():
    table = repeated_spans(TEXTS, doc_ids=["a", "b", "c"], min_span=8)
    assert table.to_pylist() == expected_table_rows(["a", "b", "c"])
    table = repeated_spans(
        ["xx one two three four"], reference=TEXTS, reference_ids=[10, 11, 12], min_span=8
    )
    assert table.schema == SPANS_SCHEMA
    assert table.to_pylist() == [
        {"doc_id": "0", "start": 2, "end": 21, "source_doc_id": "11", "source_start": 4}
    ]
    table = repeated_spans(["xx one two three four"], reference=TEXTS, min_span=8)
    assert table.column("source_doc_id").to_pylist() == ["ref:1"]


def test_table_matches_arrays():
    texts = [b"abcabcabc", b"xabcabcx", b"abc"]
    spans = repeated_spans_arrays(texts, min_span=3, keep="none")
    table = repeated_spans(texts, min_span=3, keep="none", backend="cpu")
    assert table.column("start").to_pylist() == spans["start"].tolist()
    assert table.column("doc_id").to_pylist() == [str(d) for d in spans["doc_index"]]


# --- packing and removal ---------------------------------------------------------------


def test_pack_with_separators():
    data, starts = pack_with_separators([b"ab", b"", "é"])
    assert data.dtype == np.uint8 and starts.dtype == np.int64
    assert bytes(data) == b"ab\xff\xff\xc3\xa9\xff"
    assert starts.tolist() == [0, 3, 4, 7]
    data, starts = pack_with_separators([])
    assert data.size == 0 and starts.tolist() == [0]


def test_remove_spans():
    assert remove_spans(b"0123456789", [2, 4, 8], [5, 6, 9]) == b"01679"
    assert remove_spans(b"0123456789", [], []) == b"0123456789"
    assert remove_spans(b"abc", [0], [3]) == b""
    with pytest.raises(ValueError, match="len\\(text\\)"):
        remove_spans(b"abc", [1], [4])
    with pytest.raises(ValueError, match="start <= end"):
        remove_spans(b"abc", [2], [1])
    with pytest.raises(ValueError, match="length"):
        remove_spans(b"abc", [0, 1], [2])


# --- parameter errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_span": 0}, "min_span must be >= 1"),
        ({"min_span": -5}, "min_span must be >= 1"),
        ({"min_span": 2.5}, "integer"),
        ({"keep": "last"}, "keep must be 'first'"),
        ({"backend": "tpu"}, "backend"),
    ],
)
def test_parameter_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        repeated_spans_arrays([b"abc"], **kwargs)
    with pytest.raises(ValueError, match=message):
        repeated_spans(["abc"], **kwargs)


def test_input_errors():
    with pytest.raises(ValueError, match="not a single string"):
        repeated_spans("just one string")
    with pytest.raises(ValueError, match=r"texts\[1\] is None"):
        repeated_spans(["a", None])
    with pytest.raises(ValueError, match=r"texts\[0\] is int"):
        repeated_spans([3])
    with pytest.raises(ValueError, match="null"):
        repeated_spans(pa.array(["a", None]))
    with pytest.raises(ValueError, match="doc_ids has 1 entries"):
        repeated_spans(["a", "b"], doc_ids=["x"])
    with pytest.raises(ValueError, match="reference_ids was given without reference"):
        repeated_spans(["a"], reference_ids=["r"])
