"""Arrow IPC files and Hugging Face ``save_to_disk`` folders as inputs (and their
``--write-deduped`` output): stream and file format, planned in ranges of record batches,
damage counted like Parquet's, the JSON metadata of a dataset folder never read."""

from __future__ import annotations

import json
import os

import datasets
import numpy as np
import pyarrow as pa
import pytest

import engine
from engine.io import InputError, ReadReport, plan_parts, read_part
from engine.io.ipc_messages import IpcFile, _batch_header
from engine.io.write_kept import deduped_path, write_kept

datasets.disable_progress_bars()


def read_all(inputs, partition_size: int = 2**30, **kwargs) -> tuple[pa.Table | None, ReadReport]:
    report = ReadReport()
    tables = []
    for part in plan_parts(inputs, partition_size=partition_size, report=report):
        tables.extend(read_part(part, report=report, **kwargs))
    return (pa.concat_tables(tables) if tables else None), report


def words(i: int, n: int = 30) -> str:
    return f"doc {i} " + " ".join(f"w{i}x{j}" for j in range(n))


def sample_table(n: int = 40) -> pa.Table:
    return pa.table(
        {
            "id": [f"id-{i}" for i in range(n)],
            "text": [words(i) for i in range(n)],
            "score": np.arange(n, dtype=np.float64) / 2,
            "tags": [[f"t{i}", "x"] for i in range(n)],
        }
    )


def write_ipc(path, table: pa.Table, *, layout: str, rows_per_batch: int, compression=None):
    options = pa.ipc.IpcWriteOptions(compression=compression)
    opener = pa.ipc.new_file if layout == "file" else pa.ipc.new_stream
    with opener(str(path), table.schema, options=options) as writer:
        for batch in table.to_batches(max_chunksize=rows_per_batch):
            writer.write_batch(batch)
    return path


# --------------------------------------------------------------------- formats, planning


@pytest.mark.parametrize("layout", ["stream", "file"])
@pytest.mark.parametrize("compression", [None, "zstd"])
def test_ipc_file_planned_in_batch_ranges(tmp_path, layout, compression):
    table = sample_table(40)
    path = write_ipc(
        tmp_path / "data.arrow", table, layout=layout, rows_per_batch=7, compression=compression
    )
    parts = plan_parts([str(path)], partition_size=800, report=ReadReport())
    assert len(parts) > 1
    assert all(p.fmt == "arrow" for p in parts)
    batches = [b for p in parts for b in p.row_groups]
    assert batches == list(range(6))  # 40 rows in batches of 7: every batch once, in order
    assert [p.first_row for p in parts] == [7 * p.row_groups[0] for p in parts]
    assert [p.is_first_part for p in parts] == [True] + [False] * (len(parts) - 1)
    out, report = read_all([str(path)], partition_size=800, id_column="id", columns=["score"])
    assert out["row"].to_pylist() == list(range(40))
    assert out["text"].to_pylist() == table["text"].to_pylist()
    assert out["doc_id"].to_pylist() == table["id"].to_pylist()
    assert out["score"].to_pylist() == table["score"].to_pylist()
    assert report.files == 1 and report.documents == 40 and not report.skipped


def test_row_counts_come_from_the_metadata(tmp_path):
    table = sample_table(23)
    path = write_ipc(tmp_path / "x.arrow", table, layout="stream", rows_per_batch=5)
    with IpcFile(str(path)) as source:
        assert [rows for rows, _ in source.batch_sizes()] == [5, 5, 5, 5, 3]
    with pa.memory_map(str(path)) as mm:
        reader = pa.ipc.MessageReader.open_stream(mm)
        reader.read_next_message()
        for message in reader:
            rows, codec = _batch_header(message.metadata)
            assert rows == pa.ipc.read_record_batch(message, table.schema).num_rows
            assert codec is None


def test_small_file_is_one_part_and_large_batches_are_sliced(tmp_path):
    path = write_ipc(tmp_path / "one.feather", sample_table(30), layout="file", rows_per_batch=30)
    (part,) = plan_parts([str(path)], report=ReadReport())
    assert part.row_groups is None and part.fmt == "arrow"
    tables = list(read_part(part, report=ReadReport(), batch_bytes=600))
    assert len(tables) > 1
    assert pa.concat_tables(tables)["row"].to_pylist() == list(range(30))


def test_dictionary_text_column(tmp_path):
    table = pa.table({"text": pa.array([words(i % 3) for i in range(12)]).dictionary_encode()})
    for layout in ("stream", "file"):
        path = write_ipc(tmp_path / f"d-{layout}.ipc", table, layout=layout, rows_per_batch=4)
        (part,) = plan_parts([str(path)], partition_size=10, report=ReadReport())
        assert part.row_groups is None  # dictionaries: one part
        out, report = read_all([str(path)], partition_size=10)
        assert out["text"].to_pylist() == [words(i % 3) for i in range(12)]
        assert out["row"].to_pylist() == list(range(12))
        # kept rows from batches with different dictionaries (the file format cannot
        # replace a dictionary: they are unified)
        written = write_kept(part, np.array([1, 6, 11]), tmp_path / layout, texts=["a", "b", "c"])
        with IpcFile(str(written)) as source:
            got = pa.Table.from_batches([item.batch for item in source.batches()])
        assert got.schema == table.schema and got["text"].to_pylist() == ["a", "b", "c"]


def test_column_errors_name_the_fix(tmp_path):
    path = write_ipc(tmp_path / "x.arrow", sample_table(3), layout="stream", rows_per_batch=3)
    with pytest.raises(InputError, match="Pass --text-column id"):
        read_all([str(path)], text_column="body")
    with pytest.raises(InputError, match="type double, not string"):
        read_all([str(path)], text_column="score")
    with pytest.raises(InputError, match="compressed Arrow IPC"):
        engine.io.detect_format("x.arrow.gz")


# --------------------------------------------------------------------------- damage


def test_damaged_batch_costs_its_rows_only(tmp_path):
    table = pa.table({"text": [f"{i:09d}" for i in range(9)]})  # offsets 0, 9, 18, 27
    path = write_ipc(tmp_path / "x.arrow", table, layout="stream", rows_per_batch=3)
    data = bytearray(path.read_bytes())
    offsets = np.array([0, 9, 18, 27], dtype=np.int32).tobytes()
    at = data.find(offsets, data.find(offsets) + 1)  # the second batch's offsets
    data[at + 12 : at + 16] = np.array([10**6], dtype=np.int32).tobytes()
    path.write_bytes(bytes(data))
    out, report = read_all([str(path)])
    assert out["row"].to_pylist() == [0, 1, 2, 6, 7, 8]
    assert report.skipped == {"corrupt_batch": 3}
    (problem,) = report.problems
    assert problem["row"] == 3 and "record batch 1" in problem["detail"]
    with pytest.raises(InputError, match="corrupt_batch"):
        read_all([str(path)], strict=True)


def test_cut_file_keeps_what_comes_before(tmp_path):
    path = write_ipc(tmp_path / "x.arrow", sample_table(20), layout="stream", rows_per_batch=5)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    out, report = read_all([str(path)], partition_size=100)
    assert out["row"].to_pylist() == list(range(out.num_rows))
    assert 0 < out.num_rows < 20
    assert report.skipped == {"unreadable_file": 1}


def test_files_that_are_not_ipc(tmp_path):
    (tmp_path / "garbage.arrow").write_bytes(b"this is not arrow at all\n" * 10)
    (tmp_path / "empty.arrow").write_bytes(b"")
    (tmp_path / "v1.feather").write_bytes(b"FEA1" + bytes(64) + b"FEA1")  # Feather V1 magic
    out, report = read_all([str(tmp_path)])
    assert out is None
    assert report.skipped == {"empty_file": 1, "unreadable_file": 2}
    details = {os.path.basename(p["file"]): p["detail"] for p in report.problems}
    assert "Feather V1" in details["v1.feather"] and "write_feather" in details["v1.feather"]


def test_invalid_utf8_in_text_is_replaced_not_lost(tmp_path):
    text = pa.array([b"good", b"bad \xff here"], type=pa.binary()).view(pa.string())
    path = write_ipc(
        tmp_path / "x.arrow", pa.table({"text": text}), layout="file", rows_per_batch=2
    )
    out, report = read_all([str(path)])
    assert out["text"].to_pylist() == ["good", "bad \ufffd here"]
    assert report.invalid_utf8_documents == 1 and not report.skipped


# ------------------------------------------------------------- save_to_disk folders


def test_save_to_disk_folder_reads_data_not_metadata(tmp_path):
    rows = {"text": [words(i) for i in range(6)], "label": list(range(6))}
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict(rows).save_to_disk(str(folder), num_shards=2)
    state = json.loads((folder / "state.json").read_text())
    listed = [f["filename"] for f in state["_data_files"]]
    state["_data_files"].reverse()  # the listed order wins over name order
    (folder / "state.json").write_text(json.dumps(state))
    out, report = read_all([str(folder)], columns=["label"])
    assert report.documents == 6 and report.files == 2 and not report.skipped
    assert not report.problems
    first = os.path.join(str(folder), listed[1])
    assert out["doc_id"].to_pylist()[0] == f"{first}:0"
    assert sorted(out["label"].to_pylist()) == list(range(6))
    assert out["label"].to_pylist()[:3] == [3, 4, 5]


def test_dataset_dict_reads_every_split_in_listed_order(tmp_path):
    train = datasets.Dataset.from_dict({"text": [words(i) for i in range(3)]})
    test = datasets.Dataset.from_dict({"text": [words(10 + i) for i in range(2)]})
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "dd"))
    out, report = read_all([str(tmp_path / "dd")])
    assert report.documents == 5 and not report.skipped
    ids = out["doc_id"].to_pylist()
    train_file = os.path.join(str(tmp_path / "dd"), "train", "data-00000-of-00001.arrow")
    test_file = os.path.join(str(tmp_path / "dd"), "test", "data-00000-of-00001.arrow")
    assert ids == [f"{train_file}:{i}" for i in range(3)] + [f"{test_file}:{i}" for i in range(2)]


def test_dataset_folder_problems_are_counted(tmp_path):
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": ["a b c", "d e f"]}).save_to_disk(str(folder))
    (folder / "notes.jsonl").write_text('{"text": "stray"}\n')
    state = json.loads((folder / "state.json").read_text())
    state["_data_files"].append({"filename": "data-00001-of-00002.arrow"})
    (folder / "state.json").write_text(json.dumps(state))
    out, report = read_all([str(folder)])
    assert out.num_rows == 2
    assert report.skipped == {"missing_file": 1, "not_in_dataset": 1}
    with pytest.raises(InputError, match="listed in state.json but absent"):
        plan_parts([str(folder)])
    (folder / "state.json").write_text("{not json")
    out, report = read_all([str(folder)])
    assert out.num_rows == 2  # the folder's .arrow files, in name order
    assert report.skipped == {"unreadable_file": 1}
    assert "state.json" in report.problems[0]["file"]


# ------------------------------------------------------------------------- writing


@pytest.mark.parametrize("layout", ["stream", "file"])
def test_write_kept_keeps_layout_schema_and_compression(tmp_path, layout):
    table = sample_table(20).replace_schema_metadata({"origin": "test"})
    path = write_ipc(
        tmp_path / "x.arrow", table, layout=layout, rows_per_batch=6, compression="lz4"
    )
    parts = plan_parts([str(path)], partition_size=500, report=ReadReport())
    assert len(parts) > 1
    kept = [0, 5, 6, 13, 19]
    written = []
    for part in parts:
        rows = [r for r in kept if part.first_row <= r < part.first_row + 6 * len(part.row_groups)]
        out = write_kept(part, np.array(rows, dtype=np.int64), tmp_path / "out")
        assert out == (deduped_path(part, tmp_path / "out") if rows else None)
        if out is not None:
            written.append(out)
    result = []
    for out in written:
        with IpcFile(str(out)) as source:
            assert source.layout == layout and source.schema == table.schema
            assert source.schema.metadata == table.schema.metadata
            batches = [item.batch for item in source.batches()]
            assert source.compression == "lz4"
        result.append(pa.Table.from_batches(batches))
    assert pa.concat_tables(result).equals(table.take(kept))


def test_write_kept_with_texts_replaces_only_the_text(tmp_path):
    table = sample_table(5)
    path = write_ipc(tmp_path / "x.arrow", table, layout="stream", rows_per_batch=2)
    (part,) = plan_parts([str(path)], report=ReadReport())
    out = write_kept(part, np.array([3, 1]), tmp_path / "o", texts=["three", "one"])
    got = pa.ipc.open_stream(str(out)).read_all()
    assert got["text"].to_pylist() == ["one", "three"]
    assert got.drop_columns(["text"]).equals(table.take([1, 3]).drop_columns(["text"]))
    with pytest.raises(ValueError, match="one text per kept row"):
        write_kept(part, np.array([1, 2]), tmp_path / "o", texts=["x"])


def test_dedup_on_a_save_to_disk_folder(tmp_path):
    texts = [words(i, 60) for i in range(8)]
    texts[5] = texts[2]  # an exact copy
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": texts, "n": list(range(8))}).save_to_disk(str(folder))
    result = engine.dedup(
        [str(folder)],
        out=tmp_path / "out",
        write_deduped=True,
        scheduler="threads",
        backend="cpu",
        progress=False,
    )
    read = result.summary["read"]
    assert read["documents"] == 8 and read["skipped"] == {}
    (written,) = (tmp_path / "out" / "deduped").iterdir()
    assert written.name == "00000-data-00000-of-00001.arrow"
    kept = datasets.Dataset.from_file(str(written))
    assert kept.features == datasets.load_from_disk(str(folder)).features
    assert kept["n"] == [0, 1, 2, 3, 4, 6, 7]
