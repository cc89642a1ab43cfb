"""`ouroboros dedup --reference`: flags, cluster roll-ups and keep moved to unflagged."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.provenance import (
    CLUSTER_FLAGS_SCHEMA,
    FLAGS_SCHEMA,
    cluster_flags,
    prefer_unflagged_keep,
)

WORDS = (
    "harbor lantern quiet meadow signal copper orchard velvet summit river basket thunder "
    "canvas pebble marble violet saddle lemon falcon garden timber candle mirror silver"
).split()


def _text(seed: int, n_words: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(n_words)) + "."


def _setup(tmp_path):
    model_output = (
        "Certainly! Here is a detailed explanation of how photosynthesis converts light "
        "energy into chemical energy, stored as glucose in the chloroplasts of plant cells, "
        "and why the Calvin cycle depends on the ATP and NADPH made by the light reactions."
    )
    other_output = _text(99, 80)
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        json.dumps({"id": "gpt-1", "text": model_output, "model": "chatgpt"})
        + "\n"
        + json.dumps({"id": "gpt-2", "text": other_output, "model": "chatgpt"})
        + "\n"
    )
    page = _text(1, 500)
    words = model_output.split()
    edited = " ".join(w if i % 2 else "zzz" + str(i) for i, w in enumerate(words))
    docs = [
        {"id": "a-page-with-output", "text": page + " " + model_output},
        {"id": "b-same-page-edited", "text": page + " " + edited},
        {"id": "c-unrelated", "text": _text(2, 300)},
        {"id": "d-verbatim", "text": other_output},
    ]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return refs, corpus


def test_dedup_with_reference(tmp_path):
    refs, corpus = _setup(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main, ["reference", "build", str(refs), "--out", str(tmp_path / "ref"), "-q"]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    result = runner.invoke(
        main,
        [
            "dedup",
            str(corpus),
            "--out",
            str(out),
            "--id-column",
            "id",
            "--threshold",
            "0.7",
            "--reference",
            str(tmp_path / "ref"),
            "--scheduler",
            "threads",
            "-q",
            "--write-deduped",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["flagged"] == 2

    clusters = pq.read_table(out / "clusters.parquet").to_pylist()
    assert [c["cluster_id"] for c in clusters] == [0, 0, 2, 3]
    # the flagged first member gives way to its unflagged near-duplicate
    assert [c["keep"] for c in clusters] == [False, True, True, True]

    flags = pq.read_table(out / "flags.parquet")
    assert flags.schema.equals(FLAGS_SCHEMA)
    labels = dict(zip(flags.column("doc_id").to_pylist(), flags.column("label").to_pylist()))
    assert labels == {
        "a-page-with-output": "contains_output",
        "b-same-page-edited": "none",
        "c-unrelated": "none",
        "d-verbatim": "verbatim_copy",
    }
    rollup = pq.read_table(out / "cluster_flags.parquet")
    assert rollup.schema.equals(CLUSTER_FLAGS_SCHEMA)
    by_cluster = {r["cluster_id"]: r for r in rollup.to_pylist()}
    assert by_cluster[0]["label"] == "contains_output"
    assert by_cluster[0]["origin_doc_id"] == "gpt-1"
    assert by_cluster[0]["frac_members_flagged"] == 0.5
    assert by_cluster[2]["label"] == "none"

    summary = json.loads((out / "summary.json").read_text())
    assert summary["provenance"]["flagged"] == 2
    assert summary["provenance"]["keep_moved_to_unflagged"] == 1
    kept = [
        json.loads(x)["id"] for x in next((out / "deduped").iterdir()).read_text().split("\n") if x
    ]
    assert kept == ["b-same-page-edited", "c-unrelated", "d-verbatim"]

    in_memory = engine.dedup(
        [str(corpus)],
        id_column="id",
        threshold=0.7,
        reference=str(tmp_path / "ref"),
        scheduler="threads",
        progress=False,
    )
    assert in_memory.flags.equals(flags)
    assert in_memory.clusters.column("keep").to_pylist() == [False, True, True, True]


def test_streamed_rollup_equals_the_table_functions(tmp_path):
    """dedup --reference streams flags and the roll-up part by part (many small parts
    here); the result equals cluster_flags / prefer_unflagged_keep on whole tables."""
    refs, corpus = _setup(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main, ["reference", "build", str(refs), "--out", str(tmp_path / "ref"), "-q"]
    )
    assert result.exit_code == 0, result.output
    common = dict(
        id_column="id",
        threshold=0.7,
        reference=str(tmp_path / "ref"),
        scheduler="threads",
        progress=False,
    )
    small = engine.dedup([str(corpus)], out=tmp_path / "small", partition_size="200B", **common)
    assert small.summary["counts"]["partitions"] > 1
    whole = engine.dedup([str(corpus)], out=tmp_path / "whole", **common)
    memory = engine.dedup([str(corpus)], **common)
    for other in (whole, memory):
        assert other.flags.equals(small.flags)
        assert other.cluster_flags.equals(small.cluster_flags)
        assert other.clusters.equals(small.clusters)
    plain = engine.dedup([str(corpus)], **{**common, "reference": None})
    assert small.cluster_flags.equals(cluster_flags(plain.clusters, small.flags))
    moved = prefer_unflagged_keep(plain.clusters, small.flags)
    assert moved.column("keep").equals(small.clusters.column("keep"))
