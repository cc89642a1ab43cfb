"""`ouroboros substr` / engine.substrings.pipeline over files: contract, shards, resume, CLI."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.substrings.pipeline import substr

PARAGRAPH = (
    "Boilerplate: this page was generated automatically from the project sources, "
    "please do not edit it by hand; changes will be overwritten on the next build. "
)


WORDS = ["river", "stone", "quiet", "lamp", "orbit", "maple", "signal", "harbor", "velvet"]


def _corpus(tmp_path, n=6):
    path = tmp_path / "docs.jsonl"
    records = []
    for i in range(n):
        rng = random.Random(i)
        body = " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(30)) + ". "
        text = body + (PARAGRAPH if i % 2 == 0 else "") + "Café ☕ 日本語 " * (i % 3)
        records.append({"id": f"d{i}", "text": text})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path, records


def test_spans_match_the_in_memory_api(tmp_path):
    path, records = _corpus(tmp_path)
    result = substr(
        [str(path)],
        out=tmp_path / "o",
        min_span=50,
        id_column="id",
        progress=False,
        scheduler="threads",
    )
    want = engine.repeated_spans(
        [r["text"] for r in records], doc_ids=[r["id"] for r in records], min_span=50, backend="cpu"
    )
    assert result.spans.equals(want)
    # d2 and d4 repeat d0's boilerplate; in d4 it runs on into "Café ☕ 日本語 ", which
    # follows the boilerplate in d2 only: a second row with d2 as its source
    assert result.spans.to_pydict()["source_doc_id"] == ["d0", "d0", "d2"]
    on_disk = pq.read_table(tmp_path / "o" / "spans.parquet")
    assert on_disk.equals(want)
    assert on_disk.schema.names == ["doc_id", "start", "end", "source_doc_id", "source_start"]
    counts = json.loads((tmp_path / "o" / "summary.json").read_text())["counts"]
    assert counts["documents"] == len(records)
    assert counts["documents_with_spans"] == 2


@pytest.mark.parametrize("keep", ["first", "none"])
def test_results_are_exact_whatever_the_shard_size(tmp_path, keep):
    path, records = _corpus(tmp_path, n=12)
    want = engine.repeated_spans(
        [r["text"] for r in records],
        doc_ids=[r["id"] for r in records],
        min_span=50,
        keep=keep,
        backend="cpu",
    )
    for partition_size, shard_size in (("256MB", 1200), ("2KB", 1200), ("2KB", "256MB")):
        result = substr(
            [str(path)],
            out=tmp_path / f"o-{partition_size}-{shard_size}",
            min_span=50,
            keep=keep,
            id_column="id",
            partition_size=partition_size,
            shard_size=shard_size,
            write_deduped=True,
            progress=False,
            scheduler="threads",
        )
        assert result.spans.equals(want), (partition_size, shard_size)
        assert result.summary["counts"]["path"] == (
            "single-shard" if shard_size == "256MB" else "cross-shard"
        )
        files = sorted((tmp_path / f"o-{partition_size}-{shard_size}" / "deduped").iterdir())
        assert [f.name[6:] for f in files] == ["docs.jsonl"] * len(files)  # one per part
        lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        assert [line["id"] for line in lines] == [r["id"] for r in records]
        cut = {line["id"]: line["text"] for line in lines}
        spans = want.to_pylist()
        for record in records:
            mine = [(s["start"], s["end"]) for s in spans if s["doc_id"] == record["id"]]
            expected = engine.remove_spans(
                record["text"].encode(), [a for a, _ in mine], [b for _, b in mine]
            ).decode()
            assert cut[record["id"]] == expected


def test_write_deduped_and_resume(tmp_path):
    path, records = _corpus(tmp_path)
    out = tmp_path / "o"
    first = substr(
        [str(path)], out=out, min_span=50, id_column="id", write_deduped=True, progress=False
    )
    lines = (out / "deduped" / "00000-docs.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in records]
    assert texts[0] == records[0]["text"]
    assert PARAGRAPH not in texts[2] and PARAGRAPH in records[2]["text"]
    again = substr(
        [str(path)], out=out, min_span=50, id_column="id", write_deduped=True, progress=False
    )
    assert again.summary["counts"]["shards_reused"] == 1
    assert again.spans.equals(first.spans)
    changed = substr(
        [str(path)], out=out, min_span=60, id_column="id", write_deduped=True, progress=False
    )
    assert changed.summary["counts"]["shards_reused"] == 0


def test_bad_parameters(tmp_path):
    path, _ = _corpus(tmp_path)
    with pytest.raises(ValueError, match="min_span"):
        substr([str(path)], min_span=0, progress=False, scheduler="threads")
    with pytest.raises(ValueError, match="keep"):
        substr([str(path)], keep="longest", progress=False, scheduler="threads")
    with pytest.raises(ValueError, match="output folder"):
        substr([str(path)], write_deduped=True, progress=False, scheduler="threads")


def test_cli_substr(tmp_path):
    path, _ = _corpus(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "substr",
            str(path),
            "--out",
            str(tmp_path / "c"),
            "--min-span",
            "50",
            "-q",
            "--keep",
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    # keep=none marks d0 too; d2 and d4 each get a second row where the boilerplate runs
    # on into "Café ☕ 日本語 " (copied from the other one)
    assert line["documents"] == 6 and line["spans"] == 5
    result = runner.invoke(
        main, ["substr", str(path), "--out", str(tmp_path / "d"), "--text-column", "body", "-q"]
    )
    assert result.exit_code != 0 and "body" in result.output
