"""Provenance normalization on arbitrary bytes: invalid UTF-8 becomes U+FFFD (3 bytes
from 1), so the output may outgrow the input; the buffers must grow, not overrun."""

from __future__ import annotations

import numpy as np

from kernels.normalize import normalize_packed


def _normalize(chunks: list[bytes], with_map: bool):
    data = np.frombuffer(b"".join(chunks), np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
    return normalize_packed(data, offsets, with_map=with_map)


def test_invalid_utf8_expands_without_overrun():
    chunks = [b"\x80" * 1000, b"ok \xff\xfe text", b"", b"\xc3" * 7 + b"end"]
    for with_map in (False, True):
        norm, offsets, start, end = _normalize(chunks, with_map)
        assert offsets[0] == 0 and offsets[-1] == len(norm)
        first = bytes(norm[offsets[0] : offsets[1]]).decode("utf-8")  # valid UTF-8
        assert set(first) <= {"\ufffd", " "} and first.count("\ufffd") >= 1
        assert 0xFF not in norm
        if with_map:
            assert len(start) == len(end) == len(norm)
            assert np.all(start < end)


def test_valid_text_unchanged_by_growing_buffers():
    # distinct three-letter words: no periodic run, which normalization cuts on purpose
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = " ".join(
        letters[k // 676] + letters[k // 26 % 26] + letters[k % 26]
        for k in (i * 7919 % 17576 for i in range(1500))
    )
    chunks = [b"Hello,\r\n  WORLD", words.encode()]
    norm, offsets, _, _ = _normalize(chunks, False)
    assert bytes(norm[offsets[0] : offsets[1]]) == b"hello, world"
    assert bytes(norm[offsets[1] : offsets[2]]) == words.encode()
