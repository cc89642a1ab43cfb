"""Property tests: damage a file at random, read it with ``plan_parts`` + ``read_part``, and
check that every record the damage did not touch is read, with its text and row, and
that what was lost is counted.

Damage: truncate at a random byte, flip the bytes of one random region (each byte XORed
with a non-zero value), or insert garbage between records / lines / row groups. A record
is *touched* when its bytes (for gzip members: its member's bytes) overlap the damaged
region, or lie after the cut of a truncation. The invariants, per format:

JSONL, plain:
  - every untouched line is a document with its original text; its row is the number of
    newlines before it in the damaged file (damage that adds or removes a newline moves
    the rows after it, as it moves the lines). Framing: a line is touched also when the
    newline that ends the line before it is damaged (the two lines become one), or when
    inserted garbage before it does not end with a newline;
  - every non-blank line of the damaged file is either a document or one counted skip:
    ``documents + skipped == non-blank lines`` (less ``empty_file``), unless no line at
    all parses as a JSON object holding the text key (then the file is one
    ``binary_file`` or an ``InputError`` naming the keys: only possible when every line
    is touched).
JSONL, gzip (one stream): a damaged deflate stream cannot be resynchronised, so the
  bound is weaker. Let ``P`` be the number of decompressed bytes that the undamaged
  compressed prefix decodes to. Lines inside ``[0, P)`` that are read have their text and
  row; those ending before ``P - 256 KiB`` are all read (the reader's decompression
  buffers may lose the last window before the damage); if the damaged file does not
  decompress to the original bytes, at least one skip is counted.
Parquet (several row groups, with or without page checksums): a truncated file loses its
  footer: one ``unreadable_file``, no document. Damage inside row-group data (flipped
  bytes in column chunks, garbage inserted between row groups): every row group whose
  bytes are untouched (for an insertion: that lies before it) is read whole, with texts
  and rows; ``documents + skipped == rows written`` (a damaged group's rows are counted
  as ``corrupt_row_group``, or read -- maybe with changed text when the file has no page
  checksums). Damage to the footer: no exception but an ``InputError`` naming the
  columns (the damaged schema may not hold the text column); a footer that no longer
  decodes (a column name that is no UTF-8) is one ``unreadable_file``.
WARC (one gzip member per record, deflated or stored, or plain), a warcinfo record then
conversions:
  - every untouched conversion record is a document with its original text;
  - its row is its record number, unless the damage hit a record-start marker (a gzip
    member's magic bytes, a record's ``WARC/1.0`` line) or the garbage holds one: then a
    damaged region may swallow its neighbour or split in two, and the weaker bound is
    that rows keep their order with one constant shift after the damage (none before);
  - gzip members: any touched record that is not read intact is counted (at least one
    skip); garbage inserted between members is counted. Plain WARC has no checksum:
    a flipped byte may change a record's text or type unseen, so only a cut inside a
    record and garbage that is not whitespace are sure to be counted;
  - garbage that starts a gzip file with a ``WARC/1.0`` line makes it read as plain WARC
    (the first bytes decide): no assertion then.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tempfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.warcwriter import WARCWriter

from engine.io import InputError, ReadReport, plan_parts, read_part

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GZIP_LOSS_WINDOW = 256 * 2**10  # decompressed bytes a gzip reader may lose before damage

WORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r"), min_size=0, max_size=12
)


def read_file(path: Path, partition_size: int = 2**30, **kwargs):
    """(documents as {row: text}, report) read with plan_parts + read_part."""
    report = ReadReport()
    docs: dict[int, str] = {}
    for part in plan_parts([str(path)], partition_size=partition_size, report=report):
        for table in read_part(part, report=report, **kwargs):
            for row, text in zip(table["row"].to_pylist(), table["text"].to_pylist(), strict=True):
                assert row not in docs, f"row {row} read twice"
                docs[row] = text
    return docs, report


@st.composite
def damage(draw, size: int, boundaries: list[int]):
    """(kind, start, end, garbage): truncate at ``start``; flip ``[start, end)``; insert
    ``garbage`` at ``start`` (one of ``boundaries``)."""
    kind = draw(st.sampled_from(["truncate", "flip", "insert"]))
    if kind == "truncate":
        cut = draw(st.integers(min(1, size - 1), size - 1))
        return kind, cut, size, b""
    if kind == "flip":
        start = draw(st.integers(0, size - 1))
        end = min(size, start + draw(st.integers(1, 24)))
        masks = draw(st.binary(min_size=end - start, max_size=end - start))
        return kind, start, end, bytes(m or 0x5A for m in masks)
    at = draw(st.sampled_from(boundaries))
    return kind, at, at, draw(st.binary(min_size=1, max_size=48))


def apply(data: bytes, kind: str, start: int, end: int, extra: bytes) -> bytes:
    if kind == "truncate":
        return data[:start]
    if kind == "flip":
        flipped = bytes(b ^ m for b, m in zip(data[start:end], extra, strict=True))
        return data[:start] + flipped + data[end:]
    return data[:start] + extra + data[start:]


def touched(lo: int, hi: int, kind: str, start: int, end: int) -> bool:
    """Does the damage touch the bytes ``[lo, hi)``?"""
    if kind == "truncate":
        return hi > start
    if kind == "flip":
        return lo < end and start < hi
    return False  # an insertion lies between records


# --------------------------------------------------------------------------- JSONL

JSONL_TEXTS = st.lists(
    st.builds(lambda w, k: w * k, WORDS, st.integers(1, 4)), min_size=1, max_size=12
)


@SETTINGS
@given(texts=JSONL_TEXTS, data=st.data())
def test_damaged_plain_jsonl(texts, data):
    lines = [json.dumps({"text": t, "n": i}).encode() + b"\n" for i, t in enumerate(texts)]
    original = b"".join(lines)
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines) + 1)]
    kind, start, end, extra = data.draw(damage(len(original), starts))
    damaged = apply(original, kind, start, end, extra)
    untouched = [
        i
        for i in range(len(lines))
        # a line whose preceding newline is damaged is joined to the line before it
        if not touched(max(starts[i] - 1, 0), starts[i + 1], kind, start, end)
        # garbage that does not end a line joins the line after it
        and not (kind == "insert" and starts[i] == start and not extra.endswith(b"\n"))
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.jsonl"
        path.write_bytes(damaged)
        if not damaged:
            return
        try:
            docs, report = read_file(path, partition_size=data.draw(st.sampled_from([2**30, 64])))
        except InputError as err:  # no record holds the text key: every line is touched
            assert "not found" in str(err) and not untouched
            return
    shift = len(extra) if kind == "insert" else 0
    for i in untouched:
        new_start = starts[i] + (shift if starts[i] >= start else 0)
        row = damaged[:new_start].count(b"\n")
        assert docs.get(row) == texts[i], (i, row)
    skipped = dict(report.skipped)
    if "binary_file" in skipped:
        assert not untouched and not docs and skipped == {"binary_file": 1}
        return
    skipped.pop("empty_file", None)
    pieces = damaged.split(b"\n")  # physical lines, as the reader splits them
    physical = [piece + b"\n" for piece in pieces[:-1]] + [pieces[-1]] * bool(pieces[-1])
    non_blank = sum(1 for line in physical if not line.isspace())
    assert report.documents + sum(skipped.values()) == non_blank


@st.composite
def big_texts(draw):
    """Line texts, now and then long enough that a damaged gzip stream has an
    undamaged prefix beyond the reader's loss window."""
    words = draw(st.lists(WORDS.filter(bool), min_size=1, max_size=6))
    n = draw(st.sampled_from([3, 20, 400]))
    return [f"{words[i % len(words)]} {i} " * (1 + i % 50) for i in range(n)]


@SETTINGS
@given(texts=big_texts(), data=st.data())
def test_damaged_gzip_jsonl(texts, data):
    lines = [json.dumps({"text": t}).encode() + b"\n" for t in texts]
    original = b"".join(lines)
    compressed = gzip.compress(original, mtime=0)
    kind, start, end, extra = data.draw(damage(len(compressed), [len(compressed)]))
    damaged = apply(compressed, kind, start, end, extra)
    decoded_prefix = zlib.decompressobj(31).decompress(compressed[:start])
    prefix = len(decoded_prefix)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.jsonl.gz"
        path.write_bytes(damaged)
        if not damaged:
            return
        try:
            docs, report = read_file(path)
        except InputError as err:
            assert "not found" in str(err)
            return
    position = 0
    for i, line in enumerate(lines):
        position += len(line)
        if position <= prefix and i in docs:
            assert docs[i] == texts[i]
        if position <= prefix - GZIP_LOSS_WINDOW:
            assert docs.get(i) == texts[i], i
    try:
        same = gzip.decompress(damaged) == original
    except (OSError, EOFError, zlib.error):
        same = False
    if not same:
        assert report.total_skipped >= 1


# --------------------------------------------------------------------------- Parquet


def chunk_ranges(path: Path) -> list[tuple[int, int]]:
    """Byte range of each row group (its column chunks) in the file."""
    metadata = pq.ParquetFile(path).metadata
    ranges = []
    for rg in range(metadata.num_row_groups):
        lo, hi = None, 0
        group = metadata.row_group(rg)
        for j in range(group.num_columns):
            column = group.column(j)
            first = column.data_page_offset
            if column.dictionary_page_offset is not None:
                first = min(first, column.dictionary_page_offset)
            lo = first if lo is None else min(lo, first)
            hi = max(hi, first + column.total_compressed_size)
        ranges.append((lo, hi))
    return ranges


@SETTINGS
@given(
    texts=st.lists(WORDS, min_size=1, max_size=30),
    group_rows=st.integers(1, 6),
    compression=st.sampled_from(["none", "snappy", "zstd"]),
    checksums=st.booleans(),
    data=st.data(),
)
def test_damaged_parquet(texts, group_rows, compression, checksums, data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.parquet"
        pq.write_table(
            pa.table({"text": texts}),
            path,
            row_group_size=group_rows,
            compression=compression,
            write_page_checksum=checksums,
        )
        original = path.read_bytes()
        ranges = chunk_ranges(path)
        first_rows = [min(i * group_rows, len(texts)) for i in range(len(ranges) + 1)]
        kind, start, end, extra = data.draw(
            damage(len(original), [lo for lo, _ in ranges[1:]] or [ranges[0][0]])
        )
        path.write_bytes(apply(original, kind, start, end, extra))
        partition_size = data.draw(st.sampled_from([2**30, 1]))
        data_only = kind == "insert" or ranges[0][0] <= start and end <= ranges[-1][1]
        try:
            docs, report = read_file(path, partition_size=partition_size)
        except InputError as err:  # a damaged schema may no longer name the text column
            assert not data_only and kind == "flip" and "not found" in str(err)
            return
    if kind == "truncate":
        assert not docs and report.skipped == {"unreadable_file": 1}
        return
    if not data_only:
        return  # the footer (or the magic) is damaged: no assertion beyond the above
    for rg, (lo, hi) in enumerate(ranges):
        intact = hi <= start if kind == "insert" else not touched(lo, hi, kind, start, end)
        if intact:
            for row in range(first_rows[rg], first_rows[rg + 1]):
                assert docs.get(row) == texts[row], (rg, row)
    assert report.documents + report.total_skipped == len(texts), report.skipped


# --------------------------------------------------------------------------- WARC


def warc_records(texts: list[str]) -> list[bytes]:
    """A warcinfo record then one conversion record per text, each uncompressed."""
    records = []
    for i, text in enumerate([None, *texts]):
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=False)
        if text is None:
            record = writer.create_warcinfo_record("d.warc", {"software": "test"})
        else:
            record = writer.create_warc_record(
                f"http://e.com/{i}",
                "conversion",
                payload=io.BytesIO(text.encode()),
                warc_content_type="text/plain",
            )
        writer.write_record(record)
        # the same bytes every time (hypothesis replays draws that depend on sizes)
        fixed = re.sub(rb"<urn:uuid:[0-9a-f-]{36}>", b"<urn:uuid:%036d>" % i, out.getvalue())
        records.append(
            re.sub(rb"WARC-Date: [0-9TZ:.-]+", b"WARC-Date: 2020-01-01T00:00:00Z", fixed)
        )
    return records


_VERSION = re.compile(rb"WARC/\d{1,2}\.\d{1,2}\r?\n")


@SETTINGS
@given(
    texts=st.lists(
        st.builds(lambda w, k: w * k, WORDS, st.integers(1, 30)), min_size=1, max_size=8
    ),
    gzipped=st.booleans(),
    level=st.sampled_from([0, 6]),  # 0: stored blocks, which inflate whatever their bytes
    data=st.data(),
)
def test_damaged_warc(texts, gzipped, level, data):
    records = warc_records(texts)
    pieces = [gzip.compress(r, level, mtime=0) for r in records] if gzipped else records
    original = b"".join(pieces)
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces) + 1)]
    kind, start, end, extra = data.draw(damage(len(original), starts))
    damaged = apply(original, kind, start, end, extra)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("d.warc.gz" if gzipped else "d.warc")
        path.write_bytes(damaged)
        if not damaged:
            return
        docs, report = read_file(path)
    if gzipped and _VERSION.match(damaged.lstrip(b"\r\n \t")):
        return  # garbage that starts the file with a WARC/1.0 line: it reads as plain WARC

    def is_touched(i: int) -> bool:
        return touched(starts[i], starts[i + 1], kind, start, end)

    if gzipped:
        markers = [(s, s + 3) for s in starts[:-1]]
        near_magic = sum(a == b for a, b in zip(extra[:3], b"\x1f\x8b\x08")) >= 2
        marker_in_garbage = b"\x1f\x8b" in extra or near_magic
    else:
        markers = [(s, s + len(_VERSION.match(r).group())) for s, r in zip(starts, records)]
        marker_in_garbage = b"WARC" in extra
    marker_hit = marker_in_garbage or any(
        touched(lo, hi, kind, start, end) and kind != "truncate" for lo, hi in markers
    )
    before = [i for i in range(1, len(records)) if not is_touched(i) and starts[i + 1] <= start]
    after = [i for i in range(1, len(records)) if not is_touched(i) and starts[i + 1] > start]
    for i in before:  # the damage lies after them: nothing can move them
        assert docs.get(i) == texts[i - 1], (i, docs)
    if not marker_hit:
        for i in after:
            assert docs.get(i) == texts[i - 1], (i, docs)
    elif after:  # one constant shift for every untouched record after the damage
        shifts = [
            d
            for d in range(-len(records), len(records) + 1)
            if all(docs.get(i + d) == texts[i - 1] for i in after)
        ]
        assert shifts, (after, docs)

    lost = [i for i in range(1, len(records)) if is_touched(i) and docs.get(i) != texts[i - 1]]
    if kind == "truncate":
        cut_inside = any(
            starts[i] < start < starts[i + 1] - (0 if gzipped else 4) for i in range(len(records))
        )
        if cut_inside:
            assert report.total_skipped >= 1
    elif gzipped and lost:
        assert report.total_skipped >= 1
    if kind == "insert" and (gzipped or extra.strip(b"\r\n \t")):
        assert report.total_skipped >= 1


@pytest.mark.parametrize("gzipped", [True, False])
def test_intact_warc_reads_every_record(tmp_path, gzipped):
    texts = ["a", "", "multi\nline\r\ntext", "WARC/1.0\r\n inside a payload"]
    records = warc_records(texts)
    pieces = [gzip.compress(r, mtime=0) for r in records] if gzipped else records
    path = tmp_path / ("d.warc.gz" if gzipped else "d.warc")
    path.write_bytes(b"".join(pieces))
    docs, report = read_file(path)
    assert docs == {i + 1: t for i, t in enumerate(texts)}
    assert report.skipped == {} and report.problems == []
