"""Cross-shard repeated spans (engine.substrings.cross_shard) equal one call over all docs."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.io import ReadOptions, ReadReport, plan_parts, read_part
from engine.run.dask_runner import session
from engine.substrings.cross_shard import plan_batches, substr_across_shards
from engine.substrings.fingerprints import spanning_forest, star_edges
from engine.substrings.options import SubstrOptions
from kernels.winnow import (
    kgram_hashes,
    kgram_hashes_reference,
    winnow_documents,
    winnow_positions,
    winnow_reference,
)

SHARED = [
    f"Shared paragraph número {i}: ünïcödé ☕ 日本語 text copied into other files verbatim. "
    for i in range(4)
]
BOILERPLATE = "This page was generated automatically; do not edit it by hand. "
WORDS = ["river", "stone", "lamp", "orbit", "maple", "signal", "café", "жук", "日本"]


def _write_corpus(folder: Path, seed: int = 0, n_files: int = 4, docs_per_file: int = 15):
    """JSONL files with planted cross-file paragraphs, self repeats, copies, empty docs."""
    rng = random.Random(seed)
    written: list[str] = []
    paths = []
    for f in range(n_files):
        lines = []
        for d in range(docs_per_file):
            roll = rng.random()
            if roll < 0.08:
                text = ""
            elif roll < 0.16 and written:
                text = rng.choice(written)  # a whole document copied
            else:
                words = [rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(30)]
                text = " ".join(words[: rng.randrange(0, 30)])
                if rng.random() < 0.5:
                    cut = rng.randrange(len(text) + 1)
                    text = text[:cut] + rng.choice(SHARED) + text[cut:]
                if rng.random() < 0.15:
                    text = text + " / " + text  # repeat inside the document
                if rng.random() < 0.3:
                    text = BOILERPLATE + text
            written.append(text)
            lines.append(json.dumps({"id": f"f{f}-{d}", "text": text}, ensure_ascii=False))
        path = folder / f"part{f}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


def _read_all(parts, id_column=None):
    ids, texts = [], []
    for part in parts:
        for table in read_part(part, id_column=id_column, report=ReadReport()):
            ids += table.column("doc_id").to_pylist()
            texts += table.column("text").to_pylist()
    return ids, texts


def _cross(
    parts, work, *, min_span, keep, k, n_ranges=5, budget=3000, workers=2, runner=None, **read
):
    return substr_across_shards(
        parts,
        options=SubstrOptions(
            min_span=min_span, keep=keep, shard_size=budget, read=ReadOptions(**read)
        ),
        backend="cpu",
        work=work,
        scheduler="threads",
        workers=workers,
        n_ranges=n_ranges,
        k=k,
        runner=runner,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cross")
    paths = _write_corpus(folder)
    parts = plan_parts(paths, 700)
    ids, texts = _read_all(parts)
    return folder, parts, ids, texts


# --------------------------------------------------------------------------- winnowing


def test_kgram_hashes_and_winnowing_match_the_reference():
    rng = np.random.default_rng(1)
    data = rng.integers(0, 4, 300).astype(np.uint8)
    for k in (1, 3, 32):
        assert kgram_hashes(data, k).tolist() == kgram_hashes_reference(data.tobytes(), k)
    assert kgram_hashes(data[:2], 3).shape == (0,)
    for w in (1, 2, 5, 40):
        hashes = rng.integers(0, 5, 200).astype(np.uint64)  # many ties
        assert winnow_positions(hashes, w).tolist() == winnow_reference(hashes, w)
    assert winnow_positions(np.array([3, 1, 1, 2], np.uint64), 3).tolist() == [2]  # rightmost


@settings(max_examples=150, deadline=None)
@given(
    a=st.binary(max_size=60),
    b=st.binary(max_size=60),
    shared=st.binary(min_size=1, max_size=40),
    k=st.integers(1, 8),
    w=st.integers(1, 12),
    alphabet=st.integers(1, 3),
)
def test_shared_substring_of_w_plus_k_minus_1_shares_a_fingerprint(a, b, shared, k, w, alphabet):
    def small(raw: bytes) -> bytes:
        return bytes(97 + x % alphabet for x in raw)

    need = w + k - 1
    shared = (small(shared) * need)[: max(need, len(shared))]
    first = small(a[:30]) + shared + small(a[30:])
    second = small(b[:20]) + shared + small(b[20:])
    data = np.frombuffer(first + second, dtype=np.uint8)
    offsets = np.array([0, len(first), len(first) + len(second)], dtype=np.int64)
    fingerprints, doc, self_repeat = winnow_documents(data, offsets, k, w)
    assert set(fingerprints[doc == 0].tolist()) & set(fingerprints[doc == 1].tolist())
    # per document distinct and sorted
    for d in (0, 1):
        values = fingerprints[doc == d]
        assert np.all(values[1:] > values[:-1])
    doubled = np.frombuffer(shared + b"|" + shared, dtype=np.uint8)
    _, _, flag = winnow_documents(doubled, np.array([0, len(doubled)], np.int64), k, w)
    assert flag[0]


def test_short_documents_have_no_fingerprints():
    data = np.frombuffer(b"abcdefgh", dtype=np.uint8)
    fingerprints, doc, flag = winnow_documents(data, np.array([0, 0, 3, 8], np.int64), 3, 3)
    assert set(doc.tolist()) == {2}  # 0 bytes and 3 bytes < w + k - 1 = 5
    assert not flag.any()


def test_star_edges_are_never_all_pairs():
    n = 500
    fingerprints = np.full(n, 7, dtype=np.uint64)  # one boilerplate fingerprint in every doc
    docs = np.arange(n, dtype=np.int64)[::-1].copy()
    src, dst = star_edges(fingerprints, docs)
    assert src.tolist() == [0] * (n - 1) and sorted(dst.tolist()) == list(range(1, n))
    forest = spanning_forest(np.array([5, 5, 9, 3]), np.array([9, 3, 3, 5]))
    assert forest.tolist() == [[3, 5], [3, 9]]


def test_plan_batches_keeps_components_whole():
    labels = np.array([0, 1, 0, 3, 1, 5, 6])
    n_bytes = np.array([10, 10, 10, 10, 10, 10, 50])
    self_repeat = np.array([False, False, False, True, False, False, False])
    batch, counts = plan_batches(labels, n_bytes, self_repeat, budget_bytes=25)
    assert batch[0] == batch[2] and batch[1] == batch[4]
    assert batch[5] == -1 and batch[6] == -1  # alone, no repeat inside: skipped
    assert batch[3] >= 0
    assert counts["groups"] == 2 and counts["singletons_checked"] == 1
    assert counts["largest_group_bytes"] == 20 and counts["groups_over_budget"] == 0


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("keep", ["first", "none"])
@pytest.mark.parametrize(("min_span", "k"), [(40, 8), (64, 32), (24, 32), (100, 16), (30, 30)])
def test_equals_one_call_over_the_whole_corpus(corpus, tmp_path, keep, min_span, k):
    _, parts, ids, texts = corpus
    assert len(parts) >= 8
    want = engine.repeated_spans(texts, doc_ids=ids, min_span=min_span, keep=keep, backend="cpu")
    got, counts = _cross(parts, tmp_path / "work", min_span=min_span, keep=keep, k=k)
    assert got.schema == want.schema
    assert got.equals(want)
    assert want.num_rows > 5
    assert counts["documents"] == len(texts)
    assert counts["bytes"] == sum(len(t.encode()) for t in texts)
    assert counts["k"] == min(k, min_span) and counts["w"] == min_span - counts["k"] + 1
    assert counts["spans"] == want.num_rows
    # every row's source holds exactly the row's bytes
    by_id = dict(zip(ids, texts))
    for row in got.to_pylist():
        text = by_id[row["doc_id"]].encode()
        source = by_id[row["source_doc_id"]].encode()
        piece = text[row["start"] : row["end"]]
        assert source[row["source_start"] : row["source_start"] + len(piece)] == piece


def test_ids_column_counts_and_read_report(tmp_path):
    paths = _write_corpus(tmp_path, seed=3, n_files=3, docs_per_file=12)
    (tmp_path / "empty.jsonl").write_text("")
    with open(paths[1], "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    parts = plan_parts([*paths, str(tmp_path / "empty.jsonl")], 600)
    ids, texts = _read_all(parts, id_column="id")
    want = engine.repeated_spans(texts, doc_ids=ids, min_span=48, backend="cpu")
    got, counts = _cross(parts, tmp_path / "w", min_span=48, keep="first", k=16, id_column="id")
    assert got.equals(want)
    assert set(got.column("doc_id").to_pylist()) <= set(ids)
    assert counts["report"]["skipped"] == {"malformed_json": 1, "empty_file": 1}
    assert counts["report"]["documents"] == len(texts)
    assert counts["groups"] >= 1 and counts["edges"] <= counts["documents"] - counts["groups"]
    assert counts["largest_group_bytes"] > 0
    assert counts["groups_over_budget"] >= 1  # budget 3000 bytes: the boilerplate group
    _, roomy = _cross(parts, tmp_path / "w", min_span=48, keep="first", k=16, budget=10**9)
    assert roomy["groups_over_budget"] == 0 and roomy["batches"] == 1
    assert not any((tmp_path / "w" / name).exists() for name in ("fingerprints", "group-texts"))


def test_deterministic_across_ranges_workers_and_schedulers(corpus, tmp_path):
    _, parts, _, _ = corpus
    results = [
        _cross(parts, tmp_path / "w", min_span=40, keep="first", k=12, n_ranges=n, workers=wk)
        for n, wk in ((1, 1), (3, 2), (17, 2), (None, 1))
    ]
    with session("local", 2) as runner:  # worker processes: every task argument pickles
        results.append(
            _cross(parts, tmp_path / "w", min_span=40, keep="first", k=12, runner=runner)
        )
    first_table, first_counts = results[0]
    for table, counts in results[1:]:
        assert table.equals(first_table)
        for key in ("groups", "documents_in_groups", "singletons_checked", "fingerprints"):
            assert counts[key] == first_counts[key]


def test_empty_and_tiny_inputs(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": ""}\n{"text": "ab"}\n', encoding="utf-8")
    got, counts = _cross(plan_parts([str(path)]), tmp_path / "w", min_span=5, keep="first", k=3)
    assert got.num_rows == 0 and counts["documents"] == 2 and counts["batches"] == 0
    got, counts = _cross([], tmp_path / "w", min_span=5, keep="first", k=3)
    assert got.num_rows == 0 and counts["documents"] == 0


def test_bad_parameters_name_the_fix(corpus, tmp_path):
    _, parts, _, _ = corpus
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        _cross(parts, tmp_path, min_span=10, keep="first", k=0)
    with pytest.raises(ValueError, match="n_ranges"):
        _cross(parts, tmp_path, min_span=10, keep="first", k=4, n_ranges=0)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    texts=st.lists(st.text(alphabet="abé", max_size=40), min_size=1, max_size=14),
    min_span=st.integers(2, 9),
    k=st.integers(1, 12),
    keep=st.sampled_from(["first", "none"]),
    n_files=st.integers(1, 3),
    n_ranges=st.integers(1, 4),
)
def test_small_alphabet_cases_equal_one_call(texts, min_span, k, keep, n_files, n_ranges):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for f in range(n_files):
            path = Path(folder) / f"in{f}.jsonl"
            chunk = texts[f::n_files]
            path.write_text(
                "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in chunk),
                encoding="utf-8",
            )
            paths.append(str(path))
        parts = plan_parts(paths, 30)
        ids, all_texts = _read_all(parts)
        want = engine.repeated_spans(
            all_texts, doc_ids=ids, min_span=min_span, keep=keep, backend="cpu"
        )
        got, _ = _cross(
            parts,
            Path(folder) / "w",
            min_span=min_span,
            keep=keep,
            k=k,
            n_ranges=n_ranges,
            budget=50,
        )
        assert got.equals(want)
