"""End-to-end near-duplicate runs on files: API, CLI, invariants, bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from bench.corpus import giant_cluster_check, score_pairs
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "docs.jsonl.gz"
TRUTH = json.loads((ROOT / "sample" / "truth.json").read_text())


@pytest.fixture(scope="module")
def sample_plain(tmp_path_factory) -> Path:
    """The bundled sample, uncompressed (so it can be split into many partitions)."""
    path = tmp_path_factory.mktemp("sample") / "docs.jsonl"
    path.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    return path


@pytest.fixture(scope="module")
def sample_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return engine.dedup([str(SAMPLE)], out=out, backend="cpu", progress=False)  # "local"


def test_planted_near_duplicates_are_found(sample_result):
    scores = score_pairs(sample_result.clusters, TRUTH)
    assert scores["precision"] >= 0.98, scores
    assert scores["recall"] >= 0.95, scores
    merges = giant_cluster_check(sample_result.clusters, TRUTH)
    assert merges["unrelated_merges"] == 0, merges


def test_outputs_follow_the_contract(sample_result):
    out = sample_result.out
    table = pq.read_table(out / "clusters.parquet")
    assert table.schema.names == ["doc_id", "cluster_id", "cluster_size", "keep", "similarity"]
    assert [str(t) for t in table.schema.types] == ["string", "int64", "int64", "bool", "float"]
    assert table.equals(sample_result.clusters)
    ids = table.column("doc_id").to_pylist()
    assert len(ids) == len(set(ids)) == len(TRUTH["ids"])  # every document exactly once
    assert ids[0] == f"{SAMPLE}:0"
    rows = table.to_pylist()
    by_cluster: dict[int, list[dict]] = {}
    for index, row in enumerate(rows):
        assert row["cluster_id"] <= index  # the smallest index in the cluster
        by_cluster.setdefault(row["cluster_id"], []).append(row)
    for cluster_id, members in by_cluster.items():
        assert rows[cluster_id]["cluster_id"] == cluster_id
        assert all(m["cluster_size"] == len(members) for m in members)
        assert sum(m["keep"] for m in members) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["documents"] == len(ids)
    assert summary["counts"]["duplicates"] == len(ids) - sum(r["keep"] for r in rows)
    assert summary["parameters"]["bands"] * summary["parameters"]["rows"] <= 128
    assert {"signatures", "shuffle", "edges", "components", "write"} <= set(summary["timings_s"])
    assert summary["versions"]["unicode"]
    assert not list(out.rglob(".tmp-*"))


def test_results_do_not_depend_on_partitioning(sample_plain, sample_result, tmp_path):
    many = engine.dedup(
        [str(sample_plain)],
        out=tmp_path / "many",
        backend="cpu",
        partition_size="64KB",
        workers=2,
        progress=False,
        scheduler="threads",
    )
    assert many.summary["counts"]["partitions"] >= 8
    one = engine.dedup(
        [str(sample_plain)], backend="cpu", workers=1, progress=False, scheduler="threads"
    )
    assert one.out is None
    for name in ("cluster_id", "cluster_size", "keep"):
        assert many.clusters.column(name).equals(sample_result.clusters.column(name))
        assert one.clusters.column(name).equals(sample_result.clusters.column(name))


def test_rerun_resumes_and_changed_parameters_recompute(sample_plain, tmp_path):
    out = tmp_path / "out"
    first = engine.dedup(
        [str(sample_plain)], out=out, partition_size="200KB", progress=False, scheduler="threads"
    )
    again = engine.dedup(
        [str(sample_plain)], out=out, partition_size="200KB", progress=False, scheduler="threads"
    )
    parts = first.summary["counts"]["partitions"]
    assert again.summary["counts"]["partitions_reused"] == parts
    assert again.clusters.equals(first.clusters)
    changed = engine.dedup(
        [str(sample_plain)],
        out=out,
        partition_size="200KB",
        ngram=3,
        progress=False,
        scheduler="threads",
    )
    assert changed.summary["counts"]["partitions_reused"] == 0


def test_bad_records_are_counted_not_lost(tmp_path):
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"text": "the quick brown fox jumps over the lazy dog again"}),
        "{not json",
        json.dumps({"body": "no text key here"}),
        json.dumps({"text": "the quick brown fox jumps over the lazy dog again"}),
        json.dumps({"text": ""}),
    ]
    path.write_text("\n".join(lines) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = engine.dedup(
        [str(path), str(empty)],
        out=tmp_path / "o",
        progress=False,
        scheduler="threads",
        max_skipped=1.0,  # 2 of 5 records damaged: more than the default 10%
    )
    summary = result.summary
    assert summary["read"]["skipped"]["malformed_json"] == 1
    assert summary["read"]["skipped"]["missing_text"] == 1
    assert summary["read"]["skipped"]["empty_file"] == 1
    problems = {(p["reason"], p.get("line")) for p in summary["read"]["problems"]}
    assert ("malformed_json", 1) in problems
    assert result.clusters.column("doc_id").to_pylist() == [f"{path}:0", f"{path}:3", f"{path}:4"]
    assert result.clusters.column("cluster_id").to_pylist() == [0, 0, 2]
    assert summary["counts"]["documents_without_shingles"] == 1
    with pytest.raises(ValueError, match="malformed"):
        engine.dedup([str(path)], strict=True, progress=False, scheduler="threads")


def test_keep_longest_and_write_deduped(tmp_path):
    path = tmp_path / "docs.jsonl"
    base = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    records = [
        {"id": "short", "text": base},
        {"id": "other", "text": "completely different words about another subject entirely here"},
        {"id": "long", "text": base + " pi"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = engine.dedup(
        [str(path)],
        out=tmp_path / "o",
        id_column="id",
        keep="longest",
        threshold=0.7,
        write_deduped=True,
        progress=False,
        scheduler="threads",
    )
    assert result.clusters.column("doc_id").to_pylist() == ["short", "other", "long"]
    assert result.clusters.column("keep").to_pylist() == [False, True, True]
    written = result.summary["deduped_files"]
    assert len(written) == 1
    kept = [json.loads(line)["id"] for line in Path(written[0]).read_text().splitlines()]
    assert kept == ["other", "long"]


def test_cli_dedup_and_errors(tmp_path, sample_plain):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(
        main, ["dedup", str(sample_plain), "--out", str(out), "--quiet", "--backend", "cpu"]
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["documents"] == len(TRUTH["ids"])
    assert (out / "clusters.parquet").exists()

    result = runner.invoke(
        main,
        [
            "dedup",
            str(sample_plain),
            "--out",
            str(tmp_path / "x"),
            "--text-column",
            "content",
            "-q",
            "--scheduler",
            "threads",
        ],
    )
    assert result.exit_code != 0
    assert "content" in result.output and "text" in result.output

    result = runner.invoke(
        main,
        [
            "dedup",
            str(tmp_path / "missing.jsonl"),
            "--out",
            str(tmp_path / "y"),
            "-q",
            "--scheduler",
            "threads",
        ],
    )
    assert result.exit_code != 0 and "not found" in result.output

    result = runner.invoke(
        main,
        [
            "dedup",
            str(sample_plain),
            "--out",
            str(tmp_path / "z"),
            "--bands",
            "20",
            "-q",
            "--scheduler",
            "threads",
        ],
    )
    assert result.exit_code != 0 and "--rows" in result.output


def test_cuda_backend_without_device_is_an_error(tmp_path, sample_plain):
    from kernels.backend import cuda_usable

    if cuda_usable():
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        engine.dedup([str(sample_plain)], backend="cuda", progress=False, scheduler="threads")


@pytest.mark.slow
def test_distributed_local_cluster_gives_same_clusters(sample_plain, sample_result, tmp_path):
    result = engine.dedup(
        [str(sample_plain)],
        out=tmp_path / "dist",
        scheduler="local",
        workers=2,
        partition_size="300KB",
        progress=False,
    )
    assert result.clusters.column("cluster_id").equals(sample_result.clusters.column("cluster_id"))
    shutil.rmtree(tmp_path / "dist")


def test_changed_parameters_recompute_only_dependent_stages(sample_plain, tmp_path):
    out = tmp_path / "out"
    common = dict(out=out, partition_size="200KB", progress=False, scheduler="threads")
    base = engine.dedup([str(sample_plain)], bands=9, rows=13, **common)
    n_parts = base.summary["counts"]["partitions"]
    # threshold with fixed bands/rows: signatures and shuffle reused, edges recomputed
    stricter = engine.dedup([str(sample_plain)], bands=9, rows=13, threshold=0.95, **common)
    assert stricter.summary["counts"]["partitions_reused"] == n_parts
    assert stricter.summary["counts"]["stages_reused"]["shuffle"] == n_parts
    assert stricter.summary["counts"]["stages_reused"]["edges"] == 0
    assert stricter.summary["counts"]["duplicates"] <= base.summary["counts"]["duplicates"]
    # keep policy: every stage reused, only the keep flags change
    longest = engine.dedup(
        [str(sample_plain)], bands=9, rows=13, threshold=0.95, keep="longest", **common
    )
    reused = longest.summary["counts"]["stages_reused"]
    assert reused == {"shuffle": n_parts, "edges": longest.summary["counts"]["shuffle_ranges"]}
    assert longest.clusters.column("cluster_id").equals(stricter.clusters.column("cluster_id"))
    # and back (the work files of other parameters were replaced): same as the first run
    again = engine.dedup([str(sample_plain)], bands=9, rows=13, **common)
    assert again.clusters.equals(base.clusters)


def test_output_folder_of_another_run_is_refused(sample_plain, tmp_path):
    from engine.substrings.pipeline import substr

    out = tmp_path / "out"
    engine.dedup([str(sample_plain)], out=out, progress=False, scheduler="threads")
    with pytest.raises(ValueError, match="Choose another --out"):
        substr([str(sample_plain)], out=out, progress=False, scheduler="threads")
    other = tmp_path / "other.jsonl"
    other.write_text('{"text": "x"}\n')
    with pytest.raises(ValueError, match="Choose another --out"):
        engine.dedup([str(other)], out=out, progress=False, scheduler="threads")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not made by ouroboros"):
        engine.dedup([str(sample_plain)], out=stranger, progress=False, scheduler="threads")


def test_shuffle_ranges_do_not_change_clusters(sample_plain, sample_result, tmp_path):
    many = engine.dedup(
        [str(sample_plain)],
        out=tmp_path / "r",
        partition_size="20KB",
        progress=False,
        scheduler="threads",
    )
    assert many.summary["counts"]["shuffle_ranges"] > 4
    assert many.clusters.column("cluster_id").equals(sample_result.clusters.column("cluster_id"))


def test_repeated_doc_ids_are_counted(tmp_path):
    path = tmp_path / "docs.jsonl"
    texts = ["one two three four five six seven", "alpha beta gamma delta epsilon zeta"]
    ids = ["a", "a", "b", "c", "c", "c"]
    rows = [{"id": i, "text": f"{texts[k % 2]} {k}"} for k, i in enumerate(ids)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = dict(progress=False, scheduler="threads", partition_size="100B")
    result = engine.dedup([str(path)], out=tmp_path / "o", id_column="id", **common)
    assert result.summary["counts"]["partitions"] > 1
    assert result.summary["counts"]["duplicate_doc_ids"] == 3
    assert engine.dedup([str(path)], **common).summary["counts"]["duplicate_doc_ids"] == 0
