"""Suffix arrays and LCP arrays on the CPU: pydivsufsort, the njit twins, brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydivsufsort import divsufsort

from kernels.lcp import lcp_array, lcp_array_phi_cpu
from kernels.suffix_array import suffix_array, suffix_array_prefix_doubling_cpu


def brute_force_sa(data: np.ndarray) -> np.ndarray:
    symbols = data.tolist()
    return np.array(sorted(range(len(symbols)), key=lambda i: symbols[i:]), dtype=np.int64)


def brute_force_lcp(data: np.ndarray, sa: np.ndarray, cap: int | None = None) -> np.ndarray:
    symbols = data.tolist()
    out = np.zeros(len(sa), dtype=np.int64)
    for j in range(1, len(sa)):
        a, b = symbols[sa[j - 1] :], symbols[sa[j] :]
        length = 0
        while length < min(len(a), len(b)) and a[length] == b[length]:
            length += 1
        out[j] = length if cap is None else min(length, cap)
    return out


def as_u8(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.uint8)


def reference_sa(data: np.ndarray) -> np.ndarray:
    return np.asarray(divsufsort(np.array(data, dtype=np.uint8)), dtype=np.int64)


def fibonacci_string(n_bytes: int) -> bytes:
    a, b = b"a", b"ab"
    while len(b) < n_bytes:
        a, b = b, b + a
    return b[:n_bytes]


ADVERSARIAL = {
    "one_byte": b"a" * 300,
    "zeros": b"\x00" * 129,
    "ff": b"\xff" * 70,
    "period2": b"ab" * 150,
    "period7": b"abcdefg" * 40 + b"abc",
    "fibonacci": fibonacci_string(400),
    "identical_docs": b"\xff".join([b"the same document, again and again. "] * 12),
    "trailing_zero": b"abc\x00abc\x00",
    "run_then_tail": b"a" * 64 + b"b" + b"a" * 64,
}

REALISH = (
    "Ouroboros finds repeated substrings. Es findet wiederholte Teilzeichenketten. "
    "重复的子字符串 — זיהוי מחרוזות חוזרות — رشته‌های تکراری 🐍🐍 "
).encode() * 3


# --- suffix arrays -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_matches_divsufsort(name):
    data = as_u8(ADVERSARIAL[name])
    expected = reference_sa(data)
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data, wide_keys=True), expected)


def test_realish_text_matches_divsufsort_and_brute_force():
    data = as_u8(REALISH)
    expected = brute_force_sa(data)
    np.testing.assert_array_equal(reference_sa(data), expected)
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: st.binary(max_size=200).map(lambda b: (b, k))))
def test_random_bytes_small_alphabets(raw_and_alphabet):
    raw, alphabet = raw_and_alphabet
    data = (np.frombuffer(raw, dtype=np.uint8) % np.uint8(alphabet)).astype(np.uint8)
    result = suffix_array(data, backend="cpu")
    assert result.dtype == np.int64
    expected = brute_force_sa(data)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_full_alphabet(raw):
    data = as_u8(raw)
    expected = reference_sa(data) if len(raw) > 1 else np.arange(len(raw), dtype=np.int64)
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 65535), max_size=120),
    st.sampled_from([2, 3, 300, 65536]),
)
def test_uint16_against_brute_force(values, modulus):
    data = (np.array(values, dtype=np.int64) % modulus).astype(np.uint16)
    expected = brute_force_sa(data)
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data, wide_keys=True), expected)


def test_uint16_separators_sort_after_bytes():
    data = np.array([97, 98, 256, 97, 98, 257, 97, 98, 65535], dtype=np.uint16)
    expected = brute_force_sa(data)
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), expected)
    np.testing.assert_array_equal(suffix_array_prefix_doubling_cpu(data), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_empty_and_single(dtype):
    for fn in (lambda d: suffix_array(d, backend="cpu"), suffix_array_prefix_doubling_cpu):
        empty = fn(np.zeros(0, dtype=dtype))
        assert empty.dtype == np.int64 and empty.shape == (0,)
        single = fn(np.array([7], dtype=dtype))
        np.testing.assert_array_equal(single, np.array([0], dtype=np.int64))
        assert single.dtype == np.int64


def test_readonly_input_is_accepted():
    data = as_u8(b"mississippi")
    assert not data.flags.writeable
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), brute_force_sa(data))


def test_non_contiguous_input():
    data = as_u8(b"xmxixsxsxixsxsxixpxpxi")[1::2]
    np.testing.assert_array_equal(suffix_array(data, backend="cpu"), brute_force_sa(data))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 3), dtype=np.uint8), "1-D"),
        (np.zeros(4, dtype=np.int32), "uint8 or uint16"),
        (np.zeros(4, dtype=np.float64), "uint8 or uint16"),
        (b"bytes are not arrays", "np.frombuffer"),
    ],
)
def test_validation(bad, message):
    with pytest.raises(ValueError, match=message):
        suffix_array(bad, backend="cpu")
    with pytest.raises(ValueError, match=message):
        suffix_array_prefix_doubling_cpu(bad)


def test_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        suffix_array(as_u8(b"abc"), backend="tpu")


# --- LCP -----------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(
    st.integers(1, 3).flatmap(lambda k: st.binary(max_size=160).map(lambda b: (b, k))),
    st.sampled_from([None, 0, 1, 4, 50]),
    st.sampled_from([1, 2, 7, 256]),
)
def test_lcp_against_brute_force(raw_and_alphabet, cap, chunk):
    raw, alphabet = raw_and_alphabet
    data = (np.frombuffer(raw, dtype=np.uint8) % np.uint8(alphabet)).astype(np.uint8)
    sa = suffix_array(data, backend="cpu")
    expected = brute_force_lcp(data, sa, cap)
    kasai = lcp_array(data, sa, backend="cpu", max_lcp=cap)
    assert kasai.dtype == np.int64
    np.testing.assert_array_equal(kasai, expected)
    np.testing.assert_array_equal(lcp_array_phi_cpu(data, sa, max_lcp=cap, chunk=chunk), expected)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_lcp_adversarial(name):
    data = as_u8(ADVERSARIAL[name])
    sa = suffix_array(data, backend="cpu")
    expected = brute_force_lcp(data, sa)
    np.testing.assert_array_equal(lcp_array(data, sa, backend="cpu"), expected)
    np.testing.assert_array_equal(lcp_array_phi_cpu(data, sa, chunk=16), expected)


def test_lcp_uint16():
    rng = np.random.default_rng(5)
    data = rng.integers(0, 3, 150).astype(np.uint16) + np.uint16(300)
    sa = suffix_array(data, backend="cpu")
    expected = brute_force_lcp(data, sa)
    np.testing.assert_array_equal(lcp_array(data, sa, backend="cpu"), expected)
    np.testing.assert_array_equal(lcp_array_phi_cpu(data, sa, chunk=5), expected)


def test_lcp_empty_and_single():
    for n in (0, 1):
        data = np.zeros(n, dtype=np.uint8)
        sa = np.arange(n, dtype=np.int64)
        np.testing.assert_array_equal(lcp_array(data, sa, backend="cpu"), np.zeros(n, np.int64))
        np.testing.assert_array_equal(lcp_array_phi_cpu(data, sa), np.zeros(n, np.int64))


def test_lcp_validation():
    data = as_u8(b"banana")
    sa = suffix_array(data, backend="cpu")
    with pytest.raises(ValueError, match="int64"):
        lcp_array(data, sa.astype(np.int32), backend="cpu")
    with pytest.raises(ValueError, match="same|this very text"):
        lcp_array(data, sa[:-1], backend="cpu")
    with pytest.raises(ValueError, match="max_lcp"):
        lcp_array(data, sa, backend="cpu", max_lcp=-1)
    with pytest.raises(ValueError, match="chunk"):
        lcp_array_phi_cpu(data, sa, chunk=0)
