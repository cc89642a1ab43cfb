"""Hostile WARC and Parquet input: a damaged record, gzip member or row group costs that
record or group only, counted with its real location; every good one around it is read,
with the row number it has in the intact file (issue "Nothing lost, nothing overwritten",
cases 4 and 5)."""

from __future__ import annotations

import gzip
import io
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from engine.io import InputError, ReadReport, plan_parts, read_part
from engine.io.write_kept import write_kept


def read_all(inputs, partition_size: int = 2**30, **kwargs) -> tuple[pa.Table | None, ReadReport]:
    report = ReadReport()
    tables = []
    for part in plan_parts(inputs, partition_size=partition_size, report=report):
        tables.extend(read_part(part, report=report, **kwargs))
    return (pa.concat_tables(tables) if tables else None), report


def texts_and_rows(table: pa.Table | None) -> list[tuple[int, str]]:
    if table is None:
        return []
    return list(zip(table["row"].to_pylist(), table["text"].to_pylist(), strict=True))


# --------------------------------------------------------------------------- WARC builders

N_RECORDS = 6
DAMAGED = 2  # the record (row) every case damages


def page(i: int) -> str:
    return f"page {i} " + " ".join(f"word{i}x{j}" for j in range(40))


def conversion_record(i: int) -> bytes:
    """One WET conversion record, uncompressed, as WARCWriter writes it."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    record = writer.create_warc_record(
        f"http://e.com/{i}",
        "conversion",
        payload=io.BytesIO(page(i).encode()),
        warc_content_type="text/plain",
    )
    writer.write_record(record)
    return out.getvalue()


def response_record(i: int) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/plain; charset=utf-8"), ("Server", "x" * 200)],
        protocol="HTTP/1.1",
    )
    record = writer.create_warc_record(
        f"http://e.com/{i}", "response", payload=io.BytesIO(page(i).encode()), http_headers=http
    )
    writer.write_record(record)
    return out.getvalue()


def assemble(records: list[bytes], mode: str) -> tuple[bytes, list[int]]:
    """The file bytes and the byte offset where each record starts (its gzip member for
    ``"members"``). ``mode``: ``"plain"``, ``"members"`` (one gzip member per record, as
    WARCWriter(gzip=True) writes) or ``"whole"`` (one gzip stream over the whole file)."""
    if mode == "whole":
        return gzip.compress(b"".join(records), mtime=0), [0] * len(records)
    pieces = records if mode == "plain" else [gzip.compress(r, mtime=0) for r in records]
    offsets = np.cumsum([0] + [len(p) for p in pieces[:-1]]).tolist()
    return b"".join(pieces), offsets


def set_content_length(record: bytes, delta: int) -> bytes:
    header_end = record.index(b"\r\n\r\n") + 2
    match = re.search(rb"Content-Length: (\d+)\r\n", record[:header_end])
    value = int(match.group(1)) + delta
    return record[: match.start(1)] + str(value).encode() + record[match.end(1) :]


def suffix(mode: str) -> str:
    return "d.wet" if mode == "plain" else "d.wet.gz"


def expect_all_but(table, skipped_row: int | None, rows=range(N_RECORDS)) -> None:
    assert texts_and_rows(table) == [(i, page(i)) for i in rows if i != skipped_row]


def only_problem(report: ReadReport) -> dict:
    damage = [p for p in report.problems if p["reason"] != "warc_warning"]
    assert len(damage) == 1, report.problems
    return damage[0]


def big_record(i: int, lines: int = 10_000) -> tuple[bytes, str]:
    """A conversion record of ``lines`` 60-byte lines (10_000: 600 KB, many buffers)."""
    text = (f"record {i} " + "x" * 50 + "\n") * lines
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    writer.write_record(
        writer.create_warc_record(
            f"http://e.com/{i}",
            "conversion",
            payload=io.BytesIO(text.encode()),
            warc_content_type="text/plain",
        )
    )
    return out.getvalue(), text


# --------------------------------------------------------------------------- case 4a


@pytest.mark.parametrize("where", ["deflate data", "crc trailer"])
def test_warc_bad_gzip_member_keeps_every_later_member(tmp_path, where):
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    offsets = []
    for i in range(N_RECORDS):
        offsets.append(out.tell())
        writer.write_record(
            writer.create_warc_record(
                f"http://e.com/{i}",
                "conversion",
                payload=io.BytesIO(page(i).encode()),
                warc_content_type="text/plain",
            )
        )
    data = bytearray(out.getvalue())
    start, end = offsets[DAMAGED], offsets[DAMAGED + 1]
    if where == "deflate data":
        data[start + 12 : end - 8] = b"\xff" * (end - 8 - start - 12)
    else:
        data[end - 8 : end - 4] = bytes(b ^ 0x55 for b in data[end - 8 : end - 4])
    path = tmp_path / "d.warc.gz"
    path.write_bytes(bytes(data))

    table, report = read_all([str(path)])
    expect_all_but(table, DAMAGED)
    assert report.skipped == {"warc_record_error": 1}
    problem = only_problem(report)
    assert problem["offset"] == start and problem["row"] == DAMAGED
    with pytest.raises(InputError, match="warc_record_error"):
        read_all([str(path)], strict=True)


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("where", ["Content-Length", "WARC/1.0 line", "text"])
def test_warc_member_that_inflates_but_fails_its_crc_is_one_record(tmp_path, where, big):
    """Stored (level 0) gzip blocks inflate whatever their bytes: the damage shows only
    at the member's CRC. A big member's data is read (and its framing fails) before its
    CRC is checked: still one damaged record, not a length mismatch and then another."""
    pairs = [big_record(i, 3_000 if big else 10) for i in range(N_RECORDS)]
    records = [raw for raw, _ in pairs]
    members = [gzip.compress(r, compresslevel=0, mtime=0) for r in records]
    record = records[DAMAGED]
    at = {"Content-Length": record.index(b"Content-Length: ") + 16, "WARC/1.0 line": 1}
    at["text"] = record.index(b"record 2 ") + 1
    damaged = bytearray(members[DAMAGED])
    body = members[DAMAGED].index(record[:16])  # where the stored bytes begin
    damaged[body + at[where]] ^= 0x01
    members[DAMAGED] = bytes(damaged)
    offsets = np.cumsum([0] + [len(m) for m in members[:-1]]).tolist()
    path = tmp_path / "d.warc.gz"
    path.write_bytes(b"".join(members))
    table, report = read_all([str(path)])
    assert texts_and_rows(table) == [(i, t) for i, (_, t) in enumerate(pairs) if i != DAMAGED]
    assert report.skipped == {"warc_record_error": 1}
    problem = only_problem(report)
    assert problem["row"] == DAMAGED and problem["offset"] == offsets[DAMAGED]


def test_warc_garbage_between_members_is_counted_once(tmp_path):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    data, offsets = assemble(records, "members")
    garbage = b"this is not gzip data " * 5
    at = offsets[3]
    path = tmp_path / "d.warc.gz"
    path.write_bytes(data[:at] + garbage + data[at:])
    table, report = read_all([str(path)])
    expect_all_but(table, None)  # every record, at its own row
    assert report.skipped == {"warc_record_error": 1}
    assert only_problem(report)["offset"] == at


# --------------------------------------------------------------------------- case 4b, 4c


@pytest.mark.parametrize("mode", ["plain", "members", "whole"])
@pytest.mark.parametrize("delta", [+60, +100_000, -25])
def test_warc_wrong_content_length_costs_one_record(tmp_path, capfd, mode, delta):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    records[DAMAGED] = set_content_length(records[DAMAGED], delta)
    data, offsets = assemble(records, mode)
    path = tmp_path / suffix(mode)
    path.write_bytes(data)

    table, report = read_all([str(path)])
    expect_all_but(table, DAMAGED)
    assert report.skipped == {"warc_length_mismatch": 1}
    problem = only_problem(report)
    assert problem["row"] == DAMAGED and problem["offset"] == offsets[DAMAGED]
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # warcio's warnings stay off stderr
    with pytest.raises(InputError, match="warc_length_mismatch"):
        read_all([str(path)], strict=True)


# --------------------------------------------------------------------------- case 4d, 4e


@pytest.mark.parametrize("mode", ["plain", "members"])
@pytest.mark.parametrize("cut_in", ["warc header", "http header"])
def test_warc_cut_inside_a_record_counts_it(tmp_path, mode, cut_in):
    records = [conversion_record(i) for i in range(N_RECORDS - 1)] + [response_record(5)]
    last = records[-1]
    if cut_in == "warc header":
        cut = last.index(b"Content-Type") + 5
    else:
        cut = last.index(b"Server: x") + 50  # inside the HTTP headers of the response
    whole, offsets = assemble(records[:-1], mode)
    tail = last[:cut] if mode == "plain" else gzip.compress(last, mtime=0)[: 10 + cut // 2]
    path = tmp_path / suffix(mode)
    path.write_bytes(whole + tail)

    table, report = read_all([str(path)])
    expect_all_but(table, None, rows=range(N_RECORDS - 1))
    assert report.skipped == {"warc_record_error": 1}
    problem = only_problem(report)
    assert problem["row"] == N_RECORDS - 1 and problem["offset"] == len(whole)
    with pytest.raises(InputError, match="warc_record_error"):
        read_all([str(path)], strict=True)


def test_warc_cut_inside_http_headers_is_damage_not_non_text(tmp_path):
    records = [conversion_record(0), response_record(1), conversion_record(2)]
    middle = records[1]
    cut = middle.index(b"Server: x") + 50
    # the record's Content-Length claims bytes that the file does not hold
    path = tmp_path / "d.warc"
    path.write_bytes(records[0] + middle[:cut])
    table, report = read_all([str(path)])
    assert texts_and_rows(table) == [(0, page(0))]
    assert report.skipped == {"warc_record_error": 1}
    assert only_problem(report)["row"] == 1


# --------------------------------------------------------------------------- case 4f


def test_whole_file_gzip_warc_is_read(tmp_path):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    data, _ = assemble(records, "whole")
    path = tmp_path / "d.warc.gz"
    path.write_bytes(data)
    table, report = read_all([str(path)])
    expect_all_but(table, None)
    assert report.skipped == {} and report.problems == []


def test_whole_file_gzip_warc_cut_reports_a_real_offset(tmp_path):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    data, _ = assemble(records, "whole")
    path = tmp_path / "d.warc.gz"
    path.write_bytes(data[: int(len(data) * 0.9)])
    table, report = read_all([str(path)])
    rows = [row for row, _ in texts_and_rows(table)]
    assert rows == list(range(len(rows))) and 0 < len(rows) < N_RECORDS
    assert texts_and_rows(table) == [(i, page(i)) for i in rows]
    assert report.skipped == {"warc_record_error": 1}
    problem = only_problem(report)
    assert problem["offset"] == 0  # the gzip stream that holds the record starts at 0
    assert problem["row"] == len(rows)


# --------------------------------------------------------------------------- more damage


def test_warc_one_damaged_magic_byte_keeps_the_rows(tmp_path):
    data, offsets = assemble([conversion_record(i) for i in range(N_RECORDS)], "members")
    data = bytearray(data)
    data[offsets[DAMAGED] + 1] ^= 0xFF  # 1f 8b 08 -> 1f 74 08
    path = tmp_path / "d.warc.gz"
    path.write_bytes(bytes(data))
    table, report = read_all([str(path)])
    expect_all_but(table, DAMAGED)
    assert report.skipped == {"warc_record_error": 1}
    problem = only_problem(report)
    assert problem["row"] == DAMAGED and problem["offset"] == offsets[DAMAGED]


def test_warc_damaged_version_line_and_separator_keep_the_rows(tmp_path):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    records[DAMAGED] = b"WXRC" + records[DAMAGED][4:]  # the record's WARC/1.0 line
    records[4] = records[4][:-1] + b"?"  # the blank line after record 4
    data, offsets = assemble(records, "plain")
    path = tmp_path / "d.warc"
    path.write_bytes(data)
    table, report = read_all([str(path)])
    expect_all_but(table, DAMAGED)  # record 5 is read, at its own row, after the "?"
    assert report.skipped == {"warc_record_error": 2}
    damaged, garbage = report.problems
    assert damaged["row"] == DAMAGED and damaged["offset"] == offsets[DAMAGED]
    assert "row" not in garbage and garbage["offset"] == offsets[5] - 1


def test_warc_garbage_between_plain_records_is_counted_once(tmp_path):
    data, offsets = assemble([conversion_record(i) for i in range(N_RECORDS)], "plain")
    at = offsets[3]
    path = tmp_path / "d.warc"
    path.write_bytes(data[:at] + b"\x00garbage\r\nmore garbage\r\n\r\n" + data[at:])
    table, report = read_all([str(path)])
    expect_all_but(table, None)
    assert report.skipped == {"warc_record_error": 1}
    assert only_problem(report)["offset"] == at


@pytest.mark.parametrize("mode", ["plain", "members", "whole", "blocks"])
def test_warc_large_records_resynchronise_far_back(tmp_path, mode):
    """A Content-Length 1.3 MB too large swallows two 600 KB records: reading goes back
    (past its buffers; in a gzip stream, from a checkpoint inside it) to the next record.
    ``blocks``: gzip members of 64 KiB that do not end with records (bgzip style)."""
    n, bad = 10, 8  # whole-file gzip: more than 4 MiB before the damage
    pairs = [big_record(i) for i in range(n)]
    records = [raw for raw, _ in pairs]
    records[bad] = set_content_length(records[bad], 1_300_000)
    if mode == "blocks":
        plain = b"".join(records)
        data = b"".join(
            gzip.compress(plain[i : i + 2**16], mtime=0) for i in range(0, len(plain), 2**16)
        )
    else:
        data, _ = assemble(records, mode)
    path = tmp_path / suffix("plain" if mode == "plain" else "members")
    path.write_bytes(data)
    table, report = read_all([str(path)])
    assert texts_and_rows(table) == [(i, text) for i, (_, text) in enumerate(pairs) if i != bad]
    assert report.skipped == {"warc_length_mismatch": 1}
    assert only_problem(report)["row"] == bad


def test_warc_damaged_block_member_costs_only_its_record(tmp_path):
    pairs = [big_record(i) for i in range(4)]
    plain = b"".join(raw for raw, _ in pairs)
    members = [gzip.compress(plain[i : i + 2**16], mtime=0) for i in range(0, len(plain), 2**16)]
    inside = (plain.index(b"record 2 ") + 200_000) // 2**16  # in record 2's block
    members[inside] = members[inside][:20] + b"\xff" * 20 + members[inside][40:]
    path = tmp_path / "d.warc.gz"
    path.write_bytes(b"".join(members))
    table, report = read_all([str(path)])
    assert texts_and_rows(table) == [(i, text) for i, (_, text) in enumerate(pairs) if i != 2]
    assert report.skipped == {"warc_record_error": 1}
    assert only_problem(report)["row"] == 2


def test_warcio_messages_go_to_the_report_not_stderr(tmp_path, capfd):
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    writer.write_record(
        writer.create_warc_record(
            "http://e.com/a page",  # warcio logs a warning for the space
            "conversion",
            payload=io.BytesIO(b"spaced"),
            warc_content_type="text/plain",
        )
    )
    body = gzip.compress(random.Random(0).randbytes(30_000).hex().encode())  # ~33 KB
    http = StatusAndHeaders(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
        protocol="HTTP/1.1",
    )
    writer.write_record(
        writer.create_warc_record(
            "http://e.com/b",
            "response",
            payload=io.BytesIO(body[:20_000] + b"\xff" * 40 + body[20_040:]),
            http_headers=http,
        )
    )
    path = tmp_path / "d.warc"
    path.write_bytes(out.getvalue())
    table, report = read_all([str(path)])
    spaced, cut = table["text"].to_pylist()
    assert spaced == "spaced" and 0 < len(cut) < 60_000  # the body ends at the damage
    assert report.skipped == {}
    warnings = [p for p in report.problems if p["reason"] == "warc_warning"]
    assert [p["row"] for p in warnings] == [0, 1]
    assert "space" in warnings[0]["detail"] and "Content-Encoding" in warnings[1]["detail"]
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


# --------------------------------------------------------------------------- write_kept


def test_write_kept_follows_reading_past_a_damaged_member(tmp_path):
    records = [conversion_record(i) for i in range(N_RECORDS)]
    records[4] = set_content_length(records[4], +60)
    data, offsets = assemble(records, "members")
    data = bytearray(data)
    data[offsets[DAMAGED] + 12 : offsets[DAMAGED] + 40] = b"\xff" * 28
    path = tmp_path / "d.warc.gz"
    path.write_bytes(bytes(data))
    (part,) = plan_parts([str(path)])
    rows = np.concatenate([t["row"].to_numpy() for t in read_part(part, report=ReadReport())])
    assert rows.tolist() == [0, 1, 3, 5]
    report = ReadReport()
    out = write_kept(part, np.array([1, 3, 5]), tmp_path / "out", report=report)
    assert report.problems == []
    with open(out, "rb") as f:
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)]
    assert urls == ["http://e.com/1", "http://e.com/3", "http://e.com/5"]


# --------------------------------------------------------------------------- case 5: Parquet


def parquet_with_groups(path, groups: int = 5, rows_per_group: int = 10) -> pa.Table:
    n = groups * rows_per_group
    table = pa.table(
        {
            "text": [f"row {i} " + "lorem ipsum " * (i % 7 + 1) for i in range(n)],
            "id": pa.array(range(n), pa.int64()),
        }
    )
    pq.write_table(table, path, row_group_size=rows_per_group, compression="snappy")
    return table


def corrupt_row_group(path, group: int) -> None:
    """Overwrite the data pages of every column chunk of one row group."""
    metadata = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    row_group = metadata.row_group(group)
    for j in range(row_group.num_columns):
        column = row_group.column(j)
        start = column.data_page_offset
        if column.dictionary_page_offset is not None:
            start = min(start, column.dictionary_page_offset)
        end = start + column.total_compressed_size
        data[start:end] = b"\xee" * (end - start)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("partition_size", [2**30, 1])
def test_parquet_corrupt_row_group_loses_only_its_rows(tmp_path, partition_size):
    path = tmp_path / "d.parquet"
    table = parquet_with_groups(path)
    corrupt_row_group(path, 2)

    read, report = read_all([str(path)], partition_size=partition_size, id_column="id")
    kept = [i for i in range(50) if not 20 <= i < 30]
    assert read["row"].to_pylist() == kept
    assert read["text"].to_pylist() == [table["text"][i].as_py() for i in kept]
    assert read["doc_id"].to_pylist() == [str(i) for i in kept]
    assert report.documents == 40
    assert report.skipped == {"corrupt_row_group": 10}
    (problem,) = report.problems
    assert problem["row"] == 20 and "10 rows" in problem["detail"]
    assert "row group 2" in problem["detail"]
    with pytest.raises(InputError, match="corrupt_row_group"):
        read_all([str(path)], partition_size=partition_size, strict=True)


def test_parquet_write_kept_skips_the_corrupt_row_group(tmp_path):
    path = tmp_path / "d.parquet"
    table = parquet_with_groups(path)
    corrupt_row_group(path, 1)
    (part,) = plan_parts([str(path)])
    report = ReadReport()
    out = write_kept(part, np.array([0, 5, 31, 49]), tmp_path / "out", report=report)
    assert pq.read_table(out)["text"].to_pylist() == [
        table["text"][i].as_py() for i in (0, 5, 31, 49)
    ]
    assert report.problems == []


def test_parquet_footer_with_a_column_name_that_is_no_utf8_keeps_the_text(tmp_path):
    path = tmp_path / "names.parquet"
    pq.write_table(pa.table({"text": ["a b c"], "zzzzname": ["x"]}), path)
    raw = bytearray(path.read_bytes())
    at = raw.rfind(b"zzzzname")  # the schema in the footer
    raw[at] = 0xFF
    path.write_bytes(bytes(raw))
    docs, report = read_all([str(path)])  # planning and reading never crash on it
    assert docs.column("text").to_pylist() == ["a b c"]
    assert report.total_skipped == 0
