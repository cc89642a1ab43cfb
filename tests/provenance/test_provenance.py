"""Provenance: normalization + offset maps, matching, labels, boilerplate, cluster roll-ups."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from engine.provenance import (
    FLAGS_SCHEMA,
    ProvenanceParams,
    ReferenceIndex,
    cluster_flags,
    prefer_unflagged_keep,
)
from engine.provenance.evidence import label_for
from engine.provenance.normalization import normalize_text, to_original
from engine.provenance.sketches import winnow_anchors
from kernels.normalize import normalize_packed

WORDS = [
    (lambda rng: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3 + i % 7)))(
        random.Random(i)
    )
    for i in range(3000)
]


def prose(seed: int, n_words: int) -> str:
    """Deterministic sentences of made-up words (no accidental shared phrases)."""
    rng = random.Random(seed)
    out = []
    for i in range(n_words):
        word = rng.choice(WORDS)
        out.append(word.capitalize() if i % 12 == 0 else word)
        if i % 12 == 11:
            out[-1] += "."
    return " ".join(out)


@pytest.fixture(scope="module")
def refs() -> list[str]:
    return [prose(1000 + i, 150 + (i * 37) % 120) for i in range(40)]


@pytest.fixture(scope="module")
def index(refs) -> ReferenceIndex:
    return ReferenceIndex.build(refs, [f"ref-{i}" for i in range(len(refs))], backend="cpu")


def match_one(index, text, **kwargs):
    return index.match([text], backend="cpu", **kwargs).to_pylist()[0]


# --------------------------------------------------------------------------- normalization


def test_normalize_collapses_case_whitespace_quotes():
    text = "  Hello,\r\n\tWORLD\u00a0 \u201cquoted\u201d \u2014 it\u2019s\u2026  "
    norm, _, _ = normalize_text(text)
    assert norm == b'hello, world "quoted" - it\'s...'


def test_normalize_drops_format_characters():
    norm, _, _ = normalize_text("co\u00adop\u200deration")
    assert norm == b"cooperation"


def test_offset_map_multibyte_and_crlf():
    text = "Ünïcode  ТЕКСТ\r\n\r\nnext ✓ line"
    raw = text.encode()
    norm, start, end = normalize_text(text)
    assert norm.decode() == "ünïcode текст next ✓ line"
    # every normalized char maps to whole original characters
    for k in range(len(norm)):
        piece = raw[start[k] : end[k]]
        piece.decode("utf-8")  # never cuts a character
    # the range of "текст" maps back to "ТЕКСТ"
    s = norm.index("текст".encode())
    a, b = to_original(np.frombuffer(norm, np.uint8), start, end, s, s + len("текст".encode()))
    assert raw[a:b].decode() == "ТЕКСТ"
    # a range starting mid-character is snapped forward, ending mid-character back
    a, b = to_original(np.frombuffer(norm, np.uint8), start, end, 1, len(norm) - 1)
    assert raw[a:b].decode().startswith("ï") or raw[a:b].decode().startswith("n")
    raw[a:b].decode("utf-8")


def test_offset_map_rewrapped_text():
    original = "The quick brown fox\njumps over\n  the lazy dog."
    rewrapped = "The quick brown\nfox jumps over the lazy\ndog."
    assert normalize_text(original)[0] == normalize_text(rewrapped)[0]


def test_normalize_packed_documents_independent():
    texts = [b"A  B", b"", b"  c\n"]
    data = np.frombuffer(b"".join(texts), np.uint8)
    offsets = np.array([0, 4, 4, 8], dtype=np.int64)
    norm, norm_offsets, _, _ = normalize_packed(data, offsets)
    assert bytes(norm) == b"a bc"
    assert norm_offsets.tolist() == [0, 3, 3, 4]


def test_winnowing_guarantee():
    rng = np.random.default_rng(0)
    a = rng.integers(97, 123, 500).astype(np.uint8)
    b = np.concatenate([rng.integers(97, 123, 200).astype(np.uint8), a[100:163]])
    data = np.concatenate([a, b])
    offsets = np.array([0, len(a), len(a) + len(b)], dtype=np.int64)
    positions, keys, counts = winnow_anchors(data, offsets, 32, 32)
    keys_a = set(keys[: counts[0]].tolist())
    keys_b = set(keys[counts[0] :].tolist())
    assert keys_a & keys_b  # a common substring of 63 bytes shares an anchor


# --------------------------------------------------------------------------- params, labels


def test_params_validation_names_the_fix():
    with pytest.raises(ValueError, match="seed_bytes"):
        ProvenanceParams(seed_bytes=100, min_span=64)
    with pytest.raises(ValueError, match="partial_threshold"):
        ProvenanceParams(partial_threshold=0.9, cover_threshold=0.8)
    with pytest.raises(ValueError, match="min_span"):
        ProvenanceParams(min_span=0)
    with pytest.raises(ValueError, match="cover_threshold"):
        ProvenanceParams(cover_threshold=1.5)


def test_label_rules():
    p = ProvenanceParams()
    assert label_for(0.9, 0.95, True, p) == "verbatim_copy"
    assert label_for(0.3, 0.85, True, p) == "contains_output"
    assert label_for(0.25, 0.1, True, p) == "partial_derivative"
    assert label_for(0.05, 0.3, True, p) == "partial_derivative"
    assert label_for(0.1, 0.1, True, p) == "none"
    assert label_for(0.5, 0.5, False, p) == "none"
    assert label_for(0.0, 0.0, False, p, verified=True) == "partial_derivative"
    strict = ProvenanceParams(cover_threshold=0.95, partial_threshold=0.5)
    assert label_for(0.9, 0.9, True, strict) == "partial_derivative"


def test_verbatim_copy(index, refs):
    row = match_one(index, refs[3])
    assert row["label"] == "verbatim_copy"
    assert row["ref_ids"][0] == "ref-3"
    assert row["cov_doc"] == pytest.approx(1.0) and row["cov_ref"] == pytest.approx(1.0)
    assert row["longest_match"] == len(refs[3].encode())
    ev = row["evidence"][0]
    assert (ev["start"], ev["end"], ev["ref_start"], ev["ref_end"]) == (
        0,
        len(refs[3].encode()),
        0,
        len(refs[3].encode()),
    )


def test_contains_output_evidence_offsets(index, refs):
    host = prose(1, 400)
    doc = host[:1000] + "\n\n" + refs[5] + "\n\n" + host[1000:]
    row = match_one(index, doc)
    assert row["label"] == "contains_output"
    assert row["ref_ids"][0] == "ref-5"
    ev = [e for e in row["evidence"] if e["ref_id"] == "ref-5"][0]
    raw = doc.encode()
    assert raw[ev["start"] : ev["end"]] == refs[5].encode()
    assert ev["ref_start"] == 0 and ev["ref_end"] == len(refs[5].encode())


def test_rewrapped_recased_copy_maps_to_original_bytes(index, refs):
    import textwrap

    doc = textwrap.fill(refs[7].upper(), width=50).replace("\n", "\r\n")
    row = match_one(index, doc)
    assert row["label"] == "verbatim_copy"
    ev = row["evidence"][0]
    assert ev["start"] == 0 and ev["end"] == len(doc.encode())
    assert ev["ref_end"] - ev["ref_start"] == len(refs[7].encode())


def test_multibyte_copy_offsets():
    ref = prose(5, 120).replace("a", "ä").replace("e", "€")
    index = ReferenceIndex.build([ref], ["r"], backend="cpu")
    doc = "Préambule — " + ref.upper() + " — fin"
    row = match_one(index, doc)
    assert row["label"] == "contains_output" or row["label"] == "verbatim_copy"
    ev = row["evidence"][0]
    raw = doc.encode()
    piece = raw[ev["start"] : ev["end"]].decode("utf-8")
    assert normalize_text(piece)[0] == normalize_text(ref)[0]


def test_lightly_edited_copy_is_found(index, refs):
    rng = random.Random(3)
    words = refs[11].split(" ")
    for i in range(4, len(words), 9):  # one word changed in every sentence or so
        words[i] = rng.choice(WORDS)
    doc = " ".join(words)
    row = match_one(index, doc, minhash=False)
    assert row["label"] == "verbatim_copy"
    assert row["ref_ids"][0] == "ref-11"


def test_minhash_co_clustering_counts(index, refs):
    rng = random.Random(4)
    words = refs[12].split(" ")
    for i in range(2, len(words), 6):
        words[i] = rng.choice(WORDS)
    doc = " ".join(words)
    with_minhash = match_one(index, doc, max_gap=16, verified_max_gap=256)
    assert with_minhash["label"] != "none"
    assert "ref-12" in with_minhash["ref_ids"]


def test_fragment_is_partial_derivative(index, refs):
    fragment = refs[20][200:600]
    row = match_one(index, fragment)
    assert row["label"] == "partial_derivative"
    assert row["cov_doc"] > 0.9 and row["cov_ref"] < 0.8


def test_unrelated_text_is_none(index):
    row = match_one(index, prose(77, 300))
    assert row == {
        "doc_id": "0",
        "label": "none",
        "cov_doc": 0.0,
        "cov_ref": 0.0,
        "longest_match": 0,
        "ref_ids": [],
        "evidence": [],
    }


def test_boilerplate_is_suppressed():
    phrase = (
        "I hope this helps! Let me know if you have any other questions "
        "about this topic or anything else."
    )
    refs = [prose(2000 + i, 120) + " " + phrase for i in range(30)]
    index = ReferenceIndex.build(refs, [f"r{i}" for i in range(30)], backend="cpu")
    doc = prose(9, 15) + " " + phrase + " " + prose(10, 8)
    assert match_one(index, doc, boilerplate_min_df=10)["label"] == "none"
    # the same document counts as derived once the phrase is neither boilerplate nor
    # shared phrasing
    control = match_one(
        index,
        doc,
        boilerplate_min_df=1000,
        shared_min_families=1000,
        minhash=False,
        min_span=64,
    )
    assert control["label"] == "partial_derivative"
    # a real copy that ends with the phrase is still a verbatim copy
    assert match_one(index, refs[4], boilerplate_min_df=10)["label"] == "verbatim_copy"


def test_result_independent_of_batch(index, refs):
    docs = [refs[1], prose(50, 200), refs[2][:500] + prose(51, 100), prose(52, 50)]
    together = index.match(docs, backend="cpu").to_pylist()
    alone = [index.match([d], backend="cpu").to_pylist()[0] for d in docs]
    for a, b in zip(together, alone):
        a.pop("doc_id"), b.pop("doc_id")
        assert a == b


def test_flags_schema_exact(index, refs):
    table = index.match([refs[0], "x"], doc_ids=["a", "b"], backend="cpu")
    assert table.schema.equals(FLAGS_SCHEMA)
    assert table.column("doc_id").to_pylist() == ["a", "b"]


# --------------------------------------------------------------------------- clusters


def _clusters(cluster_ids, keep):
    n = len(cluster_ids)
    sizes = np.bincount(cluster_ids, minlength=max(cluster_ids) + 1)[cluster_ids]
    return pa.table(
        {
            "doc_id": pa.array([f"d{i}" for i in range(n)], pa.string()),
            "cluster_id": pa.array(cluster_ids, pa.int64()),
            "cluster_size": pa.array(sizes, pa.int64()),
            "keep": pa.array(keep, pa.bool_()),
        }
    )


def _flags(labels, refs_per_doc, covs):
    rows = []
    for i, (label, ref_ids, cov) in enumerate(zip(labels, refs_per_doc, covs)):
        rows.append(
            {
                "doc_id": f"d{i}",
                "label": label,
                "cov_doc": cov[0],
                "cov_ref": cov[1],
                "longest_match": 100 if label != "none" else 0,
                "ref_ids": ref_ids,
                "evidence": [],
            }
        )
    return pa.Table.from_pylist(rows, schema=FLAGS_SCHEMA)


def test_cluster_flags_rollup():
    clusters = _clusters([0, 0, 0, 3, 3, 5], [True, False, False, True, False, True])
    flags = _flags(
        ["none", "partial_derivative", "verbatim_copy"]
        + ["contains_output", "contains_output", "none"],
        [[], ["r1"], ["r1", "r2"], ["r7"], ["r8"], []],
        [(0, 0), (0.3, 0.1), (0.95, 0.9), (0.2, 0.9), (0.1, 0.85), (0, 0)],
    )
    out = cluster_flags(clusters, flags).to_pylist()
    assert [r["cluster_id"] for r in out] == [0, 3, 5]
    assert out[0]["label"] == "verbatim_copy"
    assert out[0]["provenance_score"] == pytest.approx(0.95)
    assert out[0]["frac_members_flagged"] == pytest.approx(2 / 3)
    assert out[0]["ref_ids"] == ["r1", "r2"]
    assert out[0]["origin_doc_id"] == "r1"
    assert out[1]["label"] == "contains_output" and out[1]["origin_doc_id"] is None
    assert out[2] == {
        "cluster_id": 5,
        "label": "none",
        "provenance_score": 0.0,
        "frac_members_flagged": 0.0,
        "ref_ids": [],
        "origin_doc_id": None,
    }


def test_prefer_unflagged_keep():
    clusters = _clusters([0, 0, 0, 3, 3, 5], [True, False, False, True, False, True])
    flags = _flags(
        ["verbatim_copy", "none", "none", "partial_derivative", "contains_output", "none"],
        [["r"], [], [], ["r"], ["r"], []],
        [(1, 1), (0, 0), (0, 0), (0.3, 0.3), (0.3, 0.9), (0, 0)],
    )
    out = prefer_unflagged_keep(clusters, flags)
    assert out.column("keep").to_pylist() == [False, True, False, True, False, True]
    assert out.schema.equals(clusters.schema)
    # flags themselves are never changed: an unflagged member stays unflagged
    assert flags.column("label").to_pylist()[1] == "none"


def test_cluster_functions_reject_misaligned_tables():
    clusters = _clusters([0, 0], [True, False])
    flags = _flags(["none"], [[]], [(0, 0)])
    with pytest.raises(ValueError, match="same documents"):
        cluster_flags(clusters, flags)


def test_punctuation_runs_are_cut():
    norm, start, end = normalize_text("Title\n=========\n|---|---|")
    assert norm == b"title === |---|---|"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a " + "\\_" * 500 + " b", b"a " + b"\\_" * 3 + b" b"),  # markdown-escaped blanks
        ("-=" * 40 + "x", b"-=-=-=x"),
        ("|---" * 20 + "|", b"|---|---|---"),
        ("*~+" * 9 + "*", b"*~+*~+*~+"),
        ("x.y.z (a.b) [c]", b"x.y.z (a.b) [c]"),  # short punctuation is kept
        ("ab" * 10, b"ab" * 3),  # letters too
        ("Aaaaaargh 1000000 coco", b"aaargh 1000 coco"),
        ("test test test test test end", b"test test test end"),
        ("\u00e0\u00e9" * 5 + "\u00e8b", ("\u00e0\u00e9" * 3 + "\u00e8b").encode()),
        ("caf\u00e9\u00e9\u00e9\u00e9\u00e9", "caf\u00e9\u00e9\u00e9".encode()),  # any text
        ("\\_\\_\\_\\_hello\\_\\_", b"\\_\\_\\_hello\\_\\_"),
    ],
)
def test_periodic_runs_are_cut(text, expected):
    norm, start, end = normalize_text(text)
    assert norm == expected
    # the offset map still points every normalized byte at a whole original character
    raw = text.encode()
    for k, byte in enumerate(norm):
        piece = raw[start[k] : end[k]].decode().lower()
        assert piece and (chr(byte) in piece or byte >= 0x80)


def test_long_periodic_runs_stay_cheap(index, refs):
    """A reference-sized run of '\\_' in both texts must not make matching quadratic."""
    blanks = "Name: " + "\\_" * 6000 + "\n"
    ref_text = refs[3] + "\n" + blanks
    local = ReferenceIndex.build([ref_text, refs[4]], ["blank-ref", "other"], backend="cpu")
    doc = prose(31, 100) + "\n" + blanks + prose(32, 100)
    norm, _, _ = normalize_text(doc)
    assert len(norm) < len(doc) - 11000
    row = match_one(local, doc)
    assert row["label"] == "none"


# --------------------------------------------------------------------------- seeds, candidates


def _packed(pieces):
    lengths = np.array([len(x) + 1 for x in pieces], dtype=np.int64)
    starts = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.full(int(starts[-1]), 0xFF, dtype=np.uint8)
    owner = np.full(int(starts[-1]), -1, dtype=np.int32)
    for slot, piece in enumerate(pieces):
        data[starts[slot] : starts[slot] + len(piece)] = piece
        owner[starts[slot] : starts[slot] + len(piece)] = slot
    return data, owner, starts


def test_hash_join_seeds_equal_suffix_array_seeds():
    """The cpu hash join gives exactly the suffix-array seeds."""
    from kernels.lcp import lcp_array
    from kernels.seeds import hash_join_seeds, suffix_array_seeds
    from kernels.suffix_array import suffix_array

    rng = np.random.default_rng(3)
    total = 0
    for _ in range(150):
        alphabet = int(rng.integers(2, 6))  # small alphabets: repeats, many groups
        n_d, n_r = int(rng.integers(1, 4)), int(rng.integers(1, 5))
        base = rng.integers(97, 97 + alphabet, 400).astype(np.uint8)
        pieces = []
        for _ in range(n_d + n_r):
            start, length = int(rng.integers(0, 100)), int(rng.integers(0, 300))
            piece = base[start : start + length].copy()
            edits = rng.random(len(piece)) < 0.03
            piece[edits] = rng.integers(97, 123, int(edits.sum()))
            pieces.append(piece)
        pairs = [(d, r) for d in range(n_d) for r in range(n_r) if rng.random() < 0.7]
        if not pairs:
            continue
        seed = int(rng.integers(4, 17))
        data, owner, starts = _packed(pieces)
        keys = np.unique(np.array([d * n_r + r for d, r in pairs], dtype=np.int64))
        sa = suffix_array(data, backend="cpu")
        lcp = lcp_array(data, sa, backend="cpu", max_lcp=seed)
        expected = suffix_array_seeds(
            data, sa, lcp, owner, starts, np.int64(n_d), np.int64(n_r), np.int64(seed), keys
        )
        got = hash_join_seeds(data, starts, np.int64(n_d), keys // n_r, keys % n_r, np.int64(seed))
        a = sorted(zip(*(x.tolist() for x in expected)))
        b = sorted(zip(*(x.tolist() for x in got)))
        assert a == b
        total += len(a)
    assert total > 1000


def test_min_shared_anchors(index, refs):
    """One shared anchor window does not make a candidate by default; two do."""
    host = prose(123, 300)
    long = refs[8][100:400]  # 300 bytes: several shared anchors
    ref7_keys = set(np.asarray(index.anchor_keys)[np.asarray(index.anchor_refs) == 7].tolist())
    for start in range(0, 400, 5):  # an 80-byte piece of ref-7 that shares one anchor
        short = refs[7][start : start + 80]
        doc = host[:600] + " " + short + " " + host[600:1200] + " " + long + " " + host[1200:]
        norm = np.frombuffer(normalize_text(doc)[0], np.uint8)
        _, keys, _ = winnow_anchors(norm, np.array([0, len(norm)]), 32, 32)
        if len(set(keys.tolist()) & ref7_keys) == 1:
            break
    else:
        pytest.fail("no 80-byte piece of ref-7 shares exactly one anchor")
    # min_span 64: the 80-byte piece holds enough informative bytes to be evidence
    row = match_one(index, doc, minhash=False, min_span=64)
    assert row["ref_ids"] == ["ref-8"]
    loose = match_one(index, doc, minhash=False, min_shared_anchors=1, min_span=64)
    assert set(loose["ref_ids"]) == {"ref-7", "ref-8"}
    with pytest.raises(ValueError, match="min_shared_anchors"):
        ProvenanceParams(min_shared_anchors=0)


def test_anchor_ranges_equal_searchsorted():
    from engine.provenance.sketches import anchor_buckets, anchor_ranges

    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 1000, 50_000):
        pool = rng.integers(0, 2**64, max(n // 3, 1), dtype=np.uint64)
        keys = np.sort(rng.choice(pool, n)) if n else np.zeros(0, np.uint64)
        queries = np.concatenate([rng.choice(pool, 500), rng.integers(0, 2**64, 500, np.uint64)])
        queries = np.concatenate([queries, np.array([0, 2**64 - 1], dtype=np.uint64)])
        left, right = anchor_ranges(keys, anchor_buckets(keys), queries)
        assert left.tolist() == np.searchsorted(keys, queries, side="left").tolist()
        assert right.tolist() == np.searchsorted(keys, queries, side="right").tolist()
