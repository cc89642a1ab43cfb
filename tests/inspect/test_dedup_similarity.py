"""``edges.parquet`` (dedup --write-edges: verified edges and rejected candidate pairs)
and ``clusters.parquet``'s similarity column."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.neardup.edges import EDGES_SCHEMA
from engine.neardup.params import DedupParams
from engine.neardup.similarity import REJECTED_PER_BUCKET
from kernels.lsh import band_keys, candidate_edges

RUN = {"scheduler": "threads", "workers": 2, "backend": "cpu", "progress": False}
PARAMS = {"num_perm": 64, "ngram": 2, "threshold": 0.7, "seed": 3}


def corpus_texts() -> list[str]:
    """Documents with light-edited copies (several per original) and unrelated ones."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(400)]
    texts = []
    for i in range(24):
        base = [rng.choice(words) for _ in range(60)]
        texts.append(" ".join(base))
        for _ in range(i % 3):
            copy = list(base)
            for _ in range(3):
                copy[rng.randrange(len(copy))] = rng.choice(words)
            texts.append(" ".join(copy))
    return texts


def edited(rng: random.Random, words: list[str], base: list[str], edits: int) -> list[str]:
    copy = list(base)
    for pos in rng.sample(range(len(copy)), edits):
        copy[pos] = rng.choice(words)
    return copy


def spread_texts() -> list[str]:
    """Families with similarities spread around 0.7 (word bigrams): A, B = A with 3
    words changed, C = B with 3 more (A ~ B ~ C, A-C often below), D = A with 8-12."""
    rng = random.Random(11)
    words = [f"w{i}" for i in range(400)]
    texts = []
    for i in range(16):
        base = [rng.choice(words) for _ in range(60)]
        middle = edited(rng, words, base, 3)
        far = edited(rng, words, base, 8 + i % 5)
        texts += [" ".join(t) for t in (base, middle, edited(rng, words, middle, 3), far)]
    return texts


def write_jsonl(path, texts: list[str]):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def share_equal(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    return (sig_a == sig_b).sum(axis=1) / sig_a.shape[1]


def test_edges_hold_every_verified_pair_with_its_similarity(tmp_path):
    texts = corpus_texts()
    src = write_jsonl(tmp_path / "docs.jsonl", texts)
    out = tmp_path / "out"
    engine.dedup([src], out, write_edges=True, partition_size="2KB", **PARAMS, **RUN)
    edges = pq.read_table(out / "edges.parquet")
    assert edges.schema.equals(EDGES_SCHEMA)
    assert edges.column("verified").null_count == 0
    edges = edges.filter(edges.column("verified"))
    a, b = edges.column("a").to_numpy(), edges.column("b").to_numpy()
    assert len(a) > 10 and np.all(a < b)
    assert np.all(np.diff(a * len(texts) + b) > 0)  # sorted by (a, b), each pair once
    assert edges.column("exact_jaccard").null_count == edges.num_rows

    # the same verification in memory, independently of the shuffle
    sigs = engine.minhash(texts, num_perm=64, ngram=2, seed=3, backend="cpu")
    bands, rows = DedupParams(**PARAMS).band_rows
    ref_a, ref_b, _ = candidate_edges(band_keys(sigs, bands, rows), sigs, threshold=0.7)
    assert set(zip(a.tolist(), b.tolist())) == set(zip(ref_a.tolist(), ref_b.tolist()))
    expected = share_equal(sigs[a], sigs[b]).astype(np.float32)
    np.testing.assert_array_equal(edges.column("similarity").to_numpy(), expected)
    assert edges.column("similarity").to_numpy().min() >= 0.7

    ids = pq.read_table(out / "clusters.parquet").column("doc_id").to_pylist()
    assert edges.column("doc_a").to_pylist() == [ids[i] for i in a]
    assert edges.column("doc_b").to_pylist() == [ids[i] for i in b]


def expected_rejected(sigs: np.ndarray, keys: np.ndarray, threshold: float) -> set:
    """Per band and bucket of equal keys: (first member, other member) pairs among the
    bucket's first REJECTED_PER_BUCKET members whose share of equal slots is below the
    threshold, in plain Python."""
    pairs = set()
    for j in range(keys.shape[1]):
        buckets: dict[int, list[int]] = {}
        for doc, key in enumerate(keys[:, j].tolist()):
            buckets.setdefault(key, []).append(doc)
        for members in buckets.values():
            first = members[0]
            for other in members[1:REJECTED_PER_BUCKET]:
                if share_equal(sigs[[first]], sigs[[other]])[0] < threshold:
                    pairs.add((first, other))
    return pairs


def test_edges_hold_rejected_candidates_below_the_threshold(tmp_path, monkeypatch):
    texts = spread_texts()
    src = write_jsonl(tmp_path / "docs.jsonl", texts)
    params = {**PARAMS, "bands": 16, "rows": 4}
    result = engine.dedup(
        [src], tmp_path / "out", write_edges=True, partition_size="2KB", **params, **RUN
    )
    table = pq.read_table(tmp_path / "out" / "edges.parquet")
    a, b = table.column("a").to_numpy(), table.column("b").to_numpy()
    assert np.all(a < b) and np.all(np.diff(a * len(texts) + b) > 0)  # each pair once
    verified = table.column("verified").to_numpy(zero_copy_only=False)
    similarity = table.column("similarity").to_numpy()
    counts = result.summary["counts"]
    assert counts["edges_written"] == verified.sum() > 10
    assert counts["rejected_pairs_written"] == (~verified).sum() > 10
    assert counts["rejected_pairs_capped"] == 0

    sigs = engine.minhash(texts, num_perm=64, ngram=2, seed=3, backend="cpu")
    keys = band_keys(sigs, 16, 4)
    ref_a, ref_b, _ = candidate_edges(keys, sigs, threshold=0.7)
    assert set(zip(a[verified].tolist(), b[verified].tolist())) == set(
        zip(ref_a.tolist(), ref_b.tolist())
    )
    ra, rb = a[~verified], b[~verified]
    np.testing.assert_array_equal(
        similarity[~verified], share_equal(sigs[ra], sigs[rb]).astype(np.float32)
    )
    assert similarity[~verified].max() < 0.7 <= similarity[verified].min()
    assert np.all((keys[ra] == keys[rb]).any(axis=1))  # every pair shares a band key
    assert set(zip(ra.tolist(), rb.tolist())) == expected_rejected(sigs, keys, 0.7)
    # some rejected pairs still ended in one cluster (through a chain), some did not
    cluster_id = result.clusters.column("cluster_id").to_numpy()
    merged = cluster_id[ra] == cluster_id[rb]
    assert merged.any() and not merged.all()

    # written window by window of a (a rerun only rewrites the table): the same rows
    monkeypatch.setattr("engine.neardup.edges.EDGES_PER_WINDOW", 7)
    engine.dedup([src], tmp_path / "out", write_edges=True, partition_size="2KB", **params, **RUN)
    assert pq.read_table(tmp_path / "out" / "edges.parquet").equals(table)


def chain_texts() -> list[str]:
    """A ~ B and B ~ C (Jaccard 0.82 of word sets) but A, C only 0.67."""
    words = [f"t{i}" for i in range(240)]
    a, b, c = (" ".join(words[s : s + 200]) for s in (0, 20, 40))
    return [a, "an unrelated short note about nothing in particular at all", b, c]


def test_cluster_similarity_is_to_the_kept_document(tmp_path):
    texts = chain_texts()
    src = write_jsonl(tmp_path / "chain.jsonl", texts)
    params = {"num_perm": 128, "ngram": 1, "threshold": 0.75, "seed": 3, "bands": 32, "rows": 4}
    result = engine.dedup([src], tmp_path / "out", **params, **RUN)
    clusters = result.clusters
    assert clusters.column("cluster_id").to_pylist() == [0, 1, 0, 0]
    similarity = clusters.column("similarity").to_numpy()
    assert clusters.schema.field("similarity").type == "float"
    assert similarity[0] == 1.0 and similarity[1] == 1.0  # kept; singleton
    sigs = engine.minhash(texts, num_perm=128, ngram=1, seed=3, backend="cpu")
    expected = share_equal(sigs[[2, 3]], sigs[[0, 0]]).astype(np.float32)
    np.testing.assert_array_equal(similarity[[2, 3]], expected)
    assert similarity[3] < 0.75 <= similarity[2]  # C joined through B, below the threshold


def test_in_memory_clusters_have_the_column_and_edges_need_a_folder(tmp_path):
    texts = chain_texts()
    result = engine.dedup(
        [write_jsonl(tmp_path / "c.jsonl", texts)], None, ngram=1, seed=3, threshold=0.75, **RUN
    )
    assert result.clusters.column("similarity").to_pylist()[:2] == [1.0, 1.0]
    with pytest.raises(ValueError, match="write_edges needs an output folder"):
        engine.dedup([tmp_path / "c.jsonl"], None, write_edges=True, **RUN)


def test_resume_with_and_without_write_edges(tmp_path):
    src = write_jsonl(tmp_path / "docs.jsonl", corpus_texts())
    out = tmp_path / "out"
    first = engine.dedup([src], out, partition_size="2KB", **PARAMS, **RUN)
    assert not (out / "edges.parquet").exists()
    clusters = pq.read_table(out / "clusters.parquet")

    second = engine.dedup([src], out, partition_size="2KB", write_edges=True, **PARAMS, **RUN)
    reused = second.summary["counts"]["stages_reused"]
    assert reused["edges"] == second.summary["counts"]["shuffle_ranges"]
    assert pq.read_table(out / "clusters.parquet").equals(clusters)
    edges = pq.read_table(out / "edges.parquet")
    assert second.summary["counts"]["edges_written"] == edges.num_rows > 0
    assert first.summary["counts"]["clusters"] == second.summary["counts"]["clusters"]

    # edge files of a run made before the similarities or the rejected pairs existed:
    # the ranges missing them are recomputed
    for suffix in ("similarity", "rejected", "rejected_similarity"):
        missing = sorted((out / "_work").glob(f"edges-*/range-*.{suffix}.npy"))[::2]
        assert missing
        for path in missing:
            path.unlink()
        again = engine.dedup([src], out, partition_size="2KB", write_edges=True, **PARAMS, **RUN)
        ranges = again.summary["counts"]["shuffle_ranges"]
        assert again.summary["counts"]["stages_reused"]["edges"] == ranges - len(missing)
        assert pq.read_table(out / "edges.parquet").equals(edges)

    # a rerun without the flag removes the stale edges.parquet
    engine.dedup([src], out, partition_size="2KB", **PARAMS, **RUN)
    assert not (out / "edges.parquet").exists()
    assert pq.read_table(out / "clusters.parquet").equals(clusters)


def test_cli_write_edges(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "docs.jsonl", corpus_texts())
    args = ["dedup", "docs.jsonl", "--out", "out", "--ngram", "2", "--threshold", "0.7"]
    args += ["--scheduler", "threads", "--backend", "cpu", "-q", "--write-edges"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    edges = pq.read_table(tmp_path / "out" / "edges.parquet")
    assert edges.num_rows > 0
    assert edges.column("doc_a")[0].as_py().startswith("docs.jsonl:")
