"""The JSONL fast path (engine.io.jsonl_fast) gives exactly what the line-by-line
reader gives: documents, ids, rows, batches' content and the read report, on clean and
on damaged files; and it is the path clean files take."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.io.jsonl as jsonl
from engine.io import ReadReport, plan_parts, read_part
from engine.io.jsonl_fast import parse_block

CLEAN = st.text(min_size=0, max_size=40).filter(
    lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)
)
LINES = st.one_of(
    CLEAN.map(lambda t: json.dumps({"text": t, "id": t[:5] or "x", "n": 1})),
    CLEAN.map(lambda t: json.dumps({"text": t}, ensure_ascii=False)),
    st.just('{"text": null, "id": "a"}'),
    st.just('{"id": "no text"}'),
    st.just('{"text": 5, "id": "int text"}'),
    st.just('{"text": "x", "id": 7}'),
    st.just('{"text": "dup", "text": "later"}'),
    st.just('{"text": "lone \\ud800 surrogate"}'),
    st.just('{"text": "a"}{"text": "b"}'),
    st.just("[1, 2]"),
    st.just("{not json"),
    st.just(""),
    st.just("   "),
    st.just('{"text": "nested", "o": {"a": [1, {"b": null}]}}'),
)


def _write(path, lines: list[str], bad_bytes: bool, bom: bool) -> None:
    data = "\n".join(lines).encode("utf-8") + b"\n"
    if bad_bytes:
        data += b'{"text": "caf\xe9 latin-1"}\n'
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)


def _read(path, fast: bool, **options):
    with pytest.MonkeyPatch.context() as patch:
        if not fast:
            patch.setattr(jsonl, "parse_block", lambda *args: None)
        report = ReadReport()
        tables = []
        for part in plan_parts([str(path)], 2**30):
            tables += list(read_part(part, report=report, **options))
    table = pa.concat_tables(tables) if tables else None
    return (None if table is None else table.to_pydict()), report.to_dict()


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(LINES, max_size=40),
    bad_bytes=st.booleans(),
    bom=st.booleans(),
    id_column=st.sampled_from([None, "id"]),
    batch_bytes=st.sampled_from([64, 1000, 2**20]),
)
def test_fast_path_equals_the_line_by_line_reader(
    tmp_path_factory, lines, bad_bytes, bom, id_column, batch_bytes
):
    path = tmp_path_factory.mktemp("jsonl") / "docs.jsonl"
    _write(path, lines, bad_bytes, bom)
    options = {"id_column": id_column, "batch_bytes": batch_bytes}
    try:
        slow = _read(path, fast=False, **options)
    except Exception as err:  # e.g. a key no record holds: the same error both ways
        try:
            _read(path, fast=True, **options)
        except Exception as fast_err:
            assert type(fast_err) is type(err) and str(fast_err) == str(err)
            return
        raise AssertionError(f"only the slow path raised {err!r}") from None
    assert _read(path, fast=True, **options) == slow


def test_clean_files_take_the_fast_path(tmp_path, monkeypatch):
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"doc {i}", "id": str(i)}) + "\n" for i in range(500))
    )
    calls = []

    def spy(*args):
        table = parse_block(*args)
        calls.append(table is not None)
        return table

    monkeypatch.setattr(jsonl, "parse_block", spy)
    report = ReadReport()
    (part,) = plan_parts([str(path)])
    table = pa.concat_tables(list(read_part(part, report=report, id_column="id")))
    assert calls == [True] and table.num_rows == 500
    assert table.column("doc_id").to_pylist()[:2] == ["0", "1"]
    assert table.schema.field("text").type == pa.large_string()


def test_parse_block_refuses_what_the_slow_path_must_count():
    ok = parse_block([b'{"text": "a"}\n', b'{"text": "b"}\n'], [0, 2], "text", None, "f")
    assert ok.column("doc_id").to_pylist() == ["f:0", "f:2"]
    assert ok.column("row").to_pylist() == [0, 2]
    for bad in (
        b'{"text": "caf\xe9"}\n',  # invalid UTF-8 inside a string
        b'{"text": "a"}{"text": "b"}\n',  # two objects on one line
        b'{"text": "a", "text": "b"}\n',  # a duplicated key
        b'{"text": "\\udc00"}\n',  # a lone surrogate escape
        b'{"text": null}\n',
        b'{"text": 1}\n',
        b"[1]\n",
    ):
        assert parse_block([bad], [0], "text", None, "f") is None, bad
    assert parse_block([b'{"text": "a", "id": 3}\n'], [0], "text", "id", "f") is None
