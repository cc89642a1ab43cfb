"""Deduped writer: kept documents re-written in the input's own format."""

from __future__ import annotations

import gzip
import io
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from engine.io import InputPart, ReadReport, plan_parts, read_part
from engine.io.write_kept import deduped_path, write_kept


def compress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def decompress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return data


def read_parts(parts, **kwargs) -> pa.Table:
    report = ReadReport()
    tables = [t for part in parts for t in read_part(part, report=report, **kwargs)]
    return pa.concat_tables(tables)


def no_temporaries(out_dir) -> bool:
    folder = os.path.join(out_dir, "deduped")
    return not os.path.isdir(folder) or not any(n.startswith(".") for n in os.listdir(folder))


def test_deduped_path():
    part = InputPart(3, "some/where/data.jsonl.gz", "jsonl", "gzip")
    assert deduped_path(part, "/out") == deduped_path(part, "/out/")
    assert str(deduped_path(part, "/out")) == os.path.join("/out", "deduped", "00003-data.jsonl.gz")
    assert deduped_path(InputPart(12345, "x.txt", "text", None), "o").name == "12345-x.txt"


JSONL_LINES = [
    b'{"text": "zero",   "k": 1}\n',  # odd spacing: lines must be copied, not re-serialised
    b"\n",
    b'{"text": "two"}\r\n',
    b"{malformed\n",
    '{"text": "f\u00fcnf \u4e2d"}\n'.encode(),
    b'{"text": "five", "id": 5}\n',
    b'{"text":"six"}',  # no final newline
]


@pytest.mark.parametrize(
    ("name", "compression"), [("d.jsonl", None), ("d.jsonl.gz", "gzip"), ("d.jsonl.zst", "zstd")]
)
def test_jsonl_kept_lines_are_byte_identical(tmp_path, name, compression):
    source = tmp_path / name
    source.write_bytes(compress(b"".join(JSONL_LINES), compression))
    (part,) = plan_parts([str(source)])
    kept = np.array([0, 4, 6], dtype=np.int64)
    out = write_kept(part, kept, tmp_path / "out")
    assert out == deduped_path(part, tmp_path / "out")
    assert out.name == f"00000-{name}"
    expected = JSONL_LINES[0] + JSONL_LINES[4] + JSONL_LINES[6]
    assert decompress(out.read_bytes(), compression) == expected
    again = read_parts(plan_parts([str(out)]))
    assert again["text"].to_pylist() == ["zero", "f\u00fcnf \u4e2d", "six"]
    assert no_temporaries(tmp_path / "out")


def test_jsonl_split_parts_write_their_own_rows(tmp_path):
    lines = [json.dumps({"text": f"line {i}"}).encode() + b"\n" for i in range(60)]
    source = tmp_path / "big.jsonl"
    source.write_bytes(b"".join(lines))
    parts = plan_parts([str(source)], partition_size=150)
    assert len(parts) >= 3
    table = read_parts(parts)
    kept_all = np.array([r for r in table["row"].to_pylist() if r % 3 == 0], dtype=np.int64)
    written = b""
    for part in parts:
        end = None if part.byte_end < 0 else part.byte_end
        in_part = [
            r for r in kept_all if part.byte_start <= sum(map(len, lines[:r])) < (end or 1e18)
        ]
        path = write_kept(part, np.array(in_part, dtype=np.int64), tmp_path / "out")
        if in_part:
            written += path.read_bytes()
        else:
            assert path is None
    assert written == b"".join(lines[r] for r in kept_all)


def test_nothing_kept_writes_nothing(tmp_path):
    source = tmp_path / "d.jsonl"
    source.write_bytes(b"".join(JSONL_LINES))
    (part,) = plan_parts([str(source)])
    assert write_kept(part, np.array([], dtype=np.int64), tmp_path / "out") is None
    assert not (tmp_path / "out").exists()
    report = ReadReport()
    # rows past the end of the part match nothing: reported, nothing written
    assert write_kept(part, np.array([99, 100]), tmp_path / "out", report=report) is None
    assert not deduped_path(part, tmp_path / "out").exists()
    assert report.problems[0]["reason"] == "deduped_rows_missing"
    # a file from an earlier run does not survive a run that keeps nothing
    assert write_kept(part, np.array([0]), tmp_path / "out") is not None
    assert write_kept(part, np.array([], dtype=np.int64), tmp_path / "out") is None
    assert not deduped_path(part, tmp_path / "out").exists()
    assert no_temporaries(tmp_path / "out")


def test_kept_rows_must_be_integers(tmp_path):
    part = InputPart(0, str(tmp_path / "x.jsonl"), "jsonl", None)
    with pytest.raises(ValueError, match="integers"):
        write_kept(part, np.array([0.5]), tmp_path)
    with pytest.raises(ValueError, match="1-D"):
        write_kept(part, np.zeros((2, 2), dtype=np.int64), tmp_path)


def test_truncated_gzip_writes_what_can_be_read(tmp_path):
    lines = [json.dumps({"text": f"doc {i} " + "pad " * 40}).encode() + b"\n" for i in range(2000)]
    data = gzip.compress(b"".join(lines))
    source = tmp_path / "cut.jsonl.gz"
    source.write_bytes(data[: len(data) // 2])
    (part,) = plan_parts([str(source)])
    report = ReadReport()
    rows = np.concatenate([t["row"].to_numpy() for t in read_part(part, report=report)])
    assert report.skipped == {"corrupt_compression": 1}
    out = write_kept(part, rows, tmp_path / "out")
    assert gzip.decompress(out.read_bytes()) == b"".join(lines[: len(rows)])


def test_parquet_kept_rows(tmp_path):
    n = 30
    source_table = pa.table(
        {
            "text": [f"text {i}" for i in range(n)],
            "id": pa.array(range(n), pa.int32()),
            "meta": [{"a": i} for i in range(n)],
        }
    ).replace_schema_metadata({"origin": "test"})
    source = tmp_path / "d.parquet"
    pq.write_table(source_table, source, row_group_size=7, compression="zstd")
    parts = plan_parts([str(source)], partition_size=1)
    assert len(parts) == 5
    kept = np.array([0, 1, 6, 7, 13, 20, 29], dtype=np.int64)
    outputs = []
    for part in parts:
        in_part = kept[(kept >= part.first_row) & (kept < part.first_row + 7)]
        path = write_kept(part, in_part, tmp_path / "out")
        assert (path is None) == (in_part.size == 0)
        if path is not None:
            outputs.append(pq.read_table(path))
            assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    result = pa.concat_tables(outputs)
    assert result.schema == source_table.schema
    assert result.schema.metadata[b"origin"] == b"test"
    assert result.equals(source_table.take(kept))
    assert no_temporaries(tmp_path / "out")


def test_text_file_copied_when_kept(tmp_path):
    source = tmp_path / "note.md"
    source.write_bytes("caf\u00e9\r\nline two".encode())
    (part,) = plan_parts([str(source)])
    assert write_kept(part, np.array([1]), tmp_path / "out") is None
    out = write_kept(part, np.array([0]), tmp_path / "out")
    assert out.name == "00000-note.md" and out.read_bytes() == source.read_bytes()


def write_warc(path, gz: bool) -> str:
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(os.path.basename(path), {"a": "b"}))
        for i in range(6):
            if i % 2:
                http = StatusAndHeaders(
                    "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
                )
                record = writer.create_warc_record(
                    f"http://e.com/{i}",
                    "response",
                    payload=io.BytesIO(f"<p>page {i}</p>".encode()),
                    http_headers=http,
                )
            else:
                record = writer.create_warc_record(
                    f"http://e.com/{i}",
                    "conversion",
                    payload=io.BytesIO(f"wet text {i} \u00e9".encode()),
                    warc_content_type="text/plain",
                )
            writer.write_record(record)
    return str(path)


@pytest.mark.parametrize(("name", "gz"), [("d.warc.gz", True), ("d.warc", False), ("d.wet", False)])
def test_warc_kept_records(tmp_path, name, gz):
    source = write_warc(tmp_path / name, gz)
    (part,) = plan_parts([source])
    table = read_parts([part], columns=["url", "warc_record_id"])
    assert table["row"].to_pylist() == [1, 2, 3, 4, 5, 6]
    kept = np.array([2, 3, 6], dtype=np.int64)
    out = write_kept(part, kept, tmp_path / "out")
    assert out.name == f"00000-{name}"
    with open(out, "rb") as f:
        head = f.read(2)
    assert (head == b"\x1f\x8b") == gz

    again = read_parts(plan_parts([str(out)]), columns=["url", "warc_record_id"])
    wanted = table.filter(pa.array(np.isin(table["row"].to_numpy(), kept)))
    for column in ("text", "url", "warc_record_id"):
        assert again[column].to_pylist() == wanted[column].to_pylist()
    with open(out, "rb") as f:
        kinds = [record.rec_type for record in ArchiveIterator(f)]
    assert kinds == ["warcinfo", "response", "conversion", "response"]
    assert no_temporaries(tmp_path / "out")
