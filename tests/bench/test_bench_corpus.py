"""Benchmark corpus generator, scoring and the bundled sample (fast; no network, no apt)."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.corpus import (
    NEGATIVE_MAX,
    POSITIVE_MIN,
    fast_word_shingles,
    giant_cluster_check,
    jaccard,
    load_sample,
    make_corpus,
    make_scaled_corpus,
    parse_size,
    read_jsonl,
    score_pairs,
    similar_pairs,
    write_jsonl,
)
from bench.prepare_text import html_to_text, split_document
from kernels.text_reference import word_shingles

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample"


def shingles(text: str) -> set[str]:
    return set(word_shingles(text, 5))


# ---------------------------------------------------------------------------------
# synthetic but realistic documents: Zipf-distributed words, sentences, wrapped
# paragraphs, some list items and code lines


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    onsets = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v",
              "w", "st", "tr", "pl", "gr", "ch", "sh", "th"]  # fmt: skip
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
    codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ck", "ng", "rt"]
    words: set[str] = {"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with"}
    while len(words) < size:
        n = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                          for _ in range(n)))  # fmt: skip
    return sorted(words)


def synthetic_docs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    docs = []
    for i in range(n):
        paragraphs = []
        for _ in range(rng.randint(4, 9)):
            sentences = []
            for _ in range(rng.randint(2, 6)):
                words = rng.choices(vocab, weights, k=rng.randint(6, 22))
                words[0] = words[0].capitalize()
                if rng.random() < 0.3:
                    words.insert(rng.randrange(1, len(words)), f"{rng.randint(2, 4096)}")
                sentences.append(" ".join(words) + rng.choice(".....?!:"))
            text = " ".join(sentences)
            if rng.random() < 0.15:
                text = "\n".join(f"- {s}" for s in sentences)
            elif rng.random() < 0.1:
                text = "\n".join(f"    {w}({rng.randint(0, 9)})" for w in rng.sample(vocab, 4))
            else:
                text = textwrap.fill(text, width=rng.choice((72, 79, 100)))
            paragraphs.append(text)
        docs.append({"id": f"syn{i}", "text": "\n\n".join(paragraphs) + "\n", "source": "test"})
    return docs


@pytest.fixture(scope="module")
def corpus():
    docs = synthetic_docs(80, seed=3)
    return make_corpus(
        docs,
        n_families=6,
        copies_per_family=(2, 4),
        n_negatives=12,
        n_hard_negative_groups=2,
        hard_negative_group_size=3,
        seed=11,
    )


# ---------------------------------------------------------------------------------
# make_corpus


def test_corpus_labels_hold_for_true_jaccard(corpus):
    records, truth = corpus
    texts = {r["id"]: r["text"] for r in records}
    sets = {doc_id: shingles(text) for doc_id, text in texts.items()}
    family = truth["family"]
    positive = {tuple(p) for p in truth["positive_pairs"]}
    ambiguous = {tuple(p) for p in truth["ambiguous_pairs"]}
    assert positive and not positive & ambiguous
    for a, b in itertools.combinations(sorted(texts), 2):
        j = jaccard(sets[a], sets[b])
        if (a, b) in positive:
            assert family[a] == family[b] and j >= POSITIVE_MIN
        elif (a, b) in ambiguous:
            assert family[a] == family[b] and NEGATIVE_MAX < j < POSITIVE_MIN
        else:  # every other pair is a negative
            assert family[a] != family[b] and j <= NEGATIVE_MAX, (a, b, j)


def test_corpus_shape_and_truth_consistency(corpus):
    records, truth = corpus
    ids = [r["id"] for r in records]
    assert ids == truth["ids"] and len(set(ids)) == len(ids)
    assert set(truth["family"]) == set(ids) == set(truth["roles"])
    roles = list(truth["roles"].values())
    assert roles.count("original") == 6
    assert 12 <= roles.count("copy") <= 24
    assert roles.count("negative") == 12
    assert roles.count("hard_negative") == 6
    stats = truth["stats"]
    # most planted copies are positives of their original
    assert stats["copy_original_positive"] >= 0.6 * stats["copy_original_pairs"]
    # hard negatives share boilerplate but stay negatives
    assert len(truth["hard_negative_groups"]) == 2
    for group in truth["hard_negative_groups"]:
        texts = [next(r["text"] for r in records if r["id"] == g) for g in group]
        first_line = texts[0].split("\n", 1)[0]
        assert all(t.startswith(first_line) for t in texts)
        for x, y in itertools.combinations(texts, 2):
            assert jaccard(shingles(x), shingles(y)) <= NEGATIVE_MAX
    assert 0 < stats["hard_negative_max_jaccard"] <= NEGATIVE_MAX


def test_corpus_is_deterministic():
    docs = synthetic_docs(40, seed=5)
    kwargs = dict(n_families=4, copies_per_family=(1, 3), n_negatives=6, n_hard_negative_groups=1)
    a = make_corpus(docs, seed=1, **kwargs)
    b = make_corpus(docs, seed=1, **kwargs)
    c = make_corpus(docs, seed=2, **kwargs)
    assert a == b
    assert [r["text"] for r in a[0]] != [r["text"] for r in c[0]]


def test_corpus_needs_enough_documents():
    with pytest.raises(ValueError, match="eligible base documents"):
        make_corpus(synthetic_docs(5), n_families=4, n_negatives=10, seed=0)


# ---------------------------------------------------------------------------------
# shingles and the exact similarity join


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ,,, ",
        "one",
        "Hello, World! It's 3.5 e-mail_addresses & foo-bar.",
        "ΟΔΟΣ ΟΔΟΣ οδός Σίσυφος ΣΊΣΥΦΟΣ",
        "İstanbul STRASSE straße Straße ǅemal ﬁne",
        "soft\xadhyphen zero\u200bwidth joiner\u200dword",
        "日本語のテキスト、句読点。 中文，标点！ 한국어 텍스트",
        "café cafe\u0301 naïve x\u0308 emoji 😀 ok ⅷ ²",
        "tab\tnew\nline\r\ncrlf\x0bvt\x0cff\x1cfs\x85nel\u2028ls",
    ],
)
def test_fast_shingles_match_reference(text):
    for n in (1, 3, 5):
        assert fast_word_shingles(text, n) == word_shingles(text, n)


def test_similar_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    base = [rng.choice(5000, size=rng.integers(1, 300), replace=False) for _ in range(30)]
    arrays = []
    for k in range(60):  # near copies of the bases plus unrelated sets
        src = base[k % 30]
        keep = src[rng.random(len(src)) > rng.uniform(0, 0.6)] if k >= 30 else src
        arrays.append(np.unique(np.r_[keep, rng.integers(5000, 6000, size=rng.integers(0, 20))]))
    arrays.append(np.zeros(0, dtype=np.int64))
    arrays = [a.astype(np.int64) for a in arrays]
    for threshold in (0.3, 0.5, 0.8):
        found = {(i, j) for i, j, _ in similar_pairs(arrays, threshold)}
        expected = {
            (i, j)
            for i, j in itertools.combinations(range(len(arrays)), 2)
            if jaccard(set(arrays[i].tolist()), set(arrays[j].tolist())) >= threshold
        }
        assert found == expected


# ---------------------------------------------------------------------------------
# scoring

HAND_TRUTH = {
    "ids": list("abcdefgh"),
    "family": {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 2, "g": 3, "h": 3},
    "positive_pairs": [["a", "b"], ["a", "c"], ["b", "c"], ["d", "e"]],
    "ambiguous_pairs": [["g", "h"]],
}


def test_score_perfect():
    clusters = [["a", "b", "c"], ["d", "e"], ["f"], ["g", "h"]]
    score = score_pairs(clusters, HAND_TRUTH)
    assert (score["tp"], score["fp"], score["fn"]) == (4, 0, 0)
    assert score["precision"] == score["recall"] == score["f1"] == 1.0
    # the ambiguous pair may be split too
    assert score_pairs([["a", "b", "c"], ["d", "e"], ["g"], ["h"]], HAND_TRUTH)["f1"] == 1.0
    check = giant_cluster_check(clusters, HAND_TRUTH)
    assert check["largest_cluster"] == 3 and check["unrelated_merges"] == 0


def test_score_one_false_merge():
    clusters = [["a", "b", "c"], ["d", "e", "f"], ["g", "h"]]
    score = score_pairs(clusters, HAND_TRUTH)
    assert (score["tp"], score["fp"], score["fn"]) == (4, 2, 0)
    assert score["precision"] == pytest.approx(4 / 6) and score["recall"] == 1.0
    check = giant_cluster_check(clusters, HAND_TRUTH)
    assert check["unrelated_merges"] == 1 and check["docs_in_unrelated_merges"] == 3


def test_score_one_missed_pair():
    score = score_pairs([["a", "b", "c"], ["d"], ["e"]], HAND_TRUTH)
    assert (score["tp"], score["fp"], score["fn"]) == (3, 0, 1)
    assert score["precision"] == 1.0 and score["recall"] == pytest.approx(0.75)
    assert score["f1"] == pytest.approx(2 * 0.75 / 1.75)


def test_score_accepts_pairs_mappings_tables_and_row_ids():
    pa = pytest.importorskip("pyarrow")
    pairs = [("a", "b"), ("b", "c"), ("a", "c"), ("d", "e"), ("b", "a")]
    assert score_pairs(pairs, HAND_TRUTH)["f1"] == 1.0
    # overlapping pairs: a-b, b-f counts f-b as a false positive, a-f is not predicted
    score = score_pairs([("a", "b"), ("b", "f")], HAND_TRUTH)
    assert (score["tp"], score["fp"], score["fn"]) == (1, 1, 3)
    mapping = {"x.jsonl:0": 0, "x.jsonl:1": 0, "x.jsonl:2": 0, "d": 3, "e": 3, "f": 5}
    assert score_pairs(mapping, HAND_TRUTH)["f1"] == 1.0
    table = pa.table({"doc_id": list("abcdef"), "cluster_id": [0, 0, 0, 3, 3, 5]})
    assert score_pairs(table, HAND_TRUTH)["f1"] == 1.0
    assert giant_cluster_check(table, HAND_TRUTH)["clusters"] == 3
    with pytest.raises(ValueError, match="neither a truth id"):
        score_pairs([["a", "zz"]], HAND_TRUTH)


def test_score_counts_large_clusters_without_enumerating():
    n = 3000
    truth = {
        "ids": [f"n{i}" for i in range(n)],
        "family": {f"n{i}": i for i in range(n)},
        "positive_pairs": [],
        "ambiguous_pairs": [],
    }
    score = score_pairs([truth["ids"]], truth)
    assert score["fp"] == n * (n - 1) // 2 and score["tp"] == 0 and score["recall"] == 1.0
    assert giant_cluster_check([truth["ids"]], truth)["largest_cluster"] == n


# ---------------------------------------------------------------------------------
# files and helpers


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_write_jsonl_roundtrip(tmp_path, compression):
    records = [{"id": str(i), "text": f"text {i} é 😀\n"} for i in range(5)]
    suffix = {None: ".jsonl", "gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}[compression]
    path = write_jsonl(records, tmp_path / f"r{suffix}", compression)
    assert read_jsonl(path) == records
    assert not list(tmp_path.glob(".*tmp*"))
    if compression == "gzip":  # deterministic bytes (mtime 0)
        again = write_jsonl(records, tmp_path / "again.jsonl.gz", "gzip")
        assert path.read_bytes() == again.read_bytes()


def test_make_scaled_corpus(tmp_path):
    docs = synthetic_docs(20, seed=9)
    stats = make_scaled_corpus("150kB", tmp_path / "s.jsonl.gz", docs, seed=1)
    records = read_jsonl(tmp_path / "s.jsonl.gz")
    assert len(records) == stats["documents"] and stats["text_bytes"] >= 150_000
    assert stats["passes"] >= 2 and len({r["id"] for r in records}) == len(records)
    assert parse_size("1GB") == 10**9 and parse_size("256MiB") == 256 * 2**20


def test_split_document_and_html_to_text():
    paragraphs = [("word " * random.Random(i).randint(20, 400)).strip() for i in range(60)]
    pieces = split_document("\n\n".join(paragraphs), 4000, min_bytes=1000, max_bytes=20_000)
    assert len(pieces) > 3
    assert all(1000 <= len(p.encode()) <= 20_000 for p in pieces)
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body><nav>menu</nav>"
        "<script>var x=1;</script><h1>Heading¶</h1><p>First &amp; para.</p><pre>a  b\nc</pre>"
        '<div class="sphinxsidebar">side</div></body></html>'
    )
    text = html_to_text(html)
    assert "Heading" in text and "First & para." in text and "a  b\nc" in text
    for dropped in ("menu", "var x", "p{}", "side", "¶"):
        assert dropped not in text


# ---------------------------------------------------------------------------------
# the bundled sample


def test_sample_loads_and_truth_matches():
    records, truth = load_sample(SAMPLE_DIR)
    assert (SAMPLE_DIR / "docs.jsonl.gz").stat().st_size < 1_200_000
    ids = [r["id"] for r in records]
    assert ids == truth["ids"] and len(set(ids)) == len(ids)
    assert 300 <= len(records) <= 500
    assert set(truth["family"]) == set(ids)
    assert truth["stats"]["families_with_copies"] >= 30
    texts = {r["id"]: r["text"] for r in records}
    sets = {doc_id: shingles(text) for doc_id, text in texts.items()}
    for a, b in truth["positive_pairs"]:
        assert truth["family"][a] == truth["family"][b]
        assert jaccard(sets[a], sets[b]) >= POSITIVE_MIN
    for a, b in truth["ambiguous_pairs"]:
        assert NEGATIVE_MAX < jaccard(sets[a], sets[b]) < POSITIVE_MIN
    # every pair from different families is <= 0.5 (exact join; fast == reference sets)
    order = sorted(texts)
    arrays = []
    for doc_id in order:
        fast = set(fast_word_shingles(texts[doc_id], 5))
        assert fast == sets[doc_id]
        arrays.append(np.unique(np.array([hash(s) for s in fast], dtype=np.int64)))
    for i, j, sim in similar_pairs(arrays, NEGATIVE_MAX + 1e-9):
        assert truth["family"][order[i]] == truth["family"][order[j]], (order[i], order[j], sim)
    # the file is plain gzip JSONL with the documented fields
    with gzip.open(SAMPLE_DIR / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        assert set(json.loads(f.readline())) == {"id", "text", "source"}
