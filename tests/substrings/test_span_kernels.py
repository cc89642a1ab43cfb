"""The compiled span kernels (kernels.spans) on their own, against plain Python (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.substrings.spans import pack_with_separators
from kernels.lcp import lcp_array
from kernels.spans import (
    MODE_ACROSS,
    MODE_FIRST,
    MODE_NONE,
    UNMARKED,
    is_continuation,
    mark_windows,
    merge_and_snap,
    window_starts,
)
from kernels.suffix_array import suffix_array


def _valid(doc_starts, min_span, total):
    return window_starts(
        doc_starts, np.int64(len(doc_starts) - 1), np.int64(min_span), np.int64(total)
    )


def test_is_continuation():
    assert [bool(is_continuation(b)) for b in (0x41, 0x80, 0xBF, 0xC3, 0xFF)] == [
        False,
        True,
        True,
        False,
        False,
    ]


def test_window_starts_stay_inside_documents():
    data, starts = pack_with_separators([b"abcd", b"", b"xy", b"z"])
    valid = _valid(starts, 2, data.shape[0])
    assert valid.dtype == np.bool_ and valid.shape == data.shape
    assert np.flatnonzero(valid).tolist() == [0, 1, 2, 6]


def _brute_sources(data, valid, min_span, mode, reference_start):
    """sources[p] from the definition: every valid window compared with every other."""
    occurrences: dict[bytes, list[int]] = {}
    for p in np.flatnonzero(valid).tolist():
        occurrences.setdefault(data[p : p + min_span].tobytes(), []).append(p)
    sources = np.full(data.shape[0], -1, dtype=np.int64)
    for positions in occurrences.values():
        for p in positions:
            if mode == MODE_ACROSS:
                refs = [q for q in positions if q >= reference_start]
                if p < reference_start and refs:
                    sources[p] = min(refs)
            elif len(positions) >= 2:
                others = [q for q in positions if q != p]
                if p != positions[0]:
                    sources[p] = positions[0]
                elif mode == MODE_NONE:
                    sources[p] = min(others)
    return sources


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", [MODE_FIRST, MODE_NONE, MODE_ACROSS])
def test_mark_windows_against_brute_force(seed, mode):
    rng = np.random.default_rng(seed)
    docs = [bytes(rng.choice(list(b"ab\xff"), size=rng.integers(0, 25))) for _ in range(6)]
    min_span = int(rng.integers(1, 5))
    data, starts = pack_with_separators(docs)
    reference_start = np.int64(starts[3])
    valid = _valid(starts, min_span, data.shape[0])
    sa = suffix_array(data, backend="cpu")
    lcp = lcp_array(data, sa, backend="cpu", max_lcp=min_span)
    got = mark_windows(sa, lcp, valid, np.int64(min_span), mode, reference_start)
    want = _brute_sources(data, valid, min_span, mode, int(reference_start))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def _merge(docs: list[bytes], marks: dict[int, int], min_span: int, n_text_docs: int = 1):
    """Rows of merge_and_snap for hand-made marks {window position: source position}
    (global positions of the packed ``docs``); every mark must be a true copy, and every
    row is checked to be one."""
    packed, doc_starts = pack_with_separators(docs)
    data = packed.tobytes()
    sources = np.full(packed.shape[0], UNMARKED, dtype=np.int64)
    for p, source in marks.items():
        assert data[p : p + min_span] == data[source : source + min_span]
        sources[p] = source
    rows = merge_and_snap(packed, doc_starts, np.int64(n_text_docs), sources, np.int64(min_span))
    assert all(column.dtype == np.int64 for column in rows)
    rows = [tuple(int(v) for v in row) for row in zip(*rows)]
    for d, start, end, source in rows:
        piece = docs[d][start:end]
        assert data[source : source + len(piece)] == piece
    return rows


def test_merge_overlapping_windows_of_one_copy():
    docs = [b"abcdefgh", b"abcdefgh"]  # doc 1 starts at 9
    assert _merge(docs, {1: 10, 2: 11}, 3) == [(0, 1, 5, 10)]
    assert _merge(docs, {0: 9, 4: 13}, 3) == [(0, 0, 3, 9), (0, 4, 7, 13)]


def test_touching_windows_of_different_copies_are_split():
    docs = [b"abcdef", b"abc", b"def"]  # starts 0, 7, 11
    assert _merge(docs, {0: 7, 3: 11}, 3) == [(0, 0, 3, 7), (0, 3, 6, 11)]


def test_overlapping_copies_farthest_reaching_first():
    # one copy holds the whole range: the window of another copy inside it adds nothing
    docs = [b"abcdef", b"abcdef", b"bcd"]  # starts 0, 7, 14
    assert _merge(docs, {0: 7, 1: 14, 2: 9, 3: 10}, 3) == [(0, 0, 6, 7)]
    # two copies overlap on "cd": the first runs to its end, the second takes the rest
    docs = [b"abcdef", b"abcd", b"cdef"]  # starts 0, 7, 12
    assert _merge(docs, {0: 7, 1: 8, 2: 12, 3: 13}, 3) == [(0, 0, 4, 7), (0, 4, 6, 14)]


def test_piece_runs_on_while_bytes_match():
    # keep-first marks of periodic text: shifts -2, -4, -6, yet one piece
    docs = [b"abababab"]
    assert _merge(docs, {2: 0, 3: 1, 4: 0, 5: 1, 6: 0}, 2) == [(0, 2, 8, 0)]


def test_merge_offsets_are_per_document_and_reference_is_not_scanned():
    docs = [b"abcd", b"abcd", b"abcd"]
    marks = {5: 0, 10: 0}
    assert _merge(docs, marks, 4, n_text_docs=2) == [(1, 0, 4, 0)]
    assert _merge(docs, marks, 4, n_text_docs=3) == [(1, 0, 4, 0), (2, 0, 4, 0)]


def test_snapping_moves_start_and_source_together():
    # window [2, 4) starts on the continuation byte of "é": the range becomes [3, 4)
    assert _merge(["aébc".encode(), "©b".encode()], {2: 7}, 2) == [(0, 3, 4, 8)]
    # the end moves back to the start of the character it would cut
    assert _merge(["abé".encode(), "abÃ".encode()], {0: 5}, 3) == [(0, 0, 2, 5)]


def test_split_inside_a_character_moves_to_its_start():
    # copy A ("a" + the lead byte of "é") ends inside "é"; copy B holds "é" whole
    docs = ["aéb".encode(), "aÃ".encode(), "éb".encode()]  # starts 0, 5, 9
    assert _merge(docs, {0: 5, 1: 9, 2: 10}, 2) == [(0, 0, 1, 5), (0, 1, 4, 9)]


def test_character_no_copy_holds_whole_is_left_out():
    # "é" = C3 A9: its lead byte copies "Ã" (C3 83), its continuation byte "©" (C2 A9)
    docs = ["aéb".encode(), "aÃ".encode(), "©b".encode()]  # starts 0, 5, 9
    assert _merge(docs, {0: 5, 2: 10}, 2) == [(0, 0, 1, 5), (0, 3, 4, 11)]


def test_snapping_drops_a_range_inside_one_character():
    assert _merge(["a☕".encode(), "☕".encode()], {2: 6}, 1) == []
