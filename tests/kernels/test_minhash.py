"""CPU twins of the near-duplicate kernels against the plain-Python reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.io.texts import as_large_string_array, pack
from kernels import text_reference as ref
from kernels.hashing import (
    mod_mersenne61,
    mulmod_mersenne61,
    permutation_params,
    utf8_decode,
)
from kernels.lsh import band_keys_cpu
from kernels.minhash import minhash_cpu, signatures, signatures_cpu
from kernels.shingle import SHINGLE_MODES, shingle_hashes_cpu, tokenize_cpu
from kernels.unicode_table import codepoint_table

P61 = (1 << 61) - 1

MIXED = [
    "",
    "   ",
    "!!! ... ???",
    "one",
    "Hello, World! Hello world.",
    "Ünïcode İstanbul STRASSE straße naïve café — done.",
    "日本語のテキストと English words 混在",
    "متن فارسی با اعداد ۱۲۳ و کلمات",
    "emoji 😀 between 🎉 words, soft\u00adhyphen and zero\u200bwidth",
    "tab\tseparated\nlines\r\nand  many   spaces",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
]

text_strategy = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFFF), max_size=60
) | st.sampled_from(MIXED)


def _packed(texts):
    return pack(as_large_string_array(texts))


@pytest.mark.parametrize("shingle", ["word", "char"])
@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_signatures_equal_reference_on_mixed_scripts(shingle, ngram):
    a, b = permutation_params(16, 7)
    data, offsets = _packed(MIXED)
    got = signatures_cpu(data, offsets, codepoint_table(), SHINGLE_MODES[shingle], ngram, a, b)
    want = np.array([ref.minhash(t, a, b, ngram, shingle) for t in MIXED], dtype=np.uint32)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(text_strategy, min_size=0, max_size=6),
    shingle=st.sampled_from(["word", "char"]),
    ngram=st.integers(1, 6),
)
def test_staged_and_fused_paths_equal_reference(texts, shingle, ngram):
    a, b = permutation_params(8, 3)
    data, offsets = _packed(texts)
    mode = SHINGLE_MODES[shingle]
    table = codepoint_table()
    tokens, token_counts = tokenize_cpu(data, offsets, table, mode)
    shingles, shingle_counts = shingle_hashes_cpu(tokens, offsets, token_counts, ngram)
    for d, text in enumerate(texts):
        start = offsets[d]
        want_tokens = ref.tokens(text, shingle)
        assert tokens[start : start + token_counts[d]].tolist() == want_tokens
        want_shingles = ref.shingle_hashes(text, ngram, shingle)
        assert shingles[start : start + shingle_counts[d]].tolist() == want_shingles
    staged = minhash_cpu(shingles, offsets, shingle_counts, a, b)
    fused = signatures_cpu(data, offsets, table, mode, ngram, a, b)
    want = np.array([ref.minhash(t, a, b, ngram, shingle) for t in texts], dtype=np.uint32)
    np.testing.assert_array_equal(staged, want.reshape(len(texts), 8))
    np.testing.assert_array_equal(fused, staged)


def test_normalization_rules():
    assert ref.normalize_words("Hello, WORLD! it's") == ["hello", "world", "it", "s"]
    assert ref.normalize_words("soft\u00adhyphen") == ["softhyphen"]
    assert ref.normalize("  a\t\tb \n c ") == "a b c"
    assert ref.word_shingles("one two", 5) == ["one two"]  # shorter than one n-gram
    assert ref.word_shingles("...", 5) == []


def test_empty_document_signature_is_all_max():
    sig = signatures(*_packed(["", "x y z"]), num_perm=4, backend="cpu")
    assert (sig[0] == 0xFFFFFFFF).all()
    assert not (sig[1] == 0xFFFFFFFF).all()


@settings(max_examples=300, deadline=None)
@given(a=st.integers(0, P61 - 1), b=st.integers(0, P61 - 1), x=st.integers(0, 2**64 - 1))
def test_mersenne_arithmetic_is_exact(a, b, x):
    assert int(mulmod_mersenne61(np.uint64(a), np.uint64(b))) == (a * b) % P61
    assert int(mod_mersenne61(np.uint64(x))) == x % P61


@settings(max_examples=300)
@given(a=st.integers(1, 2**32 - 1), b=st.integers(0, P61 - 1), h=st.integers(0, 2**64 - 1))
def test_minhash_permutation_is_exact(a, b, h):
    from kernels.hashing import minhash_permute

    want = ((a * (h % P61) + b) % P61) & 0xFFFFFFFF
    assert int(minhash_permute(np.uint64(a), np.uint64(b), np.uint64(h))) == want


@given(st.characters(blacklist_categories=("Cs",)))
def test_utf8_decode_matches_python(char):
    raw = char.encode() + b"\0\0\0"
    packed = int(utf8_decode(raw[0], raw[1], raw[2], raw[3], len(char.encode())))
    assert packed & 0xFFFFFFFF == ord(char)
    assert packed >> 32 == len(char.encode())


@pytest.mark.parametrize(
    "raw", [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
)
def test_utf8_decode_invalid_advances_one_byte(raw):
    padded = raw + b"\0\0\0"
    packed = int(utf8_decode(padded[0], padded[1], padded[2], padded[3], len(raw)))
    assert packed == 0xFFFD | (1 << 32)


def test_invalid_utf8_bytes_never_stall():
    data = np.frombuffer(b"ok \xff\xfe bad \xe2\x82 end", dtype=np.uint8)
    offsets = np.array([0, len(data)], dtype=np.int64)
    sig = signatures(data, offsets, num_perm=4, ngram=1, backend="cpu")
    assert sig.shape == (1, 4)


def test_band_keys_equal_reference():
    a, b = permutation_params(12, 1)
    sig = signatures(*_packed(MIXED), num_perm=12, ngram=2, seed=1, backend="cpu")
    keys = band_keys_cpu(sig, 3, 4)
    for d in range(len(MIXED)):
        assert keys[d].tolist() == ref.band_keys(sig[d].tolist(), 3, 4)


def test_permutation_params_are_stable():
    a, b = permutation_params(4, 42)
    assert a.dtype == np.uint64 and (a >= 1).all() and (a < 2**32).all() and (b < P61).all()
    a2, b2 = permutation_params(4, 42)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)


@pytest.mark.parametrize(
    "container",
    [
        list,
        lambda t: pa.array(t),
        lambda t: pa.chunked_array([pa.array(t[:2]), pa.array(t[2:])]),
        lambda t: __import__("pandas").Series(t),
    ],
)
def test_api_minhash_accepts_containers(container):
    texts = ["a b c d e f", "a b c d e g", "x"]
    want = engine.minhash(texts, num_perm=8, ngram=2, backend="cpu")
    got = engine.minhash(container(texts), num_perm=8, ngram=2, backend="cpu")
    np.testing.assert_array_equal(got, want)


def test_api_minhash_rejects_bad_input():
    with pytest.raises(ValueError, match="None"):
        engine.minhash(["a", None], backend="cpu")
    with pytest.raises(TypeError):
        engine.minhash("just one string", backend="cpu")
    with pytest.raises(ValueError, match="shingle"):
        engine.minhash(["a"], shingle="token", backend="cpu")
    with pytest.raises(ValueError, match="ngram"):
        engine.minhash(["a"], ngram=0, backend="cpu")


def test_pack_handles_sliced_arrays():
    array = pa.array(["zero", "one", "two"], type=pa.large_string()).slice(1)
    data, offsets = pack(array)
    assert bytes(data[offsets[0] : offsets[1]]) == b"one"
    assert bytes(data[offsets[1] : offsets[2]]) == b"two"
