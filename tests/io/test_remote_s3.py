"""Remote inputs and ``--out`` through fsspec, against a real S3 server (moto's server
mode) started on 127.0.0.1 for this module: reading JSONL.gz, Parquet prefixes,
writing and uploading outputs, resuming an interrupted run, storage options."""

from __future__ import annotations

import gzip
import json
import logging
import random
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import engine
from engine.cli import main as cli
from engine.io import ReadReport, plan_parts
from engine.io.report import InputError
from engine.run.remote_out import staging_folder
from engine.run.storage import STORAGE_OPTIONS_ENV, StorageError

FAST = {"scheduler": "threads", "workers": 2, "backend": "cpu", "progress": False}
CLI_FAST = ["--scheduler", "threads", "--workers", "2", "--backend", "cpu", "-q"]
WORDS = (
    "harbor lantern quiet meadow signal copper orchard velvet summit river basket thunder "
    "canvas pebble marble violet saddle lemon falcon garden timber candle mirror silver"
).split()
KEY, SECRET = "testing-key", "testing-secret"


def _text(seed: int, n_words: int = 60) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(n_words)) + "."


def _rows(n: int = 24) -> list[dict]:
    """``n`` documents; every fourth one a near-copy of the one before it."""
    rows = []
    for i in range(n):
        text = rows[-1]["text"] + " extra" if i % 4 == 3 else _text(i)
        rows.append({"id": f"d{i:03d}", "text": text})
    return rows


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    """A moto S3 server on 127.0.0.1 for the whole session; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch, tmp_path):
    """The S3 environment set for one test (restored after) and a fresh bucket; yields
    an s3fs filesystem and the bucket name."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("OUROBOROS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(STORAGE_OPTIONS_ENV, raising=False)
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, key=KEY, secret=SECRET)
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    yield fs, bucket


def _jsonl_gz(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    return path


def _parquet_folder(folder: Path, rows: list[dict]) -> Path:
    """Two Parquet files of several row groups, and a hidden file that is not data."""
    folder.mkdir()
    half = len(rows) // 2
    for name, chunk in (("a.parquet", rows[:half]), ("b.parquet", rows[half:])):
        pq.write_table(pa.Table.from_pylist(chunk), folder / name, row_group_size=4)
    (folder / ".hidden.parquet").write_bytes(b"not parquet")
    return folder


def _clusters(result) -> list[tuple]:
    table = result.clusters if hasattr(result, "clusters") else result
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names)))


def test_dedup_over_s3_jsonl_gz_equals_the_local_run(s3, tmp_path):
    fs, bucket = s3
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", _rows())
    fs.put_file(str(local), f"{bucket}/docs.jsonl.gz")
    url = f"s3://{bucket}/docs.jsonl.gz"

    remote = engine.dedup([url], id_column="id", **FAST)
    expected = engine.dedup([str(local)], id_column="id", **FAST)
    assert _clusters(remote) == _clusters(expected)
    assert remote.summary["counts"]["duplicates"] == 6
    # without an id column, doc ids name the URL as given
    by_row = engine.dedup([url], **FAST).clusters.column("doc_id").to_pylist()
    assert by_row[:2] == [f"{url}:0", f"{url}:1"]


def test_dedup_over_an_s3_parquet_prefix_splits_row_groups_and_equals_local(s3, tmp_path):
    fs, bucket = s3
    folder = _parquet_folder(tmp_path / "pq", _rows())
    fs.put(str(folder) + "/", f"{bucket}/corpus/pq/", recursive=True)
    assert fs.exists(f"{bucket}/corpus/pq/.hidden.parquet")
    url = f"s3://{bucket}/corpus/"

    report = ReadReport()
    parts = plan_parts([url], partition_size=1, report=report)
    assert [p.given_path for p in parts][::3] == [
        f"{url}pq/a.parquet",
        f"{url}pq/b.parquet",
    ]  # three row groups each, one part per row group; the hidden file is left out
    assert [p.row_groups for p in parts] == [(0,), (1,), (2,)] * 2
    assert all(p.size_bytes > 0 and p.storage_options == {} for p in parts)

    out = f"s3://{bucket}/out"
    remote = engine.dedup([url], out=out, id_column="id", write_deduped=True, **FAST)
    expected = engine.dedup([str(folder)], id_column="id", **FAST)
    assert _clusters(remote) == _clusters(expected)
    assert remote.summary["counts"]["documents"] == 24
    # the kept rows, read back from the remote Parquet files, are uploaded too
    kept = [pq.read_table(fs.open(name)) for name in sorted(fs.find(f"{bucket}/out/deduped"))]
    assert [t.num_rows for t in kept] == [9, 9]
    assert kept[0].schema.equals(pq.read_schema(folder / "a.parquet"))


def test_out_on_s3_uploads_clusters_summary_and_deduped_files(s3, tmp_path):
    fs, bucket = s3
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", _rows())
    out = f"s3://{bucket}/runs/one"

    result = engine.dedup([str(local)], out=out, id_column="id", write_deduped=True, **FAST)
    names = sorted(n.split("/runs/one/", 1)[1] for n in fs.find(f"{bucket}/runs/one"))
    assert names == ["clusters.parquet", "deduped/00000-docs.jsonl.gz", "summary.json"]
    uploaded = pq.read_table(fs.open(f"{bucket}/runs/one/clusters.parquet"))
    assert uploaded.equals(result.clusters)
    summary = json.loads(fs.cat_file(f"{bucket}/runs/one/summary.json"))
    staging = Path(summary["remote_out"]["staging"])
    assert staging == staging_folder(out) == result.out
    assert staging.is_relative_to(tmp_path / "cache")
    assert summary["remote_out"]["files"] == names
    kept = gzip.decompress(fs.cat_file(f"{bucket}/runs/one/deduped/00000-docs.jsonl.gz"))
    assert len(kept.splitlines()) == 18

    # an uploaded output is not read as documents
    with pytest.raises(InputError, match="is an Ouroboros output"):
        plan_parts([out])
    fs.put_file(str(local), f"{bucket}/runs/docs.jsonl.gz")
    report = ReadReport()
    parts = plan_parts([f"s3://{bucket}/runs"], report=report)
    assert [p.given_path for p in parts] == [f"s3://{bucket}/runs/docs.jsonl.gz"]
    assert report.skipped["ouroboros_output"] == 1


def test_a_run_interrupted_after_its_first_stages_resumes_and_uploads(s3, tmp_path, monkeypatch):
    from engine.neardup import pipeline

    fs, bucket = s3
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", _rows())
    fs.put_file(str(local), f"{bucket}/docs.jsonl.gz")
    inputs, out = [f"s3://{bucket}/docs.jsonl.gz"], f"s3://{bucket}/out"

    def crash(*args, **kwargs):
        raise RuntimeError("killed during the edges stage")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "edges_stage", crash)
        with pytest.raises(RuntimeError, match="killed"):
            engine.dedup(inputs, out=out, id_column="id", **FAST)
    assert not fs.exists(f"{bucket}/out/summary.json")  # nothing uploaded
    assert list((staging_folder(out) / "_work" / "signatures").iterdir())

    resumed = engine.dedup(inputs, out=out, id_column="id", **FAST)
    expected = engine.dedup([str(local)], id_column="id", **FAST)
    assert _clusters(resumed) == _clusters(expected)
    summary = json.loads(fs.cat_file(f"{bucket}/out/summary.json"))
    assert summary["counts"]["partitions_reused"] == 1
    assert summary["counts"]["stages_reused"] == {"shuffle": 1, "edges": 0}


def test_substr_and_flag_read_remote_inputs(s3, tmp_path):
    fs, bucket = s3
    shared = _text(500, 40)
    rows = [
        {"id": f"s{i}", "text": f"{_text(600 + i, 20)} {shared} {_text(700 + i, 20)}"}
        for i in range(3)
    ]
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", rows)
    fs.put_file(str(local), f"{bucket}/docs.jsonl.gz")
    url = f"s3://{bucket}/docs.jsonl.gz"

    remote = engine.substr([url], id_column="id", min_span=50, **FAST)
    expected = engine.substr([str(local)], id_column="id", min_span=50, **FAST)
    assert remote.spans.num_rows == 2
    assert _clusters(remote.spans) == _clusters(expected.spans)

    refs = tmp_path / "refs.jsonl"
    refs.write_text(json.dumps({"id": "model-1", "text": shared}) + "\n")
    engine.build_reference([str(refs)], tmp_path / "ref", backend="cpu")
    flagged = engine.flag([url], reference=tmp_path / "ref", id_column="id", **FAST)
    labels = dict(zip(*(flagged.flags.column(c).to_pylist() for c in ("doc_id", "label"))))
    assert set(labels) == {"s0", "s1", "s2"}
    assert set(labels.values()) == {"contains_output"}


def test_a_missing_remote_input_is_input_not_found(s3):
    fs, bucket = s3
    for url in (f"s3://{bucket}/nothing.jsonl", f"s3://no-such-bucket-{bucket}/x.jsonl"):
        with pytest.raises(InputError, match=f"input not found: '{url}'"):
            plan_parts([url])
    result = CliRunner().invoke(
        cli, ["dedup", f"s3://{bucket}/nothing.jsonl", "--out", str(Path("unused")), *CLI_FAST]
    )
    assert result.exit_code == 1
    assert f"input not found: 's3://{bucket}/nothing.jsonl'" in result.output
    assert not Path("unused").exists()
    with pytest.raises(StorageError, match="Protocol not known: nosuchproto"):
        plan_parts(["nosuchproto://x/docs.jsonl"])


def test_out_on_s3_is_checked_before_the_run(s3, tmp_path):
    fs, bucket = s3
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", _rows(8))
    with pytest.raises(StorageError, match="cannot write to --out"):
        engine.dedup([str(local)], out=f"s3://no-such-bucket-{bucket}/out", **FAST)
    fs.pipe_file(f"{bucket}/theirs/data.csv", b"a,b\n")
    with pytest.raises(StorageError, match="not an ouroboros output"):
        engine.dedup([str(local)], out=f"s3://{bucket}/theirs", **FAST)


def test_cli_storage_options_are_honoured(s3, s3_endpoint, tmp_path, monkeypatch):
    fs, bucket = s3
    fs.put_file(str(_jsonl_gz(tmp_path / "d.jsonl.gz", _rows(8))), f"{bucket}/d.jsonl.gz")
    # no endpoint nor credentials in the environment: only the option can reach the server
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = json.dumps({"s3": {"endpoint_url": s3_endpoint, "key": KEY, "secret": SECRET}})
    args = ["dedup", f"s3://{bucket}/d.jsonl.gz", "--out", f"s3://{bucket}/o", *CLI_FAST]
    result = CliRunner().invoke(cli, [*args, "--storage-options", options])
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["documents"] == 8 and line["out"] == f"s3://{bucket}/o"  # the URL
    assert line["next"][0].startswith(f"outputs uploaded to s3://{bucket}/o")
    assert fs.exists(f"{bucket}/o/clusters.parquet")

    bad = CliRunner().invoke(cli, [*args, "--storage-options", "{not json"])
    assert bad.exit_code == 2
    assert "--storage-options must be a JSON object" in bad.output


def test_api_storage_options_keyword_reaches_inputs_and_out(s3, s3_endpoint, tmp_path, monkeypatch):
    fs, bucket = s3
    fs.put_file(str(_jsonl_gz(tmp_path / "d.jsonl.gz", _rows(8))), f"{bucket}/d.jsonl.gz")
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    options = {"s3": {"endpoint_url": s3_endpoint, "key": KEY, "secret": SECRET}}
    result = engine.dedup(
        [f"s3://{bucket}/d.jsonl.gz"], out=f"s3://{bucket}/api", storage_options=options, **FAST
    )
    assert result.summary["counts"]["documents"] == 8
    assert fs.exists(f"{bucket}/api/summary.json")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # instances made earlier kept their env's keys
    try:
        with pytest.raises(InputError, match="NoCredentialsError.*storage_options="):
            engine.dedup([f"s3://{bucket}/d.jsonl.gz"], **FAST)
    finally:  # the instance made without keys must not serve the next tests
        s3fs.S3FileSystem.clear_instance_cache()


def test_inspect_and_report_read_a_remote_output(s3, tmp_path, monkeypatch):
    fs, bucket = s3
    local = _jsonl_gz(tmp_path / "docs.jsonl.gz", _rows())
    out = f"s3://{bucket}/runs/seen"
    engine.dedup([str(local)], out=out, id_column="id", **FAST)
    for copy in ("staging", "downloaded"):
        if copy == "downloaded":  # another machine: no staging folder
            shutil.rmtree(staging_folder(out))
        shown = CliRunner().invoke(cli, ["inspect", out, "--top", "1", "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["clusters"], copy
        made = CliRunner().invoke(cli, ["report", out, "--open-path-only"])
        assert made.exit_code == 0, made.output
        assert Path(made.output.strip()).is_file()
    missing = CliRunner().invoke(cli, ["report", f"s3://{bucket}/nothing"])
    assert missing.exit_code == 1 and "no summary.json" in missing.output
