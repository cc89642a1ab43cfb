"""``substr --write-deduped`` writes what ``dedup --write-deduped`` writes: one file per
input part in the input's own format and compression, every column kept, the text cut;
documents left empty are dropped and counted; WARC input gives JSON Lines."""

from __future__ import annotations

import gzip
import io
import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.warcwriter import WARCWriter

import engine
from engine.substrings.pipeline import substr

datasets.disable_progress_bars()

PARAGRAPH = (
    "Boilerplate: this page was generated automatically from the project sources, "
    "please do not edit it by hand; changes will be overwritten on the next build."
)
RUN = dict(min_span=50, progress=False, scheduler="threads", backend="cpu", write_deduped=True)


def body(i: int) -> str:
    return f"Document {i} talks about " + " ".join(f"topic{i}w{j}" for j in range(12)) + ". "


def texts() -> list[str]:
    """d3 is the boilerplate alone: cut to nothing, it is dropped."""
    return [body(0) + PARAGRAPH, body(1), body(2) + PARAGRAPH, PARAGRAPH, body(4) + "Café ☕"]


def expected_cut(docs: list[str]) -> list[str]:
    spans = engine.repeated_spans(docs, min_span=50, backend="cpu").to_pylist()
    out = []
    for i, text in enumerate(docs):
        mine = [(s["start"], s["end"]) for s in spans if s["doc_id"] == str(i)]
        data = engine.remove_spans(text.encode(), [a for a, _ in mine], [b for _, b in mine])
        out.append(data.decode())
    return out


def records() -> list[dict]:
    return [
        {"id": f"d{i}", "text": text, "lang": "en", "meta": {"n": i, "tags": ["a", str(i)]}}
        for i, text in enumerate(texts())
    ]


@pytest.mark.parametrize("shard_size", ["256MB", 300])
def test_jsonl_keeps_every_key_and_the_compression(tmp_path, shard_size):
    path = tmp_path / "docs.jsonl.gz"
    empty = {"id": "d5", "text": "", "lang": "en", "meta": {}}  # empty to begin with: kept
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        for record in [*records(), empty]:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    out = tmp_path / "out"
    result = substr([str(path)], out=out, shard_size=shard_size, **RUN)
    assert result.summary["counts"]["path"] == (
        "single-shard" if shard_size == "256MB" else "cross-shard"
    )
    written = out / "deduped" / "00000-docs.jsonl.gz"
    assert sorted(p.name for p in (out / "deduped").iterdir()) == [written.name]
    lines = [json.loads(line) for line in gzip.decompress(written.read_bytes()).splitlines()]
    cut = expected_cut(texts())
    want = [{**r, "text": cut[i]} for i, r in enumerate(records()) if i != 3]
    assert lines == [*want, empty]
    assert PARAGRAPH not in lines[2]["text"] and PARAGRAPH in lines[0]["text"]
    assert result.summary["counts"]["deduped"] == {
        "files": 1,
        "documents": 5,
        "documents_emptied": 1,
    }
    assert result.summary["deduped_files"] == [str(written)]
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["counts"]["deduped"]["documents_emptied"] == 1


def test_parquet_keeps_schema_and_one_file_per_part(tmp_path):
    table = pa.table(
        {
            "text": pa.array(texts(), pa.large_string()),
            "n": pa.array(range(5), pa.int32()),
            "tags": [["x", str(i)] for i in range(5)],
        }
    )
    pq.write_table(table.slice(0, 3), tmp_path / "a.parquet", compression="zstd")
    pq.write_table(table.slice(3), tmp_path / "b.parquet", compression="zstd")
    out = tmp_path / "out"
    result = substr([str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")], out=out, **RUN)
    first = pq.read_table(out / "deduped" / "00000-a.parquet")
    second = pq.read_table(out / "deduped" / "00001-b.parquet")
    assert first.schema == table.schema and second.schema == table.schema
    meta = pq.ParquetFile(out / "deduped" / "00000-a.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    cut = expected_cut(texts())
    assert first["text"].to_pylist() == cut[:3]
    assert second["n"].to_pylist() == [4]  # row 3 was emptied
    assert second["text"].to_pylist() == [cut[4]]
    assert result.summary["counts"]["deduped"]["files"] == 2


def test_save_to_disk_gives_arrow_files_datasets_can_load(tmp_path):
    folder = tmp_path / "ds"
    data = {"text": texts(), "label": list(range(5))}
    datasets.Dataset.from_dict(data).save_to_disk(str(folder))
    out = tmp_path / "out"
    substr([str(folder)], out=out, **RUN)
    (written,) = (out / "deduped").iterdir()
    assert written.name == "00000-data-00000-of-00001.arrow"
    kept = datasets.Dataset.from_file(str(written))
    assert kept.features == datasets.load_from_disk(str(folder)).features
    assert kept["label"] == [0, 1, 2, 4]
    cut = expected_cut(texts())
    assert kept["text"] == [cut[i] for i in (0, 1, 2, 4)]


def test_warc_gives_jsonl_with_the_record_columns(tmp_path):
    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as raw:
        writer = WARCWriter(raw, gzip=True)
        for i, text in enumerate(texts()):
            record = writer.create_warc_record(
                f"http://example.com/{i}",
                "conversion",
                payload=io.BytesIO(text.encode()),
                warc_content_type="text/plain",
            )
            writer.write_record(record)
    out = tmp_path / "out"
    substr([str(path)], out=out, **RUN)
    written = out / "deduped" / "00000-crawl.jsonl.gz"
    lines = [json.loads(line) for line in gzip.decompress(written.read_bytes()).splitlines()]
    cut = expected_cut(texts())
    assert [line["url"] for line in lines] == [f"http://example.com/{i}" for i in (0, 1, 2, 4)]
    assert [line["text"] for line in lines] == [cut[i] for i in (0, 1, 2, 4)]
    assert all(line["warc_record_id"].startswith("<urn:uuid:") for line in lines)
    assert all(line["warc_date"] for line in lines)
    assert set(lines[0]) == {"url", "warc_record_id", "warc_date", "text"}


def test_text_files_and_stale_files(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, text in enumerate(texts()):
        (folder / f"p{i}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    substr([str(folder)], out=out, **RUN)
    names = sorted(p.name for p in (out / "deduped").iterdir())
    assert names == ["00000-p0.txt", "00001-p1.txt", "00002-p2.txt", "00004-p4.txt"]
    cut = expected_cut(texts())
    assert (out / "deduped" / "00002-p2.txt").read_text(encoding="utf-8") == cut[2]
    stale = out / "deduped" / "00009-old.txt"
    stale.write_text("from an earlier run")
    again = substr([str(folder)], out=out, **RUN)
    assert again.summary["counts"]["shards_reused"] == 1
    assert not stale.exists()
    assert sorted(p.name for p in (out / "deduped").iterdir()) == names
