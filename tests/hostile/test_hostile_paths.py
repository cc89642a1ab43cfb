"""Hostile input paths: relative inputs on remote workers, links and special files in a
folder walk, an output folder inside an input folder, the same file given twice, a
binary file under a JSONL name, and a first JSONL record without the text key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engine
from engine.io import InputError, ReadReport, plan_parts, read_part
from tests.dask_processes import dask_processes

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "engine.cli"]


def read_all(inputs, partition_size: int = 2**30, **kwargs) -> tuple[pa.Table | None, ReadReport]:
    report = ReadReport()
    tables = []
    for part in plan_parts(inputs, partition_size=partition_size, report=report):
        tables.extend(read_part(part, report=report, **kwargs))
    return (pa.concat_tables(tables) if tables else None), report


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def distinct_docs(n: int, tag: str) -> list[dict]:
    return [
        {"text": f"{tag} document number {i} " + " ".join(f"w{i}x{j}" for j in range(12))}
        for i in range(n)
    ]


# ------------------------------------------------------ case 2: relative inputs, remote workers


@pytest.fixture
def workers_elsewhere(tmp_path):
    """A `dask scheduler` and two `dask worker` processes whose working directory is
    ``tmp_path / "workers"`` (as in tests/run/test_distributed.py, plus ``cwd``)."""
    worker_dir = tmp_path / "workers"
    worker_dir.mkdir()
    scheduler_file = tmp_path / "scheduler.json"
    env = {
        **os.environ,
        "NUMBA_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with dask_processes(scheduler_file, env, cwd=worker_dir):
        yield json.loads(scheduler_file.read_text())["address"], worker_dir


def test_relative_inputs_are_read_by_workers_in_another_directory(workers_elsewhere, tmp_path):
    address, worker_dir = workers_elsewhere
    driver_dir = tmp_path / "driver"
    write_jsonl(driver_dir / "rel" / "docs.jsonl", distinct_docs(40, "driver"))
    (driver_dir / "rel" / "folder").mkdir()
    (driver_dir / "rel" / "folder" / "a.txt").write_text("a plain text document in a folder")
    # a same-named decoy where the workers run: it must not be read
    write_jsonl(worker_dir / "rel" / "docs.jsonl", distinct_docs(3, "decoy"))
    out = tmp_path / "out"
    subprocess.run(
        CLI
        + [
            "dedup",
            "rel/docs.jsonl",
            "./rel/folder",
            "--out",
            str(out),
            "-q",
            "--scheduler",
            address,
            "--partition-size",
            "1KB",
            "--backend",
            "cpu",
        ],
        check=True,
        timeout=300,
        cwd=driver_dir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["partitions"] > 2
    assert summary["read"]["documents"] == 41
    assert summary["read"]["skipped"] == {}
    ids = sorted(pq.read_table(out / "clusters.parquet")["doc_id"].to_pylist())
    assert ids == sorted([f"rel/docs.jsonl:{i}" for i in range(40)] + ["./rel/folder/a.txt:0"])


def test_parts_hold_absolute_paths_and_ids_keep_the_spelling(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "p" / "x.jsonl", [{"text": "a"}, {"text": "b"}])
    monkeypatch.chdir(tmp_path)
    report = ReadReport()
    (part,) = plan_parts(["./p/x.jsonl"], report=report)
    assert os.path.isabs(part.path) and part.path == str(tmp_path / "p" / "x.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a worker in another directory
    table = pa.concat_tables(read_part(part, report=report))
    assert table["doc_id"].to_pylist() == ["./p/x.jsonl:0", "./p/x.jsonl:1"]
    assert report.skipped == {}


# ------------------------------------------------------------ case 6: links and special files


def test_symlinked_folder_inside_an_input_folder_is_followed(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "a.txt").write_text("ay")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "b.txt").write_text("bee")
    (outside / "deep" / "c.txt").write_text("see")
    os.symlink(outside, root / "linked")
    table, report = read_all([str(root)])
    assert table["doc_id"].to_pylist() == [
        f"{root}/a.txt:0",
        f"{root}/linked/b.txt:0",
        f"{root}/linked/deep/c.txt:0",
    ]
    assert report.skipped == {}


def test_link_to_an_ancestor_is_counted_once_not_followed(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("ay")
    (root / "sub" / "b.txt").write_text("bee")
    os.symlink(root, root / "sub" / "up")
    os.symlink(".", root / "self")
    table, report = read_all([str(root)])
    assert table["doc_id"].to_pylist() == [f"{root}/a.txt:0", f"{root}/sub/b.txt:0"]
    assert report.skipped == {"symlink_loop": 2}
    assert sorted(p["file"] for p in report.problems) == [f"{root}/self", f"{root}/sub/up"]
    assert all(p["reason"] == "symlink_loop" for p in report.problems)


def test_fifos_sockets_and_devices_in_a_folder_are_counted(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("ay")
    os.mkfifo(root / "pipe.jsonl")  # opening it would block: it must never be opened
    os.symlink(os.devnull, root / "null.txt")  # a character device, reached through a link
    server = socket.socket(socket.AF_UNIX)
    sock_path = str(root / "s")
    if len(sock_path) < 100:
        server.bind(sock_path)
    try:
        table, report = read_all([str(root)])
    finally:
        server.close()
    special = 3 if len(sock_path) < 100 else 2
    assert table["doc_id"].to_pylist() == [f"{root}/a.txt:0"]
    assert report.skipped == {"special_file": special}
    files = {p["file"] for p in report.problems}
    assert {f"{root}/pipe.jsonl", f"{root}/null.txt"} <= files
    with pytest.raises(InputError, match="FIFO"):
        plan_parts([str(root / "pipe.jsonl")], report=ReadReport())


# ------------------------------------------------------- case 7: an output inside the input


def test_rerun_with_out_inside_the_input_folder(tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "docs.jsonl", distinct_docs(20, "corpus"))
    out = data / "out"
    run = dict(out=str(out), progress=False, scheduler="threads", backend="cpu", write_deduped=True)
    first = engine.dedup([str(data)], **run)
    second = engine.dedup([str(data)], **run)  # failed: "Pass --text-column doc_id"
    assert second.clusters.equals(first.clusters)
    read = json.loads((out / "summary.json").read_text())["read"]
    assert read["documents"] == 20
    assert read["skipped"] == {"ouroboros_output": 1}
    assert [(p["reason"], p["file"]) for p in read["problems"]] == [("ouroboros_output", str(out))]


def test_an_output_folder_named_as_an_input_is_an_error(tmp_path):
    out = tmp_path / "out"
    (out / "_work").mkdir(parents=True)
    (out / "_work" / "run.json").write_text('{"command": "dedup", "inputs": ["x"]}')
    (out / "clusters.parquet").write_bytes(b"PAR1")
    with pytest.raises(InputError, match="output folder"):
        plan_parts([str(out)], report=ReadReport())


def test_first_jsonl_record_without_the_text_key_is_counted_like_any_other(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"body": "no text"}, {"text": "a"}, {"body": "x"}, {"text": "b"}]
    )
    table, report = read_all([str(path)])
    assert table["text"].to_pylist() == ["a", "b"]
    assert report.skipped == {"missing_text": 2}
    assert [p["line"] for p in report.problems] == [0, 2]


def test_first_jsonl_slice_without_the_text_key_is_not_an_error(tmp_path):
    records = [{"body": f"no text {i}"} for i in range(30)] + [{"text": "late"}]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    table, report = read_all([str(path)], partition_size=64)
    assert table["text"].to_pylist() == ["late"]
    assert report.skipped == {"missing_text": 30}


def test_text_key_missing_from_every_record_still_names_the_columns(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": 1, "body": "x"}, {"id": 2, "body": "y"}])
    for partition_size in (2**30, 20):
        with pytest.raises(InputError, match=r"\['id', 'body'\].*--text-column body"):
            read_all([str(path)], partition_size=partition_size)


# ---------------------------------------------------- case 10: the same file twice, binaries


def test_the_same_file_given_twice_is_read_once(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "p" / "x.jsonl", [{"text": "a"}, {"text": "b"}])
    monkeypatch.chdir(tmp_path)
    table, report = read_all(["p/x.jsonl", "./p/x.jsonl"])
    assert table["doc_id"].to_pylist() == ["p/x.jsonl:0", "p/x.jsonl:1"]
    assert report.skipped == {"duplicate_input": 1}
    (problem,) = report.problems
    assert problem["file"] == "./p/x.jsonl" and "p/x.jsonl" in problem["detail"]


def test_a_file_and_its_folder_read_the_file_once(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "p" / "x.jsonl", [{"text": "a"}])
    write_jsonl(tmp_path / "p" / "y.jsonl", [{"text": "b"}])
    monkeypatch.chdir(tmp_path)
    table, report = read_all(["p/x.jsonl", "p"])
    assert table["doc_id"].to_pylist() == ["p/x.jsonl:0", "p/y.jsonl:0"]
    assert report.skipped == {"duplicate_input": 1}
    (problem,) = report.problems
    assert problem["file"] == "p/x.jsonl" and problem["reason"] == "duplicate_input"


@pytest.mark.parametrize("partition_size", [2**30, 512])
def test_binary_file_under_a_jsonl_name_is_counted_once(tmp_path, partition_size):
    data = bytes(range(256)) * 16  # NUL bytes and newlines: many "lines"
    (tmp_path / "blob.jsonl").write_bytes(data)
    table, report = read_all([str(tmp_path / "blob.jsonl")], partition_size=partition_size)
    assert table is None
    assert report.skipped == {"binary_file": 1}
    assert report.files == 1


def test_first_record_without_the_id_or_an_extra_column_is_counted_like_any_other(tmp_path):
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"text": "a"}, {"text": "b", "doc": "B", "lang": "en"}]
    )
    table, report = read_all([str(path)], id_column="doc", columns=["lang"])
    assert table["doc_id"].to_pylist() == [f"{path}:0", "B"]
    assert table["lang"].to_pylist() == [None, "en"]
    assert report.fallback_ids == 1


def test_zeroed_head_of_a_jsonl_file_does_not_lose_the_rest(tmp_path):
    path = tmp_path / "crashed.jsonl"
    good = "".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(5))
    path.write_bytes(b"\0" * 4096 + b"\n" + good.encode())
    for partition_size in (2**30, 100):
        table, report = read_all([str(path)], partition_size=partition_size)
        assert table["text"].to_pylist() == [f"doc {i}" for i in range(5)]
        assert report.skipped == {"malformed_json": 1}
        assert report.problems[0]["line"] == 0


def test_a_file_of_malformed_lines_is_counted_once_per_line_not_again_as_empty(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("{bad\n{worse\nnot json\n\n")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    report = ReadReport()
    for part in plan_parts([str(path), str(blank)], 2**30, report=report):
        assert list(read_part(part, report=report)) == []
    assert report.skipped == {"malformed_json": 3, "empty_file": 1}
