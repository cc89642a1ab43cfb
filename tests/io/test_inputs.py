"""Input layer: planning, reading every format, and every bad-input path."""

from __future__ import annotations

import gzip
import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from engine.io import (
    InputError,
    InputPart,
    ReadReport,
    detect_format,
    html_to_text,
    parse_size,
    plan_parts,
    read_part,
)
from engine.io.report import MAX_PROBLEMS

# --------------------------------------------------------------------------- helpers


def compress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def write_lines(path, lines: list[bytes | str], compression: str | None = None) -> str:
    """Write raw lines (each gets a trailing newline) and return the path as str."""
    data = b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)
    with open(path, "wb") as f:
        f.write(compress(data, compression))
    return str(path)


def write_jsonl(path, records: list[dict], compression: str | None = None) -> str:
    return write_lines(path, [json.dumps(r, ensure_ascii=False) for r in records], compression)


def read_all(inputs, partition_size: int = 2**30, **kwargs) -> tuple[pa.Table | None, ReadReport]:
    """Plan and read everything; returns the concatenated table (None if empty) and report."""
    report = ReadReport()
    tables = []
    for part in plan_parts(inputs, partition_size=partition_size, report=report):
        tables.extend(read_part(part, report=report, **kwargs))
    return (pa.concat_tables(tables) if tables else None), report


def write_warc(path, records: list[tuple], gz: bool) -> str:
    """records: (kind, url, content_type, payload bytes); a warcinfo record comes first."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gz)
        writer.write_record(writer.create_warcinfo_record(os.path.basename(path), {"x": "y"}))
        for kind, url, content_type, payload in records:
            if kind == "response":
                headers = [("Content-Type", content_type)] if isinstance(content_type, str) else []
                if isinstance(content_type, list):  # full header list
                    headers = content_type
                http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    url, "response", payload=io.BytesIO(payload), http_headers=http
                )
            elif kind == "request":
                http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "e.com")], is_http_request=True)
                record = writer.create_warc_record(
                    url, "request", payload=io.BytesIO(b""), http_headers=http
                )
            else:
                record = writer.create_warc_record(
                    url, kind, payload=io.BytesIO(payload), warc_content_type=content_type
                )
            writer.write_record(record)
    return str(path)


EXPECTED_COLUMNS = ["doc_id", "text", "row"]

# --------------------------------------------------------------------------- JSONL


@pytest.mark.parametrize(
    ("suffix", "compression"),
    [(".jsonl", None), (".jsonl.gz", "gzip"), (".json.zst", "zstd"), (".ndjson.zstd", "zstd")],
)
def test_jsonl_round_trip(tmp_path, suffix, compression):
    records = [{"text": f"document {i} \u00e9\u4e2d", "n": i} for i in range(5)]
    path = write_jsonl(tmp_path / f"data{suffix}", records, compression)
    table, report = read_all([path])
    assert table.column_names == EXPECTED_COLUMNS
    assert table.schema.field("doc_id").type == pa.string()
    assert table.schema.field("text").type == pa.large_string()
    assert table.schema.field("row").type == pa.int64()
    assert table["text"].to_pylist() == [r["text"] for r in records]
    assert table["doc_id"].to_pylist() == [f"{path}:{i}" for i in range(5)]
    assert table["row"].to_pylist() == list(range(5))
    assert report.files == 1 and report.documents == 5 and report.skipped == {}


def test_detect_format():
    assert detect_format("a/b.jsonl") == ("jsonl", None)
    assert detect_format("b.JSON.GZ") == ("jsonl", "gzip")
    assert detect_format("b.ndjson.zst") == ("jsonl", "zstd")
    assert detect_format("b.parquet") == ("parquet", None)
    assert detect_format("b.pq") == ("parquet", None)
    assert detect_format("b.warc.gz") == ("warc", "gzip")
    assert detect_format("b.wet") == ("warc", None)
    assert detect_format("notes.txt") == ("text", None)
    assert detect_format("notes.md.gz") == ("text", "gzip")
    with pytest.raises(InputError, match="decompress"):
        detect_format("b.parquet.gz")


def test_blank_lines_count_in_row_numbers(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl",
        ['{"text": "a"}', "", "   ", '{"text": "b"}', "\r", '{"text": "c"}'],
    )
    table, report = read_all([path])
    assert table["row"].to_pylist() == [0, 3, 5]
    assert table["doc_id"].to_pylist() == [f"{path}:0", f"{path}:3", f"{path}:5"]
    assert report.skipped == {} and report.problems == []


def test_crlf_lines_and_last_line_without_newline(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "a"}\r\n{"text": "b"}')
    table, _ = read_all([str(path)])
    assert table["text"].to_pylist() == ["a", "b"]


def mixed_jsonl(tmp_path, n: int = 120) -> str:
    lines: list[str] = []
    for i in range(n):
        lines.append(json.dumps({"text": "x" * (i % 37) + f" doc {i}", "id": f"id-{i}"}))
        if i % 7 == 0:
            lines.append("")
        if i % 29 == 0:
            lines.append("{not json")
    return write_lines(tmp_path / "mixed.jsonl", lines)


@pytest.mark.parametrize("partition_size", [1, 97, 500, 1999])
def test_split_parts_read_the_same_as_one_part(tmp_path, partition_size):
    path = mixed_jsonl(tmp_path)
    whole, whole_report = read_all([path])
    parts = plan_parts([path], partition_size=partition_size)
    assert len(parts) >= 3
    assert [p.index for p in parts] == list(range(len(parts)))
    assert parts[0].byte_start == 0 and parts[-1].byte_end == -1
    for before, after in zip(parts, parts[1:], strict=False):
        assert before.byte_end == after.byte_start
    split, split_report = read_all([path], partition_size=partition_size)
    assert split.equals(whole)
    assert split_report.files == whole_report.files == 1
    assert split_report.documents == whole_report.documents == 120
    assert split_report.skipped == whole_report.skipped == {"malformed_json": 5}
    assert sorted(p["line"] for p in split_report.problems) == sorted(
        p["line"] for p in whole_report.problems
    )


def test_split_first_row_is_the_line_number(tmp_path):
    path = mixed_jsonl(tmp_path)
    with open(path, "rb") as f:
        data = f.read()
    for part in plan_parts([path], partition_size=300):
        assert data[: part.byte_start].count(b"\n") == part.first_row
        assert part.byte_start == 0 or data[part.byte_start - 1 : part.byte_start] == b"\n"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(partition_size=st.integers(min_value=1, max_value=3000))
def test_any_partition_size_gives_the_same_rows(tmp_path, partition_size):
    path = mixed_jsonl(tmp_path, n=60)
    whole, _ = read_all([path])
    split, report = read_all([path], partition_size=partition_size)
    assert split.equals(whole)
    assert report.files == 1


def test_compressed_jsonl_is_one_part(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl.gz", [{"text": "a" * 100}] * 50, "gzip")
    assert len(plan_parts([path], partition_size=10)) == 1


def test_small_batches(tmp_path):
    records = [{"text": f"text number {i} " * (i % 5 + 1)} for i in range(200)]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    (part,) = plan_parts([path])
    report = ReadReport()
    tables = list(read_part(part, batch_bytes=500, report=report))
    assert len(tables) > 5
    assert all(t.num_rows > 0 and t.column_names == EXPECTED_COLUMNS for t in tables)
    one = list(read_part(part, report=ReadReport()))
    assert len(one) == 1
    assert pa.concat_tables(tables).equals(one[0])
    assert report.documents == 200


def test_id_column_and_fallback(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl",
        [
            '{"text": "a", "id": "x1"}',
            '{"text": "b", "id": 7}',
            '{"text": "c"}',
            '{"text": "d", "id": null}',
        ],
    )
    table, report = read_all([path], id_column="id")
    assert table["doc_id"].to_pylist() == ["x1", "7", f"{path}:2", f"{path}:3"]
    assert report.fallback_ids == 2
    assert [(p["reason"], p["line"]) for p in report.problems] == [
        ("missing_id", 2),
        ("missing_id", 3),
    ]
    with pytest.raises(InputError, match="missing_id"):
        read_all([path], id_column="id", strict=True)


def test_extra_columns_from_jsonl_are_strings(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl",
        [
            '{"text": "a", "lang": "en", "score": 0.5, "tags": ["x", 1], "ok": true}',
            '{"text": "b", "lang": null, "score": 3, "ok": false}',
        ],
    )
    table, _ = read_all([path], columns=["lang", "score", "tags", "ok"])
    assert table.column_names == [*EXPECTED_COLUMNS, "lang", "score", "tags", "ok"]
    assert table["lang"].to_pylist() == ["en", None]
    assert table["score"].to_pylist() == ["0.5", "3"]
    assert table["tags"].to_pylist() == ['["x",1]', None]
    assert table["ok"].to_pylist() == ["true", "false"]


def test_missing_text_column_names_the_columns_present(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"id": 1, "body": "hello"}])
    with pytest.raises(InputError) as info:
        read_all([path], text_column="content")
    message = str(info.value)
    assert "'content'" in message and "data.jsonl" in message
    assert "['id', 'body']" in message
    assert "--text-column body" in message


def test_missing_id_and_extra_columns_raise(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"text": "a", "url": "u"}])
    with pytest.raises(InputError, match=r"id column 'doc'.*\['text', 'url'\]"):
        read_all([path], id_column="doc")
    with pytest.raises(InputError, match=r"column 'lang'.*\['text', 'url'\]"):
        read_all([path], columns=["lang"])
    with pytest.raises(InputError, match="clash"):
        read_all([path], columns=["row"])


def test_bad_lines_are_counted_with_line_numbers(tmp_path):
    path = write_lines(
        tmp_path / "d.jsonl",
        [
            '{"text": "ok"}',
            '{"text": "ok", ',  # 1 malformed
            '{"body": "no text"}',  # 2 missing
            '{"text": null}',  # 3 null
            '{"text": 12}',  # 4 number
            '{"text": ["a"]}',  # 5 list
            "[1, 2]",  # 6 not an object
            '"just a string"',  # 7 not an object
            '{"text": "last"}',
        ],
    )
    table, report = read_all([path])
    assert table["text"].to_pylist() == ["ok", "last"]
    assert table["row"].to_pylist() == [0, 8]
    assert report.skipped == {"malformed_json": 3, "missing_text": 2, "non_string_text": 2}
    assert [(p["reason"], p["line"]) for p in report.problems] == [
        ("malformed_json", 1),
        ("missing_text", 2),
        ("missing_text", 3),
        ("non_string_text", 4),
        ("non_string_text", 5),
        ("malformed_json", 6),
        ("malformed_json", 7),
    ]
    assert all(p["file"] == path for p in report.problems)
    assert "Expecting" in report.problems[0]["detail"]


@pytest.mark.parametrize("bad_line", ['{"text": "ok", ', '{"body": "x"}', '{"text": 3}'])
def test_strict_raises_on_bad_lines(tmp_path, bad_line):
    path = write_lines(tmp_path / "d.jsonl", ['{"text": "ok"}', bad_line])
    with pytest.raises(InputError, match=r"line 1"):
        read_all([path], strict=True)


def test_json_array_file_gets_a_hint(tmp_path):
    path = write_lines(tmp_path / "d.json", ['[{"text": "a"},', '{"text": "b"}]'])
    _, report = read_all([path])
    assert report.skipped["malformed_json"] == 2
    assert "JSON array" in report.problems[0]["detail"]


def test_invalid_utf8_is_replaced_and_counted(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [b'{"text": "caf\xe9 ok"}', b'{"text": "fine"}'])
    table, report = read_all([path])
    assert table["text"].to_pylist() == ["caf\ufffd ok", "fine"]
    assert report.invalid_utf8_documents == 1
    assert report.problems == [
        {"file": path, "line": 0, "reason": "invalid_utf8", "detail": report.problems[0]["detail"]}
    ]


def test_lone_surrogate_escape_is_replaced(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", ['{"text": "a\\ud800b", "id": "\\udfff"}'])
    table, report = read_all([path], id_column="id")
    assert table["text"].to_pylist() == ["a\ufffdb"]
    assert table["doc_id"].to_pylist() == ["\ufffd"]
    assert report.invalid_utf8_documents == 1


def test_utf8_bom_at_file_start(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "a"}\n{"text": "b"}\n')
    table, report = read_all([str(path)])
    assert table["text"].to_pylist() == ["a", "b"]
    assert report.skipped == {}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(), min_size=1, max_size=8))
def test_any_unicode_text_survives_jsonl(tmp_path, texts):
    path = write_jsonl(tmp_path / "h.jsonl", [{"text": t} for t in texts])
    table, report = read_all([path])
    assert table["text"].to_pylist() == texts
    assert report.invalid_utf8_documents == 0


# ------------------------------------------------------------------ empty, missing, corrupt


@pytest.mark.parametrize("name", ["e.jsonl", "e.txt", "e.jsonl.gz", "e.parquet", "e.warc.gz"])
def test_zero_byte_file_is_reported(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    table, report = read_all([str(tmp_path / name)])
    assert table is None
    assert report.files == 1
    assert report.skipped == {"empty_file": 1}
    assert report.problems[0]["file"] == str(tmp_path / name)


def test_file_without_documents_is_reported(tmp_path):
    path = write_lines(tmp_path / "blank.jsonl", ["", "  "])
    table, report = read_all([path])
    assert table is None and report.skipped == {"empty_file": 1}


def test_missing_input_and_no_inputs(tmp_path):
    with pytest.raises(InputError, match="input not found"):
        plan_parts([str(tmp_path / "nope.jsonl")])
    with pytest.raises(InputError, match="no inputs"):
        plan_parts([])
    (tmp_path / "only_hidden").mkdir()
    (tmp_path / "only_hidden" / ".secret.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(InputError, match="no files"):
        plan_parts([str(tmp_path / "only_hidden")])
    with pytest.raises(InputError, match="partition_size"):
        plan_parts([str(tmp_path)], partition_size=0)


def test_broken_link_in_a_directory(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text("a")
    os.symlink(root / "gone.txt", root / "link.txt")
    with pytest.raises(InputError, match="broken symbolic link"):
        plan_parts([str(root)])
    report = ReadReport()
    parts = plan_parts(str(root), report=report)  # a single path is accepted too
    assert [p.path for p in parts] == [os.path.join(str(root), "a.txt")]
    assert report.skipped == {"missing_file": 1}
    assert report.problems[0]["file"] == os.path.join(str(root), "link.txt")


def test_file_deleted_after_planning(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "a"}])
    (part,) = plan_parts([path])
    os.remove(path)
    report = ReadReport()
    assert list(read_part(part, report=report)) == []
    assert report.skipped == {"missing_file": 1}
    with pytest.raises(InputError, match="missing_file"):
        list(read_part(part, report=ReadReport(), strict=True))


def test_unreadable_file(tmp_path):
    folder = tmp_path / "looks_like.jsonl"
    folder.mkdir()  # opening a folder as a file fails even for root
    part = InputPart(0, str(folder), "jsonl", None)
    report = ReadReport()
    assert list(read_part(part, report=report)) == []
    assert report.skipped == {"unreadable_file": 1}
    with pytest.raises(InputError, match="unreadable_file"):
        list(read_part(part, report=ReadReport(), strict=True))


@pytest.mark.parametrize(("suffix", "compression"), [(".jsonl.gz", "gzip"), (".jsonl.zst", "zstd")])
def test_truncated_compressed_file_keeps_what_was_read(tmp_path, suffix, compression):
    lines = [json.dumps({"text": f"document number {i} " + "pad " * 30}) for i in range(3000)]
    data = compress(("\n".join(lines) + "\n").encode(), compression)
    path = tmp_path / f"d{suffix}"
    path.write_bytes(data[: len(data) // 2])
    table, report = read_all([str(path)])
    assert 0 < table.num_rows < 3000
    assert table["row"].to_pylist() == list(range(table.num_rows))
    assert report.skipped.get("corrupt_compression") == 1
    problem = [p for p in report.problems if p["reason"] == "corrupt_compression"][0]
    assert problem["file"] == str(path) and "line" in problem
    with pytest.raises(InputError, match="corrupt_compression"):
        read_all([str(path)], strict=True)


def test_multi_frame_zstd(tmp_path):
    first = zstandard.ZstdCompressor().compress(b'{"text": "a"}\n')
    second = zstandard.ZstdCompressor().compress(b'{"text": "b"}\n')
    path = tmp_path / "d.jsonl.zst"
    path.write_bytes(first + second)
    table, report = read_all([str(path)])
    assert table["text"].to_pylist() == ["a", "b"] and report.skipped == {}


# --------------------------------------------------------------------------- Parquet


def write_parquet(path, table: pa.Table, row_group_size: int = 4) -> str:
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path)


def test_parquet_round_trip_and_split(tmp_path):
    n = 22
    source = pa.table(
        {
            "text": pa.array([f"parquet doc {i} " * (i + 1) for i in range(n)], pa.large_string()),
            "id": pa.array(range(100, 100 + n), pa.int64()),
            "score": pa.array([i / 2 for i in range(n)], pa.float64()),
        }
    )
    path = write_parquet(tmp_path / "d.parquet", source)
    whole, report = read_all([path], id_column="id", columns=["score"])
    assert whole.column_names == [*EXPECTED_COLUMNS, "score"]
    assert whole["text"].to_pylist() == source["text"].to_pylist()
    assert whole["doc_id"].to_pylist() == [str(i) for i in range(100, 100 + n)]
    assert whole["row"].to_pylist() == list(range(n))
    assert whole.schema.field("score").type == pa.float64()
    assert report.files == 1 and report.documents == n

    parts = plan_parts([path], partition_size=200)
    assert len(parts) >= 3
    assert [rg for p in parts for rg in p.row_groups] == list(range(6))
    assert parts[1].first_row == 4 * len(parts[0].row_groups)
    split, split_report = read_all([path], partition_size=200, id_column="id", columns=["score"])
    assert split.equals(whole)
    assert split_report.files == 1

    report = ReadReport()
    tables = list(read_part(plan_parts([path])[0], batch_bytes=64, report=report))
    assert len(tables) > 3
    assert pa.concat_tables(tables)["doc_id"].to_pylist() == [f"{path}:{i}" for i in range(n)]


def test_parquet_null_text_and_null_id(tmp_path):
    source = pa.table(
        {"text": ["a", None, "c", ""], "id": ["x", "y", None, "w"]},
    )
    path = write_parquet(tmp_path / "d.pq", source, row_group_size=2)
    table, report = read_all([path], id_column="id")
    assert table["text"].to_pylist() == ["a", "c", ""]
    assert table["row"].to_pylist() == [0, 2, 3]
    assert table["doc_id"].to_pylist() == ["x", f"{path}:2", "w"]
    assert report.skipped == {"missing_text": 1}
    assert report.fallback_ids == 1
    assert {(p["reason"], p["row"]) for p in report.problems} == {
        ("missing_text", 1),
        ("missing_id", 2),
    }
    with pytest.raises(InputError, match="missing_text"):
        read_all([path], strict=True)


def test_parquet_missing_and_non_string_text_column(tmp_path):
    path = write_parquet(tmp_path / "d.parquet", pa.table({"n": [1, 2], "body": ["a", "b"]}))
    with pytest.raises(InputError) as info:
        read_all([path])
    assert "['n', 'body']" in str(info.value) and "--text-column body" in str(info.value)
    with pytest.raises(InputError, match="not string"):
        read_all([path], text_column="n")
    with pytest.raises(InputError, match="id column 'doc'"):
        read_all([path], text_column="body", id_column="doc")


def test_parquet_invalid_utf8(tmp_path):
    offsets = pa.py_buffer(pa.array([0, 3, 7], pa.int32()).buffers()[1])
    invalid = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"ok!caf\xe9")])
    path = write_parquet(tmp_path / "s.parquet", pa.table({"text": invalid}))
    table, report = read_all([path])
    assert table["text"].to_pylist() == ["ok!", "caf\ufffd"]
    assert report.invalid_utf8_documents == 1
    assert report.problems[0]["row"] == 1

    binary = pa.table({"text": pa.array([b"bin", b"\xff"], pa.binary())})
    path = write_parquet(tmp_path / "b.parquet", binary)
    table, report = read_all([path])
    assert table["text"].to_pylist() == ["bin", "\ufffd"]
    assert report.invalid_utf8_documents == 1


def test_parquet_empty_and_corrupt(tmp_path):
    empty = write_parquet(tmp_path / "e.parquet", pa.table({"text": pa.array([], pa.string())}))
    table, report = read_all([empty])
    assert table is None and report.skipped == {"empty_file": 1}

    corrupt = tmp_path / "c.parquet"
    corrupt.write_bytes(b"this is not parquet at all")
    table, report = read_all([str(corrupt)])
    assert table is None and report.skipped == {"unreadable_file": 1}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(), min_size=1, max_size=8))
def test_any_unicode_text_survives_parquet(tmp_path, texts):
    path = write_parquet(tmp_path / "h.parquet", pa.table({"text": texts}), row_group_size=3)
    table, report = read_all([path], partition_size=1)
    assert table["text"].to_pylist() == texts
    assert report.invalid_utf8_documents == 0


# --------------------------------------------------------------------------- text folders


def test_text_directory(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("bee")
    (root / "a.md").write_text("ay")
    (root / "sub" / "c.txt").write_text("see")
    (root / "sub" / "deeper" / "d").write_text("dee")
    (root / "sub" / "rows.jsonl").write_text('{"text": "j0"}\n{"text": "j1"}\n')
    (root / ".dot.txt").write_text("hidden")
    (root / ".hidden" / "x.txt").write_text("hidden")
    (root / "bin.dat").write_bytes(b"\x89PNG\x00\x00binary")
    (root / "latin.txt").write_bytes(b"caf\xe9")

    given_path = str(root) + os.sep
    table, report = read_all([given_path])
    join = os.path.join
    assert table["doc_id"].to_pylist() == [
        join(given_path, "a.md:0"),
        join(given_path, "b.txt:0"),
        join(given_path, "latin.txt:0"),
        join(given_path, "sub", "c.txt:0"),
        join(given_path, "sub", "deeper", "d:0"),
        join(given_path, "sub", "rows.jsonl:0"),
        join(given_path, "sub", "rows.jsonl:1"),
    ]
    assert table["text"].to_pylist() == ["ay", "bee", "caf\ufffd", "see", "dee", "j0", "j1"]
    assert report.files == 7
    assert report.skipped == {"binary_file": 1}
    assert {p["reason"] for p in report.problems} == {"binary_file", "invalid_utf8"}
    assert report.invalid_utf8_documents == 1

    with pytest.raises(InputError, match="plain text file"):
        read_all([str(root / "b.txt")], id_column="id")


def test_compressed_text_file(tmp_path):
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress("héllo".encode()))
    table, _ = read_all([str(path)])
    assert table["text"].to_pylist() == ["héllo"]


# --------------------------------------------------------------------------- WARC / WET


@pytest.mark.parametrize("gz", [True, False])
def test_wet_conversion_records(tmp_path, gz):
    path = write_warc(
        tmp_path / ("d.wet.gz" if gz else "d.wet"),
        [
            ("conversion", "http://a.com/", "text/plain", "première page".encode()),
            ("conversion", "http://b.com/", "text/plain", b"second\npage"),
        ],
        gz,
    )
    table, report = read_all([path], columns=["url", "warc_record_id", "warc_date"])
    assert table["text"].to_pylist() == ["première page", "second\npage"]
    assert table["row"].to_pylist() == [1, 2]  # row 0 is the warcinfo record
    assert table["doc_id"].to_pylist() == [f"{path}:1", f"{path}:2"]
    assert table["url"].to_pylist() == ["http://a.com/", "http://b.com/"]
    assert all(v.startswith("<urn:uuid:") for v in table["warc_record_id"].to_pylist())
    assert all(v for v in table["warc_date"].to_pylist())
    assert report.files == 1 and report.skipped == {}

    by_url, _ = read_all([path], id_column="url")
    assert by_url["doc_id"].to_pylist() == ["http://a.com/", "http://b.com/"]
    with pytest.raises(InputError, match="WARC input has the columns"):
        read_all([path], columns=["title"])


HTML = (
    b"<html><head><title>Title</title><style>p {color: red}</style>"
    b"<script>var x = '<p>no</p>';</script></head><body><div>First &amp; block</div>"
    b"<p>Second   paragraph<br>new line</p><noscript>enable js</noscript>"
    b"<ul><li>one</li><li>two</li></ul></body></html>"
)


@pytest.mark.parametrize("gz", [True, False])
def test_warc_responses(tmp_path, gz):
    path = write_warc(
        tmp_path / ("d.warc.gz" if gz else "d.warc"),
        [
            ("request", "http://e.com/", None, b""),
            ("response", "http://e.com/", "text/html; charset=utf-8", HTML),
            ("response", "http://e.com/img.png", "image/png", b"\x89PNG\x00"),
            ("response", "http://e.com/t.txt", "text/plain; charset=iso-8859-1", b"caf\xe9"),
            ("metadata", "http://e.com/", "application/json", b"{}"),
        ],
        gz,
    )
    table, report = read_all([path], columns=["url"])
    # main content (the default): the list right under <body> reads as navigation
    assert table["text"].to_pylist() == ["First & block\nSecond paragraph\nnew line", "café"]
    full, _ = read_all([path], html_text="full")
    assert full["text"].to_pylist() == [
        "First & block\nSecond paragraph\nnew line\none\ntwo",
        "café",
    ]
    assert table["row"].to_pylist() == [2, 4]
    assert table["url"].to_pylist() == ["http://e.com/", "http://e.com/t.txt"]
    assert report.skipped == {"non_text_record": 1}
    assert report.problems[0]["reason"] == "non_text_record"
    assert report.invalid_utf8_documents == 0


def test_content_encoded_http_body(tmp_path):
    gzipped = [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")]
    path = write_warc(
        tmp_path / "d.warc.gz",
        [("response", "http://e.com/2", gzipped, gzip.compress(b"unzipped body"))],
        True,
    )
    table, report = read_all([path])
    assert table["text"].to_pylist() == ["unzipped body"]
    assert report.skipped == {}


def test_warc_without_documents_is_reported(tmp_path):
    path = write_warc(tmp_path / "d.warc.gz", [("response", "u", "image/png", b"x")], True)
    table, report = read_all([path])
    assert table is None
    assert report.skipped == {"non_text_record": 1}  # each record counted once, the file not again


def test_truncated_warc(tmp_path):
    records = [
        ("conversion", f"http://e.com/{i}", "text/plain", f"page {i} ".encode() * 200)
        for i in range(10)
    ]
    full = write_warc(tmp_path / "full.warc.gz", records, True)
    with open(full, "rb") as f:
        data = f.read()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[: len(data) // 2])
    table, report = read_all([str(path)])
    assert 0 < table.num_rows < 10
    assert table["text"].to_pylist() == [r[3].decode() for r in records[: table.num_rows]]
    assert report.skipped == {"warc_record_error": 1}
    assert isinstance(report.problems[0]["offset"], int) and report.problems[0]["offset"] > 0
    with pytest.raises(InputError, match="warc_record_error"):
        read_all([str(path)], strict=True)


def test_not_a_warc(tmp_path):
    path = tmp_path / "junk.warc"
    path.write_bytes(b"this is not a warc file\n\n")
    table, report = read_all([str(path)])
    assert table is None
    assert report.skipped == {"warc_record_error": 1}


def test_html_to_text():
    assert html_to_text("<p>a<b>b</b></p><p>c</p>") == "ab\nc"
    assert html_to_text("<script>x</script><style>y</style>z") == "z"
    assert html_to_text("a<br/>b&nbsp;c &lt;d&gt;") == "a\nb c <d>"
    assert html_to_text("") == ""


# --------------------------------------------------------------------------- report, sizes


def test_report_merge_and_to_dict():
    first = ReadReport(files=1, documents=3, invalid_utf8_documents=1)
    first.count_skip("malformed_json", "a.jsonl", line=4, detail="bad")
    second = ReadReport(files=2, documents=5, fallback_ids=2)
    second.count_skip("malformed_json", "b.jsonl", line=1)
    second.count_skip("binary_file", "c.bin")
    assert first.merge(second) is first
    assert first.files == 3 and first.documents == 8
    assert first.invalid_utf8_documents == 1 and first.fallback_ids == 2
    assert first.skipped == {"malformed_json": 2, "binary_file": 1}
    assert [p["file"] for p in first.problems] == ["a.jsonl", "b.jsonl", "c.bin"]
    assert first.total_skipped == 3
    as_dict = json.loads(json.dumps(first.to_dict()))
    assert as_dict["skipped"] == {"binary_file": 1, "malformed_json": 2}
    assert ReadReport.from_dict(as_dict) == first
    assert as_dict["problems"][0] == {
        "file": "a.jsonl",
        "line": 4,
        "reason": "malformed_json",
        "detail": "bad",
    }


def test_report_caps_problems():
    big = ReadReport()
    for i in range(MAX_PROBLEMS + 10):
        big.count_skip("malformed_json", "a", line=i)
    assert len(big.problems) == MAX_PROBLEMS and big.problems_omitted == 10
    assert big.skipped["malformed_json"] == MAX_PROBLEMS + 10
    small = ReadReport()
    small.count_skip("missing_text", "b", line=0)
    small.merge(big)
    assert len(small.problems) == MAX_PROBLEMS
    assert small.problems[0]["file"] == "b"
    assert small.problems_omitted == 11
    small.add_problem("x", "c", detail="y" * 1000)
    assert small.problems_omitted == 12


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000", 1000),
        (1000, 1000),
        ("256MB", 256 * 10**6),
        ("2GB", 2 * 10**9),
        ("64KiB", 64 * 1024),
        ("1.5 MiB", 3 * 2**19),
        ("10b", 10),
        ("3gib", 3 * 2**30),
        (" 7k ", 7000),
        ("0", 0),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "12XB", "-5", "1e3", "ten", None, True, -1, 2.5])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)
