"""engine.run: atomic writes, reuse stamps, completion markers and the output claim."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine.io import InputPart
from engine.run.atomic import (
    atomic_path,
    parquet_writer_atomic,
    read_arrow,
    write_arrow_atomic,
    write_npy_atomic,
    write_parquet_atomic,
)
from engine.run.output import OutputInUse, claim_output, remove_stale
from engine.run.reuse import fingerprint, finished, mark_finished, read_stamp, reusable, stamped


def _part(index: int = 0) -> InputPart:
    return InputPart(index=index, path="a.jsonl", fmt="jsonl", compression=None)


def test_atomic_path_renames_on_success_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"ok")
        assert not target.exists()
    assert target.read_bytes() == b"ok"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_parquet_writer_atomic_writes_pieces_or_nothing(tmp_path):
    schema = pa.schema([("a", pa.int64())])
    with parquet_writer_atomic(tmp_path / "t.parquet", schema) as writer:
        writer.write_table(pa.table({"a": [1, 2]}, schema=schema))
        writer.write_table(pa.table({"a": [3]}, schema=schema))
    assert pq.read_table(tmp_path / "t.parquet").column("a").to_pylist() == [1, 2, 3]
    with pytest.raises(ValueError), parquet_writer_atomic(tmp_path / "u.parquet", schema):
        raise ValueError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_stamps_round_trip_in_parquet_and_arrow(tmp_path):
    table = pa.table({"a": [1, 2, 3]})
    fp = fingerprint({"k": 5}, "text")
    assert len(fp) == 16 and fp == fingerprint({"k": 5}, "text") != fingerprint({"k": 6})
    write_parquet_atomic(tmp_path / "s.parquet", stamped(table, fp, _part(), {"n": 3}))
    write_arrow_atomic(tmp_path / "s.arrow", stamped(table, fp, [_part(), _part(1)], {"n": 3}))
    assert reusable(tmp_path / "s.parquet", fp, _part()) == {"n": 3}
    assert reusable(tmp_path / "s.parquet", fp, _part(1)) is None  # other input
    assert reusable(tmp_path / "s.parquet", "0" * 16, _part()) is None  # other parameters
    assert reusable(tmp_path / "s.arrow", fp, [_part(), _part(1)]) == {"n": 3}
    assert read_arrow(tmp_path / "s.arrow").column("a").to_pylist() == [1, 2, 3]
    assert read_stamp(tmp_path / "missing.parquet") is None
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert reusable(tmp_path / "broken.parquet", fp, _part()) is None
    write_npy_atomic(tmp_path / "plain.npy", np.arange(3))
    write_parquet_atomic(tmp_path / "plain.parquet", table)
    assert reusable(tmp_path / "plain.parquet", fp, _part()) is None  # never stamped


def test_completion_markers(tmp_path):
    marker = tmp_path / "map" / "_DONE.json"
    assert finished(marker, "f1") is None
    mark_finished(marker, "f1", {"records": 7})
    assert finished(marker, "f1") == {"records": 7}
    assert finished(marker, "f2") is None
    marker.write_text("{damaged")
    assert finished(marker, "f1") is None


def test_claim_refuses_other_runs_and_clears_interrupted_writes(tmp_path):
    out = tmp_path / "out"
    claim_output(out, "dedup", ["a.jsonl"])
    leftover = out / "_work" / "signatures" / ".tmp-0123abcd-part-00000.arrow"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    kept = out / "_work" / "signatures" / "part-00000.arrow"
    kept.write_bytes(b"whole")
    claim_output(out, "dedup", ["a.jsonl"])  # resume: temporaries go, finished files stay
    assert not leftover.exists() and kept.exists()
    with pytest.raises(OutputInUse, match="Choose another --out"):
        claim_output(out, "substr", ["a.jsonl"])
    with pytest.raises(OutputInUse, match="Choose another --out"):
        claim_output(out, "dedup", ["b.jsonl"])
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputInUse, match="not made by ouroboros"):
        claim_output(foreign, "dedup", ["a.jsonl"])


def test_remove_stale_keeps_named_folders(tmp_path):
    for name in ("signatures", "shuffle-old", "shuffle-new"):
        (tmp_path / name).mkdir()
    (tmp_path / "run.json").write_text("{}")
    remove_stale(tmp_path, {"signatures", "shuffle-new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "shuffle-new", "signatures"]
