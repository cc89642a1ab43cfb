"""``--keep earliest``: date parsing and the kept member of each cluster."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main
from engine.io.dates import UNDATED, parse_dates
from engine.neardup.keep import choose_kept

BASE = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
OTHER = "completely different words about another subject entirely here and there"
APRIL = 1680307200 * 1_000_000  # 2023-04-01T00:00:00Z in microseconds


def test_parse_dates_strings_numbers_and_bad_values():
    values = [
        "2023-04-01",
        "2023-04-01T00:00:01Z",
        "2023-04-01T02:00:00+02:00",
        " 1680307200 ",
        None,
        "last tuesday",
        "",
    ]
    out, undated = parse_dates(values)
    assert out.tolist() == [APRIL, APRIL + 1_000_000, APRIL, APRIL, UNDATED, UNDATED, UNDATED]
    assert undated == 3 and out.dtype == np.int64


def test_parse_dates_arrow_types():
    stamps = pa.array([dt.datetime(2023, 4, 1), None], pa.timestamp("s"))
    assert parse_dates(stamps)[0].tolist() == [APRIL, UNDATED]
    zoned = pa.array(
        [dt.datetime(2023, 4, 1, 2, tzinfo=dt.timezone.utc)], pa.timestamp("ms", "UTC")
    )
    assert parse_dates(zoned)[0].tolist() == [APRIL + 7200 * 1_000_000]
    days = pa.array([dt.date(2023, 4, 1), None])
    assert parse_dates(days) == (pytest.approx(np.array([APRIL, UNDATED])), 1)
    assert parse_dates(pa.array([1680307200, None]))[0].tolist() == [APRIL, UNDATED]
    chunked = pa.chunked_array([["2023-04-01"], ["bad"]])
    assert parse_dates(chunked)[1] == 1


def test_choose_kept_earliest_ties_and_undated():
    cluster = np.array([0, 0, 0, 3, 3, 5, 5])
    n_bytes = np.ones(7, dtype=np.int64)
    dates = np.array([30, 10, 10, UNDATED, UNDATED, UNDATED, 7], dtype=np.int64)
    keep = choose_kept(cluster, n_bytes, "earliest", dates)
    # earliest wins, ties to the lower index; all undated: the first; a dated member
    # beats an undated one
    assert keep.tolist() == [False, True, False, True, False, False, True]
    with pytest.raises(ValueError, match="dates"):
        choose_kept(cluster, n_bytes, "earliest")
    with pytest.raises(ValueError, match="earliest"):
        choose_kept(cluster, n_bytes, "oldest", dates)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_dedup_keeps_the_earliest_copy(tmp_path):
    rows = [
        {"id": "late", "text": BASE, "date": "2024-01-02T00:00:00Z"},
        {"id": "other", "text": OTHER, "date": "2020-01-01"},
        {"id": "early", "text": BASE + " pi", "date": "2021-06-01T12:00:00+02:00"},
        {"id": "undated", "text": BASE + " rho", "date": "not a date"},
    ]
    path = _write(tmp_path / "docs.jsonl", rows)
    common = dict(id_column="id", threshold=0.7, progress=False, scheduler="threads")
    result = engine.dedup([str(path)], out=tmp_path / "o", keep="earliest", **common)
    kept = dict(
        zip(result.clusters.column("doc_id").to_pylist(), result.clusters["keep"].to_pylist())
    )
    assert kept == {"late": False, "other": True, "early": True, "undated": False}
    assert result.summary["counts"]["undated_documents"] == 1
    # the same clusters as keep="first"; only the kept member moves
    first = engine.dedup([str(path)], keep="first", **common)
    assert first.clusters.column("cluster_id").equals(result.clusters.column("cluster_id"))
    assert first.clusters["keep"].to_pylist() == [True, True, False, False]


def test_dedup_earliest_from_parquet_timestamps_and_named_column(tmp_path):
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": [BASE, OTHER, BASE + " pi"],
            "crawled": pa.array(
                [dt.datetime(2022, 5, 1), dt.datetime(2019, 1, 1), dt.datetime(2021, 1, 1)],
                pa.timestamp("us"),
            ),
        }
    )
    path = tmp_path / "docs.parquet"
    pq.write_table(table, path)
    common = dict(id_column="id", threshold=0.7, progress=False, scheduler="threads")
    result = engine.dedup([str(path)], keep="earliest", date_column="crawled", **common)
    assert result.clusters["keep"].to_pylist() == [False, True, True]
    assert result.summary["counts"]["undated_documents"] == 0
    with pytest.raises(Exception, match="date"):
        engine.dedup([str(path)], keep="earliest", **common)  # no 'date' column


def test_cli_keep_earliest(tmp_path):
    rows = [
        {"id": "late", "text": BASE, "published": "2024-01-02"},
        {"id": "early", "text": BASE + " pi", "published": "2021-06-01"},
    ]
    path = _write(tmp_path / "docs.jsonl", rows)
    out = tmp_path / "out"
    args = ["dedup", str(path), "--out", str(out), "--id-column", "id", "--threshold", "0.7"]
    args += ["--keep", "earliest", "--date-column", "published", "-q", "--backend", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["undated"] == 0
    clusters = pq.read_table(out / "clusters.parquet")
    assert clusters["keep"].to_pylist() == [False, True]


def test_dedup_earliest_warc_uses_warc_date(tmp_path):
    import io

    from warcio.warcwriter import WARCWriter

    path = tmp_path / "crawl.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, text, date in [
            ("https://a.example/", BASE, "2024-03-01T00:00:00Z"),
            ("https://b.example/", BASE + " pi", "2022-03-01T00:00:00Z"),
        ]:
            record = writer.create_warc_record(
                url,
                "conversion",
                payload=io.BytesIO(text.encode()),
                warc_content_type="text/plain",
                warc_headers_dict={"WARC-Date": date},
            )
            writer.write_record(record)
    result = engine.dedup(
        [str(path)],
        id_column="url",
        keep="earliest",
        threshold=0.7,
        progress=False,
        scheduler="threads",
    )
    kept = dict(
        zip(result.clusters.column("doc_id").to_pylist(), result.clusters["keep"].to_pylist())
    )
    assert kept == {"https://a.example/": False, "https://b.example/": True}
    assert result.summary["counts"]["undated_documents"] == 0
